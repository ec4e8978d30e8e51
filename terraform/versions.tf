terraform {
  # Pinned to Terraform 1.x (the workflows install 1.11.4) and to the providers' current major versions.
  # AWS provider 6.23.0 added aws_ecs_express_gateway_service (ECS Express Mode); 6.x keeps every
  # App Runner resource this configuration used under 5.x.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.23"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }
}

provider "aws" {
  region = var.aws_region
  # A wrong profile or role fails here instead of creating resources in another account.
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = {
      Project   = "globant-api"
      ManagedBy = "terraform"
    }
  }
}
