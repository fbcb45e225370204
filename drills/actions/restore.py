"""Restores: AWS Backup recovery points into new run-named resources, and cold objects by tier.

``restore-backup`` restores the latest recovery points of the archive and the index (from
``backup-now``: the primary vault, or its copy in the DR vault) into a **new** bucket and a
**new** table named for the run (``drkit-restore-<p|dr>-<run id>``; a name equal to any live
resource is refused before any call), verifies them against the pre-drill manifest (every
in-scope key present at its size, the sampled instances hashed from downloaded bytes, every
in-scope index item back) and measures each restore's time against ``objectives.restoreHours``.
Rollbacks delete only the run's own restored bucket and tables.

``cold-restore`` puts drill copies of a sample into GLACIER (Flexible Retrieval) and
DEEP_ARCHIVE directly (PutObject with a storage class — the same state a lifecycle transition
leaves, without advancing the clock by months), checks a GET is refused before a restore
(``InvalidObjectState``), restores them with the chosen tier (``--restore-tier``, else the
document's), measures the time until readable and hashes the bytes. A tier whose documented
upper bound (``drills.storage_classes``) exceeds ``restoreHours`` is flagged as a finding.

``backup-coverage`` reports in-scope studies held in GLACIER/DEEP_ARCHIVE: AWS Backup for S3
does not back up objects in those classes, so they are not protected by backup.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from drills.actions.backup import backup_role
from drills.contracts import IndexItem
from drills.engine.clock import poll
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import action, probe
from drills.probes import listing
from drills.probes.common import measure
from drills.probes.known_good import sample_instances, sha256_of
from drills.storage_classes import ARCHIVE_CLASSES, restore_hours

_DONE = ("COMPLETED", "FAILED", "ABORTED")


def restore_names(run: Any, source: str) -> tuple[str, str]:
    """(bucket, table) for this run's restore from ``source``; never a live resource's name."""
    tag = "p" if source == "primary" else "dr"
    stem = f"drkit-restore-{tag}-{run.ctx.run_id.lower()}"[:63].rstrip("-")
    return stem, f"{run.ctx.outputs.indexTable}-restore-{tag}-{run.ctx.run_id}"[:255]


def _live(ctx: Any) -> set[str]:
    out = ctx.outputs
    return {out.archiveBucket, out.replicaBucket, out.landingBucket, out.evidenceBucket, out.indexTable}


def _plan(run: Any, source: str = "primary") -> list[str]:
    bucket, table = restore_names(run, source)
    return [f"backup:StartRestoreJob into new bucket {bucket} and new table {table} (never the live ones)"]


@action("restore-backup", {"source": {"enum": ["primary", "dr"]}}, required=["source"], plan=_plan)
def restore_backup(run: Any, source: str) -> ProbeResult:
    """Restore the latest archive and index recovery points into new run-named resources; verify."""
    ctx = run.ctx
    out = ctx.outputs
    points = run.state.get("recovery_points")
    if not points:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no recovery points: run backup-now first")
    bucket, table = restore_names(run, source)
    if {bucket, table} & _live(ctx):
        return ProbeResult(Status.ERROR, {}, reason="refused: a restore target has a live resource's name")
    region = out.primaryRegion if source == "primary" else out.drRegion
    backup = ctx.client("backup", region)
    role = backup_role(ctx)
    if role is None:
        return ProbeResult(Status.FAILED, {}, reason="the stack has no backup role")
    objective = float(out.objectives.restoreHours) * 3600.0
    restored = run.state.setdefault("restored", [])
    output: dict[str, Any] = {"source": source, "region": region}
    for name, metadata in (("archive", {"DestinationBucketName": bucket, "NewBucket": "true"}),
                           ("index", {"targetTableName": table})):
        arn = points.get(name, {}).get(source)
        if not arn:
            return ProbeResult(Status.FAILED, output, (Finding(
                "no-recovery-point-in-vault", Severity.HIGH, out.backupVault if source == "primary" else out.drBackupVault,
                f"no recovery point of the {name} in the {source} vault to restore from", {"resource": name}),),
                reason=f"no {name} recovery point in the {source} vault")
        start = ctx.clock.now()
        try:
            job = backup.start_restore_job(RecoveryPointArn=arn, Metadata=metadata, IamRoleArn=role)
            restored.append((region, "bucket" if name == "archive" else "table",
                             bucket if name == "archive" else table))
            state = _wait(ctx, run, lambda j=job["RestoreJobId"]: backup.describe_restore_job(RestoreJobId=j))
        except (ClientError, BotoCoreError) as exc:
            return ProbeResult(Status.FAILED, output, reason=f"restore of the {name} refused: {exc}")
        end = ctx.clock.now()
        if state.get("Status") != "COMPLETED":
            return ProbeResult(Status.FAILED, output, reason=f"restore of the {name} ended {state.get('Status')}: "
                               f"{state.get('StatusMessage')}")
        run.phase(f"{name} restored from {source}", start, end)
        measure(run, "restore_time", (end - start).total_seconds(), objective, resource=name, source=source)
        output[f"{name}_restore_s"] = (end - start).total_seconds()
    checked = _verify_restored(run, region, bucket, table)
    output.update(checked)
    bad = checked["missing_keys"] + checked["size_mismatch"] + checked["hash_mismatch"] + checked["index_missing"]
    if bad:
        return ProbeResult(Status.FAILED, output, (Finding(
            "restore-incomplete", Severity.CRITICAL, out.backupVault if source == "primary" else out.drBackupVault,
            f"the restore from the {source} vault does not match the pre-drill manifest", checked),))
    return ProbeResult(Status.PASSED, output)


def _verify_restored(run: Any, region: str, bucket: str, table: str) -> dict[str, int]:
    return {**verify_bucket(run, region, bucket), **verify_table(run, region, table)}


def verify_bucket(run: Any, region: str, bucket: str) -> dict[str, int]:
    """A restored bucket against the pre-drill manifest: every in-scope key present at its size,
    the sampled known-good instances hashed from downloaded bytes."""
    ctx = run.ctx
    s3 = ctx.client("s3", region)
    expected = {i["key"]: i for i in sample_instances(run, 100000)}
    latest = {k: v for k, v in listing.latest(listing.versions(s3, bucket, ctx.scope_prefix)).items()
              if not v.delete_marker}
    sizes = {i.key: i.size for i in (ctx.manifest.instances if ctx.manifest else [])}
    missing = [k for k in expected if k not in latest]
    size_bad = [k for k in expected if k in latest and k in sizes and latest[k].size != sizes[k]]
    hash_bad = 0
    known = run.state.get("known_good") or []
    for item in known:
        try:
            digest, _ = sha256_of(s3, bucket, item["key"])
        except ClientError:
            digest = None
        hash_bad += digest != item["sha256"]
    return {"expected_keys": len(expected), "restored_keys": len(latest), "missing_keys": len(missing),
            "size_mismatch": len(size_bad), "hashed": len(known), "hash_mismatch": hash_bad}


def verify_table(run: Any, region: str, table: str) -> dict[str, int]:
    """A restored index table against the pre-drill index snapshot: every item back."""
    before = run.state.get("index_before") or {}
    items = set()
    dynamodb = run.ctx.client("dynamodb", region)
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for raw in page.get("Items", []):
            item = IndexItem.from_item({k: TypeDeserializer().deserialize(v) for k, v in raw.items()})
            items.add((item.study_instance_uid, item.sort_key))
    return {"index_items": len(items), "index_missing": len(set(before) - items)}


def _wait(ctx: Any, run: Any, describe: Any) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def finished() -> bool:
        box.update(describe())
        return box.get("Status") in _DONE

    poll(ctx.clock, finished, timeout_s=run.timeout_s, interval_s=60.0)
    return box


@action("drop-restored", {}, plan=lambda run, **_: ["delete this run's restored bucket(s) and table(s) only"])
def drop_restored(run: Any) -> ProbeResult:
    """Delete what this run restored (never a live resource)."""
    ctx = run.ctx
    mine = {n for s in ("primary", "dr") for n in restore_names(run, s)}
    dropped, failed = 0, []
    for region, kind, name in run.state.get("restored", []):
        if name not in mine or name in _live(ctx):
            continue
        try:
            if kind == "table":
                ctx.client("dynamodb", region).delete_table(TableName=name)
            else:
                _empty_and_delete(ctx.client("s3", region), name)
            dropped += 1
        except (ClientError, BotoCoreError) as exc:
            failed.append(f"{kind}: {exc}"[:160])
    if failed:
        return ProbeResult(Status.ERROR, {"dropped": dropped}, reason=f"could not drop: {failed[0]}")
    return ProbeResult(Status.PASSED, {"dropped": dropped})


def _empty_and_delete(s3: Any, bucket: str) -> None:
    for version in listing.versions(s3, bucket, ""):
        s3.delete_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
    s3.delete_bucket(Bucket=bucket)


@action("cold-restore", {"tier": {"enum": ["Expedited", "Standard", "Bulk"]},
                         "classes": {"type": "array", "items": {"enum": list(ARCHIVE_CLASSES)}, "minItems": 1}},
        plan=lambda run, **_: [f"s3:PutObject drill copies (GLACIER, DEEP_ARCHIVE) under {run.ctx.drill_prefix} "
                               f"in {run.ctx.outputs.archiveBucket}, s3:RestoreObject"])
def cold_restore(run: Any, tier: str = "Standard", classes: list[str] | None = None) -> ProbeResult:
    """Drill copies in cold classes, restored with a tier; time until readable; flag slow tiers."""
    ctx = run.ctx
    out = ctx.outputs
    tier = ctx.restore_tier or tier
    classes = classes or list(ARCHIVE_CLASSES)
    s3 = ctx.client("s3", out.primaryRegion)
    objective_h = float(out.objectives.restoreHours)
    source = sample_instances(run, 1)
    if not source:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"nothing under {ctx.scope_prefix} to copy")
    body = s3.get_object(Bucket=out.archiveBucket, Key=source[0]["key"], VersionId=source[0]["version_id"])["Body"].read()
    digest = hashlib.sha256(body).hexdigest()
    results: dict[str, Any] = {}
    findings = []
    for cls in classes:
        key = f"{ctx.drill_prefix}{ctx.run_id}/cold/{cls.lower()}.dcm"
        documented = restore_hours(cls, tier)
        if documented is None:
            results[cls] = {"tier": tier, "available": False}
            findings.append(Finding("restore-tier-unavailable", Severity.MEDIUM, out.archiveBucket,
                                    f"the {tier} tier is not offered for {cls}", {"class": cls, "tier": tier}))
            continue
        put = s3.put_object(Bucket=out.archiveBucket, Key=key, Body=body, StorageClass=cls, ChecksumAlgorithm="SHA256",
                            ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode())
        version = put.get("VersionId")
        refused = None
        try:
            s3.get_object(Bucket=out.archiveBucket, Key=key, VersionId=version)
        except ClientError as exc:
            refused = exc.response.get("Error", {}).get("Code")
        start = ctx.clock.now()
        s3.restore_object(Bucket=out.archiveBucket, Key=key, VersionId=version,
                          RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": tier}})
        done = poll(ctx.clock, lambda: 'ongoing-request="false"' in (s3.head_object(
            Bucket=out.archiveBucket, Key=key, VersionId=version).get("Restore") or ""),
            timeout_s=run.timeout_s, interval_s=300.0 if tier != "Expedited" else 30.0)
        end = ctx.clock.now()
        readable = False
        if done.satisfied:
            readable = sha256_of(s3, out.archiveBucket, key, version)[0] == digest
        hours = (end - start).total_seconds() / 3600.0
        results[cls] = {"tier": tier, "get_before_restore": refused, "restored": done.satisfied,
                        "byte_identical": readable, "hours": round(hours, 3),
                        "documented_hours": [documented[0], documented[1]]}
        measure(run, f"cold_restore_time_{cls.lower()}", (end - start).total_seconds() if done.satisfied else None,
                None, tier=tier, documented_upper_hours=documented[1], objective_hours=objective_h,
                meets_objective=hours <= objective_h if done.satisfied else None)
        if documented[1] > objective_h:
            findings.append(Finding("restore-tier-too-slow", Severity.HIGH, out.archiveBucket,
                                    f"{cls} with the {tier} tier is documented to take up to {documented[1]:g} h, "
                                    f"longer than the restore objective of {objective_h:g} h",
                                    {"class": cls, "tier": tier, "documented_upper_hours": documented[1],
                                     "measured_hours": round(hours, 3)},
                                    remediation="keep studies that must meet restoreHours in a class that can, "
                                                "or plan Expedited retrievals (GLACIER only)"))
    broken = [c for c, r in results.items() if r.get("available", True) and not (r["restored"] and r["byte_identical"]
                                                                                   and r["get_before_restore"])]
    output = {"tier": tier, "classes": results, "flagged": len([f for f in findings if f.code == "restore-tier-too-slow"])}
    if broken:
        return ProbeResult(Status.FAILED, output, tuple(findings), reason=f"cold restore failed for {', '.join(broken)}")
    return ProbeResult(Status.PASSED, output, tuple(findings))


@probe("backup-coverage", {})
def backup_coverage(run: Any) -> ProbeResult:
    """In-scope studies in GLACIER/DEEP_ARCHIVE: AWS Backup does not protect those objects."""
    ctx = run.ctx
    out = ctx.outputs
    s3 = ctx.client("s3", out.primaryRegion)
    cold_studies: set[str] = set()
    cold_objects = total = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=out.archiveBucket, Prefix=ctx.scope_prefix):
            for obj in page.get("Contents", []):
                total += 1
                if obj.get("StorageClass") in ARCHIVE_CLASSES:
                    cold_objects += 1
                    cold_studies.add(obj["Key"].split("/")[1] if obj["Key"].count("/") >= 2 else obj["Key"])
    except (ClientError, BotoCoreError) as exc:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"cannot list the archive: {exc}")
    output = {"objects": total, "cold_objects": cold_objects, "studies_not_protected_by_backup": len(cold_studies),
              "basis": "AWS Backup for S3 does not back up objects in S3 Glacier Flexible Retrieval or Deep Archive"}
    if cold_studies:
        return ProbeResult(Status.PASSED, output, (Finding(
            "cold-studies-not-backed-up", Severity.MEDIUM, out.archiveBucket,
            f"{len(cold_studies)} stud(ies) have objects in GLACIER/DEEP_ARCHIVE: AWS Backup does not protect them; "
            "their protection is Object Lock + replication only", {"studies": len(cold_studies),
                                                                   "objects": cold_objects}),))
    return ProbeResult(Status.PASSED, output)
