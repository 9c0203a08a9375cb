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
