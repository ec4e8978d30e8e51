# The ECS service's network (compute = "ecs_express"): two public subnets of the project's VPC
# (rds.tf) with an internet gateway. ECS Express Mode puts its internet-facing load balancer and
# the tasks there; the tasks get public addresses to pull the image and read their secrets, and
# accept traffic from inside the VPC only (the load balancer). No NAT gateway (~$33/month each).
locals {
  ecs_count = local.ecs ? 1 : 0
}

resource "aws_internet_gateway" "main" {
  count = local.ecs_count

  vpc_id = aws_vpc.db[0].id

  tags = {
    Name = "globant-api"
  }
}

resource "aws_subnet" "public" {
  count = local.ecs ? 2 : 0

  vpc_id = aws_vpc.db[0].id
  # After the database's two /24s: 10.42.10.0/24 and 10.42.11.0/24 with the default vpc_cidr.
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, 10 + count.index)
  availability_zone       = data.aws_availability_zones.available[0].names[count.index]
  map_public_ip_on_launch = true

  tags = {
    Name = "globant-api-public-${count.index}"
  }
}

resource "aws_route_table" "public" {
  count = local.ecs_count

  vpc_id = aws_vpc.db[0].id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main[0].id
  }

  tags = {
    Name = "globant-api-public"
  }
}

resource "aws_route_table_association" "public" {
  count = local.ecs ? 2 : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# S3 without the internet: App Runner's VPC egress (which has no internet route) reaches the import
# bucket through this gateway endpoint, and ECS tasks use it too. Gateway endpoints cost nothing.
resource "aws_vpc_endpoint" "s3" {
  count = local.vpc_count

  vpc_id            = aws_vpc.db[0].id
  service_name      = "com.amazonaws.${var.aws_region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = concat([aws_vpc.db[0].main_route_table_id], aws_route_table.public[*].id)

  tags = {
    Name = "globant-api-s3"
  }
}

resource "aws_vpc_security_group_egress_rule" "connector_to_s3" {
  count = local.connector_count

  security_group_id = aws_security_group.apprunner_connector[0].id
  prefix_list_id    = aws_vpc_endpoint.s3[0].prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "S3 (import bucket) through the gateway endpoint"
}
