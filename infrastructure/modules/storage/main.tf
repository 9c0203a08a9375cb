# The platform bucket and its layout:
#   repos/{name}/  one prefix per registered repository (its code location may touch only this)
#   system/        platform-owned state (compute logs, run storage artefacts)
#   temp/          scratch, expired by lifecycle
#   dags/          DAG bundles synced by the deployer

locals {
  layout = toset(["repos/", "system/", "temp/", "dags/"])
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access logging would need a second bucket; S3 data events are not needed for 2-3 users.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; the bucket holds rebuildable artefacts.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) instead of a KMS CMK, which costs 1 USD/month plus requests.
  #checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-temp"
    status = "Enabled"
    filter {
      prefix = "temp/"
    }
    expiration {
      days = var.temp_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "trim-old-versions"
    status = "Enabled"
    filter {
      prefix = ""
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_object" "layout" {
  for_each     = local.layout
  bucket       = aws_s3_bucket.this.id
  key          = each.value
  content      = ""
  content_type = "application/x-directory"
  depends_on   = [aws_s3_bucket_versioning.this, aws_s3_bucket_server_side_encryption_configuration.this]
}

# Optional: one IAM user whose access key lives in Secrets Manager, for clients that cannot assume
# the task roles (e.g. a laptop syncing DAGs). Off by default: tasks use their roles.
resource "aws_iam_user" "s3" {
  count = var.create_s3_user ? 1 : 0
  name  = "${var.name}-s3"
}

resource "aws_iam_user_policy" "s3" {
  #checkov:skip=CKV_AWS_40:The user exists only to hold this one bucket-scoped policy; a group adds nothing.
  count  = var.create_s3_user ? 1 : 0
  name   = "bucket-access"
  user   = aws_iam_user.s3[0].name
  policy = data.aws_iam_policy_document.s3_user.json
}

data "aws_iam_policy_document" "s3_user" {
  statement {
    sid       = "List"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this.arn]
  }
  statement {
    sid       = "Objects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]
  }
}

resource "aws_iam_access_key" "s3" {
  count = var.create_s3_user ? 1 : 0
  user  = aws_iam_user.s3[0].name
}

resource "aws_secretsmanager_secret" "s3" {
  #checkov:skip=CKV2_AWS_57:An IAM access key cannot be rotated by a Secrets Manager rotation without a Lambda; rotate by tainting aws_iam_access_key.
  #checkov:skip=CKV_AWS_149:The default aws/secretsmanager key; a CMK costs 1 USD/month.
  count                   = var.create_s3_user ? 1 : 0
  name                    = "${var.name}/s3-access-key"
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "s3" {
  count     = var.create_s3_user ? 1 : 0
  secret_id = aws_secretsmanager_secret.s3[0].id
  secret_string = jsonencode({
    AWS_ACCESS_KEY_ID     = aws_iam_access_key.s3[0].id
    AWS_SECRET_ACCESS_KEY = aws_iam_access_key.s3[0].secret
  })
}
