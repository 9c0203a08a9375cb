# One code location: a gRPC code server per registered repository, reachable at
# {name}.{namespace}:4000, whose task role reaches only repos/{name}/ in the bucket.

locals {
  family = "${var.stack_name}-cl-${var.name}"
  task_definition = jsondecode(templatefile("${var.task_definitions_dir}/code_location.json.tftpl", {
    family                = local.family
    image                 = var.image
    cpu                   = tostring(var.cpu)
    memory                = tostring(var.memory)
    execution_role_arn    = var.execution_role_arn
    task_role_arn         = aws_iam_role.this.arn
    module_name           = var.module_name
    repo_name             = var.name
    dags_dir              = var.dags_dir
    dag_sync_interval     = tostring(var.dag_sync_interval)
    health_check_interval = tostring(var.health_check_interval)
    repo_definitions      = var.repo_definitions
    bucket                = var.bucket_name
    log_group             = aws_cloudwatch_log_group.this.name
    region                = var.region
    grpc_port             = tostring(var.grpc_port)
    db_host               = var.db_host
    db_port               = tostring(var.db_port)
    db_name               = var.db_name
    db_user               = var.db_user
    db_secret_arn         = var.db_secret_arn
  }))
  # The same appendix as repository_manager/deploy.py's dag_sync_secrets.
  dag_sync_secrets = var.dag_sync_secret_arn == null ? [] : [
    for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] :
    { name = "DAG_SYNC_${key}", valueFrom = "${var.dag_sync_secret_arn}:${key}::" }
  ]
  container_definitions = [
    for container in local.task_definition.containerDefinitions :
    merge(container, { secrets = concat(container.secrets, local.dag_sync_secrets) })
  ]
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = local.family
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# The same policy as repository_manager/iam.py's code_location_policy (what add-repo creates).
data "aws_iam_policy_document" "repo" {
  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = concat(
        ["repos/${var.name}/*", "repos/shared/*", "dags/${var.name}/*"],
        [for other in var.read_from : "repos/${other}/assets/*"],
      )
    }
  }
  statement {
    sid       = "ReadWriteOwnPrefix"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.bucket_arn}/repos/${var.name}/*"]
  }
  statement {
    sid     = "ReadShared"
    actions = ["s3:GetObject"]
    resources = concat(
      ["${var.bucket_arn}/repos/shared/*"],
      [for other in var.read_from : "${var.bucket_arn}/repos/${other}/assets/*"],
    )
  }
  statement {
    sid       = "ReadOwnDagDeployments"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.bucket_arn}/dags/${var.name}/*"]
  }
  # The registry entry is the control plane's: a repository's code may not rewrite it.
  statement {
    sid       = "RegistryIsTheControlPlanes"
    effect    = "Deny"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.bucket_arn}/repos/${var.name}/config.yml"]
  }
}

resource "aws_iam_role_policy" "repo" {
  name   = "repo-${var.name}"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.repo.json
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Logs are encrypted by CloudWatch's own key; a CMK costs 1 USD/month.
  #checkov:skip=CKV_AWS_338:Two weeks of logs suffice for 2-3 users; a year costs storage.
  name              = "/${var.stack_name}/code-locations/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_service_discovery_service" "this" {
  name = var.name

  dns_config {
    namespace_id   = var.namespace_id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.task_definition.family
  network_mode             = local.task_definition.networkMode
  requires_compatibilities = local.task_definition.requiresCompatibilities
  cpu                      = local.task_definition.cpu
  memory                   = local.task_definition.memory
  execution_role_arn       = local.task_definition.executionRoleArn
  task_role_arn            = local.task_definition.taskRoleArn
  container_definitions    = jsonencode(local.container_definitions)

  runtime_platform {
    cpu_architecture        = local.task_definition.runtimePlatform.cpuArchitecture
    operating_system_family = local.task_definition.runtimePlatform.operatingSystemFamily
  }
}

resource "aws_ecs_service" "this" {
  name            = "cl-${var.name}"
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = var.min_tasks
  launch_type     = "FARGATE"

  # A rollout whose tasks keep failing stops and rolls back; `dagster-ecs deploy` reports it.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  deployment_minimum_healthy_percent = var.stop_first_rollouts ? 0 : 100
  deployment_maximum_percent         = var.stop_first_rollouts ? 100 : 200

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_id]
    assign_public_ip = var.assign_public_ip
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this.arn
  }

  # desired_count belongs to autoscaling; task_definition to `dagster-ecs deploy`, which rolls
  # new revisions (tofu registers the first); availability_zone_rebalancing is not stored by moto.
  lifecycle {
    ignore_changes = [desired_count, task_definition, availability_zone_rebalancing]
  }
}

resource "aws_appautoscaling_target" "this" {
  count              = var.autoscaling_enabled ? 1 : 0
  service_namespace  = "ecs"
  resource_id        = "service/${var.cluster_name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

resource "aws_appautoscaling_policy" "this" {
  for_each           = var.autoscaling_enabled ? { cpu = ["ECSServiceAverageCPUUtilization", 70], memory = ["ECSServiceAverageMemoryUtilization", 80] } : {}
  name               = "${local.family}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value[1]
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = each.value[0]
    }
  }
}
