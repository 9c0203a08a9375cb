output "vpc_id" {
  value = aws_vpc.this.id
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}

output "task_subnet_ids" {
  description = "Where tasks run: private subnets behind NAT, else public subnets with public IPs."
  value       = var.enable_nat ? aws_subnet.private[*].id : aws_subnet.public[*].id
}

output "assign_public_ip" {
  value = !var.enable_nat
}

output "security_group_ids" {
  value = {
    alb           = aws_security_group.alb.id
    webserver     = aws_security_group.webserver.id
    daemon        = aws_security_group.daemon.id
    run           = aws_security_group.run.id
    code_location = aws_security_group.code_location.id
    rds           = aws_security_group.rds.id
    efs           = aws_security_group.efs.id
  }
}
