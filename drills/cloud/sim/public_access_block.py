"""S3 Block Public Access, as the S3 User Guide "Blocking public access to your Amazon S3
storage" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html)
describes it; moto stores the settings but enforces none of them.

Settings: the bucket's (``PutPublicAccessBlock``, stored by moto) and the account's (S3 Control
``Put/Get/DeletePublicAccessBlock`` on ``/v20180820/configuration/publicAccessBlock``, answered
here — the S3 Control API is otherwise served by ``mrap``/``batch_ops`` — through moto's S3
Control backend, which stores it and refuses an account id other than its own, 403
``AccessDenied``); S3 applies the most restrictive combination, so a setting is on when either
level has it on.

- ``BlockPublicPolicy``: ``PutBucketPolicy`` with a *public* policy is refused, 403 ``AccessDenied``.
  Existing policies are unaffected (the doc: "Enabling this setting doesn't affect existing bucket
  policies").
- ``BlockPublicAcls``: ``PutBucketAcl`` / ``PutObjectAcl`` with a public ACL, and ``PutObject`` /
  ``CopyObject`` / ``CreateMultipartUpload`` requests that include one, are refused, 403
  ``AccessDenied``; ``CreateBucket`` with a public ACL only under the account-level setting (the
  bucket has none yet).

"Public" follows the guide's section "The meaning of 'public'":

- an ACL is public when it grants any permission to the predefined ``AllUsers`` or
  ``AuthenticatedUsers`` groups: the canned ACLs ``public-read``, ``public-read-write``,
  ``authenticated-read``, an ``x-amz-grant-*`` header naming either group's URI, or a
  ``<Grant>`` in the request body whose grantee is either group;
- a bucket policy is public unless every ``Allow`` statement grants only to fixed values (no
  wildcard, no policy variable) of a principal (``Principal`` without ``*``, no ``NotPrincipal``)
  or of one of the condition keys the guide lists: ``aws:SourceIp`` (a CIDR no broader than /8
  for IPv4 and /32 for IPv6), ``aws:SourceArn``, ``aws:SourceVpc``, ``aws:SourceVpce``,
  ``aws:SourceOwner``, ``aws:SourceAccount``, ``aws:userid`` (outside the pattern ``AROLEID:*``),
  ``aws:PrincipalOrgID``, ``s3:DataAccessPointArn``, ``s3:DataAccessPointAccount``,
  ``s3:x-amz-server-side-encryption-aws-kms-key-id`` (listed by the API reference's
  PublicAccessBlockConfiguration page). A fixed value
  must be bound by an operator that restricts the key to it (``StringEquals``, ``StringLike``
  without wildcard, ``ArnEquals``/``ArnLike``, ``IpAddress``, their ``ForAnyValue:`` forms);
  negated and ``...IfExists`` operators let other callers through and do not make a statement
  non-public. ``Deny`` statements never make a policy public.

Internal requests (the simulation acting as AWS) are not checked. NOT emulated (listed in
``status()``): ``IgnorePublicAcls`` (the embedded cloud grants nothing through ACLs, so there is
nothing to ignore) and ``RestrictPublicBuckets`` (it only limits anonymous and cross-account
callers, which the embedded cloud's caller model does not have); access point and
organization-level settings.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from typing import Any
from xml.etree import ElementTree

from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor, aws_error
from drills.cloud.sim.iam_conditions import as_list, statements

SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
NOT_EMULATED = ("IgnorePublicAcls (ACLs grant nothing in the embedded cloud)",
                "RestrictPublicBuckets (no anonymous or cross-account callers)",
                "access point and organization-level Block Public Access")

PUBLIC_CANNED_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GROUPS = frozenset({"http://acs.amazonaws.com/groups/global/AllUsers",
                           "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"})
GRANT_HEADERS = ("x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
                 "x-amz-grant-full-control")
ACL_OPERATIONS = frozenset({"PutBucketAcl", "PutObjectAcl", "PutObject", "CopyObject", "CreateMultipartUpload",
                            "CreateBucket"})

# The guide's list of condition keys whose fixed values make an Allow statement non-public.
FIXED_VALUE_KEYS = frozenset(k.lower() for k in (
    "aws:SourceIp", "aws:SourceArn", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceOwner", "aws:SourceAccount",
    "aws:userid", "aws:PrincipalOrgID", "s3:DataAccessPointArn", "s3:DataAccessPointAccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id"))
_RESTRICTING = frozenset(op.lower() for op in (
    "StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "IpAddress"))
_VARIABLE = re.compile(r"\$\{[^}]*\}")
ACCOUNT_PATH = "/v20180820/configuration/publicAccessBlock"
_NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"


def is_public_acl(req: AwsRequest) -> bool:
    """Whether the request sets an ACL that grants to ``AllUsers`` or ``AuthenticatedUsers``."""
    if (req.headers.get("x-amz-acl") or "").strip().lower() in PUBLIC_CANNED_ACLS:
        return True
    for header in GRANT_HEADERS:
        value = req.headers.get(header) or ""
        if any(group in value for group in PUBLIC_GROUPS):
            return True
    if req.operation in ("PutBucketAcl", "PutObjectAcl") and req.body:
        try:
            root = ElementTree.fromstring(req.body)
        except ElementTree.ParseError:
            return False            # moto answers MalformedACLError itself
        return any((el.text or "").strip() in PUBLIC_GROUPS for el in root.iter() if el.tag.endswith("URI"))
    return False


def is_public_policy(policy: dict[str, Any]) -> bool:
    """Whether a bucket policy is public per the guide's "The meaning of 'public'"."""
    return any(s.get("Effect") == "Allow" and not _fixed_statement(s) for s in statements(policy))


