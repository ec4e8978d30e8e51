terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # Local state on purpose: this configuration creates the bucket the main one keeps its state in.
  # terraform.tfstate stays git-ignored; keep it (or migrate it to the bucket: README).
}

provider "aws" {
  region              = var.aws_region
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = {
      Project   = "globant-api"
      ManagedBy = "terraform-bootstrap"
    }
  }
}
