"""SecureBucket: one S3 bucket with drkit's secure defaults, used by every bucket drkit makes.

Versioning, default encryption (SSE-KMS with a bucket key, or SSE-S3 where AWS requires it),
all four public-access blocks, BucketOwnerEnforced ownership, a TLS-only bucket policy,
an abort-incomplete-multipart lifecycle rule, optional Object Lock and server access logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.access import ObjectAccess, guard_statements
from components.base import Site, child_opts, deny_insecure_transport, policy_json
from components.config import ObjectLockConfig
from components.identities import Principals

PURPOSE_TAG = "drkit-purpose"


@dataclass(frozen=True)
class Delivery:
    """A service allowed to write objects into the bucket (a bucket-policy Allow)."""

    sid: str
    """Statement id."""
    principal: Mapping[str, Any]
    """``{"Service": …}`` or ``{"AWS": role ARN}``."""
    prefix: str = ""
    """Key prefix it may write under (empty: the whole bucket)."""
    condition: Mapping[str, Any] = field(default_factory=dict)
    """Condition block scoping the grant (source account, source ARN, ACL)."""
    read_acl: bool = False
    """Also allow s3:GetBucketAcl on the bucket (CloudTrail checks it before delivering)."""
    owner_full_control: bool = False
    """Require the ``bucket-owner-full-control`` ACL header on the service's PutObject."""


@dataclass
class SecureBucketArgs:
    """Inputs of a SecureBucket."""

    site: Site
    """Region (provider) the bucket lives in."""
    purpose: str
    """Value of the ``drkit-purpose`` tag (archive, replica, logs, inventory, landing …)."""
    kms_key_arn: pulumi.Input[str] | None = None
    """SSE-KMS key; None means SSE-S3, which server-access-log destinations require."""
    enforce_kms_key: bool = False
    """Deny PutObject that names another KMS key or a non-KMS encryption header."""
    object_lock: ObjectLockConfig | None = None
    """Object Lock default retention; None leaves the bucket unlocked."""
    lifecycle_rules: Sequence[Mapping[str, Any]] = ()
    """Lifecycle rules besides the abort-incomplete-multipart rule this bucket always has."""
    abort_multipart_days: int = 7
    """Days before incomplete multipart uploads are aborted."""
    deliveries: Sequence[Delivery] = ()
    """Services that deliver into the bucket (log delivery, inventory, CloudTrail …)."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Bucket name receiving this bucket's server access logs; None for none."""
    tags: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Tags besides the purpose tag and the provider's default tags."""
    keep: bool = False
    """Protect the bucket and retain it on delete (production); protect its policy and public-access block."""
    principals: Principals | None = None
    """Identities for the policy's guard statements (deploy-role-only configuration changes, organisation)."""
    defer_access: bool = False
    """Create the bucket policy only in ``restrict()``, once the roles on its object allow-list exist."""