def _fixed_statement(statement: dict[str, Any]) -> bool:
    return _fixed_principal(statement) or _fixed_condition(statement.get("Condition") or {})


def _fixed_principal(statement: dict[str, Any]) -> bool:
    if "NotPrincipal" in statement or "Principal" not in statement:
        return False
    principal = statement["Principal"]
    if not isinstance(principal, dict):          # "*" (or any bare string) is everyone
        return False
    values = [v for raw in principal.values() for v in as_list(raw)]
    return bool(values) and all(_fixed(str(v)) for v in values)


def _fixed_condition(condition: dict[str, Any]) -> bool:
    for operator, keys in condition.items():
        op = operator.lower()
        if op.startswith("forallvalues:"):
            continue                             # true for an empty set: restricts nothing
        op = op.removeprefix("foranyvalue:")
        if op not in _RESTRICTING or not isinstance(keys, dict):
            continue
        for key, raw in keys.items():
            if key.lower() in FIXED_VALUE_KEYS and _fixed_values(key.lower(), raw):
                return True
    return False


def _fixed_values(key: str, raw: Any) -> bool:
    values = [str(v) for v in as_list(raw)]
    if not values or not all(_fixed(v) for v in values):
        return False
    if key == "aws:sourceip":
        return all(_narrow_cidr(v) for v in values)
    if key == "aws:userid":
        return not any(v.endswith(":*") for v in values)
    return True


def _fixed(value: str) -> bool:
    return "*" not in value and "?" not in value and not _VARIABLE.search(value)


