"""Offline deploy, S3: buckets and every bucket sub-configuration, created for real in moto.

S3 Multi-Region Access Points and their routes go through the S3 Control API, which the
embedded cloud's simulation emulates (moto has none); access point policies are declared only.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from drills.aws import BUCKET_NOT_FOUND, error_code
from drills.deploy.common import (DeployContext, Handler, Spec, api_param, as_bool, as_int, outputs,
                                        short_hash, tag_list)
from drills.errors import UsageError

# Codes meaning "a prerequisite the program declares is not there yet": retried after the program ran.
_NEEDS_VERSIONING = ("InvalidRequest", "InvalidBucketState")


def _s3(ctx: DeployContext, spec: Spec, bucket: str | None = None):
    region = ctx.bucket_regions.get(bucket or str(spec.get("bucket", "")), spec.region)
    return ctx.client("s3", region)


_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_BUCKET_RESERVED = (("xn--", "sthree-", "amzn-s3-demo-"), ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))


def check_bucket_name(name: str, where: str) -> str:
    """S3's naming rules for general purpose buckets (moto accepts names S3 refuses)."""
    if (not _BUCKET_NAME.match(name) or ".." in name or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name)
            or name.startswith(_BUCKET_RESERVED[0]) or name.endswith(_BUCKET_RESERVED[1])):
        raise UsageError(f"{where}: bucket name {name!r} is invalid: S3 refuses it (InvalidBucketName)",
                         hint="3-63 characters: lowercase letters, digits, dots and hyphens, starting and "
                              "ending with a letter or digit")
    return name


