# The local emulator (moto server started by `make dev`). Applied non-interactively.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "registry.terraform.io/hashicorp/aws"
      version = "~> 5.100"
    }
  }
  # State path is given at init (-backend-config=path=...) by the infra CLI: outside the tree.
  backend "local" {}
}


provider "aws" {
  region = var.region
  # Credentials: the infra CLI sets AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY to the stack's
  # administrator (IAM is enforced in the emulator, as on AWS).
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  # moto answers with account 123456789012; skipping the lookup makes SG-to-SG rules diff forever.
  skip_requesting_account_id = false
  s3_use_path_style          = true
  # An emulator 500 (unimplemented API) must fail in seconds, not after 25 backed-off retries.
  max_retries = 2

  endpoints {
    acm                    = var.emulator_url
    applicationautoscaling = var.emulator_url
    cloudwatch             = var.emulator_url
    ec2                    = var.emulator_url
    ecr                    = var.emulator_url
    ecs                    = var.emulator_url
    efs                    = var.emulator_url
    elbv2                  = var.emulator_url
    iam                    = var.emulator_url
    kms                    = var.emulator_url
    logs                   = var.emulator_url
    rds                    = var.emulator_url
    s3                     = var.emulator_url
    secretsmanager         = var.emulator_url
    servicediscovery       = var.emulator_url
    sts                    = var.emulator_url
  }

  default_tags {
    tags = { Project = "dagster-ecs", Environment = "local" }
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
  autoscaling_enabled   = var.autoscaling_enabled
  webserver_port        = var.webserver_port
  webserver_host        = "127.0.0.1"
  # A new repository's location appears within 2 s locally (no DiscoverInstances bill here).
  workspace_refresh_seconds = 2
  # DAG changes reach the code servers within 2 s locally (60 s on AWS).
  dag_sync_interval = 2
  # ECS's shortest health check interval: a rolled code location is healthy 5 s after start.
  health_check_interval = 5
  # Every task shares this host's ports: a port-bound service's new task starts once the old one
  # stopped (as `make dev` deploys); Fargate gives each task its own ENI, and rolls 100/200.
  stop_first_rollouts = true
  grpc_port           = var.grpc_port
  workspace_file      = var.workspace_file
  disposable          = true
}
