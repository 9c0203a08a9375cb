# PostgreSQL for Dagster's run/event/schedule storage. RDS generates the master password and keeps
# it in Secrets Manager (manage_master_user_password): it never appears in state or in task
# definitions; tasks read it through the execution role.

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_293:Deletion protection is var.deletion_protection: on for envs/aws, off for the disposable emulator env.
  #checkov:skip=CKV_AWS_157:Multi-AZ doubles the instance cost; Dagster tolerates a short outage for 2-3 users.
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs a role and costs CloudWatch ingestion; basic metrics suffice.
  #checkov:skip=CKV_AWS_353:Performance Insights is not worth the cost at this size.
  #checkov:skip=CKV_AWS_354:Performance Insights is off (see CKV_AWS_353).
  #checkov:skip=CKV2_AWS_30:The default parameter group; PostgreSQL logs are exported to CloudWatch (enabled_cloudwatch_logs_exports).
  #checkov:skip=CKV2_AWS_60:Copying tags to snapshots is on; this check misreads the default.
  identifier                          = var.name
  engine                              = "postgres"
  engine_version                      = var.engine_version
  instance_class                      = var.instance_class
  allocated_storage                   = var.allocated_storage_gb
  storage_type                        = "gp2"
  storage_encrypted                   = true
  db_name                             = var.database_name
  username                            = var.username
  manage_master_user_password         = true
  db_subnet_group_name                = aws_db_subnet_group.this.name
  vpc_security_group_ids              = [var.security_group_id]
  publicly_accessible                 = false
  multi_az                            = false
  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  copy_tags_to_snapshot               = true
  backup_retention_period             = var.backup_retention_days
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  deletion_protection                 = var.deletion_protection
  skip_final_snapshot                 = var.skip_final_snapshot
  final_snapshot_identifier           = var.skip_final_snapshot ? null : "${var.name}-final"
  apply_immediately                   = true
}
