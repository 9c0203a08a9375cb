# Real AWS, ap-southeast-2. State in S3 with S3-native locking (use_lockfile, Terraform/OpenTofu
# >= 1.10). The state bucket is created once by hand (see docs/infrastructure.md) and passed at
# init: -backend-config=bucket=<name> (the infra CLI takes it from DAGSTER_ECS_STATE_BUCKET).

terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "registry.terraform.io/hashicorp/aws"
      version = "~> 5.100"
    }
  }
  backend "s3" {
    key          = "dagster-ecs/terraform.tfstate"
    region       = "ap-southeast-2"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = "dagster-ecs", Environment = "aws" }
  }
}

module "stack" {
  source                = "../../modules/stack"
  name                  = var.name
  region                = var.region
  bucket_name           = var.bucket_name
  image                 = var.image
  code_locations        = var.code_locations
  enable_nat            = var.enable_nat
  enable_efs            = var.enable_efs
  create_s3_user        = var.create_s3_user
  dag_sync_uses_s3_user = var.dag_sync_uses_s3_user
  certificate_arn       = var.certificate_arn
  alb_ingress_cidrs     = var.alb_ingress_cidrs
  disposable            = false
}
