"""What the verification ladder reads from the cloud, read once per ladder run and shared by
the rungs: version listings of the archive and the replica, per-version HEADs, the study
index (primary table and its DR replica) and the replication configuration in force.

Everything goes through boto3 with the Target's cached clients (connection reuse). Listings
use ListObjectVersions (up to 1,000 keys per request, never a download); HEADs and index
scan segments run on a bounded thread pool.

A call refused for lack of permission (or an API the target does not offer, or a region a
drill fenced off) raises ``Unobservable``: the rung that needed it is *not verified*, never
passed. A bucket or table the outputs name that does not exist raises ``ResourceMissing`` (a
finding). Any other AWS or transport error becomes ``InfraError`` (the rung is *error*).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from drills.contracts import DICOM_PREFIX, StackOutputs
from drills.engine.clock import Clock, WallClock
from drills.errors import DrkitError, InfraError
from drills.probes import versions_page

if TYPE_CHECKING:                   # boto3 is imported by whoever builds the Target, not here
    from drills.aws import Target

MAX_WORKERS = 16          # concurrent HEADs / scan segments per ladder run (<= Target.max_pool)
PAGE_SIZE = 1000          # ListObjectVersions maximum: one request per 1,000 keys
SCAN_SEGMENTS = 4         # parallel scan segments of the study index

# Error codes that mean "you may not look" or "this target cannot answer that": not verified.
UNOBSERVABLE_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "AllAccessDisabled", "UnauthorizedOperation",
    "NotImplemented", "UnsupportedOperation", "InvalidAction", "UnknownOperationException",
    "403",                                     # HEAD answers have no body: the bare status code
})
MISSING_RESOURCE_CODES = frozenset({"NoSuchBucket", "ResourceNotFoundException", "TableNotFoundException"})
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})


class LadderSubject(Protocol):
    """What a rung needs of its context (``drills.engine.context.DrillContext`` satisfies it).
    ``clock`` is the engine's one clock (``drills.engine.clock``); rungs only read ``now()``.

    Optional: ``scope_prefix`` (default ``dicom/``), the key prefix verified; ``declared``, the
    stack's config as its stack file declares it (a mapping or a validated PlatformConfig),
    for rung 9."""

    target: Target
    outputs: StackOutputs
    clock: Clock


class Unobservable(DrkitError):
    """The cloud would not let drkit observe something: the rung is not verified."""

    exit_code = 1


class ResourceMissing(DrkitError):
    """A bucket or table the stack outputs name does not exist: a finding, not a tool error."""

    exit_code = 1

    def __init__(self, resource: str, message: str) -> None:
        super().__init__(message)
        self.resource = resource


def scope_of(ctx: Any) -> str:
    return getattr(ctx, "scope_prefix", None) or DICOM_PREFIX


def clock_of(ctx: Any) -> Clock:
    return getattr(ctx, "clock", None) or WallClock()


def call(what: str, fn: Callable[..., Any], resource: str | None = None, **kwargs: Any) -> Any:
    """Run one boto3 call. Permission refusals become Unobservable; a missing bucket/table
    (when ``resource`` names it) ResourceMissing; other AWS errors are re-raised for the
    caller to interpret; transport errors become InfraError."""
    try:
        return fn(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in UNOBSERVABLE_CODES:
            raise Unobservable(f"{what}: {code} (the drill role may not read this)") from exc
        if resource and code in MISSING_RESOURCE_CODES:
            raise ResourceMissing(resource, f"{resource} does not exist ({what}: {code})") from exc
        raise
    except BotoCoreError as exc:
        raise InfraError(f"{what}: {exc}") from exc


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# --------------------------------------------------------------------------- listings

@dataclass(frozen=True)
class Version:
    """One entry of ListObjectVersions: an object version or a delete marker."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    size: int = 0
    delete_marker: bool = False


@dataclass
class BucketListing:
    """Every version and delete marker under the scope prefix of one bucket."""

    bucket: str
    region: str
    versions: dict[tuple[str, str], Version] = field(default_factory=dict)
    requests: int = 0

    def objects(self) -> list[Version]:
        return [v for v in self.versions.values() if not v.delete_marker]

    def current(self) -> dict[str, Version]:
        """key -> its current object version (keys whose latest entry is a delete marker are absent)."""
        return {v.key: v for v in self.versions.values() if v.is_latest and not v.delete_marker}

    def noncurrent(self) -> list[Version]:
        return [v for v in self.versions.values() if not v.is_latest and not v.delete_marker]

    def delete_markers(self) -> list[Version]:
        return [v for v in self.versions.values() if v.delete_marker]


