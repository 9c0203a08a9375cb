variable "name" {
  description = "Repository name, as registered under repos/{name}/config.yml."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}$", var.name))
    error_message = "A code location name is 1-31 lowercase letters, digits or dashes."
  }
}

variable "stack_name" {
  type = string
}

variable "region" {
  type = string
}

variable "image" {
  type = string
}

variable "module_name" {
  type    = string
  default = "dagster_code.definitions"
}

variable "dags_dir" {
  type = string
}

variable "read_from" {
  description = "Repositories whose assets this location may read (config.yml read_from)."
  type        = list(string)
  default     = []
}

variable "dag_sync_interval" {
  description = "Seconds between the code server's DAG syncs from s3://<bucket>/dags/<name>/ (0 serves the image's DAGs)."
  type        = number
  default     = 60
}

variable "health_check_interval" {
  description = "Seconds between the code server container's health checks (ECS allows 5 to 300)."
  type        = number
  default     = 30
  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "health_check_interval must be between 5 and 300 seconds (ECS's range)."
  }
}

variable "repo_definitions" {
  description = "An external repository's definitions (module:... or file:...), loaded by dagster_code.repository."
  type        = string
  default     = "module:dagster_code.definitions"
}

variable "cpu" {
  type    = number
  default = 256
}

variable "memory" {
  type    = number
  default = 512
}

variable "min_tasks" {
  type    = number
  default = 1
}

variable "max_tasks" {
  type    = number
  default = 2
}

variable "task_definitions_dir" {
  type = string
}

variable "cluster_arn" {
  type = string
}

variable "cluster_name" {
  type = string
}

variable "execution_role_arn" {
  type = string
}

variable "namespace" {
  type = string
}

variable "namespace_id" {
  type = string
}

variable "bucket_name" {
  type = string
}

variable "bucket_arn" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "security_group_id" {
  type = string
}

variable "assign_public_ip" {
  type = bool
}

variable "autoscaling_enabled" {
  type    = bool
  default = true
}

variable "log_retention_days" {
  type    = number
  default = 14
}

variable "grpc_port" {
  type    = number
  default = 4000
}

variable "db_host" {
  type = string
}

variable "db_port" {
  type    = number
  default = 5432
}

variable "db_name" {
  type = string
}

variable "db_user" {
  type = string
}

variable "db_secret_arn" {
  type = string
}

variable "dag_sync_secret_arn" {
  description = "A Secrets Manager secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the DAG sync agent alone; null: the agent uses the task role."
  type        = string
  default     = null
}

variable "stop_first_rollouts" {
  description = "Roll port-bound services stop-first (minimum healthy 0%, maximum 100%): where tasks share one host's ports (the local emulation), a new task cannot start beside the old one."
  type        = bool
  default     = false
}
