output "bucket_name" {
  value = aws_s3_bucket.this.id
}

output "bucket_arn" {
  value = aws_s3_bucket.this.arn
}

output "s3_user_secret_arn" {
  value = var.create_s3_user ? aws_secretsmanager_secret.s3[0].arn : null
}

output "s3_user_access_key_id" {
  value = var.create_s3_user ? aws_iam_access_key.s3[0].id : null
}

output "s3_user_secret_access_key" {
  value     = var.create_s3_user ? aws_iam_access_key.s3[0].secret : null
  sensitive = true
}
