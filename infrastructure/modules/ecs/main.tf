# Cluster, image repository, logs and the two platform services (webserver behind the ALB, daemon).

resource "aws_ecs_cluster" "this" {
  #checkov:skip=CKV_AWS_65:Container Insights costs per metric; service CPU/memory metrics are free and drive scaling.
  name = var.name

  setting {
    name  = "containerInsights"
    value = "disabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
    base              = 0
  }
}

resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_51:The deployer moves a per-environment tag (e.g. main) to the newest digest; task definitions pin digests.
  #checkov:skip=CKV_AWS_136:AES256 instead of a KMS CMK (1 USD/month) for images that hold no secrets.
  name                 = var.name
  image_tag_mutability = "MUTABLE"
  force_delete         = var.force_delete_images

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the newest ${var.images_to_keep} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.images_to_keep
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Logs are encrypted by CloudWatch's own key; a CMK costs 1 USD/month.
  #checkov:skip=CKV_AWS_338:Two weeks of logs suffice for 2-3 users; a year costs storage.
  for_each          = toset(["webserver", "daemon", "runs"])
  name              = "/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
}

locals {
  common_template_vars = {
    image                     = var.image
    execution_role_arn        = aws_iam_role.execution.arn
    bucket                    = var.bucket_name
    db_host                   = var.db_host
    db_port                   = tostring(var.db_port)
    webserver_port            = tostring(var.webserver_port)
    webserver_host            = var.webserver_host
    workspace_refresh_seconds = tostring(var.workspace_refresh_seconds)
    workspace_file            = var.workspace_file
    db_name                   = var.db_name
    db_user                   = var.db_user
    db_secret_arn             = var.db_secret_arn
    service_namespace         = var.service_namespace
    region                    = var.region
    cpu                       = tostring(var.cpu)
    memory                    = tostring(var.memory)
  }

  task_definitions = {
    webserver = jsondecode(templatefile("${var.task_definitions_dir}/webserver.json.tftpl", merge(local.common_template_vars, {
      family        = "${var.name}-webserver"
      task_role_arn = aws_iam_role.webserver.arn
      log_group     = aws_cloudwatch_log_group.this["webserver"].name
    })))
    daemon = jsondecode(templatefile("${var.task_definitions_dir}/daemon.json.tftpl", merge(local.common_template_vars, {
      family        = "${var.name}-daemon"
      task_role_arn = aws_iam_role.daemon.arn
      log_group     = aws_cloudwatch_log_group.this["daemon"].name
    })))
  }
}

resource "aws_ecs_task_definition" "this" {
  for_each                 = local.task_definitions
  family                   = each.value.family
  network_mode             = each.value.networkMode
  requires_compatibilities = each.value.requiresCompatibilities
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = each.value.executionRoleArn
  task_role_arn            = each.value.taskRoleArn
  container_definitions    = jsonencode(each.value.containerDefinitions)

  runtime_platform {
    cpu_architecture        = each.value.runtimePlatform.cpuArchitecture
    operating_system_family = each.value.runtimePlatform.operatingSystemFamily
  }
}

resource "aws_ecs_service" "webserver" {
  name            = "webserver"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.this["webserver"].arn
  desired_count   = var.webserver_min_tasks
  launch_type     = "FARGATE"

  # A rollout whose tasks keep failing stops and rolls back; `dagster-ecs deploy` reports it.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  deployment_minimum_healthy_percent = var.stop_first_rollouts ? 0 : 100
  deployment_maximum_percent         = var.stop_first_rollouts ? 100 : 200

  network_configuration {
    subnets          = var.task_subnet_ids
    security_groups  = [var.security_group_ids.webserver]
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.webserver.arn
    container_name   = "webserver"
    container_port   = var.webserver_port
  }

  # desired_count belongs to autoscaling; task_definition to `dagster-ecs deploy`, which rolls
  # new revisions (tofu registers the first); availability_zone_rebalancing is not stored by moto.
  lifecycle {
    ignore_changes = [desired_count, task_definition, availability_zone_rebalancing]
  }

  depends_on = [aws_lb_listener.webserver]
}

# Exactly one daemon: two would schedule every run twice. On-demand FARGATE: a Spot interruption
# would stop sensors and schedules until ECS replaced the task (and moto drops a service's
# capacity_provider_strategy, which would make every plan replace it). FARGATE_SPOT stays
# registered on the cluster for run tasks (EcsRunLauncher run_task_kwargs).
resource "aws_ecs_service" "daemon" {
  name            = "daemon"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.this["daemon"].arn
  desired_count   = 1

  launch_type = "FARGATE"

  # A rollout whose tasks keep failing stops and rolls back; `dagster-ecs deploy` reports it.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.task_subnet_ids
    security_groups  = [var.security_group_ids.daemon]
    assign_public_ip = var.assign_public_ip
  }

  # task_definition belongs to `dagster-ecs deploy`, as for the webserver.
  lifecycle {
    ignore_changes = [task_definition, availability_zone_rebalancing]
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

resource "aws_appautoscaling_target" "webserver" {
  count              = var.autoscaling_enabled ? 1 : 0
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.webserver.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.webserver_min_tasks
  max_capacity       = var.webserver_max_tasks
}

resource "aws_appautoscaling_policy" "webserver" {
  for_each           = var.autoscaling_enabled ? { cpu = ["ECSServiceAverageCPUUtilization", 70], memory = ["ECSServiceAverageMemoryUtilization", 80] } : {}
  name               = "${var.name}-webserver-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.webserver[0].service_namespace
  resource_id        = aws_appautoscaling_target.webserver[0].resource_id
  scalable_dimension = aws_appautoscaling_target.webserver[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value[1]
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = each.value[0]
    }
  }
}
