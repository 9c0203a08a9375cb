output "stack" {
  value = module.stack
}

# The production design's names (`tofu output load_balancer_url`, `tofu output s3_bucket_name`).
output "load_balancer_url" {
  value = module.stack.load_balancer_url
}

output "s3_bucket_name" {
  value = module.stack.bucket_name
}
