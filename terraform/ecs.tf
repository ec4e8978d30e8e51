# compute = "ecs_express" (the default): Amazon ECS Express Mode runs the image on Fargate behind an
# HTTPS Application Load Balancer it creates and manages (with its target group, listener rule,
# certificate, auto scaling and security group). Three roles, each allowed only its own job:
#   execution role       ECS starting a task: pull this image, write this log group, read these secrets
#   infrastructure role  ECS Express managing the load balancer, target group and scaling for us
#   task role            the server at run time: the import bucket's prefix, nothing else

resource "aws_cloudwatch_log_group" "globant_api" {
  count = local.ecs_count

  name              = "/ecs/globant-api"
  retention_in_days = var.log_retention_days
}

# --- Execution role -----------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Only tasks of this account (confused-deputy protection).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.aws_account_id]
    }
  }
}

resource "aws_iam_role" "ecs_execution" {
  count = local.ecs_count

  name               = "globant-project-ecs-execution"
  description        = "ECS starts globant-api tasks: pulls its image, writes its logs, reads its secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

# What AmazonECSTaskExecutionRolePolicy grants, narrowed to this repository and log group, plus the
# secrets the container receives. GetAuthorizationToken has no resource-level permission.
data "aws_iam_policy_document" "ecs_execution" {
  count = local.ecs_count

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullOwnImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [aws_ecr_repository.globant_api.arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.globant_api[0].arn}:*"]
  }

  statement {
    sid       = "ReadOwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }
}

resource "aws_iam_role_policy" "ecs_execution" {
  count = local.ecs_count

  name   = "globant-api-task-execution"
  role   = aws_iam_role.ecs_execution[0].id
  policy = data.aws_iam_policy_document.ecs_execution[0].json
}

# --- Infrastructure role ------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_infrastructure_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ecs_infrastructure" {
  count = local.ecs_count

  name               = "globant-project-ecs-infrastructure"
  description        = "ECS Express Mode manages the load balancer, target group, security group and scaling of globant-api"
  assume_role_policy = data.aws_iam_policy_document.ecs_infrastructure_trust.json
}

# The AWS-managed policy made for exactly this role: the load balancer, target group, listener,
# certificate, security group and scaling calls Express Mode makes, scoped by AWS to the resources
# Express Mode tags as its own. It cannot be modified after the service is created.
resource "aws_iam_role_policy_attachment" "ecs_infrastructure" {
  count = local.ecs_count

  role       = aws_iam_role.ecs_infrastructure[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSInfrastructureRoleforExpressGatewayServices"
}

# --- Task role ----------------------------------------------------------------------------------

resource "aws_iam_role" "ecs_task" {
  count = local.ecs_count

  name               = "globant-project-ecs-task"
  description        = "The globant-api server at run time: objects under its import prefix only"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "ecs_task_imports" {
  count = local.ecs_count

  name   = "globant-api-import-prefix"
  role   = aws_iam_role.ecs_task[0].id
  policy = data.aws_iam_policy_document.imports_access.json
}

# --- Network ------------------------------------------------------------------------------------

# The tasks' security group. Rules are separate resources (never inline): Express Mode may add its
# own rule for its load balancer, and Terraform leaves rules it does not declare alone.
resource "aws_security_group" "service" {
  count = local.ecs_count

  name_prefix = "globant-api-service-"
  description = "globant-api ECS tasks: port 8000 from inside the VPC (the load balancer); HTTPS and PostgreSQL out"
  vpc_id      = aws_vpc.db[0].id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "service_from_vpc" {
  count = local.ecs_count

  security_group_id = aws_security_group.service[0].id
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 8000
  to_port           = 8000
  description       = "The load balancer, inside the VPC"
}

# ECR, Secrets Manager, CloudWatch Logs and S3 all answer on 443.
resource "aws_vpc_security_group_egress_rule" "service_https" {
  count = local.ecs_count

  security_group_id = aws_security_group.service[0].id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "AWS APIs (ECR, Secrets Manager, CloudWatch Logs, S3)"
}

resource "aws_vpc_security_group_egress_rule" "service_to_db" {
  count = local.ecs && local.postgres ? 1 : 0

  security_group_id            = aws_security_group.service[0].id
  referenced_security_group_id = aws_security_group.db[0].id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "PostgreSQL"
}

# --- The service --------------------------------------------------------------------------------

resource "aws_ecs_express_gateway_service" "globant_api" {
  count = local.ecs_count

  service_name            = "globant-api"
  execution_role_arn      = aws_iam_role.ecs_execution[0].arn
  infrastructure_role_arn = aws_iam_role.ecs_infrastructure[0].arn
  task_role_arn           = aws_iam_role.ecs_task[0].arn

  # /health answers 200 only when the database answers.
  health_check_path = "/health"
  cpu               = var.instance_cpu
  memory            = var.instance_memory

  # The apply (and so the workflow's smoke test) waits until the new tasks serve.
  wait_for_steady_state = true

  primary_container {
    image          = local.image
    container_port = 8000

    aws_logs_configuration = [{
      log_group         = aws_cloudwatch_log_group.globant_api[0].name
      log_stream_prefix = "globant-api"
    }]

    dynamic "environment" {
      for_each = local.environment

      content {
        name  = environment.key
        value = environment.value
      }
    }

    dynamic "secret" {
      for_each = local.secrets

      content {
        name       = secret.key
        value_from = secret.value
      }
    }
  }

  network_configuration = [{
    subnets         = aws_subnet.public[*].id
    security_groups = [aws_security_group.service[0].id]
  }]

  # On SQLite exactly one task (local.min_size = local.max_size = 1): each task has its own file.
  scaling_target = [{
    auto_scaling_metric       = var.scaling_metric
    auto_scaling_target_value = var.scaling_target_value
    min_task_count            = local.min_size
    max_task_count            = local.max_size
  }]

  depends_on = [
    time_sleep.iam_propagation,
    aws_secretsmanager_secret_version.api_key,
    aws_secretsmanager_secret_version.database_url,
    aws_route_table_association.public,
    aws_vpc_security_group_egress_rule.service_https,
  ]
}

locals {
  # The public HTTPS endpoint ECS Express Mode gives the service (some provider versions return it
  # with its scheme, some without).
  ecs_endpoint = local.ecs ? try(one([
    for path in aws_ecs_express_gateway_service.globant_api[0].ingress_paths : path.endpoint if path.access_type == "PUBLIC"
  ]), aws_ecs_express_gateway_service.globant_api[0].ingress_paths[0].endpoint) : null
  service_url = local.ecs ? (startswith(local.ecs_endpoint, "https://") ? local.ecs_endpoint : "https://${local.ecs_endpoint}") : "https://${aws_apprunner_service.globant_api[0].service_url}"
}
