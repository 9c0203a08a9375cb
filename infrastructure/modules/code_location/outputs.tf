output "role_arn" {
  value = aws_iam_role.this.arn
}

output "service_name" {
  value = aws_ecs_service.this.name
}

output "task_definition_arn" {
  value = aws_ecs_task_definition.this.arn
}

output "family" {
  value = local.family
}

output "grpc_address" {
  value = "${var.name}.${var.namespace}:4000"
}
