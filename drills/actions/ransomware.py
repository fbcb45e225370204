"""Ransomware: what an attacker holding broad S3/Backup/DynamoDB write rights tries, in order,
and the containment that puts the stack's protections back.

Attempts (issue #11's order), each counted with its outcome (``denied`` / ``succeeded`` /
``partial``) and the AWS error code into the scenario's ``attempts``:

 1. ``delete-versions``       DeleteObject of every version of each sampled instance
 2. ``overwrite``             PutObject of encrypted-looking junk over each sampled key
 3. ``shorten-retention``     PutObjectRetention of each known-good version to one minute from now
 4. ``remove-lock-default``   PutObjectLockConfiguration without a default retention rule
 5. ``loosen-bucket-policy``  PutBucketPolicy granting public read, then DeleteBucketPolicy
 6. ``suspend-versioning``    PutBucketVersioning Suspended
 7. ``delete-replication``    DeleteBucketReplication
 8. ``delete-recovery-points`` DeleteRecoveryPoint of every point in the primary and DR vaults
 9. ``delete-vaults``         DeleteBackupVault of both vaults
10. ``drop-index``            DeleteTable of the study index — only when deletion protection is
                              on (expected refused); without it the live index is *not* dropped
                              (outcome ``not_attempted``) and the exposure is a finding.

``bypassGovernance: true`` is the attacker who also holds ``s3:BypassGovernanceRetention``: it
sends ``x-amz-bypass-governance-retention: true`` on deletes and retention changes.

Identity (``drills.actions.attacker``): every attempt is made with an STS session of the stack's
attacker role — ``attacker`` (outputs ``attackerRoleArn``), or ``attacker-bypass``
(``attackerBypassRoleArn``) when ``bypassGovernance`` is true; ``attackerRole`` picks one
explicitly (the non-bypass role sending the bypass header shows the header alone is refused).
The listing, retention reads and everything after the attack use the drill's own credentials.
The embedded cloud evaluates the session's IAM identity policies and the bucket policy as AWS
does (``drills.cloud.sim.identity_policies``; trust policies, SCPs, KMS key and vault access
policies are not emulated there). A stack without the role (``drkit:drill.attacker.enabled:
false``, production's default), or a role the drill may not assume: the attempts run with the
drill's own credentials, labelled so, and the attack is **not verified** (exit 1) — what those
credentials can do shows nothing about an attacker's. The journal records which identity made
the attempts (role and session ARN). What is enforced on the resources — Object Lock
(COMPLIANCE, GOVERNANCE with/without bypass), the versioning state of an Object Lock bucket,
bucket-policy allow-lists, Backup Vault Lock, DynamoDB deletion protection — is measured either way.

Safety: the data attacks touch only the sampled instances, which ``recover-known-good`` puts
back byte-identical; ``restore-protections`` (a method step and again a rollback) puts back the
lock default, bucket policy and replication configuration exactly as read before the attack.
Disruptive: on AWS both need ``--allow-prod``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from drills.actions.attacker import ROLES, assume, clients
from drills.aws import error_code
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import action, probe

# attempt -> (what a success means, severity when it succeeds)
DESTRUCTIVE = {"delete-versions", "shorten-retention", "delete-recovery-points", "delete-vaults", "drop-index"}
WEAKENING = {"remove-lock-default", "loosen-bucket-policy", "suspend-versioning", "delete-replication"}
ORDER = ("delete-versions", "overwrite", "shorten-retention", "remove-lock-default", "loosen-bucket-policy",
         "suspend-versioning", "delete-replication", "delete-recovery-points", "delete-vaults", "drop-index")


def _code(exc: Exception) -> str:
    return error_code(exc) or type(exc).__name__


class _Tally:
    """Per attempt: how many calls were made, which succeeded, which error codes came back."""

    def __init__(self) -> None:
        self.calls: dict[str, list[str | None]] = {}
        self.resources: dict[str, set[str]] = {}

    def call(self, attempt: str, resource: str, fn: Callable[[], Any]) -> bool:
        try:
            fn()
        except (ClientError, BotoCoreError) as exc:
            self.calls.setdefault(attempt, []).append(_code(exc))
            return False
        self.calls.setdefault(attempt, []).append(None)
        self.resources.setdefault(attempt, set()).add(resource)
        return True

    def outcome(self, attempt: str) -> tuple[str, str | None, int]:
        results = self.calls.get(attempt, [])
        if not results:
            return "not_attempted", None, 0
        ok = sum(1 for r in results if r is None)
        codes = Counter(r for r in results if r is not None)
        code = codes.most_common(1)[0][0] if codes else None
        outcome = "succeeded" if ok == len(results) else "denied" if ok == 0 else "partial"
        return outcome, code, len(results)


def _role(bypassGovernance: bool, attackerRole: str | None) -> str:
    return attackerRole or ("attacker-bypass" if bypassGovernance else "attacker")


def _plan(run: Any, bypassGovernance: bool = False, attackerRole: str | None = None, **_: Any) -> list[str]:
    out = run.ctx.outputs
    role = _role(bypassGovernance, attackerRole)
    arn = out.attackerBypassRoleArn if role == "attacker-bypass" else out.attackerRoleArn
    return [f"sts:AssumeRole {arn} (session drkit-ransomware-<run id>): every attempt below as the {role} role"
            if arn else f"no {role} role declared: attempts with the drill's own credentials (not verified)",
            f"s3:DeleteObject(+versions){' with governance bypass' if bypassGovernance else ''}, PutObject junk, "
            f"PutObjectRetention on sampled instances in {out.archiveBucket}",
            f"s3:PutObjectLockConfiguration/PutBucketPolicy/DeleteBucketPolicy/PutBucketVersioning/"
            f"DeleteBucketReplication on {out.archiveBucket} (restored by restore-protections)",
            f"backup:DeleteRecoveryPoint/DeleteBackupVault on {out.backupVault}, {out.drBackupVault}",
            f"dynamodb:DeleteTable {out.indexTable} only if deletion protection is on"]


@action("ransomware-attack", {"bypassGovernance": {"type": "boolean"}, "attackerRole": {"enum": list(ROLES)}},
        disruptive=True, plan=_plan)
def ransomware_attack(run: Any, bypassGovernance: bool = False, attackerRole: str | None = None) -> ProbeResult:
    """Attempt every attack in order as the stack's attacker role; count each attempt and outcome."""
    ctx = run.ctx
    out = ctx.outputs
    known = run.state.get("known_good")
    if not known:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no pre-attack manifest: run known-good-manifest first")
    s3 = ctx.client("s3", out.primaryRegion)              # the drill's own: listing and reads
    run.state.setdefault("incident_at", ctx.clock.now())
    run.state["protections"] = _snapshot_protections(s3, out.archiveBucket)
    identity = assume(ctx, _role(bypassGovernance, attackerRole))
    run.note("attacker-identity", identity.describe())
    client = clients(ctx, identity)
    attacker_s3 = client("s3", out.primaryRegion)
    bypass = {"BypassGovernanceRetention": True} if bypassGovernance else {}
    tally = _Tally()
    bucket = out.archiveBucket
    for item in known:                                                  # 1
        for version in _versions_of(s3, bucket, item["key"]):
            tally.call("delete-versions", bucket, lambda v=version: attacker_s3.delete_object(
                Bucket=bucket, Key=item["key"], VersionId=v, **bypass))
    for item in known:                                                  # 2
        junk = os.urandom(max(min(item["size"], 4096), 64))
        tally.call("overwrite", bucket, lambda i=item, j=junk: attacker_s3.put_object(
            Bucket=bucket, Key=i["key"], Body=j))
    until = ctx.clock.now() + timedelta(minutes=1)
    for item in known:                                                  # 3
        tally.call("shorten-retention", bucket, lambda i=item: _shorten(
            s3, attacker_s3, bucket, i, until, bypass))
    tally.call("remove-lock-default", bucket, lambda: attacker_s3.put_object_lock_configuration(   # 4
        Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}))
    public = {"Version": "2012-10-17", "Statement": [{"Sid": "AttackerPublicRead", "Effect": "Allow", "Principal": "*",
                                                      "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    tally.call("loosen-bucket-policy", bucket, lambda: attacker_s3.put_bucket_policy(     # 5
        Bucket=bucket, Policy=json.dumps(public)))
    tally.call("loosen-bucket-policy", bucket, lambda: attacker_s3.delete_bucket_policy(Bucket=bucket))
    tally.call("suspend-versioning", bucket, lambda: attacker_s3.put_bucket_versioning(      # 6
        Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}))
    tally.call("delete-replication", bucket, lambda: attacker_s3.delete_bucket_replication(Bucket=bucket))  # 7
    for region, vault in ((out.primaryRegion, out.backupVault), (out.drRegion, out.drBackupVault)):  # 8, 9
        backup = client("backup", region)
        for arn in _points(ctx.client("backup", region), vault):
            tally.call("delete-recovery-points", vault, lambda b=backup, v=vault, a=arn: b.delete_recovery_point(
                BackupVaultName=v, RecoveryPointArn=a))
    for region, vault in ((out.primaryRegion, out.backupVault), (out.drRegion, out.drBackupVault)):
        backup = client("backup", region)
        tally.call("delete-vaults", vault, lambda b=backup, v=vault: b.delete_backup_vault(BackupVaultName=v))
    protected = _deletion_protected(ctx.client("dynamodb", out.primaryRegion), out.indexTable)   # 10
    if protected:
        dynamodb = client("dynamodb", out.primaryRegion)
        tally.call("drop-index", out.indexTable, lambda: dynamodb.delete_table(TableName=out.indexTable))
    attempts = []
    for name in ORDER:
        outcome, code, count = tally.outcome(name)
        run.attempt(name, outcome, code, count)
        attempts.append({"action": name, "outcome": outcome, "error_code": code, "count": count,
                         "resources": sorted(tally.resources.get(name, ()))})
    run.state["attack"] = {"attempts": attempts, "bypass": bypassGovernance,
                           "index_deletion_protection": protected, "identity": identity.describe()}
    output = {"bypass_governance": bypassGovernance, "sampled": len(known),
              "attempts": {a["action"]: f"{a['outcome']} x{a['count']}" for a in attempts},
              "identity": identity.describe()}
    if not identity.verified:
        return ProbeResult(Status.NOT_VERIFIED, output, reason=identity.reason)
    return ProbeResult(Status.PASSED, output)


