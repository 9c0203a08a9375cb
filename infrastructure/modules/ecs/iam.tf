# Roles, least privilege:
#   execution role: pull this one ECR repository, write to this stack's log groups, read the
#                   database secret. Shared by every task definition of the stack.
#   webserver role: discover the code locations in Cloud Map, read system/ and the compute logs
#                   (repos/*/logs/) in the bucket.
#   daemon role:    discover the code locations, launch (and tag at launch)/stop/describe run
#                   tasks in this cluster, pass the run roles, read/write system/ and the
#                   compute logs in the bucket.
#   run role:       read/write system/ (compute logs, IO managers of the platform).
#   code locations: each its own role, limited to repos/{name}/* (module code_location).

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid     = "EcrPull"
    actions = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    # The platform's image, and each registered repository's (add-repo pushes to
    # <name>-repos/<repository>).
    resources = [aws_ecr_repository.this.arn, "arn:aws:ecr:${var.region}:*:repository/${var.name}-repos/*"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:${var.region}:*:log-group:/${var.name}/*"]
  }
  statement {
    sid       = "DatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = concat([var.db_secret_arn], var.extra_secret_arns)
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "webserver" {
  name               = "${var.name}-webserver"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# The workspace both render: the code locations registered in Cloud Map (these actions take
# no resource ARN).
data "aws_iam_policy_document" "discovery" {
  statement {
    sid       = "DiscoverCodeLocations"
    actions   = ["servicediscovery:DiscoverInstances", "servicediscovery:ListNamespaces", "servicediscovery:ListServices"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "webserver" {
  source_policy_documents = [data.aws_iam_policy_document.discovery.json]

  statement {
    sid       = "ListSystemAndComputeLogs"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["system/*", "repos/*/logs/*"]
    }
  }
  statement {
    sid       = "ReadSystemAndComputeLogs"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arn}/system/*", "${var.bucket_arn}/repos/*/logs/*"]
  }
}

resource "aws_iam_role_policy" "webserver" {
  name   = "webserver"
  role   = aws_iam_role.webserver.id
  policy = data.aws_iam_policy_document.webserver.json
}

resource "aws_iam_role" "run" {
  name               = "${var.name}-run"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "system_rw" {
  statement {
    sid       = "ListSystem"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["system/*"]
    }
  }
  statement {
    sid       = "ReadWriteSystem"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.bucket_arn}/system/*"]
  }
}

resource "aws_iam_role_policy" "run" {
  name   = "run"
  role   = aws_iam_role.run.id
  policy = data.aws_iam_policy_document.system_rw.json
}

resource "aws_iam_role" "daemon" {
  name               = "${var.name}-daemon"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "daemon" {
  source_policy_documents = [
    data.aws_iam_policy_document.system_rw.json,
    data.aws_iam_policy_document.discovery.json,
  ]

  statement {
    sid       = "ListComputeLogs"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["repos/*/logs/*"]
    }
  }
  statement {
    sid       = "ReadWriteComputeLogs"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.bucket_arn}/repos/*/logs/*"]
  }
  statement {
    # EcsRunLauncher tags each run task at RunTask; ECS then authorises ecs:TagResource too.
    sid       = "TagRunTasksAtLaunch"
    actions   = ["ecs:TagResource"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }
  statement {
    sid       = "RunTasksInCluster"
    actions   = ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks"]
    resources = ["*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.this.arn]
    }
  }
  statement {
    #checkov:skip=CKV_AWS_111:Describe/Register task definition accept no resource-level restriction.
    #checkov:skip=CKV_AWS_356:Describe/Register task definition accept no resource-level restriction.
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ec2:DescribeNetworkInterfaces"]
    resources = ["*"]
  }
  statement {
    sid       = "PassRunRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn, aws_iam_role.run.arn, "arn:aws:iam::*:role/${var.name}-cl-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "daemon" {
  name   = "daemon"
  role   = aws_iam_role.daemon.id
  policy = data.aws_iam_policy_document.daemon.json
}
