"""Bucket policies with their conditions, as S3 evaluates them for the one caller there is.

moto evaluates bucket policies with their ``Condition`` ignored, so a TLS-only statement
(``Deny s3:* if aws:SecureTransport is false``) denies *everything*, and a "deny other KMS
keys" statement denies every upload. This behaviour replaces that evaluation (the server
switches moto's off): explicit ``Deny`` statements that apply to the caller are evaluated
with their conditions; an explicit deny wins, as in AWS. ``Allow`` statements grant nothing
extra: the embedded cloud has a single identity (the account root), which IAM already allows.

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
from drills.cloud.sim.iam_conditions import UnsupportedCondition, evaluate

# botocore operation -> IAM action, where it is not simply "s3:" + operation.
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
}
_VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion",
              "s3:GetObjectTagging": "s3:GetObjectVersionTagging", "s3:PutObjectTagging": "s3:PutObjectVersionTagging"}
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
        policy = self._policy(req.bucket)
        if not policy:
            return None
        action = self.action(req)
        resource = f"arn:aws:s3:::{req.bucket}" + (f"/{req.key}" if req.key else "")
        context = self.context(req)
        for statement in policy.get("Statement", []):
            if statement.get("Effect") == "Deny" and self._applies(statement, action, resource, context):
                self.denied += 1
                return aws_error(req, 403, "AccessDenied",
                                 f"Access Denied by bucket policy statement {statement.get('Sid', '(no Sid)')!r}")
        return None

    # -- what the request is
    @staticmethod
    def action(req: AwsRequest) -> str:
        action = _ACTIONS.get(req.operation or "", f"s3:{req.operation}")
        if req.version_id and action in _VERSIONED:
            action = _VERSIONED[action]
        return action

    def context(self, req: AwsRequest) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "aws:SecureTransport": "true" if (self.secure_transport if req.secure is None else req.secure) else "false",
            "aws:CurrentTime": self.sim.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(self.sim.clock.now().timestamp())),
            "aws:PrincipalAccount": self.sim.account_id,
            "aws:PrincipalArn": f"arn:aws:iam::{self.sim.account_id}:root",
            "aws:SourceIp": "127.0.0.1",
        }
        for header in _HEADER_KEYS:
            value = req.headers.get(header)
            if value is not None:
                ctx[f"s3:{header}"] = value
        prefix = (req.query.get("prefix") or [None])[0]
        if prefix is not None:
            ctx["s3:prefix"] = prefix
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

    def _applies(self, statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
        if not self._principal_matches(statement):
            return False
        if not _matches(statement, "Action", "NotAction", action, case_insensitive=True):
            return False
        if not _matches(statement, "Resource", "NotResource", resource):
            return False
        try:
            return evaluate(statement.get("Condition"), context)
        except UnsupportedCondition as exc:
            self.unsupported[str(exc)] = self.unsupported.get(str(exc), 0) + 1
            return True   # fail closed: a deny we cannot evaluate still denies

    def _principal_matches(self, statement: dict[str, Any]) -> bool:
        if "NotPrincipal" in statement:
            return False
        principal = statement.get("Principal")
        if principal == "*":
            return True
        if isinstance(principal, dict):
            aws = principal.get("AWS", [])
            aws = aws if isinstance(aws, list) else [aws]
            me = {"*", self.sim.account_id, f"arn:aws:iam::{self.sim.account_id}:root"}
            return any(str(p) in me for p in aws)
        return False

    def status(self) -> dict[str, Any]:
        return {"denied": self.denied, "secureTransport": self.secure_transport,
                "unsupportedConditionOperators": dict(self.unsupported)}


def _matches(statement: dict[str, Any], positive: str, negative: str, value: str, *,
             case_insensitive: bool = False) -> bool:
    from fnmatch import fnmatchcase

    def norm(text: str) -> str:
        return text.lower() if case_insensitive else text

    if positive in statement:
        patterns = statement[positive] if isinstance(statement[positive], list) else [statement[positive]]
        return any(fnmatchcase(norm(value), norm(str(p))) for p in patterns)
    if negative in statement:
        patterns = statement[negative] if isinstance(statement[negative], list) else [statement[negative]]
        return not any(fnmatchcase(norm(value), norm(str(p))) for p in patterns)
    return False
