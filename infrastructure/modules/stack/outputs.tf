output "bucket_name" {
  value = module.storage.bucket_name
}

output "cluster_name" {
  value = module.ecs.cluster_name
}

output "ecr_repository_url" {
  value = module.ecs.ecr_repository_url
}

output "alb_dns_name" {
  value = module.ecs.alb_dns_name
}

output "load_balancer_url" {
  description = "The Dagster UI: HTTPS when a certificate is given, else HTTP."
  value       = "${var.certificate_arn == null ? "http" : "https"}://${module.ecs.alb_dns_name}"
}

# The production design's names for the create_s3_user access key (null without the user).
output "aws_access_key_id" {
  value = module.storage.s3_user_access_key_id
}

output "aws_secret_access_key" {
  value     = module.storage.s3_user_secret_access_key
  sensitive = true
}

output "db_address" {
  value = module.database.address
}

output "db_secret_arn" {
  value = module.database.secret_arn
}

output "service_namespace" {
  value = module.service_discovery.namespace_name
}

output "code_locations" {
  value = { for name, cl in module.code_location : name => { service = cl.service_name, family = cl.family, grpc_address = cl.grpc_address, role_arn = cl.role_arn } }
}

output "task_definition_arns" {
  value = merge(module.ecs.task_definition_arns, { for name, cl in module.code_location : "code_location:${name}" => cl.task_definition_arn })
}

# Read by `dagster-ecs deploy --env local|aws` (repository_manager/deploy_targets.py): tofu creates
# the services and their first revisions, the deployer renders the same templates with these
# values and rolls new revisions.
output "deploy" {
  value = merge(module.ecs.deploy, {
    stack_name            = var.name
    dag_sync_interval     = var.dag_sync_interval
    health_check_interval = var.health_check_interval
    cluster               = module.ecs.cluster_name
    region                = var.region
    image                 = var.image
    bucket                = module.storage.bucket_name
    execution_role_arn    = module.ecs.execution_role_arn
    db_host               = module.database.address
    db_port               = module.database.port
    db_name               = module.database.database_name
    db_user               = module.database.username
    db_secret_arn         = module.database.secret_arn
    dag_sync_secret_arn   = local.dag_sync_secret_arn
    namespace             = module.service_discovery.namespace_name
    subnets               = module.network.task_subnet_ids
    assign_public_ip      = module.network.assign_public_ip
    security_groups = {
      webserver     = [module.network.security_group_ids.webserver]
      daemon        = [module.network.security_group_ids.daemon]
      code_location = [module.network.security_group_ids.code_location]
    }
    code_locations = { for name, cl in module.code_location : name => cl.deploy }
  })
}
