"""Index loss: rebuild the study index from the archive by reading header bytes only.

The live index is never deleted: it is snapshotted (``index-snapshot``), then treated as lost —
the rebuild does not read it — and rebuilt into a **new table named for the run**
(``<index>-rebuild-<source>-<run id>``) from the archive bucket, or, with the primary region
down, from the DR replica bucket into a table in the DR region. Each instance's header is read
through ranged GETs (``Range: bytes=a-b``) by the ingest reader (``drills.ingest.reader``), so
the bytes fetched are a small fraction of the object; version id, size and checksum come from
HEAD; patient identifiers are hashed with the stack's own key (the secret its outputs name,
replicated to DR).
``compare-rebuilt-index`` compares item by item with the snapshot. Rollbacks drop the run's
tables only.

Not reconstructible from the archive: ``IngestedAt`` (the rebuild writes the object's
LastModified) and ``Conflicts`` (history the index alone kept); both are left out of the
comparison and named in the output.

When the stack has a SOP Instance UID claims table (output ``claimsTable``), the rebuild also
rebuilds the claims into ``<claims>-rebuild-<source>-<run id>``: one claim per SOP Instance UID,
held by the item whose object was written first (LastModified, then key) — the ingest that
claimed it first; the others are counted as reused UIDs — then the table's completeness
marker (drills.ingest.claims), as it claims every rebuilt item's UID. ``index-snapshot`` reads
the live claims too and ``compare-rebuilt-index`` compares them claim by claim.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from drills.contracts import (CLAIMS_PARTITION_KEY, CLAIMS_TABLE_DEFINITION, INDEX_ATTRIBUTE_DEFINITIONS,
                              INDEX_KEY_SCHEMA, IndexItem, specialty_for)
from drills.engine.clock import poll
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import action, probe
from drills.errors import DrkitError, InfraError
from drills.ingest.claims import is_marker, write_marker
from drills.ingest.failures import infra_error
from drills.ingest.index import BATCH_WRITE_LIMIT, MAX_ATTEMPTS, backoff_delay, claim_holder, claim_item
from drills.ingest.pseudonym import Pseudonymizer, replica_secret_id
from drills.ingest.reader import RejectedInput, read_header
from drills.probes import listing
from drills.probes.common import boto_errors, measure, seconds

COMPARED = ("study_instance_uid", "series_instance_uid", "sop_instance_uid", "sop_class_uid", "modality",
            "specialty", "study_date", "size", "checksum_sha256", "version_id", "key", "patient_id_hash",
            "accession_hash", "transfer_syntax_uid")
NOT_RECONSTRUCTIBLE = ("ingested_at", "conflicts")
WRITTEN_BY = "drkit rebuild-index"          # the rebuilt claims table's completeness marker
_serialize = TypeSerializer().serialize


class RangedObject:
    """A seekable read-only view of one S3 object version: every read is a ranged GET."""

    def __init__(self, s3: Any, bucket: str, key: str, version_id: str | None, size: int) -> None:
        self._s3, self._bucket, self._key, self._version, self.size = s3, bucket, key, version_id, size
        self._pos = 0
        self.requests = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = {0: 0, 1: self._pos, 2: self.size}[whence] + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self._pos + n, self.size)
        if end <= self._pos:
            return b""
        kwargs = {"Bucket": self._bucket, "Key": self._key, "Range": f"bytes={self._pos}-{end - 1}",
                  **({"VersionId": self._version} if self._version else {})}
        data = self._s3.get_object(**kwargs)["Body"].read()
        self.requests += 1
        self._pos += len(data)
        return data


def _table_name(run: Any, source: str) -> str:
    return f"{run.ctx.outputs.indexTable}-rebuild-{source}-{run.ctx.run_id}"[:255]


def _claims_name(run: Any, source: str) -> str | None:
    claims = run.ctx.outputs.claimsTable
    return f"{claims}-rebuild-{source}-{run.ctx.run_id}"[:255] if claims else None


def claims_of(items: list[IndexItem]) -> tuple[dict[str, tuple[str, str]], int]:
    """(SOP Instance UID -> (StudyInstanceUID, SeriesSop) of the item holding it, how many items
    reuse a UID another holds): the first written (IngestedAt, then key) holds each UID."""
    claims: dict[str, tuple[str, str]] = {}
    reused = 0
    for item in sorted(items, key=lambda i: (i.ingested_at, i.key)):
        if item.sop_instance_uid in claims:
            reused += 1
        else:
            claims[item.sop_instance_uid] = (item.study_instance_uid, item.sort_key)
    return claims, reused


def read_claims(dynamodb: Any, table: str) -> dict[str, tuple[str, str]]:
    """Every claim of a claims table (consistent scan); its completeness marker is no claim."""
    found: dict[str, tuple[str, str]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for raw in page.get("Items", []):
            holder = None if is_marker(raw) else claim_holder(raw)
            if holder is not None:          # a damaged claim (no holder) then differs from the rebuilt one
                found[raw[CLAIMS_PARTITION_KEY]["S"]] = holder
    return found


def write_claims(dynamodb: Any, table: str, claims: dict[str, tuple[str, str]], written_at: datetime, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
    """Write ``claims`` into a new, empty claims table, then its completeness marker (the
    table claims every rebuilt item's UID, so ingest pointed at the rebuilt pair trusts it:
    drills.ingest.claims). BatchWriteItem, 25 a request; ``UnprocessedItems`` are retried
    with exponential backoff, as the API reference asks
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html),
    up to MAX_ATTEMPTS requests. InfraError when a request fails or items stay unprocessed."""
    puts = [{"PutRequest": {"Item": claim_item(sop, holder)}} for sop, holder in sorted(claims.items())]
    for start in range(0, len(puts), BATCH_WRITE_LIMIT):
        pending = puts[start:start + BATCH_WRITE_LIMIT]
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                sleep(backoff_delay(attempt - 1))
            try:
                response = dynamodb.batch_write_item(RequestItems={table: pending})
            except boto_errors() as exc:
                raise infra_error(exc, f"write claims to {table}") from exc
            pending = (response.get("UnprocessedItems") or {}).get(table, [])
            if not pending:
                break
        if pending:
            raise InfraError(f"write claims to {table}: {len(pending)} claim(s) still unprocessed after "
                             f"{MAX_ATTEMPTS} BatchWriteItem requests")
    write_marker(dynamodb, table, WRITTEN_BY, written_at)


def _pseudonymizer(ctx: Any, region: str) -> Pseudonymizer:
    """The stack's hash key in ``region``: the secret its outputs name (that secret's replica
    in the DR region), else the region's one tagged secret (schemaVersion 1 outputs)."""
    arn = ctx.outputs.hashKeySecretArn
    if arn:
        return Pseudonymizer.from_secret_id(ctx.target, region, replica_secret_id(arn, region))
    return Pseudonymizer.from_secret(ctx.target, region)


