output "state_bucket" {
  description = "S3 bucket for the main configuration's state: pass it to `terraform init -backend-config=bucket=...` and set it as the TF_STATE_BUCKET variable in GitHub."
  value       = aws_s3_bucket.state.bucket
}

output "lock_table" {
  description = "DynamoDB table for state locking (dynamodb_table in ../backend.tf)."
  value       = aws_dynamodb_table.locks.name
}

output "github_deploy_role_arn" {
  description = "Role the workflows assume through OIDC: store it as the AWS_ROLE_ARN secret in GitHub."
  value       = aws_iam_role.github_deploy.arn
}

output "init_command" {
  description = "The command that initialises ../ against this state bucket."
  value       = "terraform init -backend-config=\"bucket=${aws_s3_bucket.state.bucket}\" -backend-config=\"region=${var.aws_region}\""
}

output "github_plan_role_arn" {
  description = "Role pull requests assume through OIDC for terraform plan: store it as the AWS_PLAN_ROLE_ARN secret in GitHub (null when github_plan_role is false)."
  value       = one(aws_iam_role.github_plan[*].arn)
}