ClientFactory = Callable[..., Any]      # (service, region, **config) -> boto3 client


def list_versions(clients: ClientFactory, region: str, bucket: str, prefix: str) -> BucketListing:
    """ListObjectVersions under ``prefix``, 1,000 keys per request; nothing is downloaded."""
    s3 = clients("s3", region)
    listing = BucketListing(bucket=bucket, region=region)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
    versions = listing.versions
    while True:
        try:
            with versions_page.fast_pages(s3):
                page = call(f"ListObjectVersions s3://{bucket}/{prefix}", s3.list_object_versions,
                            resource=bucket, **kwargs)
        except ClientError as exc:
            raise InfraError(f"ListObjectVersions s3://{bucket}: {exc}") from exc
        listing.requests += 1
        for e in page.get(versions_page.ENTRIES, ()):          # read by versions_page (fast path)
            versions[(e.key, e.version_id)] = Version(e.key, e.version_id, e.is_latest, e.last_modified, e.size,
                                                      e.delete_marker)
        for item in page.get("Versions", []) or []:             # botocore's parse (fallback)
            v = Version(item["Key"], str(item.get("VersionId") or "null"), bool(item.get("IsLatest")),
                        item["LastModified"], int(item.get("Size") or 0))
            listing.versions[(v.key, v.version_id)] = v
        for item in page.get("DeleteMarkers", []) or []:
            v = Version(item["Key"], str(item.get("VersionId") or "null"), bool(item.get("IsLatest")),
                        item["LastModified"], delete_marker=True)
            listing.versions[(v.key, v.version_id)] = v
        if not page.get("IsTruncated"):
            return listing
        kwargs["KeyMarker"] = page.get("NextKeyMarker")
        kwargs["VersionIdMarker"] = page.get("NextVersionIdMarker")


# --------------------------------------------------------------------------- HEAD

@dataclass(frozen=True)
class Head:
    """What HEAD (ChecksumMode ENABLED) says about one object version. ``missing``: 404."""

    missing: bool = False
    size: int = 0
    replication_status: str | None = None
    checksum_sha256: str | None = None
    lock_mode: str | None = None
    retain_until: datetime | None = None
    legal_hold: str | None = None


def head_version(clients: ClientFactory, region: str, bucket: str, key: str, version_id: str) -> Head:
    s3 = clients("s3", region)
    try:
        resp = call(f"HeadObject s3://{bucket}", s3.head_object, Bucket=bucket, Key=key, VersionId=version_id,
                    ChecksumMode="ENABLED")
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return Head(missing=True)
        raise InfraError(f"HeadObject s3://{bucket}: {exc}") from exc
    return Head(size=int(resp.get("ContentLength") or 0), replication_status=resp.get("ReplicationStatus"),
                checksum_sha256=resp.get("ChecksumSHA256"), lock_mode=resp.get("ObjectLockMode"),
                retain_until=resp.get("ObjectLockRetainUntilDate"),
                legal_hold=resp.get("ObjectLockLegalHoldStatus"))


def concurrently(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = MAX_WORKERS) -> list[Any]:
    """``[fn(i) for i in items]`` on a bounded pool, results in order; the first error is raised."""
    items = list(items)
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="drkit-ladder") as pool:
        return list(pool.map(fn, items))


# --------------------------------------------------------------------------- index

INDEX_FIELDS = ("StudyInstanceUID", "SeriesSop", "Key", "VersionId", "ChecksumSHA256", "Size", "Specialty")


@dataclass(frozen=True)
class IndexItem:
    study: str
    series_sop: str
    key: str
    version_id: str
    checksum_sha256: str
    size: int
    specialty: str


def scan_index(clients: ClientFactory, region: str, table: str) -> tuple[list[IndexItem], int]:
    """Every item of the study index in ``region`` (parallel scan); returns (items, requests)."""
    segments: list[list[IndexItem]] = [[] for _ in range(SCAN_SEGMENTS)]
    requests = stream_index(clients, region, table, lambda n, page: segments[n].extend(page))
    return [i for items in segments for i in items], requests


