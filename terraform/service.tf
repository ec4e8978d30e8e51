# What both compute choices share: which one runs, which database, and the service's environment.
locals {
  ecs       = var.compute == "ecs_express"
  apprunner = var.compute == "apprunner"

  # PostgreSQL is on by default with ECS (tasks are replaced at every deployment and several run at
  # once) and off by default with App Runner (what existing App Runner deployments had).
  postgres = var.enable_postgres == null ? local.ecs : var.enable_postgres

  # SQLite lives on the task's or instance's own disk: a second one would be a second, different
  # database. Without PostgreSQL the service therefore runs exactly one.
  min_size = local.postgres ? var.min_size : 1
  max_size = local.postgres ? var.max_size : 1

  environment = merge(
    {
      HOST      = "0.0.0.0"
      PORT      = "8000"
      LOG_LEVEL = var.log_level
      # App Runner's front proxy and the ECS load balancer each append the client's address to
      # X-Forwarded-For: one hop.
      TRUST_PROXY   = var.trust_proxy
      AWS_REGION    = var.aws_region
      IMPORT_BUCKET = aws_s3_bucket.imports.bucket
      IMPORT_PREFIX = var.import_prefix
    },
    { for name, value in { DATABASE_URL = "sqlite:./var/hr.db" } : name => value if !local.postgres },
  )

  # Secrets Manager ARNs: App Runner (instance role) or ECS (execution role) reads the values when
  # it starts the container; they never appear in the task definition or the service.
  secrets = merge(
    { API_KEY = aws_secretsmanager_secret.api_key.arn },
    { for name, arn in { DATABASE_URL = one(aws_secretsmanager_secret.database_url[*].arn) } : name => arn if local.postgres },
  )
  secret_arns = concat([aws_secretsmanager_secret.api_key.arn], aws_secretsmanager_secret.database_url[*].arn)

  image = "${aws_ecr_repository.globant_api.repository_url}:${var.image_tag}"
}
