# The import bucket: clients PUT large CSV files straight to S3 with URLs the service presigns
# (POST /imports/upload-url), then the service loads them as jobs. Private, encrypted, no public
# access of any kind, and every upload expires after var.import_expiration_days.
data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "imports" {
  bucket = var.import_bucket_name != "" ? var.import_bucket_name : "globant-api-imports-${data.aws_caller_identity.current.account_id}"
  # The files are copies of data that is loaded into the database: destroy may take them along.
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "imports" {
  bucket = aws_s3_bucket.imports.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "imports" {
  bucket = aws_s3_bucket.imports.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "imports" {
  bucket = aws_s3_bucket.imports.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "imports" {
  bucket = aws_s3_bucket.imports.id

  rule {
    id     = "expire-imports"
    status = "Enabled"

    filter {
      prefix = var.import_prefix
    }

    expiration {
      days = var.import_expiration_days
    }

    # A presigned multipart upload the client never completed leaves parts that cost storage.
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# Plain HTTP is refused, even with valid credentials or a valid presigned URL.
data "aws_iam_policy_document" "imports_tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"]
    resources = [aws_s3_bucket.imports.arn, "${aws_s3_bucket.imports.arn}/*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "imports" {
  bucket = aws_s3_bucket.imports.id
  policy = data.aws_iam_policy_document.imports_tls_only.json

  depends_on = [aws_s3_bucket_public_access_block.imports]
}

# What the running service may do with the bucket, for the ECS task role and the App Runner
# instance role alike: objects under the prefix only. PutObject because the server presigns PUTs
# (a presigned URL carries the signer's permissions); the multipart actions for presigned
# multipart uploads; ListBucket only for keys under the prefix.
data "aws_iam_policy_document" "imports_access" {
  statement {
    sid = "ImportObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.imports.arn}/${var.import_prefix}*"]
  }

  statement {
    sid       = "ListImportPrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.imports.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.import_prefix}*"]
    }
  }
}

# The dashboard PUTs big files straight into the bucket with presigned URLs (POST /imports/upload-url):
# the browser needs CORS for that PUT, and must read ETag to complete a multipart upload.
resource "aws_s3_bucket_cors_configuration" "imports" {
  bucket = aws_s3_bucket.imports.id

  cors_rule {
    allowed_methods = ["PUT"]
    allowed_origins = var.import_upload_origins
    allowed_headers = ["content-type"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}
