"""Stack policies for the archive's S3 buckets.

pulumi-aws v7 keeps each bucket setting in its own resource, so every rule here is a
stack validation: it walks the buckets a rule applies to (by ``BucketRole``) and looks for
the sibling resource that carries the setting. Each violation names the bucket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterable, Optional

from pulumi_policy import PolicyConfigSchema, ReportViolation, StackValidationArgs, StackValidationPolicy

if __package__:
    from .stackview import (BUCKET_POLICY, ENCRYPTION, LIFECYCLE, LOGGING, OBJECT_LOCK,
                            PRODUCTION_CONFIG, PUBLIC_ACCESS_BLOCK, REPLICATION, UNKNOWN, VERSIONING, BucketRole,
                            StackView, count, elements, is_set, label, prop, region_of)
else:  # run by the Pulumi language host as `python policies/`
    from stackview import (BUCKET_POLICY, ENCRYPTION, LIFECYCLE, LOGGING, OBJECT_LOCK,
                           PRODUCTION_CONFIG, PUBLIC_ACCESS_BLOCK, REPLICATION, UNKNOWN, VERSIONING, BucketRole,
                           StackView, count, elements, is_set, label, prop, region_of)

R = BucketRole
ALL_ROLES = frozenset(R) | {None}          # None: a bucket no role could be found for
LOCKED_ROLES = frozenset({R.ARCHIVE, R.REPLICA, R.EVIDENCE, R.TRAIL})
LOGGED_ROLES = frozenset({R.ARCHIVE, R.REPLICA, R.LANDING, R.EVIDENCE, R.TRAIL})
UPLOAD_ROLES = frozenset({R.ARCHIVE, R.REPLICA, R.LANDING, R.EVIDENCE})
SSE_S3_ALLOWED = frozenset({R.LOGS})       # S3 delivers server access logs only to SSE-S3 buckets
RTC_MINUTES = 15                            # the only value S3 accepts for RTC and its metrics

Problems = Iterable[str]
BucketCheck = Callable[[StackView, Any, Optional[BucketRole]], Problems]


def bucket_policy(name: str, description: str, roles: frozenset, check: BucketCheck,
                  config_schema: Optional[PolicyConfigSchema] = None) -> StackValidationPolicy:
    """A stack policy that runs ``check`` on every bucket whose role is in ``roles`` and
    reports each problem it yields against that bucket."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        view = StackView(args.resources, args.get_config())
        for bucket in view.buckets:
            role = view.role(bucket)
            if role not in roles:
                continue
            shown = role.value if role else "unclassified"
            for problem in check(view, bucket, role):
                report_violation(f"bucket '{bucket.name}' ({shown}): {problem}", bucket.urn)

    return StackValidationPolicy(name=name, description=description, validate=validate, config_schema=config_schema)


def settings(view: StackView, bucket: Any, types: frozenset[str]) -> Any:
    """The bucket's setting resources of ``types``; UNKNOWN when there are none but some
    resource of that type cannot be joined yet (its bucket id is unknown in preview)."""
    found = view.attached(bucket, types)
    if not found and view.unresolved(types):
        return UNKNOWN
    return found


def _missing(kind: str) -> str:
    return f"no {kind} resource refers to it"


