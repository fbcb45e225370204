"""Bucket policies with their conditions, as S3 evaluates them for the one caller there is.

moto evaluates bucket policies with their ``Condition`` ignored, so a TLS-only statement
(``Deny s3:* if aws:SecureTransport is false``) denies *everything*, and a "deny other KMS
keys" statement denies every upload. This behaviour replaces that evaluation (the server
switches moto's off): explicit ``Deny`` statements that apply to the caller are evaluated
with their conditions; an explicit deny wins, as in AWS. For the account root (the embedded
cloud's default keys) ``Allow`` statements grant nothing extra: IAM already allows it. For an STS
role session (``drills.cloud.sim.callers``) a Deny applies when its ``Principal`` is ``*``, the
role or session ARN, or the account; an ``Allow`` grants only when it names ``*``, the role or the
session (naming the account delegates to the account's IAM policies) — ``allows()``, which
``drills.cloud.sim.identity_policies`` combines with the role's identity policies. ``NotPrincipal``
applies to a role session that it does not name (root: not evaluated, as before).

Request context: ``aws:SecureTransport`` is whether the request came over TLS when the cloud
serves TLS (``drkit cloud serve --tls``: plain HTTP on the same port is then insecure, and
TLS-only policies refuse it, as on AWS). A plain-HTTP-only cloud counts as TLS by default —
the loopback endpoint stands in for the TLS endpoint every AWS SDK uses
(``extra["bucket_policy"]["secure_transport"] = False`` makes it insecure); S3 keys come from
the request headers. A Deny whose condition uses an operator the evaluator does not know is applied
(fail closed) and reported in ``status()``.
"""

from __future__ import annotations

import json
from typing import Any

from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error
from drills.cloud.sim.callers import Caller, caller_of
from drills.cloud.sim.iam_conditions import UnsupportedCondition, as_list, evaluate, statements

# botocore operation -> IAM action, where it is not simply "s3:" + operation (AWS Service
# Authorization Reference, "Actions defined by Amazon S3": the API each action authorizes).
_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObjects": "s3:DeleteObject",
    "GetObjectAttributes": "s3:GetObjectAttributes",
    "ListBuckets": "s3:ListAllMyBuckets",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketInventoryConfiguration": "s3:PutInventoryConfiguration",
    "DeleteBucketInventoryConfiguration": "s3:PutInventoryConfiguration",
    "GetBucketInventoryConfiguration": "s3:GetInventoryConfiguration",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "PutBucketIntelligentTieringConfiguration": "s3:PutIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "s3:PutIntelligentTieringConfiguration",
    "PutBucketLogging": "s3:PutBucketLogging",
    "GetBucketLogging": "s3:GetBucketLogging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetBucketTagging": "s3:GetBucketTagging",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
}
_VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion",
              "s3:GetObjectTagging": "s3:GetObjectVersionTagging", "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
              "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
              "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes"}
_HEADER_KEYS = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-acl",
                "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
                "x-amz-storage-class", "x-amz-copy-source", "x-amz-metadata-directive")


