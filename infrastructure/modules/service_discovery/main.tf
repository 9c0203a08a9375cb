# Private DNS namespace for code locations. Not ".local": gRPC's resolver mishandles it.
resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = var.namespace
  description = "Dagster code locations"
  vpc         = var.vpc_id
}
