output "address" {
  value = aws_db_instance.this.address
}

output "port" {
  value = aws_db_instance.this.port
}

output "database_name" {
  value = aws_db_instance.this.db_name
}

output "username" {
  value = aws_db_instance.this.username
}

output "secret_arn" {
  description = "Secrets Manager secret (JSON: username, password) generated and rotated by RDS."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}