def _versions_of(s3: Any, bucket: str, key: str) -> list[str]:
    resp = s3.list_object_versions(Bucket=bucket, Prefix=key)
    found = [v["VersionId"] for v in resp.get("Versions", []) if v["Key"] == key]
    return found + [m["VersionId"] for m in resp.get("DeleteMarkers", []) if m["Key"] == key]


def _shorten(s3: Any, attacker_s3: Any, bucket: str, item: dict[str, Any], until: Any,
             bypass: dict[str, Any]) -> None:
    """Read the retention with the drill's client, shorten it with the attacker's."""
    current = s3.get_object_retention(Bucket=bucket, Key=item["key"], VersionId=item["version_id"])["Retention"]
    attacker_s3.put_object_retention(Bucket=bucket, Key=item["key"], VersionId=item["version_id"],
                                     Retention={"Mode": current["Mode"], "RetainUntilDate": until}, **bypass)


def _points(backup: Any, vault: str) -> list[str]:
    try:
        pages = backup.get_paginator("list_recovery_points_by_backup_vault").paginate(BackupVaultName=vault)
        return [p["RecoveryPointArn"] for page in pages for p in page.get("RecoveryPoints", [])]
    except (ClientError, BotoCoreError):
        return []


def _deletion_protected(dynamodb: Any, table: str) -> bool:
    try:
        return bool(dynamodb.describe_table(TableName=table)["Table"].get("DeletionProtectionEnabled"))
    except (ClientError, BotoCoreError):
        return False


