variable "aws_region" {
  description = "AWS region of the state bucket, the lock table and the deployed service."
  type        = string
  default     = "us-east-1"
}

variable "aws_account_id" {
  description = "The 12-digit AWS account; the provider refuses any other account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be 12 digits."
  }
}

variable "state_bucket_name" {
  description = "Name of the S3 bucket for Terraform state; empty means globant-api-tfstate-<account id> (bucket names are global)."
  type        = string
  default     = ""
}

variable "lock_table_name" {
  description = "Name of the DynamoDB table for state locking; must match dynamodb_table in ../backend.tf."
  type        = string
  default     = "globant-api-terraform-locks"
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the deploy role through OIDC."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "github_branches" {
  description = "Branches whose workflow runs may assume the deploy role (workflow_dispatch runs on the branch picked in the UI)."
  type        = list(string)
  default     = ["main", "deployment"]
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC identity provider; false when the account already has token.actions.githubusercontent.com."
  type        = bool
  default     = true
}

variable "github_plan_role" {
  description = "Create the read-only role pull requests assume to run terraform plan (it can read the state, which holds the generated secrets)."
  type        = bool
  default     = true
}
