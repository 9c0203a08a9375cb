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
