variable "region" {
  type    = string
  default = "ap-southeast-2"
}

variable "name" {
  type    = string
  default = "dagster-ecs"
}

variable "bucket_name" {
  description = "Globally unique platform bucket name, e.g. dagster-ecs-<account id>."
  type        = string
}

variable "image" {
  description = "Platform image URI (ECR), e.g. <account>.dkr.ecr.ap-southeast-2.amazonaws.com/dagster-ecs:main."
  type        = string
}

variable "code_locations" {
  type    = any
  default = {}
}

variable "enable_nat" {
  type    = bool
  default = false
}

variable "enable_efs" {
  type    = bool
  default = false
}

variable "dag_sync_uses_s3_user" {
  description = "The DAG sync agents use the create_s3_user key instead of their task roles (see the stack module)."
  type        = bool
  default     = false
}

variable "create_s3_user" {
  type    = bool
  default = false
}

variable "certificate_arn" {
  type    = string
  default = null
}

variable "alb_ingress_cidrs" {
  description = "Restrict to the users' office/VPN CIDRs where possible."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}
