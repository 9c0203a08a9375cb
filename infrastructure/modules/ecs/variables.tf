variable "name" {
  type = string
}

variable "region" {
  type = string
}

variable "image" {
  description = "Image of the webserver and daemon (the platform image)."
  type        = string
}

variable "task_definitions_dir" {
  description = "Folder of the *.json.tftpl task definitions shared with the Python deployer."
  type        = string
}

variable "cpu" {
  type    = number
  default = 256
}

variable "memory" {
  type    = number
  default = 512
}

variable "vpc_id" {
  type = string
}

variable "public_subnet_ids" {
  type = list(string)
}

variable "task_subnet_ids" {
  type = list(string)
}

variable "assign_public_ip" {
  type = bool
}

variable "security_group_ids" {
  type = map(string)
}

variable "bucket_name" {
  type = string
}

variable "bucket_arn" {
  type = string
}

variable "db_host" {
  type = string
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

variable "extra_secret_arns" {
  description = "Further secrets the tasks' definitions inject (the execution role reads them)."
  type        = list(string)
  default     = []
}

variable "service_namespace" {
  type = string
}

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener; null gives plain HTTP on port 80."
  type        = string
  default     = null
}

variable "webserver_min_tasks" {
  type    = number
  default = 1
}

variable "webserver_max_tasks" {
  type    = number
  default = 2
}

variable "autoscaling_enabled" {
  type    = bool
  default = true
}

variable "log_retention_days" {
  type    = number
  default = 14
}

variable "images_to_keep" {
  type    = number
  default = 10
}

variable "force_delete_images" {
  type    = bool
  default = false
}

variable "deletion_protection" {
  type    = bool
  default = false
}

variable "db_port" {
  type    = number
  default = 5432
}

variable "webserver_port" {
  type    = number
  default = 3000
}

variable "webserver_host" {
  description = "The address the webserver binds inside its task: 0.0.0.0 on Fargate (the task's own ENI); 127.0.0.1 where tasks share a host."
  type        = string
  default     = "0.0.0.0"
}

variable "workspace_refresh_seconds" {
  description = "How often the webserver and daemon re-read Cloud Map for code locations (DiscoverInstances calls cost 1 USD per million)."
  type        = number
  default     = 10
}

variable "workspace_file" {
  description = "Where the container entrypoint renders the Cloud Map workspace."
  type        = string
  default     = "/opt/dagster/dagster_home/workspace.yaml"
}

variable "stop_first_rollouts" {
  description = "Roll port-bound services stop-first (minimum healthy 0%, maximum 100%): where tasks share one host's ports (the local emulation), a new task cannot start beside the old one."
  type        = bool
  default     = false
}
