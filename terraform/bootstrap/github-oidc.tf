# The role GitHub Actions assumes with OIDC: short-lived credentials, no access keys stored in GitHub.
# Only workflow runs of var.github_repository on var.github_branches may assume it.

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # GitHub's certificate thumbprints (AWS now trusts GitHub's CA directly; kept for older setups).
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]
}

locals {
  project_roles = [
    "arn:aws:iam::${var.aws_account_id}:role/globant-project-apprunner-*",
    "arn:aws:iam::${var.aws_account_id}:role/globant-project-ecs-*",
  ]
  github_oidc_provider_arn = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:aws:iam::${var.aws_account_id}:oidc-provider/token.actions.githubusercontent.com"
  region_account           = "${var.aws_region}:${var.aws_account_id}"
}

data "aws_iam_policy_document" "github_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = [for branch in var.github_branches : "repo:${var.github_repository}:ref:refs/heads/${branch}"]
    }
  }
}

resource "aws_iam_role" "github_deploy" {
  name                 = "globant-project-github-deploy"
  description          = "GitHub Actions of ${var.github_repository}: push images, run Terraform for globant-api"
  assume_role_policy   = data.aws_iam_policy_document.github_trust.json
  max_session_duration = 3600
}

# What the workflows do, scoped to this project's resources: the Terraform state, the ECR
# repository, ECS Express Mode or App Runner, roles named globant-project-apprunner-* and
# globant-project-ecs-*, secrets under globant-api/, the import bucket, the log group, and the VPC
# and RDS instance.
data "aws_iam_policy_document" "github_deploy" {
  statement {
    sid       = "TerraformStateBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketVersioning"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "TerraformStateObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.state.arn}/globant-api/*"]
  }

  statement {
    sid       = "TerraformStateLock"
    actions   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.locks.arn]
  }

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "EcrRepository"
    actions   = ["ecr:*"]
    resources = ["arn:aws:ecr:${local.region_account}:repository/globant-api"]
  }

  statement {
    sid       = "AppRunner"
    actions   = ["apprunner:*"]
    resources = ["arn:aws:apprunner:${local.region_account}:*"]
  }

  statement {
    sid = "AppRunnerList"
    actions = [
      "apprunner:ListServices",
      "apprunner:ListAutoScalingConfigurations",
      "apprunner:ListVpcConnectors",
    ]
    resources = ["*"]
  }

  statement {
    sid = "EcsExpressService"
    actions = [
      "ecs:CreateExpressGatewayService",
      "ecs:UpdateExpressGatewayService",
      "ecs:DeleteExpressGatewayService",
      "ecs:DescribeExpressGatewayService",
      "ecs:DescribeServices",
      "ecs:DescribeClusters",
      "ecs:CreateCluster",
      "ecs:ListServices",
      "ecs:TagResource",
      "ecs:UntagResource",
      "ecs:ListTagsForResource",
    ]
    resources = ["arn:aws:ecs:${local.region_account}:*"]
  }

  statement {
    sid       = "EcsTaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"]
    resources = ["*"]
  }

  # The ECS workflow finds the service's load balancer and sets its idle timeout.
  statement {
    sid = "LoadBalancerRead"
    actions = [
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeTargetGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "LoadBalancerIdleTimeout"
    actions   = ["elasticloadbalancing:ModifyLoadBalancerAttributes"]
    resources = ["arn:aws:elasticloadbalancing:${local.region_account}:loadbalancer/app/*"]
  }

  statement {
    sid = "ServiceLogGroup"
    actions = [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:PutRetentionPolicy",
      "logs:DeleteRetentionPolicy",
      "logs:TagResource",
      "logs:UntagResource",
      "logs:ListTagsForResource",
    ]
    resources = ["arn:aws:logs:${local.region_account}:log-group:/ecs/globant-api*"]
  }

  statement {
    sid       = "LogGroupsDescribe"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }

  # The import bucket (default name globant-api-imports-<account>): its configuration, and its
  # objects only so that destroy can empty it.
  statement {
    sid = "ImportBucket"
    actions = [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      "s3:ListBucket",
      "s3:ListBucketVersions",
      "s3:GetBucket*",
      "s3:PutBucket*",
      "s3:DeleteBucketPolicy",
      "s3:GetAccelerateConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:PutLifecycleConfiguration",
      "s3:GetEncryptionConfiguration",
      "s3:PutEncryptionConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:GetAnalyticsConfiguration",
      "s3:GetIntelligentTieringConfiguration",
      "s3:GetInventoryConfiguration",
      "s3:GetMetricsConfiguration",
    ]
    resources = ["arn:aws:s3:::globant-api-imports-*"]
  }

  statement {
    sid       = "ImportBucketEmptyOnDestroy"
    actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = ["arn:aws:s3:::globant-api-imports-*/*"]
  }

  statement {
    sid = "ProjectRoles"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:GetRole",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
      "iam:PutRolePolicy",
      "iam:GetRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
    ]
    resources = local.project_roles
  }

  # The only managed policies the workflows may attach: App Runner's ECR pull policy and the ECS
  # Express Mode infrastructure role's policy.
  statement {
    sid       = "AttachServicePoliciesOnly"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = local.project_roles

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values = [
        "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess",
        "arn:aws:iam::aws:policy/service-role/AmazonECSInfrastructureRoleforExpressGatewayServices",
      ]
    }
  }

  statement {
    sid       = "PassRolesToTheService"
    actions   = ["iam:PassRole"]
    resources = local.project_roles

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values = [
        "apprunner.amazonaws.com",
        "build.apprunner.amazonaws.com",
        "tasks.apprunner.amazonaws.com",
        "ecs.amazonaws.com",
        "ecs-tasks.amazonaws.com",
      ]
    }
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values = [
        "apprunner.amazonaws.com",
        "networking.apprunner.amazonaws.com",
        "rds.amazonaws.com",
        "ecs.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "ecs.application-autoscaling.amazonaws.com",
      ]
    }
  }

  statement {
    sid       = "ProjectSecrets"
    actions   = ["secretsmanager:*"]
    resources = ["arn:aws:secretsmanager:${local.region_account}:secret:globant-api/*"]
  }

  statement {
    sid       = "Database"
    actions   = ["rds:*"]
    resources = ["arn:aws:rds:${local.region_account}:*"]
  }

  statement {
    sid       = "DatabaseDescribe"
    actions   = ["rds:Describe*"]
    resources = ["*"]
  }

  statement {
    sid = "ProjectNetwork"
    actions = [
      "ec2:Describe*",
      "ec2:CreateVpc",
      "ec2:DeleteVpc",
      "ec2:ModifyVpcAttribute",
      "ec2:CreateSubnet",
      "ec2:DeleteSubnet",
      "ec2:ModifySubnetAttribute",
      "ec2:CreateSecurityGroup",
      "ec2:DeleteSecurityGroup",
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:ModifySecurityGroupRules",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
      "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      "ec2:CreateInternetGateway",
      "ec2:DeleteInternetGateway",
      "ec2:AttachInternetGateway",
      "ec2:DetachInternetGateway",
      "ec2:CreateRouteTable",
      "ec2:DeleteRouteTable",
      "ec2:CreateRoute",
      "ec2:DeleteRoute",
      "ec2:ReplaceRoute",
      "ec2:AssociateRouteTable",
      "ec2:DisassociateRouteTable",
      "ec2:CreateVpcEndpoint",
      "ec2:DeleteVpcEndpoints",
      "ec2:ModifyVpcEndpoint",
      "ec2:CreateTags",
      "ec2:DeleteTags",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.aws_region]
    }
  }
}

