output "compute" {
  description = "Where the service runs: ecs_express or apprunner."
  value       = var.compute
}

output "service_url" {
  description = "Public HTTPS address of the globant-api service (ECS Express Mode endpoint or App Runner URL)."
  value       = local.service_url
}

output "service_arn" {
  description = "ARN of the ECS Express service (`aws ecs describe-express-gateway-service`) or of the App Runner service (`aws apprunner start-deployment`)."
  value       = local.ecs ? aws_ecs_express_gateway_service.globant_api[0].service_arn : aws_apprunner_service.globant_api[0].arn
}

output "lb_idle_timeout_seconds" {
  description = "Idle timeout the ECS workflow sets on the service's load balancer after each apply (ECS only)."
  value       = local.ecs ? var.lb_idle_timeout_seconds : null
}

output "ecr_repository_url" {
  description = "ECR repository the image is pushed to: <account>.dkr.ecr.<region>.amazonaws.com/globant-api."
  value       = aws_ecr_repository.globant_api.repository_url
}

output "api_key_secret_arn" {
  description = "Secrets Manager secret holding API_KEY (read it with `aws secretsmanager get-secret-value`)."
  value       = aws_secretsmanager_secret.api_key.arn
}

output "import_bucket" {
  description = "S3 bucket of presigned direct uploads (IMPORT_BUCKET); the service uses keys under import_prefix only."
  value       = aws_s3_bucket.imports.bucket
}

output "database_endpoint" {
  description = "Address of the RDS for PostgreSQL instance, or null on SQLite."
  value       = one(aws_db_instance.postgres[*].address)
}

output "database" {
  description = "Which database the service uses: postgres (RDS, scales out) or sqlite (one task or instance, ALL DATA LOST at every deployment)."
  value       = local.postgres ? "postgres" : "sqlite"
}
