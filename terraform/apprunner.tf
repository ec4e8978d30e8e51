# compute = "apprunner": the service as it was first deployed, for accounts that already use App
# Runner (closed to new customers). Every resource here has count = 1 only then; the moved blocks
# keep the addresses of deployments made before `compute` existed, so their plan changes nothing.
locals {
  apprunner_count = local.apprunner ? 1 : 0
}

moved {
  from = aws_apprunner_auto_scaling_configuration_version.globant_api
  to   = aws_apprunner_auto_scaling_configuration_version.globant_api[0]
}

moved {
  from = aws_apprunner_service.globant_api
  to   = aws_apprunner_service.globant_api[0]
}

resource "aws_apprunner_auto_scaling_configuration_version" "globant_api" {
  count = local.apprunner_count

  auto_scaling_configuration_name = "globant-api"
  max_concurrency                 = var.max_concurrency
  min_size                        = local.min_size
  max_size                        = local.max_size

  lifecycle {
    # A configuration version is immutable: a change creates a new revision before the old one goes.
    create_before_destroy = true
  }
}

resource "aws_apprunner_service" "globant_api" {
  count = local.apprunner_count

  service_name = "globant-api"

  source_configuration {
    # A new image pushed under image_tag (push_image.yml moves `latest`) deploys by itself.
    auto_deployments_enabled = true

    authentication_configuration {
      access_role_arn = aws_iam_role.apprunner_ecr_access[0].arn
    }

    image_repository {
      image_identifier      = local.image
      image_repository_type = "ECR"

      image_configuration {
        port                          = "8000"
        runtime_environment_variables = local.environment
        runtime_environment_secrets   = local.secrets
      }
    }
  }

  instance_configuration {
    cpu               = var.instance_cpu
    memory            = var.instance_memory
    instance_role_arn = aws_iam_role.apprunner_instance[0].arn
  }

  # /health answers 200 only when the database answers.
  health_check_configuration {
    protocol            = "HTTP"
    path                = "/health"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 1
    unhealthy_threshold = 5
  }

  auto_scaling_configuration_arn = aws_apprunner_auto_scaling_configuration_version.globant_api[0].arn

  network_configuration {
    ingress_configuration {
      is_publicly_accessible = true
    }

    # With PostgreSQL, outbound traffic goes through the VPC connector (the database and the S3
    # gateway endpoint are its only destinations); without it, App Runner's default internet egress.
    egress_configuration {
      egress_type       = local.postgres ? "VPC" : "DEFAULT"
      vpc_connector_arn = one(aws_apprunner_vpc_connector.globant_api[*].arn)
    }
  }

  depends_on = [
    time_sleep.iam_propagation,
    aws_secretsmanager_secret_version.api_key,
    aws_secretsmanager_secret_version.database_url,
  ]
}