def _snapshot_protections(s3: Any, bucket: str) -> dict[str, Any]:
    """The lock default, bucket policy and replication configuration as they are (None: absent)."""
    snap: dict[str, Any] = {}
    for name, fn, field in (("lock", s3.get_object_lock_configuration, "ObjectLockConfiguration"),
                            ("policy", s3.get_bucket_policy, "Policy"),
                            ("replication", s3.get_bucket_replication, "ReplicationConfiguration")):
        try:
            snap[name] = fn(Bucket=bucket)[field]
        except ClientError:
            snap[name] = None
    return snap


@probe("attack-contained", {})
def attack_contained(run: Any) -> ProbeResult:
    """Judge the attempts: a destructive success fails the drill; a weakening is a finding."""
    ctx = run.ctx
    out = ctx.outputs
    attack = run.state.get("attack")
    if not attack:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no attack was recorded")
    findings = []
    destroyed = []
    for a in attack["attempts"]:
        if a["outcome"] not in ("succeeded", "partial"):
            continue
        resource = ", ".join(a["resources"]) or out.archiveBucket
        if a["action"] in DESTRUCTIVE:
            destroyed.append(a["action"])
            findings.append(Finding(f"attack-{a['action']}-succeeded", Severity.CRITICAL, resource,
                                    f"an attacker's {a['action']} {a['outcome']} ({a['count']} call(s))"
                                    + (" using the governance-retention bypass" if attack["bypass"] else "")
                                    + _as(attack),
                                    {"attempt": a["action"], "outcome": a["outcome"], "count": a["count"],
                                     "identity": attack["identity"]["kind"]},
                                    remediation=_REMEDIATION.get(a["action"], "")))
        elif a["action"] in WEAKENING:
            findings.append(Finding(f"attack-{a['action']}-succeeded", Severity.HIGH, resource,
                                    f"an attacker's {a['action']} {a['outcome']}: a protection could be removed "
                                    f"(restored by the drill; data stayed locked){_as(attack)}",
                                    {"attempt": a["action"], "outcome": a["outcome"],
                                     "identity": attack["identity"]["kind"]},
                                    remediation=_REMEDIATION.get(a["action"], "")))
    if not attack["index_deletion_protection"]:
        # an exposure, not a destruction: the index is rebuilt from the archive (index-loss drill)
        findings.append(Finding("index-deletion-unprotected", Severity.HIGH, out.indexTable,
                                "the study index has no deletion protection: DeleteTable would succeed "
                                "(not attempted on the live index; it can be rebuilt from the archive)",
                                {"attempt": "drop-index"},
                                remediation="enable deletion protection on the index table (protected stack)"))
    output = {"destructive_succeeded": len(destroyed), "weakenings_succeeded": len(findings) - len(destroyed),
              "destructive": destroyed}
    status = Status.FAILED if destroyed else Status.PASSED
    return ProbeResult(status, output, tuple(findings),
                       reason=f"destructive attempt(s) succeeded: {', '.join(destroyed)}" if destroyed else "")