# ---------------------------------------------------------------- encryption (CKV_AWS_19, 145)
def check_kms_encryption(view: StackView, bucket: Any, role: Optional[BucketRole]) -> Problems:
    found = settings(view, bucket, ENCRYPTION)
    if found is UNKNOWN:
        return
    if not found:
        yield _missing("BucketServerSideEncryptionConfiguration") + " (default encryption is SSE-S3, not KMS)"
        return
    allowed = {"aws:kms", "aws:kms:dsse"} | ({"AES256"} if role in SSE_S3_ALLOWED else set())
    for config in found:
        rules = elements(config.props, "rules")
        if not rules:
            yield f"{label(config)} has no rules"
        for rule in rules:
            algorithm = prop(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            if algorithm is UNKNOWN:
                continue
            if algorithm not in allowed:
                yield f"{label(config)} uses sseAlgorithm {algorithm!r}; needs {' or '.join(sorted(allowed))}"
            elif algorithm != "AES256" and not is_set(
                    prop(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")):
                yield f"{label(config)} uses the AWS-managed key; set kmsMasterKeyId to a customer-managed key"


# ---------------------------------------------------------------- versioning (CKV_AWS_21)
def check_versioning(view: StackView, bucket: Any, role: Optional[BucketRole]) -> Problems:
    found = settings(view, bucket, VERSIONING)
    if found is UNKNOWN:
        return
    if not found:
        yield _missing("BucketVersioning")
    for config in found:
        status = prop(config.props, "versioningConfiguration", "status")
        if status is not UNKNOWN and status != "Enabled":
            yield f"{label(config)} has status {status!r}; needs 'Enabled'"


# ---------------------------------------------------------------- public access (CKV_AWS_53–56)
PAB_FLAGS = {"blockPublicAcls": "CKV_AWS_53", "blockPublicPolicy": "CKV_AWS_54",
             "ignorePublicAcls": "CKV_AWS_55", "restrictPublicBuckets": "CKV_AWS_56"}


def check_public_access_block(view: StackView, bucket: Any, role: Optional[BucketRole]) -> Problems:
    found = settings(view, bucket, PUBLIC_ACCESS_BLOCK)
    if found is UNKNOWN:
        return
    if not found:
        yield _missing("BucketPublicAccessBlock")
    for config in found:
        off = [f"{flag} ({check})" for flag, check in PAB_FLAGS.items()
               if prop(config.props, flag) is not UNKNOWN and prop(config.props, flag) is not True]
        if off:
            yield f"{label(config)} does not set {', '.join(off)} to true"


# ---------------------------------------------------------------- TLS only (CIS 2.1.1)
def _as_list(value: Any) -> list:
    if isinstance(value, (str, bool)) or value is None:
        return [value]
    return list(value) if isinstance(value, Sequence) else [value]


def _denies_insecure_transport(statement: Mapping, bucket_arn: Optional[str]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS"))):
        return False
    if not {"s3:*", "*"} & set(_as_list(statement.get("Action"))):
        return False
    condition = statement.get("Condition") or {}
    values = [v for op in ("Bool", "BoolIfExists") if isinstance(condition.get(op), Mapping)
              for v in _as_list(condition[op].get("aws:SecureTransport"))]
    if not any(str(v).lower() == "false" for v in values):
        return False
    if bucket_arn:
        resources = set(_as_list(statement.get("Resource")))
        return {bucket_arn, f"{bucket_arn}/*"} <= resources
    return True


def check_tls_only(view: StackView, bucket: Any, role: Optional[BucketRole]) -> Problems:
    found = settings(view, bucket, BUCKET_POLICY)
    if found is UNKNOWN:
        return
    if not found:
        yield _missing("BucketPolicy") + " (nothing denies aws:SecureTransport=false)"
        return
    arn = prop(bucket.props, "arn")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        name = prop(bucket.props, "bucket")
        arn = f"arn:aws:s3:::{name}" if isinstance(name, str) and name else None
    for config in found:
        document = prop(config.props, "policy")
        if document is UNKNOWN:
            return                   # interpolates values known only after the update
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                yield f"{label(config)} policy is not valid JSON"
                continue
        statements = _as_list(prop(document, "Statement", default=[])) if isinstance(document, Mapping) else []
        if any(isinstance(s, Mapping) and _denies_insecure_transport(s, arn) for s in statements):
            return
    yield ("no bucket policy statement denies s3:* to every principal when aws:SecureTransport "
           f"is false on {arn or 'the bucket'} and its objects")


# ---------------------------------------------------------------- object lock (CKV_AWS_143)
def check_object_lock(view: StackView, bucket: Any, role: Optional[BucketRole]) -> Problems:
    enabled = prop(bucket.props, "objectLockEnabled")
    if enabled is not UNKNOWN and enabled is not True:
        yield "objectLockEnabled is not true (Object Lock can only be enabled when the bucket is created)"
    found = settings(view, bucket, OBJECT_LOCK)
    if found is UNKNOWN:
        return
    if not found:
        yield _missing("BucketObjectLockConfiguration") + " (no default retention)"
    for config in found:
        state = prop(config.props, "objectLockEnabled", default="Enabled")
        if state is not UNKNOWN and state != "Enabled":
            yield f"{label(config)} has objectLockEnabled {state!r}"
        retention = prop(config.props, "rule", "defaultRetention")
        if retention is UNKNOWN:
            continue
        mode = prop(retention, "mode")
        period = [count(prop(retention, k)) for k in ("days", "years")]
        if not any(p is UNKNOWN or (p is not None and p > 0) for p in period):
            yield f"{label(config)} has no default retention period (days or years)"
        if view.production and mode not in ("COMPLIANCE", UNKNOWN):
            yield f"{label(config)} default retention mode is {mode!r}; production stacks need 'COMPLIANCE'"
        elif mode not in ("COMPLIANCE", "GOVERNANCE", UNKNOWN):
            yield f"{label(config)} default retention mode is {mode!r}"


# ---------------------------------------------------------------- access logging (CKV_AWS_18)
def check_access_logging(view: StackView, bucket: Any, role: Optional[BucketRole]) -> Problems:
    found = settings(view, bucket, LOGGING)
    if found is UNKNOWN:
        return
    if not found:
        yield _missing("BucketLogging")
    for config in found:
        target = view.referenced(config, "targetBucket")
        if target is UNKNOWN:
            continue
        if target is None:
            yield f"{label(config)} targetBucket is not a bucket of this stack"
        elif target is bucket:
            yield f"{label(config)} logs the bucket to itself"
        else:
            if prop(target.props, "objectLockEnabled") is True:
                yield f"{label(config)} targets '{target.name}', which has Object Lock (S3 cannot deliver logs there)"
            here, there = region_of(bucket), region_of(target)
            if here and there and here != there:
                yield f"{label(config)} targets '{target.name}' in {there}; log buckets must be in {here}"


# ---------------------------------------------------------------- multipart uploads (CKV_AWS_300)
def _whole_bucket(rule: Any) -> bool:
    """No prefix, tag or size narrows the rule (an unknown value gets the benefit of the doubt)."""
    narrowing = ("prefix", "tag", "and", "objectSizeGreaterThan", "objectSizeLessThan")
    values = [prop(rule, "prefix")] + [prop(f, key) for f in elements(rule, "filter") for key in narrowing]
    return not any(v is not UNKNOWN and is_set(v) for v in values)


def check_abort_multipart(view: StackView, bucket: Any, role: Optional[BucketRole]) -> Problems:
    found = settings(view, bucket, LIFECYCLE)
    if found is UNKNOWN:
        return
    for config in found:
        for rule in elements(config.props, "rules"):
            if rule is UNKNOWN:
                return
            days = count(prop(rule, "abortIncompleteMultipartUpload", "daysAfterInitiation"))
            if prop(rule, "status") == "Enabled" and (days is UNKNOWN or (days is not None and days > 0)) \
                    and _whole_bucket(rule):
                return
    yield ("no enabled lifecycle rule aborts incomplete multipart uploads for the whole bucket "
           "(BucketLifecycleConfiguration rule with abortIncompleteMultipartUpload.daysAfterInitiation)")


# ---------------------------------------------------------------- replication (CKV_AWS_144)
def _replication_rule_problems(view: StackView, source: Any, config: Any, rule: Any) -> list[str]:
    problems = []
    dest = prop(rule, "destination")
    target = view.referenced(config, "rules", value=prop(dest, "bucket"))
    if target is None:
        problems.append("destination.bucket is not a bucket of this stack")
    elif target is source:
        problems.append("replicates the bucket into itself")
    elif target is not UNKNOWN:
        here, there = region_of(source), region_of(target)
        if here and there and here == there:
            problems.append(f"destination '{target.name}' is in the same region ({here}); needs another region")
        if prop(source.props, "objectLockEnabled") is True and \
                prop(target.props, "objectLockEnabled") not in (True, UNKNOWN):
            problems.append(f"destination '{target.name}' has no Object Lock while the source has")
    for block, timer in (("replicationTime", "time"), ("metrics", "eventThreshold")):
        status = prop(dest, block, "status")
        minutes = count(prop(dest, block, timer, "minutes"))
        if status not in ("Enabled", UNKNOWN) or minutes not in (RTC_MINUTES, UNKNOWN):
            problems.append(f"destination.{block} must be Enabled with {timer}.minutes = {RTC_MINUTES} "
                            f"(got status {status!r}, minutes {minutes!r})")
    if prop(rule, "sourceSelectionCriteria", "sseKmsEncryptedObjects", "status") not in ("Enabled", UNKNOWN):
        problems.append("sourceSelectionCriteria.sseKmsEncryptedObjects is not Enabled "
                        "(SSE-KMS objects would not replicate)")
    if not is_set(prop(dest, "encryptionConfiguration", "replicaKmsKeyId")):
        problems.append("destination.encryptionConfiguration.replicaKmsKeyId is not set")
    return problems


def check_replication(view: StackView, bucket: Any, role: Optional[BucketRole]) -> Problems:
    found = settings(view, bucket, REPLICATION)
    if found is UNKNOWN:
        return
    if not found:
        yield _missing("BucketReplicationConfig") + " (no cross-region replication)"
        return
    reasons = []
    for config in found:
        for index, rule in enumerate(elements(config.props, "rules")):
            if rule is UNKNOWN:
                return
            status = prop(rule, "status")
            if status not in ("Enabled", UNKNOWN):
                reasons.append(f"{label(config)} rule {index} has status {status!r}")
                continue
            problems = _replication_rule_problems(view, bucket, config, rule)
            if not problems:
                return                   # one complete enabled rule is what the control needs
            reasons.extend(f"{label(config)} rule {index}: {p}" for p in problems)
    yield "no enabled replication rule meets the RTC/KMS requirements: " + "; ".join(reasons or ["no rules"])


POLICIES = [
    bucket_policy(
        "s3-bucket-kms-encryption",
        "S3 buckets encrypt by default with a customer-managed KMS key (checkov CKV_AWS_19, CKV_AWS_145; "
        "HIPAA 164.312(a)(2)(iv)). Server-access-log buckets may use SSE-S3, the only encryption S3 "
        "log delivery supports.",
        ALL_ROLES, check_kms_encryption),
    bucket_policy(
        "s3-bucket-versioning",
        "S3 buckets have versioning enabled (checkov CKV_AWS_21).",
        ALL_ROLES, check_versioning),
    bucket_policy(
        "s3-bucket-public-access-block",
        "S3 buckets block public access with all four settings (checkov CKV_AWS_53, 54, 55, 56; CIS AWS 2.1.4).",
        ALL_ROLES, check_public_access_block),
    bucket_policy(
        "s3-bucket-tls-only",
        "S3 bucket policies deny every request made without TLS (aws:SecureTransport = false) (CIS AWS 2.1.1).",
        ALL_ROLES, check_tls_only),
    bucket_policy(
        "s3-bucket-object-lock",
        "Archive, replica, evidence and CloudTrail buckets have Object Lock with a default retention, COMPLIANCE "
        "mode in production (checkov CKV_AWS_143; SEC 17a-4(f) per Cohasset).",
        LOCKED_ROLES, check_object_lock, PRODUCTION_CONFIG),
    bucket_policy(
        "s3-archive-cross-region-replication",
        "The archive replicates to a bucket in another region with Replication Time Control (15 min) and "
        "replication metrics, including SSE-KMS objects under a replica key (checkov CKV_AWS_144).",
        frozenset({R.ARCHIVE}), check_replication),
    bucket_policy(
        "s3-bucket-access-logging",
        "Data buckets log server access to a same-region log bucket without Object Lock (checkov CKV_AWS_18).",
        LOGGED_ROLES, check_access_logging),
    bucket_policy(
        "s3-bucket-abort-incomplete-multipart",
        "Buckets that receive uploads abort incomplete multipart uploads with a whole-bucket lifecycle rule "
        "(checkov CKV_AWS_300).",
        UPLOAD_ROLES, check_abort_multipart),
]
