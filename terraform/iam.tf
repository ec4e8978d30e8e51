# App Runner's roles (compute = "apprunner" only; the ECS roles are in ecs.tf).
#
# Access role: App Runner's build service uses it to pull the image from ECR. The AWS-managed
# AWSAppRunnerServicePolicyForECRAccess allows only the ECR reads a pull needs.
data "aws_iam_policy_document" "apprunner_build_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["build.apprunner.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apprunner_ecr_access" {
  count = local.apprunner_count

  name               = "globant-project-apprunner-ecr-access"
  description        = "App Runner pulls the globant-api image from ECR"
  assume_role_policy = data.aws_iam_policy_document.apprunner_build_trust.json
}

resource "aws_iam_role_policy_attachment" "apprunner_ecr_access" {
  count = local.apprunner_count

  role       = aws_iam_role.apprunner_ecr_access[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess"
}

# Instance role: the running service's identity. App Runner resolves runtime_environment_secrets
# with it, so it may read this service's secrets; the server uses it for the import bucket's prefix.
data "aws_iam_policy_document" "apprunner_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["tasks.apprunner.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apprunner_instance" {
  count = local.apprunner_count

  name               = "globant-project-apprunner-instance"
  description        = "The globant-api App Runner service at run time: reads its own secrets, uses its import prefix"
  assume_role_policy = data.aws_iam_policy_document.apprunner_tasks_trust.json
}

data "aws_iam_policy_document" "apprunner_read_secrets" {
  statement {
    sid       = "ReadOwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }
}

resource "aws_iam_role_policy" "apprunner_read_secrets" {
  count = local.apprunner_count

  name   = "read-globant-api-secrets"
  role   = aws_iam_role.apprunner_instance[0].id
  policy = data.aws_iam_policy_document.apprunner_read_secrets.json
}

resource "aws_iam_role_policy" "apprunner_imports" {
  count = local.apprunner_count

  name   = "globant-api-import-prefix"
  role   = aws_iam_role.apprunner_instance[0].id
  policy = data.aws_iam_policy_document.imports_access.json
}

# IAM is eventually consistent: App Runner fails "unable to assume role" on a role seconds old.
# ECS Express Mode fails the same way on fresh roles (the provider's documentation asks for this wait).
resource "time_sleep" "iam_propagation" {
  create_duration = "20s"

  depends_on = [
    aws_iam_role_policy_attachment.apprunner_ecr_access,
    aws_iam_role_policy.apprunner_read_secrets,
    aws_iam_role_policy.apprunner_imports,
    aws_iam_role_policy.ecs_execution,
    aws_iam_role_policy_attachment.ecs_infrastructure,
    aws_iam_role_policy.ecs_task_imports,
  ]
}

moved {
  from = aws_iam_role.apprunner_ecr_access
  to   = aws_iam_role.apprunner_ecr_access[0]
}

moved {
  from = aws_iam_role_policy_attachment.apprunner_ecr_access
  to   = aws_iam_role_policy_attachment.apprunner_ecr_access[0]
}

moved {
  from = aws_iam_role.apprunner_instance
  to   = aws_iam_role.apprunner_instance[0]
}

moved {
  from = aws_iam_role_policy.apprunner_read_secrets
  to   = aws_iam_role_policy.apprunner_read_secrets[0]
}