def _as(attack: dict[str, Any]) -> str:
    identity = attack["identity"]
    if identity["verified"]:
        return f" as the {identity['role']} role"
    return " with the drill's own credentials (attacker identity not verified)"


_REMEDIATION = {
    "delete-versions": "use Object Lock COMPLIANCE, or deny s3:BypassGovernanceRetention to every role (SCP)",
    "shorten-retention": "use Object Lock COMPLIANCE, or deny s3:BypassGovernanceRetention (SCP)",
    "delete-recovery-points": "lock the backup vaults (Vault Lock, compliance mode) with a minimum retention",
    "delete-vaults": "lock the backup vaults (Vault Lock)",
    "drop-index": "enable deletion protection on the index table",
    "remove-lock-default": "deny s3:PutBucketObjectLockConfiguration outside the deploy role (SCP)",
    "loosen-bucket-policy": "deny s3:PutBucketPolicy/DeleteBucketPolicy outside the deploy role (SCP); "
                            "keep Block Public Access on",
    "suspend-versioning": "keep Object Lock enabled (it forbids suspending versioning)",
    "delete-replication": "deny s3:PutReplicationConfiguration outside the deploy role (SCP); alarm on it",
}


@action("restore-protections", {}, disruptive=True,
        plan=lambda run, **_: [f"put back the lock default, bucket policy, replication of {run.ctx.outputs.archiveBucket}"])
def restore_protections(run: Any) -> ProbeResult:
    """Contain: put back the archive's lock default, bucket policy and replication exactly as before."""
    ctx = run.ctx
    bucket = ctx.outputs.archiveBucket
    before = run.state.get("protections")
    if before is None:
        return ProbeResult(Status.PASSED, {"restored": [], "note": "no attack ran: nothing to restore"})
    s3 = ctx.client("s3", ctx.outputs.primaryRegion)
    now = _snapshot_protections(s3, bucket)
    restored, failed = [], {}
    puts = {"lock": lambda v: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=v),
            "policy": lambda v: s3.put_bucket_policy(Bucket=bucket, Policy=v),
            "replication": lambda v: s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=v)}
    for name, value in before.items():
        if value is None or _same(now.get(name), value):
            continue
        try:
            puts[name](value)
            restored.append(name)
        except (ClientError, BotoCoreError) as exc:
            failed[name] = _code(exc)
    if failed:
        return ProbeResult(Status.FAILED, {"restored": restored, "failed": failed}, (Finding(
            "protections-not-restored", Severity.CRITICAL, bucket,
            f"could not put back {', '.join(failed)} after the attack", failed),),
            reason=f"could not restore {', '.join(failed)}")
    return ProbeResult(Status.PASSED, {"restored": restored})


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        try:
            return json.loads(a) == json.loads(b)
        except ValueError:
            return a == b
    return a == b
