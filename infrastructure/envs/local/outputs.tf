# Everything the stack module answers but the secret key (`tofu output aws_secret_access_key`).
output "stack" {
  value = { for key, value in module.stack : key => value if key != "aws_secret_access_key" }
}

# The production design's names (`tofu output load_balancer_url`, `tofu output s3_bucket_name`).
output "load_balancer_url" {
  value = module.stack.load_balancer_url
}

output "s3_bucket_name" {
  value = module.stack.bucket_name
}

output "aws_access_key_id" {
  value = module.stack.aws_access_key_id
}

output "aws_secret_access_key" {
  value     = module.stack.aws_secret_access_key
  sensitive = true
}
