output "service_url" {
  description = "Public HTTPS address of the globant-api App Runner service."
  value       = "https://${aws_apprunner_service.globant_api.service_url}"
}

output "service_arn" {
  description = "ARN of the App Runner service (for `aws apprunner start-deployment`)."
  value       = aws_apprunner_service.globant_api.arn
}

output "ecr_repository_url" {
  description = "ECR repository the image is pushed to: <account>.dkr.ecr.<region>.amazonaws.com/globant-api."
  value       = aws_ecr_repository.globant_api.repository_url
}

output "api_key_secret_arn" {
  description = "Secrets Manager secret holding API_KEY (read it with `aws secretsmanager get-secret-value`)."
  value       = aws_secretsmanager_secret.api_key.arn
}

output "database_endpoint" {
  description = "Address of the RDS for PostgreSQL instance, or null when enable_postgres is false."
  value       = one(aws_db_instance.postgres[*].address)
}

output "database" {
  description = "Which database the service uses: postgres (RDS, scales out) or sqlite (one instance, lost on redeploy)."
  value       = var.enable_postgres ? "postgres" : "sqlite"
}
