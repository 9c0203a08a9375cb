output "cluster_name" {
  value = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  value = aws_ecs_cluster.this.arn
}

output "ecr_repository_url" {
  value = aws_ecr_repository.this.repository_url
}

output "execution_role_arn" {
  value = aws_iam_role.execution.arn
}

output "run_role_arn" {
  value = aws_iam_role.run.arn
}

output "runs_log_group" {
  value = aws_cloudwatch_log_group.this["runs"].name
}

output "alb_dns_name" {
  value = aws_lb.this.dns_name
}

output "task_definition_arns" {
  value = { for key, td in aws_ecs_task_definition.this : key => td.arn }
}

output "service_names" {
  value = [aws_ecs_service.webserver.name, aws_ecs_service.daemon.name]
}

output "deploy" {
  description = "The values the webserver and daemon task definitions were rendered with that `dagster-ecs deploy` cannot derive."
  value = {
    webserver_role_arn        = aws_iam_role.webserver.arn
    daemon_role_arn           = aws_iam_role.daemon.arn
    cpu                       = var.cpu
    memory                    = var.memory
    webserver_port            = var.webserver_port
    webserver_host            = var.webserver_host
    workspace_refresh_seconds = var.workspace_refresh_seconds
    workspace_file            = var.workspace_file
  }
}
