"""Recover instances to their last known-good version (the pre-incident manifest of
``known-good-manifest``): the known-good version is copied back on top (CopyObject with its
version id), from the DR replica when the primary no longer has it (a versioned delete is never
replicated, so the replica keeps it). A copy refused by the bucket is retried as GET + PUT with
the SHA-256 checksum of the bytes, and the journal says so. Where the index names a version that
no longer exists, its item is pointed at the recovered version.

``recovery_time`` (simulated on the embedded cloud) is measured from the incident — the first
attack or deletion recorded by the method — to the last instance recovered, against the stack's
RTO.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.contracts import INDEX_PARTITION_KEY, INDEX_SORT_KEY, index_sort_key
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import action
from drills.probes.common import measure, seconds
from drills.probes.known_good import sha256_of


def _exists(s3: Any, bucket: str, key: str, version_id: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
        return True
    except ClientError:
        return False


@action("recover-known-good", {}, disruptive=True,
        plan=lambda run, **_: [f"s3:CopyObject known-good versions back into {run.ctx.outputs.archiveBucket}"])
def recover_known_good(run: Any) -> ProbeResult:
    """Put every affected instance back to its known-good version; fix the index where needed."""
    ctx = run.ctx
    out = ctx.outputs
    known = run.state.get("known_good")
    if not known:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no pre-incident manifest was recorded")
    s3 = ctx.client("s3", out.primaryRegion)
    counts = {"intact": 0, "copied": 0, "copied_from_replica": 0, "get_put_fallback": 0, "index_repointed": 0}
    lost: list[str] = []
    for item in known:
        try:
            digest, _ = sha256_of(s3, out.archiveBucket, item["key"])
        except ClientError:
            digest = None
        if digest == item["sha256"]:
            counts["intact"] += 1
            continue
        try:
            new_version, how = _put_back(ctx, item)
        except (ClientError, BotoCoreError):
            lost.append(item["label"])
            continue
        counts[how] += 1
        item["recovered_version"] = new_version
        if item.get("index_item") and not _exists(s3, out.archiveBucket, item["key"], item["version_id"]):
            _repoint_index(ctx, item, new_version)
            counts["index_repointed"] += 1
    end = ctx.clock.now()
    start = run.state.get("incident_at", end)
    run.phase("recovered", start, end)
    measure(run, "recovery_time", (end - start).total_seconds(), seconds(out.objectives.rtoMinutes),
            met=False if lost else None, instances=len(known), unrecoverable=len(lost),
            note="copies take no time on the virtual clock" if ctx.clock.simulated else "")
    output = {"instances": len(known), **counts, "unrecoverable": len(lost),
              "copy_refused_codes": sorted({i["copy_refused"] for i in known if i.get("copy_refused")})}
    if lost:
        return ProbeResult(Status.FAILED, output, (Finding(
            "instances-unrecoverable", Severity.CRITICAL, out.archiveBucket,
            f"{len(lost)} instance(s) have no known-good version left in the archive or the replica",
            {"labels": lost[:50]}),))
    return ProbeResult(Status.PASSED, output)


def _put_back(ctx: Any, item: dict[str, Any]) -> tuple[str | None, str]:
    """Copy the known-good version on top; from the replica when the primary lost it."""
    out = ctx.outputs
    s3 = ctx.client("s3", out.primaryRegion)
    if _exists(s3, out.archiveBucket, item["key"], item["version_id"]):
        source = {"Bucket": out.archiveBucket, "Key": item["key"], "VersionId": item["version_id"]}
        try:
            resp = s3.copy_object(Bucket=out.archiveBucket, Key=item["key"], CopySource=source,
                                  ChecksumAlgorithm="SHA256")
            return resp.get("VersionId"), "copied"
        except ClientError as exc:
            item["copy_refused"] = exc.response.get("Error", {}).get("Code", "ClientError")
            body = s3.get_object(**source)["Body"].read()
            return _put(s3, out.archiveBucket, item["key"], body), "get_put_fallback"
    replica = ctx.client("s3", out.drRegion)
    body = replica.get_object(Bucket=out.replicaBucket, Key=item["key"], VersionId=item["version_id"])["Body"].read()
    return _put(s3, out.archiveBucket, item["key"], body), "copied_from_replica"


def _put(s3: Any, bucket: str, key: str, body: bytes) -> str | None:
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    resp = s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
                         ContentType="application/dicom")
    return resp.get("VersionId")


def _repoint_index(ctx: Any, item: dict[str, Any], version: str | None) -> None:
    table = ctx.client("dynamodb", ctx.outputs.primaryRegion)
    table.update_item(TableName=ctx.outputs.indexTable,
                      Key={INDEX_PARTITION_KEY: {"S": item["study"]},
                           INDEX_SORT_KEY: {"S": index_sort_key(item["series"], item["sop"])}},
                      UpdateExpression="SET VersionId = :v", ExpressionAttributeValues={":v": {"S": version or "null"}})
