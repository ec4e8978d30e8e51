locals {
  # SQLite lives on the instance's own disk: a second instance would be a second, different
  # database. Without PostgreSQL the service therefore runs exactly one instance.
  min_size = var.enable_postgres ? var.min_size : 1
  max_size = var.enable_postgres ? var.max_size : 1

  runtime_environment_variables = merge(
    {
      HOST      = "0.0.0.0"
      PORT      = "8000"
      LOG_LEVEL = var.log_level
      # App Runner's front proxy appends the client's address to X-Forwarded-For.
      TRUST_PROXY = var.trust_proxy
    },
    { for name, value in { DATABASE_URL = "sqlite:./var/hr.db" } : name => value if !var.enable_postgres },
  )

  # Secrets Manager ARNs; App Runner reads the values at deployment with the instance role.
  runtime_environment_secrets = merge(
    { API_KEY = aws_secretsmanager_secret.api_key.arn },
    { for name, arn in { DATABASE_URL = one(aws_secretsmanager_secret.database_url[*].arn) } : name => arn if var.enable_postgres },
  )
}

resource "aws_apprunner_auto_scaling_configuration_version" "globant_api" {
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
  service_name = "globant-api"

  source_configuration {
    # A new image pushed under image_tag (push_image.yml moves `latest`) deploys by itself.
    auto_deployments_enabled = true

    authentication_configuration {
      access_role_arn = aws_iam_role.apprunner_ecr_access.arn
    }

    image_repository {
      image_identifier      = "${aws_ecr_repository.globant_api.repository_url}:${var.image_tag}"
      image_repository_type = "ECR"

      image_configuration {
        port                          = "8000"
        runtime_environment_variables = local.runtime_environment_variables
        runtime_environment_secrets   = local.runtime_environment_secrets
      }
    }
  }

  instance_configuration {
    cpu               = var.instance_cpu
    memory            = var.instance_memory
    instance_role_arn = aws_iam_role.apprunner_instance.arn
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

  auto_scaling_configuration_arn = aws_apprunner_auto_scaling_configuration_version.globant_api.arn

  network_configuration {
    ingress_configuration {
      is_publicly_accessible = true
    }

    # With PostgreSQL, outbound traffic goes through the VPC connector (the database is its only
    # destination); without it, App Runner's default internet egress.
    egress_configuration {
      egress_type       = var.enable_postgres ? "VPC" : "DEFAULT"
      vpc_connector_arn = one(aws_apprunner_vpc_connector.globant_api[*].arn)
    }
  }

  depends_on = [
    time_sleep.iam_propagation,
    aws_secretsmanager_secret_version.api_key,
    aws_secretsmanager_secret_version.database_url,
  ]
}
