# The whole platform. envs/local and envs/aws instantiate this module unchanged; they differ only
# in provider endpoints/credentials, backend and a few cost/safety switches.

locals {
  task_definitions_dir = "${path.module}/../../task_definitions"
  namespace            = "${var.name}.internal"
  dag_sync_secret_arn  = var.dag_sync_uses_s3_user ? module.storage.s3_user_secret_arn : null
}

module "network" {
  source             = "../network"
  name               = var.name
  region             = var.region
  enable_nat         = var.enable_nat
  alb_ingress_cidrs  = var.alb_ingress_cidrs
  alb_listener_port  = var.certificate_arn == null ? 80 : 443
  webserver_port     = var.webserver_port
  code_location_port = var.grpc_port
}

module "storage" {
  source                      = "../storage"
  name                        = var.name
  bucket_name                 = var.bucket_name
  create_s3_user              = var.create_s3_user
  secret_recovery_window_days = var.disposable ? 0 : 7
}

module "database" {
  source              = "../database"
  name                = var.name
  subnet_ids          = module.network.private_subnet_ids
  security_group_id   = module.network.security_group_ids.rds
  deletion_protection = !var.disposable
  skip_final_snapshot = var.disposable
}

module "service_discovery" {
  source    = "../service_discovery"
  namespace = local.namespace
  vpc_id    = module.network.vpc_id
}

module "efs" {
  source            = "../efs"
  count             = var.enable_efs ? 1 : 0
  name              = var.name
  subnet_ids        = module.network.private_subnet_ids
  security_group_id = module.network.security_group_ids.efs
}

module "ecs" {
  source                    = "../ecs"
  name                      = var.name
  region                    = var.region
  image                     = var.image
  task_definitions_dir      = local.task_definitions_dir
  vpc_id                    = module.network.vpc_id
  public_subnet_ids         = module.network.public_subnet_ids
  task_subnet_ids           = module.network.task_subnet_ids
  assign_public_ip          = module.network.assign_public_ip
  security_group_ids        = module.network.security_group_ids
  bucket_name               = module.storage.bucket_name
  bucket_arn                = module.storage.bucket_arn
  db_host                   = module.database.address
  db_port                   = module.database.port
  db_name                   = module.database.database_name
  db_user                   = module.database.username
  db_secret_arn             = module.database.secret_arn
  extra_secret_arns         = local.dag_sync_secret_arn == null ? [] : [local.dag_sync_secret_arn]
  service_namespace         = module.service_discovery.namespace_name
  certificate_arn           = var.certificate_arn
  autoscaling_enabled       = var.autoscaling_enabled
  force_delete_images       = var.disposable
  deletion_protection       = !var.disposable
  webserver_port            = var.webserver_port
  stop_first_rollouts       = var.stop_first_rollouts
  webserver_host            = var.webserver_host
  workspace_refresh_seconds = var.workspace_refresh_seconds
  workspace_file            = var.workspace_file
}

module "code_location" {
  source                = "../code_location"
  for_each              = var.code_locations
  name                  = each.key
  stack_name            = var.name
  region                = var.region
  image                 = coalesce(each.value.image, var.image)
  module_name           = each.value.module_name
  dags_dir              = coalesce(each.value.dags_dir, "dags/${each.key}")
  dag_sync_interval     = var.dag_sync_interval
  health_check_interval = var.health_check_interval
  stop_first_rollouts   = var.stop_first_rollouts
  read_from             = each.value.read_from
  repo_definitions      = each.value.definitions
  cpu                   = each.value.cpu
  memory                = each.value.memory
  min_tasks             = each.value.min_tasks
  max_tasks             = each.value.max_tasks
  task_definitions_dir  = local.task_definitions_dir
  cluster_arn           = module.ecs.cluster_arn
  cluster_name          = module.ecs.cluster_name
  execution_role_arn    = module.ecs.execution_role_arn
  namespace             = module.service_discovery.namespace_name
  namespace_id          = module.service_discovery.namespace_id
  bucket_name           = module.storage.bucket_name
  bucket_arn            = module.storage.bucket_arn
  subnet_ids            = module.network.task_subnet_ids
  security_group_id     = module.network.security_group_ids.code_location
  assign_public_ip      = module.network.assign_public_ip
  autoscaling_enabled   = var.autoscaling_enabled
  db_host               = module.database.address
  db_port               = module.database.port
  db_name               = module.database.database_name
  db_user               = module.database.username
  db_secret_arn         = module.database.secret_arn
  dag_sync_secret_arn   = local.dag_sync_secret_arn
  grpc_port             = coalesce(each.value.grpc_port, var.grpc_port)
}
