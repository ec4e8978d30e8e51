variable "aws_region" {
  description = "AWS region for every resource (App Runner must be available there, e.g. us-east-1, us-east-2, us-west-2, eu-west-1)."
  type        = string
  default     = "us-east-1"
}

variable "aws_account_id" {
  description = "The 12-digit AWS account the resources belong to; the provider refuses any other account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be 12 digits."
  }
}

variable "image_tag" {
  description = "Tag of the globant-api image in ECR that App Runner runs and watches for auto deployments (push_image.yml moves `latest`)."
  type        = string
  default     = "latest"
}

variable "instance_cpu" {
  description = "vCPU units per App Runner instance: 256, 512, 1024, 2048 or 4096 (1024 = 1 vCPU)."
  type        = string
  default     = "1024"
}

variable "instance_memory" {
  description = "Memory per App Runner instance in MB, compatible with instance_cpu (1024 CPU: 2048, 3072 or 4096)."
  type        = string
  default     = "2048"
}

variable "min_size" {
  description = "Fewest App Runner instances kept provisioned. Used only with enable_postgres; on SQLite the service runs exactly one."
  type        = number
  default     = 1

  validation {
    condition     = var.min_size >= 1 && var.min_size <= 25
    error_message = "min_size must be between 1 and 25."
  }
}

variable "max_size" {
  description = "Most App Runner instances auto scaling may start. Used only with enable_postgres; on SQLite it is forced to 1."
  type        = number
  default     = 3

  validation {
    condition     = var.max_size >= 1 && var.max_size <= 25
    error_message = "max_size must be between 1 and 25."
  }
}

variable "max_concurrency" {
  description = "Concurrent requests one instance serves before App Runner scales out (1 to 200)."
  type        = number
  default     = 100

  validation {
    condition     = var.max_concurrency >= 1 && var.max_concurrency <= 200
    error_message = "max_concurrency must be between 1 and 200."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the service: fatal, error, warn, info, debug, trace or silent."
  type        = string
  default     = "info"
}

variable "trust_proxy" {
  description = "TRUST_PROXY of the service: how many proxy hops' X-Forwarded-For to believe for the client address (rate limit, logs). App Runner puts one proxy in front."
  type        = string
  default     = "1"
}

variable "ecr_keep_images" {
  description = "How many of the most recent images the ECR lifecycle policy keeps; older ones expire."
  type        = number
  default     = 10
}

variable "ecr_force_delete" {
  description = "Let `terraform destroy` delete the ECR repository even when it still holds images (they can be rebuilt from git)."
  type        = bool
  default     = true
}

variable "enable_postgres" {
  description = "Create an Amazon RDS for PostgreSQL database in private subnets, reached through an App Runner VPC connector, and let the service scale out. Off: SQLite inside the single instance (data lost on every deployment)."
  type        = bool
  default     = false
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC created for the database (enable_postgres only); two /24 private subnets are carved from it."
  type        = string
  default     = "10.42.0.0/16"
}

variable "excluded_availability_zone_ids" {
  description = "Availability Zone IDs to leave out of the database subnets because App Runner VPC connectors do not support them (e.g. use1-az3 in us-east-1)."
  type        = list(string)
  default     = ["use1-az3"]
}

variable "db_engine_version" {
  description = "PostgreSQL major version of the RDS instance (CI tests against postgres:15)."
  type        = string
  default     = "15"
}

variable "db_instance_class" {
  description = "RDS instance class of the database (enable_postgres only)."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage" {
  description = "Storage of the database in GB (gp3, encrypted)."
  type        = number
  default     = 20
}

variable "db_multi_az" {
  description = "Run the database with a standby in a second Availability Zone (doubles its cost)."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery) to keep, 0 to 35."
  type        = number
  default     = 7
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database, even from `terraform destroy`, until this is set back to false and applied."
  type        = bool
  default     = false
}
