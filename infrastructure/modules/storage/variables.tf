variable "name" {
  type = string
}

variable "bucket_name" {
  type = string
}

variable "force_destroy" {
  description = "Let destroy delete a non-empty bucket (false: protects data; moto also crashes on it for versioned buckets)."
  type        = bool
  default     = false
}

variable "temp_expiration_days" {
  type    = number
  default = 7
}

variable "noncurrent_version_days" {
  type    = number
  default = 30
}

variable "create_s3_user" {
  description = "Dedicated IAM user + access key in Secrets Manager (off: tasks use their roles)."
  type        = bool
  default     = false
}

variable "secret_recovery_window_days" {
  description = "0 deletes secrets at once (emulator, tests); 7-30 on AWS."
  type        = number
  default     = 7
}
