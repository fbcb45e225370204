"""Destruction already under way — what a patient attacker (or a careless change) leaves behind
instead of deleting objects: the archive's KMS key scheduled for deletion or disabled (crypto-
shredding: every object becomes unreadable when the key goes), or a lifecycle rule that expires
*current* versions of ``dicom/`` in the archive or the replica (studies disappear quietly, day by
day). Read-only; a steady-state probe of the ransomware drill.

AWS: https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html (KeyState
PendingDeletion / Disabled) and
https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html
(Expiration acts on current versions; NoncurrentVersionExpiration on noncurrent ones).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import probe


def _covers(rule: dict[str, Any], prefix: str) -> bool:
    flt = rule.get("Filter") or {}
    p = flt.get("Prefix", (flt.get("And") or {}).get("Prefix", rule.get("Prefix", "")))
    p = p or ""
    return prefix.startswith(p) or p.startswith(prefix)


def expiring_rules(s3: Any, bucket: str, prefix: str) -> list[str]:
    """IDs of enabled lifecycle rules expiring current versions under ``prefix``."""
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise
    found = []
    for rule in rules:
        expiration = rule.get("Expiration") or {}
        if rule.get("Status") == "Enabled" and ("Days" in expiration or "Date" in expiration) and _covers(rule, prefix):
            found.append(rule.get("ID", "<unnamed>"))
    return found


def key_state(s3: Any, kms: Any, bucket: str) -> tuple[str | None, str | None]:
    """(key ARN, KeyState) of the bucket's default SSE-KMS key, (None, None) without one."""
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    key = (rules[0].get("ApplyServerSideEncryptionByDefault") or {}).get("KMSMasterKeyID")
    if not key:
        return None, None
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    return meta["Arn"], meta.get("KeyState")


@probe("no-pending-destruction", {})
def no_pending_destruction(run: Any) -> ProbeResult:
    """The archive's and replica's keys are usable and no lifecycle rule expires current studies."""
    ctx = run.ctx
    out = ctx.outputs
    findings = []
    checked = {"keys": 0, "buckets": 0}
    try:
        for region, bucket in ((out.primaryRegion, out.archiveBucket), (out.drRegion, out.replicaBucket)):
            s3 = ctx.client("s3", region)
            arn, state = key_state(s3, ctx.client("kms", region), bucket)
            if arn is not None:
                checked["keys"] += 1
                if state != "Enabled":
                    findings.append(Finding("archive-key-not-enabled", Severity.CRITICAL, arn,
                                            f"the KMS key encrypting {bucket} is {state}: when it goes, every "
                                            "object in the bucket is unreadable", {"bucket": bucket, "state": state},
                                            remediation="kms:CancelKeyDeletion / EnableKey now; deny "
                                                        "kms:ScheduleKeyDeletion outside break-glass (SCP)"))
            rules = expiring_rules(s3, bucket, ctx.scope_prefix)
            checked["buckets"] += 1
            if rules:
                findings.append(Finding("lifecycle-expires-current-studies", Severity.CRITICAL, bucket,
                                        f"lifecycle rule(s) {', '.join(rules)} expire current versions under "
                                        f"{ctx.scope_prefix} in {bucket}", {"rules": rules},
                                        remediation="remove the rule; expire only noncurrent versions"))
    except (ClientError, BotoCoreError) as exc:
        return ProbeResult(Status.NOT_VERIFIED, checked, reason=f"cannot read keys or lifecycle rules: {exc}")
    output = {**checked, "problems": len(findings)}
    return ProbeResult(Status.FAILED if findings else Status.PASSED, output, tuple(findings))