resource "aws_iam_role_policy" "github_deploy" {
  name   = "globant-api-deploy"
  role   = aws_iam_role.github_deploy.id
  policy = data.aws_iam_policy_document.github_deploy.json
}

# Pull requests: `terraform plan -refresh=false -lock=false` (terraform_plan.yml) with a role that
# can only read the state and list Availability Zones. It cannot change anything, and its token is
# issued to pull_request runs of var.github_repository only (GitHub gives none to forks' pull
# requests). The state it reads holds the generated API key and database password: whoever can
# open a pull request in the repository (not a fork) can read them. Turn it off with
# var.github_plan_role = false if that is too much.
data "aws_iam_policy_document" "github_plan_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:pull_request"]
    }
  }
}

resource "aws_iam_role" "github_plan" {
  count = var.github_plan_role ? 1 : 0

  name                 = "globant-project-github-plan"
  description          = "Pull requests of ${var.github_repository}: terraform plan against the state, read-only"
  assume_role_policy   = data.aws_iam_policy_document.github_plan_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "github_plan" {
  statement {
    sid       = "ReadStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/globant-api/*"]
  }

  statement {
    sid       = "AvailabilityZones"
    actions   = ["ec2:DescribeAvailabilityZones"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "github_plan" {
  count = var.github_plan_role ? 1 : 0

  name   = "globant-api-plan"
  role   = aws_iam_role.github_plan[0].id
  policy = data.aws_iam_policy_document.github_plan.json
}
