variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "dagster-ecs"
}

variable "region" {
  type    = string
  default = "ap-southeast-2"
}

variable "bucket_name" {
  type = string
}

variable "image" {
  description = "Platform image (webserver, daemon, default for code locations)."
  type        = string
}

variable "code_locations" {
  description = "Registered repositories (repos/{name}/config.yml), written by the infra CLI into code_locations.auto.tfvars.json."
  type = map(object({
    image       = optional(string)
    module_name = optional(string, "dagster_code.definitions")
    dags_dir    = optional(string)
    definitions = optional(string, "module:dagster_code.definitions")
    cpu         = optional(number, 256)
    memory      = optional(number, 512)
    min_tasks   = optional(number, 1)
    max_tasks   = optional(number, 2)
    read_from   = optional(list(string), [])
    grpc_port   = optional(number)
  }))
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

variable "create_s3_user" {
  type    = bool
  default = false
}

variable "dag_sync_uses_s3_user" {
  description = "Give each code location's DAG sync agent the create_s3_user access key (as task secrets, from Secrets Manager) instead of its task role. The key reaches the whole bucket: per-repository isolation then holds for the code servers and runs, not for the agents."
  type        = bool
  default     = false
  validation {
    condition     = !var.dag_sync_uses_s3_user || var.create_s3_user
    error_message = "dag_sync_uses_s3_user needs create_s3_user = true (the key it injects)."
  }
}

variable "certificate_arn" {
  type    = string
  default = null
}

variable "alb_ingress_cidrs" {
  type    = list(string)
  default = ["0.0.0.0/0"]
}

variable "autoscaling_enabled" {
  type    = bool
  default = true
}

variable "webserver_port" {
  description = "The webserver's container port (the ALB's target port)."
  type        = number
  default     = 3000
}

variable "grpc_port" {
  description = "The code locations' gRPC port."
  type        = number
  default     = 4000
}

variable "webserver_host" {
  description = "The address the webserver binds inside its task (0.0.0.0 on Fargate)."
  type        = string
  default     = "0.0.0.0"
}

variable "dag_sync_interval" {
  description = "Seconds between each code location's DAG syncs from S3 (the production design's 60)."
  type        = number
  default     = 60
}

variable "health_check_interval" {
  description = "Seconds between each code location container's health checks (5 to 300)."
  type        = number
  default     = 30
}

variable "workspace_refresh_seconds" {
  description = "How often the webserver and daemon re-read Cloud Map for code locations."
  type        = number
  default     = 10
}

variable "workspace_file" {
  description = "Where the webserver and daemon entrypoint renders the Cloud Map workspace."
  type        = string
  default     = "/opt/dagster/dagster_home/workspace.yaml"
}

variable "disposable" {
  description = "No deletion protection, no final snapshot, secrets deleted at once, images deleted with the repository."
  type        = bool
  default     = false
}

variable "stop_first_rollouts" {
  description = "Roll port-bound services stop-first (minimum healthy 0%, maximum 100%): where tasks share one host's ports (the local emulation), a new task cannot start beside the old one."
  type        = bool
  default     = false
}
