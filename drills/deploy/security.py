"""Offline deploy, keys and identities: KMS keys (multi-Region + replicas) and aliases, IAM
roles and policies, Secrets Manager secrets, and the pulumi_random values they hold."""

from __future__ import annotations

import base64
import secrets
import string
import uuid
from typing import Any

from botocore.exceptions import ClientError

from drills.aws import error_code
from drills.deploy.common import (DeployContext, Handler, Spec, arn_region, arn_resource, as_bool, as_int, outputs,
                                  tag_list)

LOGICAL_TAG = "drkit-logical-id"   # finds a name-less KMS key again on the next deploy


# ----------------------------------------------------------------------------- KMS

def key(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    kms = ctx.client("kms", spec.region)
    logical = ctx.logical_id(spec)
    meta = _find_key(kms, logical)
    reused = meta is not None
    if meta is None:
        kwargs: dict[str, Any] = {"Tags": [*tag_list(spec.get("tags"), "TagKey", "TagValue"),
                                           {"TagKey": LOGICAL_TAG, "TagValue": logical}]}
        for src, dst in (("description", "Description"), ("keyUsage", "KeyUsage"), ("policy", "Policy"),
                         ("customerMasterKeySpec", "KeySpec")):
            if spec.get(src):
                kwargs[dst] = spec.get(src)
        if as_bool(spec.get("multiRegion")):
            kwargs["MultiRegion"] = True
        meta = kms.create_key(**kwargs)["KeyMetadata"]
    if as_bool(spec.get("enableKeyRotation")):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    if as_bool(spec.get("multiRegion")):
        ctx.note("moto 5.2 creates and replicates multi-Region keys, but Decrypt with them fails "
                 "(AccessDeniedException) in every region; S3 SSE-KMS in moto never calls KMS, so objects "
                 "stay readable", subject=meta["KeyId"])
    ctx.record(spec, meta["KeyId"], reused=reused)
    return meta["KeyId"], outputs(spec, id=meta["KeyId"], keyId=meta["KeyId"], arn=meta["Arn"],
                                  multiRegion=as_bool(spec.get("multiRegion")),
                                  keyUsage=meta.get("KeyUsage"), customerMasterKeySpec=meta.get("KeySpec"))


def _find_key(kms, logical: str) -> dict[str, Any] | None:
    for page in kms.get_paginator("list_keys").paginate():
        for entry in page["Keys"]:
            tags = kms.list_resource_tags(KeyId=entry["KeyId"]).get("Tags", [])
            if {"TagKey": LOGICAL_TAG, "TagValue": logical} in tags:
                meta = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
                if meta.get("KeyState") not in ("PendingDeletion", "PendingReplicaDeletion"):
                    return meta
    return None


def replica_key(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    primary_arn = str(spec.get("primaryKeyArn"))
    key_id = arn_resource(primary_arn)
    replica = ctx.client("kms", spec.region)
    try:
        meta = replica.describe_key(KeyId=key_id)["KeyMetadata"]
        reused = True
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise
        kwargs: dict[str, Any] = {"KeyId": key_id, "ReplicaRegion": spec.region,
                                  "Tags": tag_list(spec.get("tags"), "TagKey", "TagValue")}
        for src, dst in (("description", "Description"), ("policy", "Policy")):
            if spec.get(src):
                kwargs[dst] = spec.get(src)
        primary = ctx.client("kms", arn_region(primary_arn) or spec.region)
        meta = primary.replicate_key(**kwargs)["ReplicaKeyMetadata"]
        reused = False
    ctx.record(spec, meta["KeyId"], reused=reused)
    return meta["KeyId"], outputs(spec, id=meta["KeyId"], keyId=meta["KeyId"], arn=meta["Arn"],
                                  keyUsage=meta.get("KeyUsage"), keySpec=meta.get("KeySpec"), enabled=True)


def alias(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec)
    if not name.startswith("alias/"):
        name = f"alias/{name}"
    kms = ctx.client("kms", spec.region)
    target = str(spec.get("targetKeyId"))
    try:
        kms.create_alias(AliasName=name, TargetKeyId=target)
    except ClientError as exc:
        # Also when moto's ReplicateKey copied the primary's aliases (AWS keeps aliases regional).
        if error_code(exc) != "AlreadyExistsException":
            raise
        kms.update_alias(AliasName=name, TargetKeyId=target)
    meta = kms.describe_key(KeyId=target)["KeyMetadata"]
    target_arn = meta["Arn"]
    ctx.record(spec, name, reused=ctx.existed(meta["KeyId"]))
    return name, outputs(spec, id=name, name=name, arn=f"arn:aws:kms:{spec.region}:{ctx.account_id}:{name}",
                         targetKeyArn=target_arn)


# ----------------------------------------------------------------------------- IAM

def role(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=64)
    iam = ctx.client("iam", spec.region)
    kwargs: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": spec.get("assumeRolePolicy")}
    for src, dst in (("description", "Description"), ("path", "Path"), ("permissionsBoundary", "PermissionsBoundary")):
        if spec.get(src):
            kwargs[dst] = spec.get(src)
    if spec.get("maxSessionDuration"):
        kwargs["MaxSessionDuration"] = as_int(spec.get("maxSessionDuration"))
    if spec.get("tags"):
        kwargs["Tags"] = tag_list(spec.get("tags"))
    try:
        meta = iam.create_role(**kwargs)["Role"]
        reused = False
    except ClientError as exc:
        if error_code(exc) != "EntityAlreadyExists":
            raise
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=kwargs["AssumeRolePolicyDocument"])
        meta = iam.get_role(RoleName=name)["Role"]
        reused = True
    for inline in spec.get("inlinePolicies", []):
        if inline.get("name") and inline.get("policy"):
            iam.put_role_policy(RoleName=name, PolicyName=inline["name"], PolicyDocument=inline["policy"])
    ctx.record(spec, name, reused=reused)
    return name, outputs(spec, id=name, name=name, arn=meta["Arn"], uniqueId=meta.get("RoleId"),
                         createDate=str(meta.get("CreateDate", "")))


def role_policy(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=128)
    role_name = str(spec.get("role")).rsplit("/", 1)[-1]
    ctx.client("iam", spec.region).put_role_policy(RoleName=role_name, PolicyName=name,
                                                   PolicyDocument=str(spec.get("policy")))
    pid = f"{role_name}:{name}"
    ctx.record(spec, pid, reused=ctx.existed(role_name))
    return pid, outputs(spec, id=pid, name=name, role=role_name)


def managed_policy(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=128)
    iam = ctx.client("iam", spec.region)
    path = spec.get("path", "/")
    kwargs: dict[str, Any] = {"PolicyName": name, "PolicyDocument": str(spec.get("policy")), "Path": path}
    if spec.get("description"):
        kwargs["Description"] = spec.get("description")
    if spec.get("tags"):
        kwargs["Tags"] = tag_list(spec.get("tags"))
    try:
        meta = iam.create_policy(**kwargs)["Policy"]
        reused = False
    except ClientError as exc:
        if error_code(exc) != "EntityAlreadyExists":
            raise
        arn = f"arn:aws:iam::{ctx.account_id}:policy{path}{name}"
        meta = iam.get_policy(PolicyArn=arn)["Policy"]
        reused = True
    ctx.record(spec, meta["Arn"], reused=reused)
    return meta["Arn"], outputs(spec, id=meta["Arn"], arn=meta["Arn"], name=name, policyId=meta.get("PolicyId"),
                                attachmentCount=meta.get("AttachmentCount", 0))


def role_policy_attachment(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    role_name = str(spec.get("role")).rsplit("/", 1)[-1]
    policy_arn = str(spec.get("policyArn"))
    pid = f"{role_name}-{arn_resource(policy_arn)}"
    try:
        ctx.client("iam", spec.region).attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity" and ":iam::aws:policy/" in policy_arn:
            ctx.declare(spec, f"AWS managed policy {policy_arn} is not loaded in moto "
                              "(MOTO_IAM_LOAD_MANAGED_POLICIES is off); the attachment is not emulated")
            return pid, outputs(spec, id=pid)
        raise
    ctx.record(spec, pid, reused=ctx.existed(role_name))
    return pid, outputs(spec, id=pid)


# ----------------------------------------------------------------------------- Secrets Manager

def secret(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=512)
    sm = ctx.client("secretsmanager", spec.region)
    kwargs: dict[str, Any] = {"Name": name}
    for src, dst in (("description", "Description"), ("kmsKeyId", "KmsKeyId")):
        if spec.get(src):
            kwargs[dst] = spec.get(src)
    if spec.get("tags"):
        kwargs["Tags"] = tag_list(spec.get("tags"))
    replicas = [{"Region": r["region"], **({"KmsKeyId": r["kmsKeyId"]} if r.get("kmsKeyId") else {})}
                for r in spec.get("replicas", [])]
    if replicas:
        kwargs["AddReplicaRegions"] = replicas
    try:
        arn = sm.create_secret(**kwargs)["ARN"]
        reused = False
    except ClientError as exc:
        if error_code(exc) != "ResourceExistsException":
            raise
        arn = sm.describe_secret(SecretId=name)["ARN"]
        reused = True
    if spec.get("policy"):
        sm.put_resource_policy(SecretId=arn, ResourcePolicy=str(spec.get("policy")))
    ctx.record(spec, arn, reused=reused)
    return arn, outputs(spec, id=arn, arn=arn, name=name,
                        replicas=[{"region": r["Region"], "status": "InSync"} for r in replicas] or None)


def secret_version(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    """Puts the value, unless the secret already holds one from an earlier deploy: Pulumi's
    state would keep a RandomPassword stable, and the HMAC key must not change under data."""
    sm = ctx.client("secretsmanager", spec.region)
    secret_id = str(spec.get("secretId"))
    try:
        current = sm.get_secret_value(SecretId=secret_id)
        version_id, arn, reused = current["VersionId"], current["ARN"], True
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        kwargs: dict[str, Any] = {"SecretId": secret_id}
        if spec.get("secretString") is not None:
            kwargs["SecretString"] = str(spec.get("secretString"))
        elif spec.get("secretBinary") is not None:
            kwargs["SecretBinary"] = base64.b64decode(spec.get("secretBinary"))
        if spec.get("versionStages"):
            kwargs["VersionStages"] = list(spec.get("versionStages"))
        put = sm.put_secret_value(**kwargs)
        version_id, arn, reused = put["VersionId"], put["ARN"], False
    pid = f"{arn}|{version_id}"
    ctx.record(spec, pid, reused=reused)
    return pid, outputs(spec, id=pid, arn=arn, versionId=version_id,
                        versionStages=spec.get("versionStages") or ["AWSCURRENT"])


# ----------------------------------------------------------------------------- pulumi_random

def random_password(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    """A fresh value from ``secrets`` honouring length, character classes and minimums."""
    length = as_int(spec.get("length"), 16) or 16
    classes: list[tuple[str, int]] = []
    for flag, alphabet, minimum in (("upper", string.ascii_uppercase, "minUpper"),
                                    ("lower", string.ascii_lowercase, "minLower"),
                                    ("numeric", string.digits, "minNumeric")):
        if as_bool(spec.get(flag), True) and as_bool(spec.get("number") if flag == "numeric" else True, True):
            classes.append((alphabet, as_int(spec.get(minimum), 0) or 0))
    if as_bool(spec.get("special"), True):
        classes.append((spec.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?", as_int(spec.get("minSpecial"), 0) or 0))
    alphabet = "".join(a for a, _ in classes) or string.ascii_letters
    chars = [secrets.choice(a) for a, n in classes for _ in range(n)]
    chars += [secrets.choice(alphabet) for _ in range(max(0, length - len(chars)))]
    secrets.SystemRandom().shuffle(chars)
    return "none", outputs(spec, id="none", result="".join(chars[:max(length, len(chars))]), bcryptHash="")


def random_id(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    raw = secrets.token_bytes(as_int(spec.get("byteLength"), 8) or 8)
    b64url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    prefix = spec.get("prefix", "")
    return b64url, outputs(spec, id=b64url, hex=prefix + raw.hex(), b64Url=prefix + b64url,
                           b64Std=prefix + base64.b64encode(raw).decode(), dec=prefix + str(int.from_bytes(raw, "big")))


def random_uuid(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    value = str(uuid.uuid4())
    return value, outputs(spec, id=value, result=value)


HANDLERS: dict[str, Handler] = {
    "aws:kms/key:Key": key,
    "aws:kms/replicaKey:ReplicaKey": replica_key,
    "aws:kms/alias:Alias": alias,
    "aws:iam/role:Role": role,
    "aws:iam/rolePolicy:RolePolicy": role_policy,
    "aws:iam/policy:Policy": managed_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": role_policy_attachment,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:secretsmanager/secretVersion:SecretVersion": secret_version,
    "random:index/randomPassword:RandomPassword": random_password,
    "random:index/randomString:RandomString": random_password,
    "random:index/randomId:RandomId": random_id,
    "random:index/randomUuid:RandomUuid": random_uuid,
}

# Values computed here, not cloud resources: not listed as created.
LOCAL_TYPES = frozenset(t for t in HANDLERS if t.startswith("random:"))
