# API_KEY: generated once, stored in Secrets Manager, given to the container by ECS (a `secret` of
# the primary container) or App Runner (runtime_environment_secrets). It never appears in the code
# or the workflows; it is in the encrypted remote state. Read it with:
#   aws secretsmanager get-secret-value --secret-id "$(terraform output -raw api_key_secret_arn)" --query SecretString --output text
resource "random_password" "api_key" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "api_key" {
  name_prefix             = "globant-api/api-key-"
  description             = "API_KEY of the globant-api service: one key, or several separated by commas while rotating"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "api_key" {
  secret_id     = aws_secretsmanager_secret.api_key.id
  secret_string = random_password.api_key.result

  lifecycle {
    # Rotation happens outside Terraform (put-secret-value, then a new deployment): keep its value.
    ignore_changes = [secret_string]
  }
}
