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
  value = "${var.name}.${var.namespace}:${var.grpc_port}"
}

output "deploy" {
  description = "What `dagster-ecs deploy` renders this code location's task definition with."
  value = {
    role_arn    = aws_iam_role.this.arn
    image       = var.image
    module_name = var.module_name
    dags_dir    = var.dags_dir
    definitions = var.repo_definitions
    cpu         = var.cpu
    memory      = var.memory
    grpc_port   = var.grpc_port
  }
}
