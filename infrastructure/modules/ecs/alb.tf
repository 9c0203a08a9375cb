resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs need a log bucket and cost per GB; CloudWatch ALB metrics suffice for 2-3 users.
  #checkov:skip=CKV_AWS_150:Deletion protection would block destroy of a disposable environment; set var.deletion_protection on AWS.
  #checkov:skip=CKV2_AWS_28:AWS WAF costs 5 USD/month plus rules; restrict var.alb_ingress_cidrs instead.
  #checkov:skip=CKV2_AWS_20:Without a certificate the listener is plain HTTP; with var.certificate_arn HTTP redirects to HTTPS.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [var.security_group_ids.alb]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
}

resource "aws_lb_target_group" "webserver" {
  #checkov:skip=CKV_AWS_378:TLS terminates at the ALB; target traffic stays inside the VPC.
  name        = "${var.name}-web"
  port        = var.webserver_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {
    path                = "/server_info"
    matcher             = "200"
    interval            = 30
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "webserver" {
  #checkov:skip=CKV_AWS_2:HTTPS needs a certificate (var.certificate_arn); without one the listener is HTTP.
  #checkov:skip=CKV_AWS_103:TLS policy applies only to the HTTPS listener, which uses ELBSecurityPolicy-TLS13-1-2-2021-06.
  load_balancer_arn = aws_lb.this.arn
  port              = var.certificate_arn == null ? 80 : 443
  protocol          = var.certificate_arn == null ? "HTTP" : "HTTPS"
  ssl_policy        = var.certificate_arn == null ? null : "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.webserver.arn
  }
}