def _in_scope(item: IndexItem, prefix: str) -> bool:
    return item.key.startswith(prefix)


@probe("index-snapshot", {})
def index_snapshot(run: Any) -> ProbeResult:
    """The live index's items for the scope, before the loss (read once; never written)."""
    ctx = run.ctx
    table = ctx.client("dynamodb", ctx.outputs.primaryRegion)
    items: dict[tuple[str, str], IndexItem] = {}
    try:
        for page in table.get_paginator("scan").paginate(TableName=ctx.outputs.indexTable, ConsistentRead=True):
            for raw in page.get("Items", []):
                item = IndexItem.from_item({k: TypeDeserializer().deserialize(v) for k, v in raw.items()})
                if _in_scope(item, ctx.scope_prefix):
                    items[(item.study_instance_uid, item.sort_key)] = item
    except boto_errors() as exc:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"cannot read the index before the drill: {exc}")
    if not items:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="the index holds nothing in scope to compare with")
    run.state["index_before"] = items
    output = {"items": len(items), "studies": len({k[0] for k in items})}
    if ctx.outputs.claimsTable:
        try:
            claims = read_claims(table, ctx.outputs.claimsTable)
        except boto_errors() as exc:
            return ProbeResult(Status.NOT_VERIFIED, output, reason=f"cannot read the claims before the drill: {exc}")
        in_scope = {i.sop_instance_uid for i in items.values()}
        run.state["claims_before"] = {sop: holder for sop, holder in claims.items() if sop in in_scope}
        output["claims"] = len(run.state["claims_before"])
    return ProbeResult(Status.PASSED, output)


def _plan(run: Any, source: str = "primary") -> list[str]:
    out = run.ctx.outputs
    bucket = out.archiveBucket if source == "primary" else out.replicaBucket
    steps = [f"s3:GetObject (ranged, header bytes) from {bucket}",
             f"dynamodb:CreateTable/PutItem {_table_name(run, source)} (a new table for the run; never the live one)"]
    if _claims_name(run, source):
        steps.append(f"dynamodb:CreateTable/BatchWriteItem {_claims_name(run, source)} (the SOP Instance UID claims, "
                     "a new table for the run)")
    return steps


