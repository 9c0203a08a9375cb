# Who may talk to whom:
#   internet -> alb (listener port) ; alb -> webserver:3000
#   webserver, daemon, runs -> code locations:4000
#   webserver, daemon, runs, code locations -> rds:5432 (and efs:2049 when enabled)
# Egress is open so tasks reach ECR, Secrets Manager and CloudWatch without interface endpoints.

locals {
  task_groups = {
    webserver     = aws_security_group.webserver.id
    daemon        = aws_security_group.daemon.id
    run           = aws_security_group.run.id
    code_location = aws_security_group.code_location.id
  }
  code_location_clients = {
    webserver = aws_security_group.webserver.id
    daemon    = aws_security_group.daemon.id
    run       = aws_security_group.run.id
  }
}

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached in the ecs, database, efs and code_location modules, which this check cannot follow.
  name        = "${var.name}-alb"
  description = "Dagster ALB: HTTP(S) from the allowed CIDRs"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "webserver" {
  #checkov:skip=CKV2_AWS_5:Attached in the ecs, database, efs and code_location modules, which this check cannot follow.
  name        = "${var.name}-webserver"
  description = "Dagster webserver tasks: only from the ALB"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "daemon" {
  #checkov:skip=CKV2_AWS_5:Attached in the ecs, database, efs and code_location modules, which this check cannot follow.
  name        = "${var.name}-daemon"
  description = "Dagster daemon task: no inbound"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "run" {
  #checkov:skip=CKV2_AWS_5:Attached in the ecs, database, efs and code_location modules, which this check cannot follow.
  name        = "${var.name}-run"
  description = "Dagster run tasks: no inbound"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "code_location" {
  #checkov:skip=CKV2_AWS_5:Attached in the ecs, database, efs and code_location modules, which this check cannot follow.
  name        = "${var.name}-code-location"
  description = "Dagster code locations: gRPC from webserver, daemon and runs"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "rds" {
  #checkov:skip=CKV2_AWS_5:Attached in the ecs, database, efs and code_location modules, which this check cannot follow.
  name        = "${var.name}-rds"
  description = "PostgreSQL: only from Dagster tasks"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "efs" {
  #checkov:skip=CKV2_AWS_5:Attached in the ecs, database, efs and code_location modules, which this check cannot follow.
  name        = "${var.name}-efs"
  description = "EFS: NFS only from Dagster tasks"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  for_each          = toset(var.alb_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "Listener from allowed CIDR"
  cidr_ipv4         = each.value
  from_port         = var.alb_listener_port
  to_port           = var.alb_listener_port
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_webserver" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To webserver tasks"
  referenced_security_group_id = aws_security_group.webserver.id
  from_port                    = var.webserver_port
  to_port                      = var.webserver_port
  ip_protocol                  = "tcp"

  # moto drops descriptions of SG-to-SG rules; AWS keeps them.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_ingress_rule" "webserver_from_alb" {
  security_group_id            = aws_security_group.webserver.id
  description                  = "From the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = var.webserver_port
  to_port                      = var.webserver_port
  ip_protocol                  = "tcp"

  # moto drops descriptions of SG-to-SG rules; AWS keeps them.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_ingress_rule" "code_location" {
  for_each                     = local.code_location_clients
  security_group_id            = aws_security_group.code_location.id
  description                  = "gRPC from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = var.code_location_port
  to_port                      = var.code_location_port
  ip_protocol                  = "tcp"

  # moto drops descriptions of SG-to-SG rules; AWS keeps them.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_ingress_rule" "rds" {
  for_each                     = local.task_groups
  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"

  # moto drops descriptions of SG-to-SG rules; AWS keeps them.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_ingress_rule" "efs" {
  for_each                     = local.task_groups
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = 2049
  to_port                      = 2049
  ip_protocol                  = "tcp"

  # moto drops descriptions of SG-to-SG rules; AWS keeps them.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_egress_rule" "tasks" {
  for_each          = local.task_groups
  security_group_id = each.value
  description       = "HTTPS/gRPC/PostgreSQL/NFS out (ECR, Secrets Manager, logs, peers)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}
