resource "aws_ecr_repository" "globant_api" {
  name = "globant-api"
  # `latest` moves to every new build (App Runner watches it); the commit-SHA tags never move.
  image_tag_mutability = "MUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

# Keeps the last var.ecr_keep_images images, whatever their tags; older ones expire.
resource "aws_ecr_lifecycle_policy" "globant_api" {
  repository = aws_ecr_repository.globant_api.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the last ${var.ecr_keep_images} images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_keep_images
        }
        action = {
          type = "expire"
        }
      },
    ]
  })
}
