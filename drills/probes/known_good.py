"""The pre-incident manifest a loss drill recovers to, and the check that it did.

``known-good-manifest`` picks a deterministic sample of in-scope instances (or of whole
studies), downloads each and records its key, version id, size and the SHA-256 *of the
downloaded bytes* (never the checksum metadata S3 stores — the simulation copies that), plus
its index item. ``verify-recovered`` later downloads the latest version of every key and
hashes it again: a recovery counts only when the bytes are identical. Labels are opaque
(``instance-<n>``); study keys are never put in outputs.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from botocore.exceptions import ClientError

from drills.contracts import INDEX_PARTITION_KEY, INDEX_SORT_KEY, index_sort_key
from drills.engine.clock import poll
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import probe
from drills.probes import listing
from drills.probes.common import boto_errors


def sample_instances(run: Any, count: int, *, whole_studies: bool = False) -> list[dict[str, Any]]:
    """``count`` instances (or every instance of ``count`` studies), spread over the scope."""
    ctx = run.ctx
    if ctx.manifest is not None and len(ctx.manifest):
        items = [{"key": i.key, "version_id": i.version_id, "study": i.study_uid, "series": i.series_uid,
                  "sop": i.sop_uid} for i in ctx.manifest.instances if ctx.in_scope(i.key)]
    else:
        latest = listing.latest(listing.versions(ctx.client("s3", ctx.outputs.primaryRegion),
                                                 ctx.outputs.archiveBucket, ctx.scope_prefix))
        items = []
        for key in sorted(latest):
            version = latest[key]
            parts = key.split("/")
            if version.delete_marker or len(parts) < 4:
                continue
            items.append({"key": key, "version_id": version.version_id, "study": parts[1], "series": parts[2],
                          "sop": parts[3].removesuffix(".dcm")})
    items.sort(key=lambda i: i["key"])
    if whole_studies:
        studies = sorted({i["study"] for i in items})
        step = max(len(studies) // max(count, 1), 1)
        chosen = set(studies[::step][:count])
        picked = [i for i in items if i["study"] in chosen]
    else:
        step = max(len(items) // max(count, 1), 1)
        picked = items[::step][:count]
    return [dict(i, label=f"instance-{n}") for n, i in enumerate(picked)]


def _plant_bait(run: Any, s3: Any, chosen: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Copy each sampled instance under the drill prefix; wait until the copies are in DR."""
    ctx = run.ctx
    out = ctx.outputs
    prefix = f"{ctx.drill_prefix}{ctx.run_id}/{run.scenario.name}/"
    planted = []
    for item in chosen:
        body = s3.get_object(Bucket=out.archiveBucket, Key=item["key"], VersionId=item["version_id"])["Body"].read()
        key = prefix + item["key"].removeprefix(ctx.scope_prefix)
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        resp = s3.put_object(Bucket=out.archiveBucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                             ChecksumSHA256=checksum, ContentType="application/dicom")
        planted.append(dict(item, key=key, version_id=resp.get("VersionId"), source="drill copy"))
    replica = ctx.client("s3", out.drRegion)

    def replicated() -> bool:
        for item in planted:
            try:
                replica.head_object(Bucket=out.replicaBucket, Key=item["key"], VersionId=item["version_id"])
            except ClientError:
                return False
        return True

    return planted if poll(ctx.clock, replicated, timeout_s=run.timeout_s, interval_s=60.0).satisfied else None


def sha256_of(s3: Any, bucket: str, key: str, version_id: str | None = None) -> tuple[str, int]:
    kwargs = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    body = s3.get_object(**kwargs)["Body"].read()
    return hashlib.sha256(body).hexdigest(), len(body)


@probe("known-good-manifest", {"sample": {"type": "integer", "minimum": 1, "maximum": 1000},
                               "studies": {"type": "integer", "minimum": 1, "maximum": 100},
                               "bait": {"type": "boolean"}})
