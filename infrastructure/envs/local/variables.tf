variable "emulator_url" {
  description = "Every AWS service endpoint of the emulator."
  type        = string
  default     = "http://127.0.0.1:4566"
}

variable "region" {
  type    = string
  default = "ap-southeast-2"
}

# Not "dagster-ecs": `make dev` seeds that name in the same emulator, and a tofu destroy must
# never touch the running dev stack.
variable "name" {
  type    = string
  default = "dagster-ecs-tf"
}

variable "bucket_name" {
  type    = string
  default = "dagster-ecs-tf-local"
}

variable "image" {
  type    = string
  default = "dagster-ecs:local"
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

variable "autoscaling_enabled" {
  description = "False where the emulator lacks application-autoscaling tagging (the infra CLI probes it)."
  type        = bool
  default     = true
}

# Not 3000/4000: tasks share the host's network locally, and the `make dev` stack holds those.
variable "webserver_port" {
  type    = number
  default = 3100
}

# Tasks share the host's filesystem locally: not the image's /opt/dagster path. The infra CLI
# sets it inside the stack's state folder (.local/infra/local/), which destroy removes.
variable "workspace_file" {
  type = string
}

variable "grpc_port" {
  type    = number
  default = 4100
}
