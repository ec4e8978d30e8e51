variable "compute" {
  description = "Where the container runs: ecs_express (Amazon ECS Express Mode on Fargate, the default, open to every AWS account) or apprunner (AWS App Runner, for accounts that already use it: App Runner is closed to new customers)."
  type        = string
  default     = "ecs_express"

  validation {
    condition     = contains(["ecs_express", "apprunner"], var.compute)
    error_message = "compute must be ecs_express or apprunner."
  }
}

variable "aws_region" {
  description = "AWS region for every resource (with compute = apprunner, App Runner must be available there, e.g. us-east-1, us-east-2, us-west-2, eu-west-1)."
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
  description = "Tag of the globant-api image in ECR the service runs. App Runner watches it for auto deployments (push_image.yml moves `latest`); ECS deploys it at each apply, so pass the commit SHA to roll forward or back."
  type        = string
  default     = "latest"
}

variable "instance_cpu" {
  description = "vCPU units per App Runner instance or ECS task: 256, 512, 1024, 2048 or 4096 (1024 = 1 vCPU)."
  type        = string
  default     = "1024"
}

variable "instance_memory" {
  description = "Memory per App Runner instance or ECS task in MB, compatible with instance_cpu (1024 CPU: 2048 to 8192 on ECS; 2048, 3072 or 4096 on App Runner)."
  type        = string
  default     = "2048"
}

variable "min_size" {
  description = "Fewest App Runner instances or ECS tasks kept running. Used only with PostgreSQL; on SQLite the service runs exactly one."
  type        = number
  default     = 1

  validation {
    condition     = var.min_size >= 1 && var.min_size <= 25
    error_message = "min_size must be between 1 and 25."
  }
}

variable "max_size" {
  description = "Most App Runner instances or ECS tasks auto scaling may start. Used only with PostgreSQL; on SQLite it is forced to 1."
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
  description = "Create an Amazon RDS for PostgreSQL database in private subnets and let the service scale out. Unset (null): on with ecs_express (tasks are ephemeral and several), off with apprunner (as before). false: SQLite inside the ONE task or instance, and ALL DATA IS LOST AT EVERY DEPLOYMENT (a demo only)."
  type        = bool
  default     = null
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC created for the database and, on ECS, the service: /24 subnets are carved from it (two private ones for the database, two public ones for the ECS tasks and their load balancer)."
  type        = string
  default     = "10.42.0.0/16"
}

variable "excluded_availability_zone_ids" {
  description = "Availability Zone IDs to leave out of the subnets because App Runner VPC connectors do not support them (e.g. use1-az3 in us-east-1)."
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

variable "scaling_metric" {
  description = "What ECS Express Mode auto scaling tracks (PostgreSQL only): AVERAGE_CPU, AVERAGE_MEMORY or REQUEST_COUNT_PER_TARGET."
  type        = string
  default     = "AVERAGE_CPU"

  validation {
    condition     = contains(["AVERAGE_CPU", "AVERAGE_MEMORY", "REQUEST_COUNT_PER_TARGET"], var.scaling_metric)
    error_message = "scaling_metric must be AVERAGE_CPU, AVERAGE_MEMORY or REQUEST_COUNT_PER_TARGET."
  }
}

variable "scaling_target_value" {
  description = "Target value of scaling_metric ECS keeps the service at: a percentage for CPU and memory, requests per task for REQUEST_COUNT_PER_TARGET."
  type        = number
  default     = 60
}

variable "lb_idle_timeout_seconds" {
  description = "Idle timeout of the ECS Express load balancer, in seconds (1 to 4000; AWS default 60). An upload whose connection is silent longer (the server committing a large file before it answers) is cut with a 504. The Express resource cannot set it: the ECS workflow sets it on the service's load balancer after each apply (docs/deploy.md)."
  type        = number
  default     = 600

  validation {
    condition     = var.lb_idle_timeout_seconds >= 1 && var.lb_idle_timeout_seconds <= 4000
    error_message = "lb_idle_timeout_seconds must be between 1 and 4000."
  }
}

variable "log_retention_days" {
  description = "Days the ECS service's CloudWatch log group keeps its logs."
  type        = number
  default     = 30
}

variable "import_bucket_name" {
  description = "Name of the private S3 bucket for presigned direct uploads (import jobs); empty means globant-api-imports-<account id> (bucket names are global)."
  type        = string
  default     = ""
}

variable "import_prefix" {
  description = "Key prefix of the uploads inside the import bucket (IMPORT_PREFIX of the service); the service may read and write under it only."
  type        = string
  default     = "imports/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+/$", var.import_prefix))
    error_message = "import_prefix must be a non-empty key prefix ending in / (e.g. imports/)."
  }
}

variable "import_expiration_days" {
  description = "Days after which uploaded files under import_prefix expire (and unfinished multipart uploads are aborted): they are loaded into the database by then."
  type        = number
  default     = 7
}

variable "import_upload_origins" {
  description = "Origins allowed to PUT files into the import bucket from a browser (the dashboard's direct uploads). The presigned URL is the credential; CORS only lets the page send it and read the part ETags. Set the service's own URL to narrow it."
  type        = list(string)
  default     = ["*"]
}