def expiry_rule(rule_id: str, days: int, *, prefix: str = "", noncurrent_days: int = 30) -> dict[str, Any]:
    """Lifecycle rule expiring current versions after ``days`` and noncurrent ones after ``noncurrent_days``."""
    return {"id": rule_id, "status": "Enabled", "filter": {"prefix": prefix} if prefix else {},
            "expiration": {"days": days},
            "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days}}


class SecureBucket(pulumi.ComponentResource):
    """An S3 bucket that is private, versioned, encrypted and TLS-only by construction."""

    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:secure_bucket:SecureBucket", name, None, opts)
        site = args.site
        self.bucket = aws.s3.Bucket(
            name,
            object_lock_enabled=args.object_lock is not None,
            tags={PURPOSE_TAG: args.purpose, **args.tags},
            opts=child_opts(self, site, keep=args.keep))
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"}, opts=child_opts(self, site))
        self.object_lock: aws.s3.BucketObjectLockConfiguration | None = None
        if args.object_lock is not None:
            self.object_lock = aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock", bucket=self.bucket.id,
                rule={"default_retention": {"mode": args.object_lock.mode.value,
                                            "days": args.object_lock.retention_days}},
                opts=child_opts(self, site, depends_on=[self.versioning]))
        if args.kms_key_arn is not None:
            default = {"sse_algorithm": "aws:kms", "kms_master_key_id": args.kms_key_arn}
        else:
            default = {"sse_algorithm": "AES256"}
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": default,
                    "bucket_key_enabled": args.kms_key_arn is not None}],
            opts=child_opts(self, site))
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access", bucket=self.bucket.id, block_public_acls=True,
            block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
            opts=child_opts(self, site, keep=args.keep))
        self.ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"}, opts=child_opts(self, site))
        self._name, self._args = name, args
        self.policy: aws.s3.BucketPolicy | None = None
        if not args.defer_access:
            self.restrict(None)
        rules = [*args.lifecycle_rules,
                 {"id": "abort-incomplete-multipart", "status": "Enabled", "filter": {},
                  "abort_incomplete_multipart_upload": {"days_after_initiation": args.abort_multipart_days}}]
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id, rules=rules,
            opts=child_opts(self, site, depends_on=[self.versioning]))
        self.logging: aws.s3.BucketLogging | None = None
        if args.access_log_bucket is not None:
            self.logging = aws.s3.BucketLogging(
                f"{name}-access-logs", bucket=self.bucket.id, target_bucket=args.access_log_bucket,
                target_prefix=f"{name}/", opts=child_opts(self, site))
        self.register_outputs({"bucket": self.name, "arn": self.arn})

    def restrict(self, access: ObjectAccess | None) -> aws.s3.BucketPolicy:
        """Create the bucket policy; ``access`` adds the object allow-list (deferred buckets)."""
        if self.policy is not None:
            raise RuntimeError(f"{self._name}: the bucket policy exists already")
        self.policy = aws.s3.BucketPolicy(
            f"{self._name}-policy", bucket=self.bucket.id, policy=self._policy(self._args, access),
            opts=child_opts(self, self._args.site, keep=self._args.keep, depends_on=[self.public_access_block]))
        return self.policy

    def _policy(self, args: SecureBucketArgs, access: ObjectAccess | None) -> pulumi.Output[str]:
        objects = self.arn.apply(lambda arn: f"{arn}/*")
        statements: list[Any] = [deny_insecure_transport([self.arn, objects])]
        if args.principals is not None:
            statements += guard_statements(args.principals, self.arn, objects, access)
        if args.enforce_kms_key and args.kms_key_arn is not None:
            # A PutObject without encryption headers is fine: default encryption applies this
            # bucket's key (and bucket key). Deny only a request that asks for something else.
            # IAM evaluates "...IfExists" as TRUE when the key is absent, so these statements use
            # the plain operator plus "Null": "false" (the header is present) instead.
            sse, key_id = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"
            statements += [
                {"Sid": "DenyNonKmsEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": objects,
                 "Condition": {"StringNotEquals": {sse: "aws:kms"}, "Null": {sse: "false"}}},
                {"Sid": "DenyOtherKmsKeys", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": objects,
                 "Condition": {"StringNotEquals": {key_id: args.kms_key_arn}, "Null": {key_id: "false"}}},
                # aws:kms without a key id would encrypt with the AWS managed aws/s3 key.
                {"Sid": "DenyKmsWithoutKeyId", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": objects,
                 "Condition": {"StringEquals": {sse: "aws:kms"}, "Null": {key_id: "true"}}},
            ]
        for d in args.deliveries:
            if d.read_acl:
                statements.append({"Sid": f"{d.sid}AclCheck", "Effect": "Allow", "Principal": dict(d.principal),
                                   "Action": "s3:GetBucketAcl", "Resource": self.arn,
                                   **({"Condition": dict(d.condition)} if d.condition else {})})
            condition = {op: dict(values) for op, values in d.condition.items()}
            if d.owner_full_control:
                condition.setdefault("StringEquals", {})["s3:x-amz-acl"] = "bucket-owner-full-control"
            statement = {"Sid": d.sid, "Effect": "Allow", "Principal": dict(d.principal), "Action": "s3:PutObject",
                         "Resource": pulumi.Output.concat(self.arn, "/", d.prefix, "*")}
            if condition:
                statement["Condition"] = condition
            statements.append(statement)
        return policy_json(*statements)