def _narrow_cidr(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return network.prefixlen >= (8 if network.version == 4 else 32)


class PublicAccessBlockEnforcement(Interceptor):
    name = "public_access_block"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.reset()

    def reset(self) -> None:
        self.denied: dict[str, int] = {}
        self._control().delete_public_access_block(self.sim.account_id)

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service == "s3control" and req.path.rstrip("/") == ACCOUNT_PATH:
            return self._account_api(req)
        if req.service != "s3" or req.internal or not req.bucket:
            return None
        if req.operation == "PutBucketPolicy":
            setting = "BlockPublicPolicy"
            try:
                policy = json.loads(req.body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                return None                       # moto answers MalformedPolicy itself
            if not isinstance(policy, dict) or not is_public_policy(policy):
                return None
            what = "public policies"
        elif req.operation in ACL_OPERATIONS:
            setting = "BlockPublicAcls"
            if not is_public_acl(req):
                return None
            what = "public ACLs"
        else:
            return None
        level = self.blocking(req.bucket, setting, account_only=req.operation == "CreateBucket")
        if level is None:
            return None
        self.denied[setting] = self.denied.get(setting, 0) + 1
        return aws_error(req, 403, "AccessDenied",
                         f"Access Denied: {what} are blocked by the {setting} block public access setting "
                         f"({level} level)")

    def blocking(self, bucket: str, setting: str, *, account_only: bool = False) -> str | None:
        """``"bucket"`` or ``"account"``: the level whose ``setting`` is on, else None."""
        if not account_only and self._bucket_settings(bucket).get(setting):
            return "bucket"
        if self._account_settings().get(setting):
            return "account"
        return None

    def _bucket_settings(self, bucket: str) -> dict[str, bool]:
        from moto.s3.exceptions import MissingBucket

        try:
            block = self.sim.s3_backend().get_bucket(bucket).public_access_block
        except MissingBucket:
            return {}
        return _as_settings(block)

    def _account_settings(self) -> dict[str, bool]:
        from moto.s3control.exceptions import NoSuchPublicAccessBlockConfiguration

        try:
            return _as_settings(self._control().get_public_access_block(self.sim.account_id))
        except NoSuchPublicAccessBlockConfiguration:
            return {}

    def _control(self) -> Any:
        from moto.s3control.models import s3control_backends

        return s3control_backends[self.sim.account_id]["aws"]

    # -- S3 Control: the account-level configuration
    def _account_api(self, req: AwsRequest) -> AwsResponse:
        from moto.s3.exceptions import WrongPublicAccessBlockAccountIdError
        from moto.s3control.exceptions import NoSuchPublicAccessBlockConfiguration

        account = req.headers.get("x-amz-account-id") or ""
        try:
            return self._account_call(req, account)
        except WrongPublicAccessBlockAccountIdError:
            return aws_error(req, 403, "AccessDenied", f"Access Denied: account {account!r} is not this account")
        except NoSuchPublicAccessBlockConfiguration:
            return aws_error(req, 404, "NoSuchPublicAccessBlockConfiguration",
                             "The public access block configuration was not found", AccountId=account)

    def _account_call(self, req: AwsRequest, account: str) -> AwsResponse:
        """Get/Put/DeletePublicAccessBlock through moto's S3 Control backend (moto refuses
        another account's id and answers a missing configuration)."""
        control = self._control()
        if req.method == "PUT":
            try:
                root = ElementTree.fromstring(req.body)
            except ElementTree.ParseError:
                return aws_error(req, 400, "MalformedXML", "The XML you provided was not well-formed")
            values = {el.tag.split("}", 1)[-1]: (el.text or "").strip() for el in root}
            unknown = set(values) - set(SETTINGS)
            if unknown or not values:
                return aws_error(req, 400, "InvalidRequest",
                                 f"invalid PublicAccessBlockConfiguration element(s): {sorted(unknown) or 'none'}")
            control.put_public_access_block(account, values)
            return _empty(200)
        if req.method == "DELETE":
            control.delete_public_access_block(account)
            return _empty(204)
        if req.method == "GET":
            settings = _as_settings(control.get_public_access_block(account))
            inner = "".join(f"<{k}>{str(v).lower()}</{k}>" for k, v in settings.items())
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PublicAccessBlockConfiguration xmlns="{_NS}">'
                    f"{inner}</PublicAccessBlockConfiguration>")
            return AwsResponse(200, Headers({"Content-Type": "application/xml",
                                             "x-amz-request-id": str(uuid.uuid4())}), body.encode())
        return aws_error(req, 405, "MethodNotAllowed", f"{req.method} is not allowed on {ACCOUNT_PATH}")

    def status(self) -> dict[str, Any]:
        return {"denied": dict(self.denied), "account": self._account_settings(),
                "enforced": ["BlockPublicPolicy", "BlockPublicAcls"], "notEmulated": list(NOT_EMULATED)}


def _empty(status: int) -> AwsResponse:
    return AwsResponse(status, Headers({"x-amz-request-id": str(uuid.uuid4())}))


def _as_settings(block: Any) -> dict[str, bool]:
    if block is None:
        return {}
    return {"BlockPublicAcls": bool(block.block_public_acls), "IgnorePublicAcls": bool(block.ignore_public_acls),
            "BlockPublicPolicy": bool(block.block_public_policy),
            "RestrictPublicBuckets": bool(block.restrict_public_buckets)}