def known_good_manifest(run: Any, sample: int = 4, studies: int | None = None, bait: bool = False) -> ProbeResult:
    """Record the pre-incident manifest of a sample: version ids + SHA-256 of downloaded bytes + index items.

    ``bait``: the sample is first copied (byte for byte) under the drill prefix
    (``<drill prefix><run id>/<scenario>/…``, same bucket, same Object Lock default) and the
    drill works on the copies, so production keys are never overwritten; the copies must have
    reached the DR replica before the manifest is taken."""
    ctx = run.ctx
    out = ctx.outputs
    s3 = ctx.client("s3", out.primaryRegion)
    table = ctx.client("dynamodb", out.primaryRegion)
    try:
        chosen = sample_instances(run, studies or sample, whole_studies=studies is not None)
        if bait:
            chosen = _plant_bait(run, s3, chosen)
            if chosen is None:
                return ProbeResult(Status.FAILED, {}, reason="the drill's copies did not reach the DR replica "
                                   f"within {run.timeout_s:g} s")
        for item in chosen:
            if bait:
                item["sha256"], item["size"] = sha256_of(s3, out.archiveBucket, item["key"], item["version_id"])
                item["index_item"] = None
                continue
            item["sha256"], item["size"] = sha256_of(s3, out.archiveBucket, item["key"], item["version_id"])
            resp = table.get_item(TableName=out.indexTable, ConsistentRead=True,
                                  Key={INDEX_PARTITION_KEY: {"S": item["study"]},
                                       INDEX_SORT_KEY: {"S": index_sort_key(item["series"], item["sop"])}})
            item["index_item"] = resp.get("Item")
    except boto_errors() as exc:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"cannot read the pre-incident state: {exc}")
    if not chosen:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"no instances under {ctx.scope_prefix} to protect")
    run.state["known_good"] = chosen
    unindexed = [i["label"] for i in chosen if i["index_item"] is None and not bait]
    return ProbeResult(Status.PASSED, {"bait": bait, "instances": len(chosen), "studies": len({i["study"] for i in chosen}),
                                       "bytes": sum(i["size"] for i in chosen), "unindexed": len(unindexed),
                                       "hashed": "SHA-256 of downloaded bytes"})


@probe("verify-recovered", {"replica": {"type": "boolean"},
                             "settleSeconds": {"type": "number", "minimum": 0, "maximum": 86400}})
def verify_recovered(run: Any, replica: bool = False, settleSeconds: float = 0.0) -> ProbeResult:
    """Download the latest version of every known-good key (and, with ``replica``, from the DR
    replica too, waiting up to ``settleSeconds`` for replication) and compare its SHA-256 with
    the pre-incident manifest; check the index items."""
    ctx = run.ctx
    known = run.state.get("known_good")
    if not known:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no pre-incident manifest was recorded")
    result = _verify_once(run, known, replica)
    waited = 0.0
    while result.status is Status.FAILED and waited < settleSeconds:
        step = min(60.0, settleSeconds - waited)
        ctx.clock.wait(step)
        waited += step
        result = _verify_once(run, known, replica)
    if replica:
        result.output["replica_settle_s"] = waited
    return result


def _verify_once(run: Any, known: list[dict[str, Any]], replica: bool) -> ProbeResult:
    ctx = run.ctx
    out = ctx.outputs
    places = [("primary", ctx.client("s3", out.primaryRegion), out.archiveBucket)]
    if replica:
        places.append(("replica", ctx.client("s3", out.drRegion), out.replicaBucket))
    bad: dict[str, list[str]] = {}
    identical = 0
    latest_primary: dict[str, str | None] = {}
    for where, s3, bucket in places:
        for item in known:
            try:
                head = s3.head_object(Bucket=bucket, Key=item["key"])
                digest, _ = sha256_of(s3, bucket, item["key"], head.get("VersionId"))
            except boto_errors():
                bad.setdefault(f"{where}_unreadable", []).append(item["label"])
                continue
            if where == "primary":
                latest_primary[item["key"]] = head.get("VersionId")
            elif head.get("VersionId") != latest_primary.get(item["key"]):
                bad.setdefault("replica_behind", []).append(item["label"])
                continue
            if digest == item["sha256"]:
                identical += 1
            else:
                bad.setdefault(f"{where}_mismatch", []).append(item["label"])
    index_bad = _index_mismatches(run, known)
    if index_bad:
        bad["index_mismatch"] = index_bad
    output = {"instances": len(known), "checked": len(known) * len(places), "byte_identical": identical,
              **{k: len(v) for k, v in bad.items()}}
    if bad:
        resource = out.replicaBucket if any(k.startswith("replica") for k in bad) else out.archiveBucket
        if set(bad) == {"index_mismatch"}:
            resource = out.indexTable
        return ProbeResult(Status.FAILED, output, (Finding(
            "recovery-not-byte-identical", Severity.CRITICAL, resource,
            "after recovery, instances are not byte-identical to the pre-incident manifest or the index differs",
            {k: v[:50] for k, v in bad.items()}),))
    return ProbeResult(Status.PASSED, output)


def _index_mismatches(run: Any, known: list[dict[str, Any]]) -> list[str]:
    """Labels whose index item is gone or points at a version that does not hold the known bytes."""
    ctx = run.ctx
    out = ctx.outputs
    table = ctx.client("dynamodb", out.primaryRegion)
    bad = []
    for item in known:
        if item.get("index_item") is None:
            continue
        resp = table.get_item(TableName=out.indexTable, ConsistentRead=True,
                              Key={INDEX_PARTITION_KEY: {"S": item["study"]},
                                   INDEX_SORT_KEY: {"S": index_sort_key(item["series"], item["sop"])}})
        now = resp.get("Item")
        if now is None:
            bad.append(item["label"])
            continue
        version = now.get("VersionId", {}).get("S")
        if version != item["index_item"].get("VersionId", {}).get("S") and version != item.get("recovered_version"):
            bad.append(item["label"])
    return bad