def stream_index(clients: ClientFactory, region: str, table: str,
                 sink: Callable[[int, list[IndexItem]], None]) -> int:
    """Every item of the study index in ``region`` (parallel scan), handed to ``sink(segment,
    items)`` one Scan page at a time (from several threads) and not kept; returns the number
    of requests."""
    ddb = clients("dynamodb", region)
    names = {f"#{n}": n for n in INDEX_FIELDS}

    def segment(n: int) -> int:
        requests = 0
        kwargs: dict[str, Any] = {"TableName": table, "Segment": n, "TotalSegments": SCAN_SEGMENTS,
                                  "ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        while True:
            try:
                page = call(f"Scan {table} ({region})", ddb.scan, resource=f"{table} ({region})", **kwargs)
            except ClientError as exc:
                raise InfraError(f"Scan {table} ({region}): {exc}") from exc
            requests += 1
            sink(n, [IndexItem(study=_s(raw, "StudyInstanceUID"), series_sop=_s(raw, "SeriesSop"),
                               key=_s(raw, "Key"), version_id=_s(raw, "VersionId"),
                               checksum_sha256=_s(raw, "ChecksumSHA256"),
                               size=int(raw.get("Size", {}).get("N", "0")), specialty=_s(raw, "Specialty"))
                     for raw in page.get("Items", [])])
            if "LastEvaluatedKey" not in page:
                return requests
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    return sum(concurrently(segment, range(SCAN_SEGMENTS)))


def _s(raw: dict[str, Any], name: str) -> str:
    return str(raw.get(name, {}).get("S", ""))


# --------------------------------------------------------------------------- the shared view

class Observation:
    """Lazily read, cached facts for one ladder run. Rungs ask; each fact is read once."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.target: Target = ctx.target
        self.outputs: StackOutputs = ctx.outputs
        self.scope = scope_of(ctx)
        self.clock = clock_of(ctx)
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.requests: dict[str, int] = {}

    def client(self, service: str, region: str, **config: Any) -> Any:
        """A client through the context: the engine's ``DrillContext.client`` honours a drill's
        region fence (a fenced region cannot be observed: not verified); else the Target's."""
        through = getattr(self.ctx, "client", None)
        if not callable(through):
            return self.target.client(service, region, **config)
        try:
            return through(service, region, **config)
        except DrkitError as exc:           # RegionFenced: the drill took the region away
            raise Unobservable(f"{region}: {exc}") from exc

    def _once(self, name: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if name in self._cache:
                cached = self._cache[name]
                if isinstance(cached, Exception):
                    raise cached
                return cached
        try:
            value = build()
        except DrkitError as exc:
            with self._lock:
                self._cache[name] = exc
            raise
        with self._lock:
            self._cache[name] = value
        return value

    def _count(self, what: str, n: int) -> None:
        with self._lock:
            self.requests[what] = self.requests.get(what, 0) + n

    # -- listings
    def listings(self) -> tuple[BucketListing, BucketListing]:
        """(archive, replica) listings under the scope, listed concurrently."""
        def build() -> tuple[BucketListing, BucketListing]:
            o = self.outputs
            pair = concurrently(lambda a: list_versions(self.client, a[0], a[1], self.scope),
                                [(o.primaryRegion, o.archiveBucket), (o.drRegion, o.replicaBucket)], workers=2)
            self._count("ListObjectVersions", pair[0].requests + pair[1].requests)
            return pair[0], pair[1]
        return self._once("listings", build)

    # -- HEADs
    def heads(self, side: str) -> dict[tuple[str, str], Head]:
        """HEAD of every object version listed in ``side`` ("archive" or "replica")."""
        def build() -> dict[tuple[str, str], Head]:
            archive, replica = self.listings()
            listing = archive if side == "archive" else replica
            ids = sorted((v.key, v.version_id) for v in listing.objects())
            heads = concurrently(lambda kv: head_version(self.client, listing.region, listing.bucket, *kv), ids)
            self._count("HeadObject", len(ids))
            return dict(zip(ids, heads))
        return self._once(f"heads:{side}", build)

    def replica_heads_of_source(self) -> dict[tuple[str, str], Head]:
        """HEAD in the replica of every archive version, by the archive's version id: also
        the versions the replica listing lacks answer (as missing)."""
        def build() -> dict[tuple[str, str], Head]:
            archive, replica = self.listings()
            known = self.heads("replica")
            wanted = sorted((v.key, v.version_id) for v in archive.objects())
            todo = [kv for kv in wanted if kv not in known]
            extra = concurrently(lambda kv: head_version(self.client, replica.region, replica.bucket, *kv), todo)
            self._count("HeadObject", len(todo))
            found = {kv: known[kv] for kv in wanted if kv in known}
            found.update(zip(todo, extra))
            return found
        return self._once("heads:replica-of-source", build)

    # -- index
    def index(self, region: str) -> list[IndexItem]:
        def build() -> list[IndexItem]:
            items, requests = scan_index(self.client, region, self.outputs.indexTable)
            self._count("Scan", requests)
            return [i for i in items if i.key.startswith(self.scope)]
        return self._once(f"index:{region}", build)

    def index_pages(self, region: str, sink: Callable[[list[IndexItem]], None]) -> None:
        """The index items under the scope handed to ``sink`` a page at a time, without keeping
        them (the items already read when another rung cached them)."""
        with self._lock:
            cached = self._cache.get(f"index:{region}")
        if isinstance(cached, list):
            for start in range(0, len(cached), 1000):
                sink(cached[start:start + 1000])
            return
        requests = stream_index(self.client, region, self.outputs.indexTable,
                                lambda _, page: sink([i for i in page if i.key.startswith(self.scope)]))
        self._count("Scan", requests)

    # -- replication configuration in force
    def replication_rules(self) -> list[dict[str, Any]] | None:
        """The archive's replication rules in force, or None when it has no configuration."""
        def build() -> list[dict[str, Any]] | None:
            s3 = self.client("s3", self.outputs.primaryRegion)
            try:
                resp = call(f"GetBucketReplication {self.outputs.archiveBucket}", s3.get_bucket_replication,
                            resource=self.outputs.archiveBucket, Bucket=self.outputs.archiveBucket)
            except ClientError as exc:
                if error_code(exc) == "ReplicationConfigurationNotFoundError":
                    return None
                raise InfraError(f"GetBucketReplication {self.outputs.archiveBucket}: {exc}") from exc
            self._count("GetBucketReplication", 1)
            return list(resp.get("ReplicationConfiguration", {}).get("Rules", []))
        return self._once("replication", build)

    def scope_rule(self) -> dict[str, Any] | None:
        """The enabled rule with the highest priority whose prefix covers the scope (tag
        filters aside: they narrow a rule, and rung 9 compares them with the declared tags)."""
        rules = self.replication_rules() or []
        covering = [r for r in rules if r.get("Status") == "Enabled" and scope_under(rule_prefix(r), self.scope)]
        covering.sort(key=lambda r: -int(r.get("Priority", 0)))
        return covering[0] if covering else None

    def threshold(self) -> tuple[float, str]:
        """Minutes after which a version must have replicated, and where the figure comes from:
        the RTC threshold of the rule in force, else the stack's RPO objective."""
        try:
            rule = self.scope_rule()
        except Unobservable:
            rule = None
        rtc = (rule or {}).get("Destination", {}).get("ReplicationTime", {})
        if rtc.get("Status") == "Enabled":
            return float(rtc.get("Time", {}).get("Minutes", 15)), "replication rule RTC threshold"
        return float(self.outputs.objectives.rpoMinutes), "stack objective rpoMinutes"

    def in_flight(self) -> set[tuple[str, str]]:
        """Archive versions (objects and delete markers) absent from the replica listing but
        younger than the threshold: still allowed to be on their way."""
        def build() -> set[tuple[str, str]]:
            archive, replica = self.listings()
            minutes, _ = self.threshold()
            now = self.clock.now()
            return {kv for kv, v in archive.versions.items()
                    if kv not in replica.versions and age_seconds(now, v.last_modified) < minutes * 60}
        return self._once("in-flight", build)


def rule_prefix(rule: dict[str, Any]) -> str:
    """A rule's key prefix ("" = every key), from its Filter (or the legacy top-level Prefix)."""
    flt = rule.get("Filter")
    if flt is None:
        return str(rule.get("Prefix", ""))
    if "And" in flt:
        return str(flt["And"].get("Prefix", ""))
    return str(flt.get("Prefix", ""))


def rule_tags(rule: dict[str, Any]) -> dict[str, str]:
    """A rule's tag filter (empty when it filters by prefix only)."""
    flt = rule.get("Filter") or {}
    if "Tag" in flt:
        return {flt["Tag"]["Key"]: flt["Tag"]["Value"]}
    return {t["Key"]: t["Value"] for t in (flt.get("And") or {}).get("Tags", [])}


def scope_under(prefix: str, scope: str) -> bool:
    """Whether every key under ``scope`` starts with ``prefix``."""
    return scope.startswith(prefix)


def age_seconds(now: datetime, then: datetime) -> float:
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return max(0.0, (now - then).total_seconds())
