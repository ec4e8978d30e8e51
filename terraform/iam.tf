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
  name               = "globant-project-apprunner-ecr-access"
  description        = "App Runner pulls the globant-api image from ECR"
  assume_role_policy = data.aws_iam_policy_document.apprunner_build_trust.json
}

resource "aws_iam_role_policy_attachment" "apprunner_ecr_access" {
  role       = aws_iam_role.apprunner_ecr_access.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess"
}

# Instance role: the running service's identity. App Runner resolves runtime_environment_secrets
# with it, so it may read this service's secrets and nothing else.
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
  name               = "globant-project-apprunner-instance"
  description        = "The globant-api App Runner service at run time: reads its own secrets"
  assume_role_policy = data.aws_iam_policy_document.apprunner_tasks_trust.json
}

data "aws_iam_policy_document" "apprunner_read_secrets" {
  statement {
    sid       = "ReadOwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = concat([aws_secretsmanager_secret.api_key.arn], aws_secretsmanager_secret.database_url[*].arn)
  }
}

resource "aws_iam_role_policy" "apprunner_read_secrets" {
  name   = "read-globant-api-secrets"
  role   = aws_iam_role.apprunner_instance.id
  policy = data.aws_iam_policy_document.apprunner_read_secrets.json
}

# IAM is eventually consistent: App Runner fails "unable to assume role" on a role seconds old.
resource "time_sleep" "iam_propagation" {
  create_duration = "20s"

  depends_on = [
    aws_iam_role_policy_attachment.apprunner_ecr_access,
    aws_iam_role_policy.apprunner_read_secrets,
  ]
}
