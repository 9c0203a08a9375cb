variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "region" {
  description = "AWS region (for the S3 gateway endpoint's service name)."
  type        = string
}

variable "cidr_block" {
  description = "VPC CIDR; subnets are /24s carved from it."
  type        = string
  default     = "10.40.0.0/16"
}

variable "enable_nat" {
  description = "One NAT gateway for the private subnets (about 45 USD/month): off by default."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "CIDRs allowed to reach the ALB listener."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alb_listener_port" {
  description = "443 with a certificate, 80 without."
  type        = number
  default     = 80
}

variable "webserver_port" {
  type    = number
  default = 3000
}

variable "code_location_port" {
  type    = number
  default = 4000
}

variable "flow_logs_bucket_arn" {
  description = "S3 bucket ARN for REJECT flow logs; null disables them."
  type        = string
  default     = null
}