class BucketPolicyEnforcement(Interceptor):
    name = "bucket_policy"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.reset()

    def reset(self) -> None:
        self.denied = 0
        self.unsupported: dict[str, int] = {}

    @property
    def secure_transport(self) -> bool:
        return bool(self.sim.settings.extra.get(self.name, {}).get("secure_transport", True))

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3" or not req.bucket or req.operation is None or req.internal:
            return None
        statement = self.denying(req, caller_of(self.sim, req))
        if statement is None:
            return None
        self.denied += 1
        return aws_error(req, 403, "AccessDenied",
                         f"Access Denied by bucket policy statement {statement.get('Sid', '(no Sid)')!r}")

    def denying(self, req: AwsRequest, caller: Caller, action: str | None = None) -> dict[str, Any] | None:
        """The bucket-policy statement that explicitly denies ``action`` (default: the request's
        own) to ``caller``, or None."""
        policy = self._policy(req.bucket) if req.bucket else None
        if not policy:
            return None
        action = action or iam_action(req)
        resource, context = s3_resource(req), self.context(req, caller)
        for statement in statements(policy):
            if statement.get("Effect") == "Deny" and self._applies(statement, caller, action, resource, context):
                return statement
        return None

    def allows(self, req: AwsRequest, caller: Caller, action: str | None = None) -> bool:
        """Whether an Allow statement grants ``action`` to ``caller`` itself (a role session
        named by ``*``, its role or its session ARN; naming the account only delegates)."""
        policy = self._policy(req.bucket) if req.bucket else None
        if not policy or caller.is_root:
            return False
        action = action or iam_action(req)
        resource, context = s3_resource(req), self.context(req, caller)
        return any(statement.get("Effect") == "Allow" and self._applies(statement, caller, action, resource, context)
                   for statement in statements(policy))

    # -- what the request is
    @staticmethod
    def action(req: AwsRequest) -> str:
        return iam_action(req)

    def context(self, req: AwsRequest, caller: Caller | None = None) -> dict[str, Any]:
        """The request context of ``req`` as ``caller`` (default: the account root), for every
        evaluated service: the global keys, then S3's request keys or DynamoDB's
        ``dynamodb:EnclosingOperation``. Built once per request and caller (kept on the request)."""
        caller = caller or Caller(account_id=self.sim.account_id)
        cached = req.memo.get("context")
        if cached is not None and cached[0] == caller:
            return cached[1]
        now = self.sim.clock.now()
        ctx: dict[str, Any] = {
            "aws:SecureTransport": "true" if (self.secure_transport if req.secure is None else req.secure) else "false",
            "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now.timestamp())),
            "aws:SourceIp": "127.0.0.1",
            **caller.context(),
        }
        if req.service == "s3":
            for header in _HEADER_KEYS:
                value = req.headers.get(header)
                if value is not None:
                    ctx[f"s3:{header}"] = value
            prefix = (req.query.get("prefix") or [None])[0]
            if prefix is not None:
                ctx["s3:prefix"] = prefix
        else:
            ctx["aws:RequestedRegion"] = req.region or ""
            if req.service == "dynamodb" and req.operation in ("TransactWriteItems", "TransactGetItems"):
                ctx["dynamodb:EnclosingOperation"] = req.operation
        req.memo["context"] = (caller, ctx)
        return ctx

    # -- policy evaluation
    def _policy(self, bucket: str) -> dict[str, Any] | None:
        from moto.s3.exceptions import MissingBucket

        try:
            raw = self.sim.s3_backend().get_bucket(bucket).policy
        except MissingBucket:      # moto answers NoSuchBucket itself
            return None
        if not raw:
            return None
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)

    def _applies(self, statement: dict[str, Any], caller: Caller, action: str, resource: str,
                 context: dict[str, Any]) -> bool:
        if not self._principal_matches(statement, caller):
            return False
        if not statement_matches(statement, action, resource):
            return False
        try:
            return evaluate(statement.get("Condition"), context)
        except UnsupportedCondition as exc:
            self.unsupported[str(exc)] = self.unsupported.get(str(exc), 0) + 1
            return statement.get("Effect") == "Deny"   # fail closed: a deny we cannot evaluate still denies

    @staticmethod
    def _principal_matches(statement: dict[str, Any], caller: Caller) -> bool:
        deny = statement.get("Effect") == "Deny"
        if "NotPrincipal" in statement:
            if caller.is_root:
                return False
            excluded = statement["NotPrincipal"]
            return not (caller.named_by(excluded) or caller.in_account_named_by(excluded))
        principal = statement.get("Principal")
        if caller.named_by(principal):
            return True
        return deny and not caller.is_root and caller.in_account_named_by(principal)

    def status(self) -> dict[str, Any]:
        return {"denied": self.denied, "secureTransport": self.secure_transport,
                "unsupportedConditionOperators": dict(self.unsupported)}


def iam_action(req: AwsRequest) -> str:
    """The IAM action an S3 request is authorized as (the Service Authorization Reference's name)."""
    action = _ACTIONS.get(req.operation or "", f"s3:{req.operation}")
    if req.version_id and action in _VERSIONED:
        action = _VERSIONED[action]
    return action


def s3_resource(req: AwsRequest) -> str:
    """The ARN an S3 request is authorized on: the object's when it names a key, else the bucket's
    (DeleteObjects: the bucket's objects as a whole, ``arn:aws:s3:::bucket/*``)."""
    if req.operation == "DeleteObjects":
        return f"arn:aws:s3:::{req.bucket}/*"
    return f"arn:aws:s3:::{req.bucket}" + (f"/{req.key}" if req.key else "")


def statement_matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    """Action/NotAction and Resource/NotResource of one statement (wildcards; actions ignore case)."""
    return (_matches(statement, "Action", "NotAction", action, case_insensitive=True)
            and _matches(statement, "Resource", "NotResource", resource))


def _matches(statement: dict[str, Any], positive: str, negative: str, value: str, *,
             case_insensitive: bool = False) -> bool:
    from fnmatch import fnmatchcase

    def norm(text: str) -> str:
        return text.lower() if case_insensitive else text

    if positive in statement:
        return any(fnmatchcase(norm(value), norm(str(p))) for p in as_list(statement[positive]))
    if negative in statement:
        return not any(fnmatchcase(norm(value), norm(str(p))) for p in as_list(statement[negative]))
    return False