@action("rebuild-index", {"source": {"enum": ["primary", "dr"]}}, required=["source"], plan=_plan)
def rebuild_index(run: Any, source: str) -> ProbeResult:
    """Rebuild the index from the archive (or the DR replica) into a new run-named table."""
    ctx = run.ctx
    out = ctx.outputs
    region, bucket = (out.primaryRegion, out.archiveBucket) if source == "primary" else (out.drRegion,
                                                                                        out.replicaBucket)
    s3 = ctx.client("s3", region)
    dynamodb = ctx.client("dynamodb", region)
    start = ctx.clock.now()
    name = _table_name(run, source)
    try:
        pseudonymizer = _pseudonymizer(ctx, region)
        dynamodb.create_table(TableName=name, KeySchema=INDEX_KEY_SCHEMA, AttributeDefinitions=INDEX_ATTRIBUTE_DEFINITIONS,
                              BillingMode="PAY_PER_REQUEST", Tags=[{"Key": "drkit-drill-run", "Value": ctx.run_id}])
        run.state.setdefault("rebuilt_tables", []).append((region, name))
        claims_table = _claims_name(run, source)
        if claims_table:
            dynamodb.create_table(TableName=claims_table, BillingMode="PAY_PER_REQUEST", **CLAIMS_TABLE_DEFINITION,
                                  Tags=[{"Key": "drkit-drill-run", "Value": ctx.run_id}])
            run.state["rebuilt_tables"].append((region, claims_table))
        for created in filter(None, (name, claims_table)):
            poll(ctx.clock, lambda t=created: dynamodb.describe_table(TableName=t)["Table"]["TableStatus"] == "ACTIVE",
                 timeout_s=run.timeout_s, interval_s=5.0)
        latest = listing.latest(listing.versions(s3, bucket, ctx.scope_prefix))
    except (ClientError, BotoCoreError) as exc:
        return ProbeResult(Status.FAILED, {"source": source}, reason=f"cannot start the rebuild: {exc}")
    except DrkitError as exc:                      # the pseudonymizer's own errors (no key in region)
        return ProbeResult(Status.FAILED, {"source": source}, reason=f"cannot hash identifiers in {region}: {exc}")
    rebuilt: dict[tuple[str, str], IndexItem] = {}
    header_bytes = object_bytes = 0
    worst_ratio = 0.0
    unreadable = []
    for n, (key, version) in enumerate(sorted(latest.items())):
        if version.delete_marker:
            continue
        try:
            head = s3.head_object(Bucket=bucket, Key=key, VersionId=version.version_id, ChecksumMode="ENABLED")
            stream = RangedObject(s3, bucket, key, version.version_id, int(head["ContentLength"]))
            header = read_header(stream, stream.size)
        except (ClientError, BotoCoreError, RejectedInput):
            unreadable.append(f"object-{n}")
            continue
        item = IndexItem(study_instance_uid=header.study_instance_uid, series_instance_uid=header.series_instance_uid,
                         sop_instance_uid=header.sop_instance_uid, sop_class_uid=header.sop_class_uid,
                         modality=header.modality, specialty=specialty_for(header.modality).value,
                         study_date=header.study_date, size=stream.size,
                         checksum_sha256=head.get("ChecksumSHA256") or "", version_id=version.version_id, key=key,
                         patient_id_hash=pseudonymizer.hash(header.patient_id),
                         accession_hash=pseudonymizer.hash(header.accession_number),
                         transfer_syntax_uid=header.transfer_syntax_uid,
                         ingested_at=head["LastModified"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                         content_sha256=head.get("ChecksumSHA256") or "",
                         checksum_type=head.get("ChecksumType") or ("FULL_OBJECT" if head.get("ChecksumSHA256") else ""))
        try:
            dynamodb.put_item(TableName=name, Item={k: _serialize(v) for k, v in item.to_item().items()})
        except (ClientError, BotoCoreError) as exc:
            return ProbeResult(Status.FAILED, {"source": source, "items": len(rebuilt)},
                               reason=f"cannot write the rebuilt index: {exc}")
        rebuilt[(item.study_instance_uid, item.sort_key)] = item
        header_bytes += header.header_bytes_read
        object_bytes += stream.size
        worst_ratio = max(worst_ratio, header.header_bytes_read / stream.size if stream.size else 0.0)
    claims, reused = claims_of(list(rebuilt.values()))
    if claims_table:
        try:
            write_claims(dynamodb, claims_table, claims, ctx.clock.now())
        except InfraError as exc:
            return ProbeResult(Status.FAILED, {"source": source}, reason=f"cannot write the rebuilt claims: {exc}")
        run.state.setdefault("rebuilt_claims", {})[source] = claims
    end = ctx.clock.now()
    run.state.setdefault("rebuilt", {})[source] = rebuilt
    run.phase(f"index rebuilt from {source}", start, end)
    ratio = header_bytes / object_bytes if object_bytes else None
    measure(run, "rebuild_time", (end - start).total_seconds(), seconds(out.objectives.rtoMinutes),
            met=False if unreadable else None, source=source, items=len(rebuilt),
            note="reads take no time on the virtual clock" if ctx.clock.simulated else "")
    measure(run, "header_bytes_ratio", ratio, None, unit="ratio", source=source, header_bytes=header_bytes,
            object_bytes=object_bytes, per_instance_bytes=round(header_bytes / len(rebuilt), 1) if rebuilt else None,
            worst_instance_ratio=round(worst_ratio, 4))
    output = {"source": source, "bucket_region": region, "items": len(rebuilt), "unreadable": len(unreadable),
              "header_bytes": header_bytes, "object_bytes": object_bytes,
              "bytes_read_per_instance": round(header_bytes / len(rebuilt), 1) if rebuilt else None,
              "ratio": round(ratio, 4) if ratio is not None else None, "table": "<index>-rebuild-" + source}
    if claims_table:
        output.update({"claims": len(claims), "sop_uids_reused": reused, "claims_table": "<claims>-rebuild-" + source})
    if unreadable:
        return ProbeResult(Status.FAILED, output, (Finding("index-rebuild-unreadable", Severity.HIGH, bucket,
                                                           f"{len(unreadable)} object(s) could not be read back",
                                                           {"labels": unreadable[:50]}),))
    return ProbeResult(Status.PASSED, output)


@probe("compare-rebuilt-index", {"source": {"enum": ["primary", "dr"]}}, required=["source"])
def compare_rebuilt_index(run: Any, source: str) -> ProbeResult:
    """Item by item: the rebuilt index against the pre-drill snapshot (reconstructible fields)."""
    before = run.state.get("index_before")
    rebuilt = (run.state.get("rebuilt") or {}).get(source)
    if before is None or rebuilt is None:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no snapshot or no rebuild to compare")
    missing = sorted(set(before) - set(rebuilt))
    extra = sorted(set(rebuilt) - set(before))
    differing: dict[str, int] = {}
    for key in set(before) & set(rebuilt):
        for name in COMPARED:
            if getattr(before[key], name) != getattr(rebuilt[key], name):
                differing[name] = differing.get(name, 0) + 1
    output = {"source": source, "before": len(before), "rebuilt": len(rebuilt), "missing": len(missing),
              "extra": len(extra), "differing_fields": differing, "compared_fields": len(COMPARED),
              "not_reconstructible": list(NOT_RECONSTRUCTIBLE)}
    claims_before = run.state.get("claims_before")
    claims_after = (run.state.get("rebuilt_claims") or {}).get(source)
    if claims_before is not None and claims_after is not None:
        claims_differ = sum(1 for sop in set(claims_before) | set(claims_after)
                            if claims_before.get(sop) != claims_after.get(sop))
        output.update({"claims_before": len(claims_before), "claims_rebuilt": len(claims_after),
                       "claims_differing": claims_differ})
        if claims_differ:
            differing["claims"] = claims_differ
    if missing or extra or differing:
        table = run.ctx.outputs.indexTable
        return ProbeResult(Status.FAILED, output, (Finding(
            "index-rebuild-differs", Severity.HIGH, table,
            f"the index rebuilt from the {source} archive differs from the live index: {len(missing)} missing, "
            f"{len(extra)} extra, fields {sorted(differing)}", {"missing": len(missing), "extra": len(extra)}),))
    return ProbeResult(Status.PASSED, output)


@action("drop-rebuilt-tables", {}, plan=lambda run, **_: ["dynamodb:DeleteTable of this run's rebuilt tables only"])
def drop_rebuilt_tables(run: Any) -> ProbeResult:
    """Delete the tables this run created (never the live index or its replica)."""
    ctx = run.ctx
    dropped, failed = 0, []
    for region, name in run.state.get("rebuilt_tables", []):
        ours = {_table_name(run, "primary"), _table_name(run, "dr"), _claims_name(run, "primary"),
                _claims_name(run, "dr")}
        if name not in ours:
            continue                                   # not ours: never touched
        try:
            ctx.target.client("dynamodb", region).delete_table(TableName=name)
            dropped += 1
        except (ClientError, BotoCoreError) as exc:
            failed.append(str(exc)[:120])
    if failed:
        return ProbeResult(Status.ERROR, {"dropped": dropped}, reason=f"could not drop: {failed[0]}")
    return ProbeResult(Status.PASSED, {"dropped": dropped})
