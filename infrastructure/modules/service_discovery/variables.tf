variable "namespace" {
  type = string
}

variable "vpc_id" {
  type = string
}
