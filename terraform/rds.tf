# The shared database (local.postgres: on by default with ECS): Amazon RDS for PostgreSQL in two
# private subnets of the project's VPC, with no route to the internet. The service reaches it from
# one security group only: the ECS tasks' (ecs.tf) or the App Runner VPC connector's. Its
# credentials live in Secrets Manager as the DATABASE_URL the service reads.
#
# The VPC keeps its first name (aws_vpc.db): it held only the database when App Runner was the one
# compute choice, and renaming it would replace it under existing deployments.

locals {
  db_count = local.postgres ? 1 : 0
  # ECS tasks always run in this VPC; App Runner needs it only to reach the database.
  vpc_count = local.ecs || local.postgres ? 1 : 0
  # The App Runner VPC connector exists only when App Runner must reach the database.
  connector_count = local.apprunner && local.postgres ? 1 : 0
}

data "aws_availability_zones" "available" {
  count = local.vpc_count

  state            = "available"
  exclude_zone_ids = var.excluded_availability_zone_ids
}

resource "aws_vpc" "db" {
  count = local.vpc_count

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "globant-api"
  }
}

resource "aws_subnet" "db_private" {
  count = local.postgres ? 2 : 0

  vpc_id                  = aws_vpc.db[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, count.index)
  availability_zone       = data.aws_availability_zones.available[0].names[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "globant-api-private-${count.index}"
  }
}

resource "aws_security_group" "apprunner_connector" {
  count = local.connector_count

  name_prefix = "globant-api-connector-"
  description = "App Runner VPC connector of globant-api: egress to PostgreSQL only"
  vpc_id      = aws_vpc.db[0].id
}

resource "aws_security_group" "db" {
  count = local.db_count

  name_prefix = "globant-api-db-"
  description = "PostgreSQL of globant-api: ingress from the service only"
  vpc_id      = aws_vpc.db[0].id
}

resource "aws_vpc_security_group_egress_rule" "connector_to_db" {
  count = local.connector_count

  security_group_id            = aws_security_group.apprunner_connector[0].id
  referenced_security_group_id = aws_security_group.db[0].id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "PostgreSQL"
}

resource "aws_vpc_security_group_ingress_rule" "db_from_connector" {
  count = local.connector_count

  security_group_id            = aws_security_group.db[0].id
  referenced_security_group_id = aws_security_group.apprunner_connector[0].id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "PostgreSQL from App Runner"
}

resource "aws_vpc_security_group_ingress_rule" "db_from_service" {
  count = local.ecs && local.postgres ? 1 : 0

  security_group_id            = aws_security_group.db[0].id
  referenced_security_group_id = aws_security_group.service[0].id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "PostgreSQL from the ECS tasks"
}

resource "aws_db_subnet_group" "db" {
  count = local.db_count

  name        = "globant-api"
  description = "Private subnets of the globant-api database"
  subnet_ids  = aws_subnet.db_private[*].id
}

# Letters and digits only: the password goes into a URL unescaped.
resource "random_password" "db" {
  count = local.db_count

  length  = 40
  special = false
}

resource "random_id" "final_snapshot" {
  count = local.db_count

  byte_length = 4
}

resource "aws_db_instance" "postgres" {
  count = local.db_count

  identifier     = "globant-api"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  allocated_storage = var.db_allocated_storage
  storage_type      = "gp3"
  storage_encrypted = true

  db_name  = "hr"
  username = "globant"
  password = random_password.db[0].result
  port     = 5432

  db_subnet_group_name   = aws_db_subnet_group.db[0].name
  vpc_security_group_ids = [aws_security_group.db[0].id]
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  backup_retention_period    = var.db_backup_retention_days
  auto_minor_version_upgrade = true
  deletion_protection        = var.db_deletion_protection
  # `terraform destroy` keeps a final snapshot (named uniquely, so destroy can run more than once).
  skip_final_snapshot       = false
  final_snapshot_identifier = "globant-api-final-${random_id.final_snapshot[0].hex}"
}

# DATABASE_URL, built from the generated credentials. RDS for PostgreSQL 15 forces TLS; the
# connection is encrypted inside the VPC, without verifying RDS's certificate (sslmode=no-verify).
resource "aws_secretsmanager_secret" "database_url" {
  count = local.db_count

  name_prefix             = "globant-api/database-url-"
  description             = "DATABASE_URL of the globant-api service (RDS for PostgreSQL)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "database_url" {
  count = local.db_count

  secret_id     = aws_secretsmanager_secret.database_url[0].id
  secret_string = "postgres://${aws_db_instance.postgres[0].username}:${random_password.db[0].result}@${aws_db_instance.postgres[0].address}:${aws_db_instance.postgres[0].port}/${aws_db_instance.postgres[0].db_name}?sslmode=no-verify"
}

resource "aws_apprunner_vpc_connector" "globant_api" {
  count = local.connector_count

  vpc_connector_name = "globant-api"
  subnets            = aws_subnet.db_private[*].id
  security_groups    = [aws_security_group.apprunner_connector[0].id]
}