def bucket(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = check_bucket_name(ctx.physical_name(spec, key="bucket", prefix_key="bucketPrefix", style="bucket"),
                             spec.label)
    s3 = ctx.client("s3", spec.region)
    reused = _bucket_exists(s3, name)
    if not reused:
        kwargs: dict[str, Any] = {"Bucket": name}
        if spec.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": spec.region}
        if as_bool(spec.get("objectLockEnabled")):
            kwargs["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**kwargs)
    if spec.get("tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(spec.get("tags"))})
    ctx.bucket_regions[name] = spec.region
    ctx.record(spec, name, reused=reused)
    return name, outputs(spec, id=name, bucket=name, arn=f"arn:aws:s3:::{name}",
                         bucketDomainName=f"{name}.s3.amazonaws.com",
                         bucketRegionalDomainName=f"{name}.s3.{spec.region}.amazonaws.com",
                         hostedZoneId=None, objectLockEnabled=as_bool(spec.get("objectLockEnabled")))


def _bucket_exists(s3, name: str) -> bool:
    try:
        s3.head_bucket(Bucket=name)
        return True
    except ClientError as exc:
        if error_code(exc) in BUCKET_NOT_FOUND:
            return False
        raise


def _sub(ctx: DeployContext, spec: Spec, physical: str | None = None, **computed: Any) -> tuple[str, dict[str, Any]]:
    """Record a bucket sub-configuration; its id is the bucket name, like pulumi-aws."""
    bucket_name = str(spec.get("bucket"))
    pid = physical or bucket_name
    ctx.record(spec, pid, region=ctx.bucket_regions.get(bucket_name, spec.region), reused=ctx.existed(bucket_name))
    return pid, outputs(spec, id=pid, **computed)


def versioning(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    conf = dict(spec.get("versioningConfiguration", {}))
    if conf.get("mfaDelete") not in (None, "Disabled"):
        ctx.note(f"{spec.label}: MFA delete needs the root user's MFA device; not applied offline")
    conf.pop("mfaDelete", None)
    _s3(ctx, spec).put_bucket_versioning(
        Bucket=spec.get("bucket"),
        VersioningConfiguration=api_param("s3", "PutBucketVersioning", "VersioningConfiguration", conf))
    return _sub(ctx, spec)


def object_lock(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    conf = {"objectLockEnabled": spec.get("objectLockEnabled", "Enabled"), "rule": spec.get("rule")}
    ignored: list[str] = []
    body = api_param("s3", "PutObjectLockConfiguration", "ObjectLockConfiguration", conf, ignored)
    ctx.note_ignored(spec, ignored)
    s3 = _s3(ctx, spec)
    ctx.attempt(spec, lambda: s3.put_object_lock_configuration(Bucket=spec.get("bucket"), ObjectLockConfiguration=body),
                retry_codes=_NEEDS_VERSIONING)
    return _sub(ctx, spec)


def encryption(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    ignored: list[str] = []
    body = api_param("s3", "PutBucketEncryption", "ServerSideEncryptionConfiguration",
                     {"rules": spec.get("rules", [])}, ignored)
    ctx.note_ignored(spec, ignored)
    _s3(ctx, spec).put_bucket_encryption(Bucket=spec.get("bucket"), ServerSideEncryptionConfiguration=body)
    return _sub(ctx, spec)


def public_access_block(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    conf = {k: as_bool(spec.get(k)) for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                              "restrictPublicBuckets")}
    _s3(ctx, spec).put_public_access_block(
        Bucket=spec.get("bucket"),
        PublicAccessBlockConfiguration=api_param("s3", "PutPublicAccessBlock", "PublicAccessBlockConfiguration", conf))
    return _sub(ctx, spec)


def ownership(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    rule = spec.get("rule", {})
    _s3(ctx, spec).put_bucket_ownership_controls(
        Bucket=spec.get("bucket"), OwnershipControls={"Rules": [{"ObjectOwnership": rule.get("objectOwnership")}]})
    return _sub(ctx, spec)


def policy(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    _s3(ctx, spec).put_bucket_policy(Bucket=spec.get("bucket"), Policy=str(spec.get("policy")))
    return _sub(ctx, spec)


def logging(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    conf = {k: spec.get(k) for k in ("targetBucket", "targetPrefix", "targetGrants", "targetObjectKeyFormat")}
    ignored: list[str] = []
    enabled = api_param("s3", "PutBucketLogging", "BucketLoggingStatus", {"loggingEnabled": conf}, ignored)
    ctx.note_ignored(spec, ignored)
    s3 = _s3(ctx, spec)
    bucket_name = str(spec.get("bucket"))

    def apply() -> None:
        s3.put_bucket_logging(Bucket=bucket_name, BucketLoggingStatus=enabled)

    # moto checks the target bucket's policy for the log-delivery grant, which the program may
    # declare later than the logging itself: retry at the end, then report what moto said.
    ctx.attempt(spec, apply, retry_codes=("InvalidTargetBucketForLogging",),
                fallback="moto refused the server-access-log target")
    return _sub(ctx, spec)


def lifecycle(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    rules = []
    for rule in spec.get("rules", []):
        rule = dict(rule)
        if not rule.get("filter"):
            rule["filter"] = {"prefix": rule.pop("prefix", "") or ""}
        rules.append(rule)
    ignored: list[str] = []
    conf = api_param("s3", "PutBucketLifecycleConfiguration", "LifecycleConfiguration", {"rules": rules}, ignored)
    ctx.note_ignored(spec, ignored)
    kwargs: dict[str, Any] = {"Bucket": spec.get("bucket"), "LifecycleConfiguration": conf}
    if spec.get("transitionDefaultMinimumObjectSize"):
        kwargs["TransitionDefaultMinimumObjectSize"] = spec.get("transitionDefaultMinimumObjectSize")
    _s3(ctx, spec).put_bucket_lifecycle_configuration(**kwargs)
    return _sub(ctx, spec)


def replication(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    ignored: list[str] = []
    conf = api_param("s3", "PutBucketReplication", "ReplicationConfiguration",
                     {"role": spec.get("role"), "rules": spec.get("rules", [])}, ignored)
    ctx.note_ignored(spec, ignored)
    s3 = _s3(ctx, spec)
    kwargs: dict[str, Any] = {"Bucket": spec.get("bucket"), "ReplicationConfiguration": conf}
    if spec.get("token"):
        kwargs["Token"] = spec.get("token")
    ctx.attempt(spec, lambda: s3.put_bucket_replication(**kwargs), retry_codes=_NEEDS_VERSIONING)
    return _sub(ctx, spec)


def inventory(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    dest = dict(spec.get("destination", {}).get("bucket", {}))
    s3dest: dict[str, Any] = {"Bucket": dest.get("bucketArn"), "Format": dest.get("format")}
    if dest.get("prefix"):
        s3dest["Prefix"] = dest["prefix"]
    if dest.get("accountId"):
        s3dest["AccountId"] = dest["accountId"]
    enc = dest.get("encryption") or {}
    if enc.get("sseKms"):
        s3dest["Encryption"] = {"SSEKMS": {"KeyId": enc["sseKms"].get("keyId")}}
    elif enc.get("sseS3") is not None:
        s3dest["Encryption"] = {"SSES3": {}}
    conf: dict[str, Any] = {
        "Id": spec.get("name"), "IsEnabled": as_bool(spec.get("enabled"), True),
        "IncludedObjectVersions": spec.get("includedObjectVersions"),
        "Schedule": {"Frequency": spec.get("schedule", {}).get("frequency")},
        "Destination": {"S3BucketDestination": s3dest},
    }
    if spec.get("optionalFields"):
        conf["OptionalFields"] = list(spec.get("optionalFields"))
    if spec.get("filter", {}).get("prefix"):
        conf["Filter"] = {"Prefix": spec.get("filter")["prefix"]}
    _s3(ctx, spec).put_bucket_inventory_configuration(Bucket=spec.get("bucket"), Id=spec.get("name"),
                                                      InventoryConfiguration=conf)
    return _sub(ctx, spec, f"{spec.get('bucket')}:{spec.get('name')}")


def intelligent_tiering(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    # moto 5.2 has no route for ?intelligent-tiering: a PUT falls through to CreateBucket (a
    # silent no-op in us-east-1, IllegalLocationConstraint elsewhere) and GET answers empty.
    ctx.declare(spec, "moto 5.2 does not implement S3 Intelligent-Tiering archive configurations; "
                      "declared, not emulated")
    return f"{spec.get('bucket')}:{spec.get('name')}", outputs(spec, id=f"{spec.get('bucket')}:{spec.get('name')}")


def notification(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    conf: dict[str, Any] = {}
    for key, api_key, arn_key, api_arn in (("queues", "QueueConfigurations", "queueArn", "QueueArn"),
                                           ("topics", "TopicConfigurations", "topicArn", "TopicArn"),
                                           ("lambdaFunctions", "LambdaFunctionConfigurations",
                                            "lambdaFunctionArn", "LambdaFunctionArn")):
        items = []
        for item in spec.get(key, []):
            entry: dict[str, Any] = {api_arn: item[arn_key], "Events": list(item.get("events", []))}
            if item.get("id"):
                entry["Id"] = item["id"]
            rules = [{"Name": n, "Value": item[k]} for n, k in (("prefix", "filterPrefix"), ("suffix", "filterSuffix"))
                     if item.get(k)]
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            items.append(entry)
        if items:
            conf[api_key] = items
    if as_bool(spec.get("eventbridge")):
        conf["EventBridgeConfiguration"] = {}
    if conf.get("LambdaFunctionConfigurations"):
        ctx.note(f"{spec.label}: S3 -> Lambda notifications are stored, but moto cannot run the function")
    _s3(ctx, spec).put_bucket_notification_configuration(Bucket=spec.get("bucket"), NotificationConfiguration=conf)
    return _sub(ctx, spec)


# ----------------------------------------------------------------------------- declared only

def mrap(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    """Created through S3 Control (the embedded cloud emulates Multi-Region Access Points)."""
    details = spec.get("details", {})
    account = spec.get("accountId", ctx.account_id)
    name = str(details.get("name"))
    control = ctx.client("s3control", _MRAP_CONTROL_REGION)
    pab = details.get("publicAccessBlock") or {}
    try:
        existing = control.get_multi_region_access_point(AccountId=account, Name=name)["AccessPoint"]
        reused = True
    except ClientError:
        existing, reused = None, False
    if existing is None:
        control.create_multi_region_access_point(AccountId=account, ClientToken=short_hash(ctx.stack, name, length=32), Details={
            "Name": name, "Regions": [{"Bucket": r["bucket"]} for r in details.get("regions", [])],
            "PublicAccessBlock": {api: as_bool(pab.get(key), True) for key, api in (
                ("blockPublicAcls", "BlockPublicAcls"), ("ignorePublicAcls", "IgnorePublicAcls"),
                ("blockPublicPolicy", "BlockPublicPolicy"), ("restrictPublicBuckets", "RestrictPublicBuckets"))}})
        existing = control.get_multi_region_access_point(AccountId=account, Name=name)["AccessPoint"]
    alias = existing["Alias"]
    pid = f"{account}:{name}"
    ctx.record(spec, pid, reused=reused)
    return pid, outputs(spec, id=pid, accountId=account, alias=alias,
                        arn=f"arn:aws:s3::{account}:accesspoint/{alias}",
                        domainName=f"{alias}.accesspoint.s3-global.amazonaws.com", status=existing["Status"])


def mrap_routes(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    account = spec.get("accountId", ctx.account_id)
    arn = spec.get("mrap")
    control = ctx.client("s3control", _MRAP_CONTROL_REGION)
    wanted = [{"Bucket": r["bucket"], "Region": r["region"], "TrafficDialPercentage": as_int(r["trafficDialPercentage"])}
              for r in spec.get("routes", [])]
    current = control.get_multi_region_access_point_routes(AccountId=account, Mrap=arn)["Routes"]
    dials = {r["Bucket"]: r["TrafficDialPercentage"] for r in current}
    reused = all(dials.get(r["Bucket"]) == r["TrafficDialPercentage"] for r in wanted)
    if not reused:
        control.submit_multi_region_access_point_routes(AccountId=account, Mrap=arn, RouteUpdates=wanted)
    pid = f"{account}:{arn}"
    ctx.record(spec, pid, reused=reused)
    return pid, outputs(spec, id=pid, accountId=account)


_MRAP_CONTROL_REGION = "us-west-2"    # one of the five Regions that take route changes (API reference)
_MRAP_POLICY_REASON = "S3 Multi-Region Access Point policies are not emulated; declared, not emulated"


def mrap_policy(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    account = spec.get("accountId", ctx.account_id)
    ctx.declare(spec, _MRAP_POLICY_REASON)
    target = spec.get("details", {}).get("name") or spec.name
    pid = f"{account}:{target}"
    return pid, outputs(spec, id=pid, accountId=account)


HANDLERS: dict[str, Handler] = {
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketV2:BucketV2": bucket,
    "aws:s3/bucketVersioning:BucketVersioning": versioning,
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": object_lock,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": encryption,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ownership,
    "aws:s3/bucketPolicy:BucketPolicy": policy,
    "aws:s3/bucketLogging:BucketLogging": logging,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": lifecycle,
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": replication,
    "aws:s3/inventory:Inventory": inventory,
    "aws:s3/bucketIntelligentTieringConfiguration:BucketIntelligentTieringConfiguration": intelligent_tiering,
    "aws:s3/bucketNotification:BucketNotification": notification,
    "aws:s3control/multiRegionAccessPoint:MultiRegionAccessPoint": mrap,
    "aws:s3control/multiRegionAccessPointRoutes:MultiRegionAccessPointRoutes": mrap_routes,
    "aws:s3control/multiRegionAccessPointPolicy:MultiRegionAccessPointPolicy": mrap_policy,
}
