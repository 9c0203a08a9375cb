output "stack" {
  value = module.stack
}
