# Remote state: an S3 bucket (versioned, encrypted, private) and a DynamoDB lock table, both created
# once by terraform/bootstrap/. A backend block cannot read variables, so the bucket and the region
# come from `terraform init`:
#
#   terraform init \
#     -backend-config="bucket=globant-api-tfstate-<ACCOUNT_ID>" \
#     -backend-config="region=<REGION>"
#
# State is never committed: *.tfstate* and .terraform/ are git-ignored.
terraform {
  backend "s3" {
    key            = "globant-api/terraform.tfstate"
    dynamodb_table = "globant-api-terraform-locks"
    encrypt        = true
  }
}
