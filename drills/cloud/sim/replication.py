"""S3 live replication, simulated per rule (moto stores the configuration and copies nothing).

What happens, following the S3 user guide (REFERENCE.md "S3 replication"):

- A new version written by a client (PutObject, CopyObject, CompleteMultipartUpload) in a
  bucket with a replication configuration is matched against the rules stored in moto
  *at that moment* (``replication_rules.select``: Enabled rules only, prefix/tag filters,
  highest priority per destination). Its source version is PENDING at once
  (``x-amz-replication-status`` on HEAD/GET; boto3's ``ReplicationStatus``) and the copy is
  scheduled on the virtual clock after a lag drawn from ``replication_lag``. When it lands
  the source becomes COMPLETED and the copy (same version id) reports REPLICA. With several
  destinations the source is COMPLETED only when every copy landed, FAILED if one failed.
  The rule is chosen when the version is written: a later configuration change does not
  affect copies already queued. Rules with and without RTC draw from the same lag.
- Live replication is event-driven: objects that existed before a rule, and objects
  written while a rule was Disabled, are never copied later (no catch-up on re-enable).
- SSE-KMS objects are only replicated by a rule with
  ``SourceSelectionCriteria.SseKmsEncryptedObjects`` Enabled; otherwise they are out of
  scope and get no replication status at all (counted under ``notReplicated``).
- A DeleteObject without a version id adds a delete marker; it is replicated only by rules
  that replicate markers (``replication_rules.select_for_delete_marker``). A delete with a
  version id is never replicated.
- Metadata changes (PutObjectTagging, DeleteObjectTagging, PutObjectRetention,
  PutObjectLegalHold) on a source version already replicated are copied to its replicas
  after a lag. On a *replica*, they go back to the source only when the replica bucket has
  an Enabled rule back to the source bucket with ``SourceSelectionCriteria.ReplicaModifications``
  Enabled (replica modification sync); scope here: tags, retention, legal hold.
- Replicas are never replicated again (S3 replicates only what clients write; the
  simulation's own writes, and every ``req.internal`` request, are not source events).

Failures (S3 reports them as FAILED):
- destination bucket missing (DstBucketNotFound), unversioned (DstBucketUnversioned),
  without Object Lock when the source has it (DstBucketObjectLockConfigMissing), SSE-KMS
  object but no replica key (DstKmsKeyNotFound): FAILED at the copy attempt;
- destination region down (``sim["outage"]``): NOT a failure. "If there's a temporary
  failure, such as if a bucket or Region is unavailable, replication status doesn't
  transition to FAILED, but remains PENDING. After the resource is back online, Amazon S3
  resumes replicating those objects" (S3 user guide, Getting replication status
  information). The copy is retried with exponential backoff for as long as it takes;
- source region down: the copy waits the same way — nothing leaves a dead region;
- injected by the control action ``fail``: FAILED at the copy attempt (``InjectedFailure``).
Retry settings, ``SimSettings.extra["replication"]``: ``retry_initial_seconds`` (60),
``retry_max_seconds`` (900): the backoff while a region is down. All simulated.

Pause (FIS ``aws:s3:bucket-pause-replication``): "Pauses replication from target source
buckets to destination buckets ... Existing objects may continue to be replicated for up
to one hour after action begins" (FIS actions reference), and "After the scenario ends,
bucket replication will resume from the point it was paused" (FIS cross-Region scenario,
Pause S3 Replication). So objects written during a pause stay PENDING and are replicated
when it ends (unlike a Disabled rule); copies already scheduled when it begins still land.
Control actions: ``pause`` {bucket | buckets | tags (+ sourceRegion?), duration (required, as
in FIS: PT1M..PT12H), region?,
prefixes?, destinationBuckets?} -> {"resolvedTargets": n, ...}: n is 0 when no rule of any
targeted bucket matches (FIS would skip the action silently; a drill must treat it as a
failure); ``resume`` {bucket | buckets | tags}; ``fail`` {bucket, prefix|key, count?};
``clear_failures`` {bucket?}.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from drills.cloud.clock import SIMULATED, ScheduledTask
from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor
from drills.cloud.sim import replication_copy as copier
from drills.cloud.sim.kms_keys import key_problem
from drills.cloud.sim.replication_lag import LagDistribution
from drills.cloud.sim.replication_rules import (Rule, bucket_name_of, parse_rules, select,
                                                select_for_delete_marker)
from drills.errors import ConfigError
from drills.times import parse_iso_duration

PENDING, COMPLETED, FAILED, REPLICA = "PENDING", "COMPLETED", "FAILED", "REPLICA"
STATUS_HEADER = "x-amz-replication-status"
_NEW_VERSION_OPS = {"PutObject", "CopyObject", "CompleteMultipartUpload"}
_METADATA_OPS = {"PutObjectTagging", "DeleteObjectTagging", "PutObjectRetention", "PutObjectLegalHold"}
_RETRY_DEFAULTS = {"retry_initial_seconds": 60.0, "retry_max_seconds": 900.0}
_FIS_MIN, _FIS_MAX = timedelta(minutes=1), timedelta(hours=12)


def region_down(sim: Any, region: str | None) -> bool:
    """Is ``region`` down in the region-outage behaviour (False when there is none)?"""
    if not region:
        return False
    try:
        outage = sim["outage"]
    except KeyError:
        return False
    is_down = getattr(outage, "is_down", None)
    return bool(is_down(region)) if callable(is_down) else False


@dataclass
class _Target:
    """One source version's copy to one destination bucket."""

    rule: Rule
    dest_region: str | None
    state: str = PENDING
    held: bool = False
    attempts: int = 0
    waits: int = 0                 # attempts that found the destination region down
    first_attempt: datetime | None = None
    reason: str | None = None
    landed: datetime | None = None
    task: ScheduledTask | None = None


@dataclass
class _Version:
    """A source version (object or delete marker) under replication."""

    bucket: str
    key: str
    version_id: str
    kind: str                      # "object" | "delete-marker"
    created: datetime
    size: int
    targets: dict[str, _Target] = field(default_factory=dict)
    injected: bool = False

    @property
    def status(self) -> str:
        states = {t.state for t in self.targets.values()}
        if FAILED in states:
            return FAILED
        return PENDING if PENDING in states else COMPLETED


@dataclass
class _Pause:
    bucket: str
    rule_ids: frozenset[str]
    until: datetime | None
    task: ScheduledTask | None = None


@dataclass
class _Injection:
    bucket: str
    prefix: str | None
    key: str | None
    remaining: int | None

    def matches(self, bucket: str, key: str) -> bool:
        if bucket != self.bucket:
            return False
        return key == self.key if self.key is not None else key.startswith(self.prefix or "")


class S3Replication(Interceptor):
    """Live S3 replication per rule, with lag, status headers, pause and injected failures."""

    name = "replication"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.RLock()
        self.lag = LagDistribution(sim.settings.replication_lag, seed=sim.settings.seed)
        extra = dict(sim.settings.extra.get(self.name, {}) or {})
        unknown = sorted(set(extra) - set(_RETRY_DEFAULTS))
        if unknown:
            raise ConfigError(f"extra.replication.{unknown[0]}",
                              f"unknown setting (known: {', '.join(_RETRY_DEFAULTS)})")
        self.retry = {k: float(extra.get(k, v)) for k, v in _RETRY_DEFAULTS.items()}
        self._init_state()

    def _init_state(self) -> None:
        self._versions: dict[tuple[str, str, str], _Version] = {}
        self._replicas: dict[tuple[str, str, str], _Version] = {}   # replica -> its source version
        self._pauses: dict[str, list[_Pause]] = {}
        self._held: dict[str, list[tuple[_Version, _Target]]] = {}
        self._injections: list[_Injection] = []
        self._lags: list[float] = []
        self._not_replicated: dict[str, dict[str, int]] = {}
        self._metadata_syncs = {"forward": 0, "replicaModifications": 0}
        self._generation = getattr(self, "_generation", 0) + 1   # tasks of an earlier generation do nothing

    # ================================================================== hooks
    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "s3" or not resp.ok or not req.bucket:
            return resp
        op = req.operation
        if op == "GetBucketReplication":
            return self._stored_configuration(req, resp)
        if op in ("HeadObject", "GetObject"):
            return self._add_status_header(req, resp)
        if req.internal:
            return resp
        if op in _NEW_VERSION_OPS and req.key:
            version_id = resp.headers.get("x-amz-version-id")
            if version_id and version_id != "null":
                self.on_new_version(req.bucket, req.key, version_id)
        elif op == "DeleteObject" and req.key and req.version_id is None:
            if resp.headers.get("x-amz-delete-marker") == "true" and resp.headers.get("x-amz-version-id"):
                self.on_delete_marker(req.bucket, req.key, resp.headers["x-amz-version-id"])
        elif op == "DeleteObjects":
            for key, marker_version in _new_markers(resp.body):
                self.on_delete_marker(req.bucket, key, marker_version)
        elif op in _METADATA_OPS and req.key:
            version_id = req.version_id or copier.latest_version_id(self.sim.s3_backend(), req.bucket, req.key)
            if version_id:
                self.on_metadata_change(req.bucket, req.key, version_id)
        return resp

    def _add_status_header(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        version_id = resp.headers.get("x-amz-version-id")
        if not version_id or not req.key:
            return resp
        status = self.replication_status(req.bucket, req.key, version_id)
        if status:
            resp.headers[STATUS_HEADER] = status
        return resp

    def replication_status(self, bucket: str, key: str, version_id: str) -> str | None:
        """PENDING / COMPLETED / FAILED for a source version, REPLICA for a copy, else None."""
        ident = (bucket, key, version_id)
        with self._lock:
            version = self._versions.get(ident)
            if version is not None and version.kind == "object":
                return version.status
            replica_of = self._replicas.get(ident)
            if replica_of is not None and replica_of.kind == "object":
                return REPLICA
        return None

    # ================================================================== source events
    def _rules(self, bucket: str) -> list[Rule]:
        found = copier.get_bucket(self.sim.s3_backend(), bucket)
        return parse_rules(getattr(found, "replication", None)) if found is not None else []

    def _bucket_region(self, bucket: str) -> str | None:
        found = copier.get_bucket(self.sim.s3_backend(), bucket)
        return getattr(found, "region_name", None) if found is not None else None

    def on_new_version(self, bucket: str, key: str, version_id: str) -> None:
        rules = self._rules(bucket)
        if not rules:
            return
        s3 = self.sim.s3_backend()
        src = copier.find_version(s3, bucket, key, version_id)
        with self._lock:
            if src is None or (bucket, key, version_id) in self._replicas:
                return
        chosen = select(rules, key, copier.tags_of(s3, src))
        if src.encryption and src.encryption.startswith("aws:kms"):
            kept = {d: r for d, r in chosen.items() if r.sse_kms}
            if len(kept) < len(chosen):
                with self._lock:
                    counts = self._not_replicated.setdefault(bucket, {})
                    counts["sseKmsWithoutCriteria"] = counts.get("sseKmsWithoutCriteria", 0) + 1
            chosen = kept
        if chosen:
            self._track(_Version(bucket, key, version_id, "object", self.sim.clock.now(), src.size), chosen)

    def batch_replicate(self, bucket: str, key: str, version_id: str) -> bool:
        """S3 Batch Replication of one version (``S3ReplicateObject``): existing,
        never-replicated and FAILED versions are replicated under the rules in force now.
        False when no enabled rule covers the version."""
        s3 = self.sim.s3_backend()
        src = copier.find_version(s3, bucket, key, version_id)
        chosen = select(self._rules(bucket), key, copier.tags_of(s3, src)) if src is not None else {}
        if not chosen:
            return False
        with self._lock:
            old = self._versions.pop((bucket, key, version_id), None)
        for target in (old.targets.values() if old is not None else ()):
            if target.task is not None:
                target.task.cancel()
        self._track(_Version(bucket, key, version_id, "object", self.sim.clock.now(), src.size), chosen)
        return True

    def on_delete_marker(self, bucket: str, key: str, version_id: str) -> None:
        chosen = select_for_delete_marker(self._rules(bucket), key)
        if chosen:
            self._track(_Version(bucket, key, version_id, "delete-marker", self.sim.clock.now(), 0), chosen)

    def _track(self, version: _Version, chosen: dict[str, Rule]) -> None:
        with self._lock:
            self._versions[(version.bucket, version.key, version.version_id)] = version
            for dest, rule in sorted(chosen.items()):
                target = _Target(rule=rule, dest_region=self._bucket_region(dest))
                version.targets[dest] = target
                self._notify("pending", version, target)
                if self._paused(version.bucket, rule.id):
                    target.held = True
                    self._held.setdefault(version.bucket, []).append((version, target))
                else:
                    self._schedule(version, target, self.lag.draw())

    def on_metadata_change(self, bucket: str, key: str, version_id: str) -> None:
        ident = (bucket, key, version_id)
        with self._lock:
            replica_of = self._replicas.get(ident)
            version = self._versions.get(ident)
        if replica_of is not None and replica_of.kind == "object":
            origin = (replica_of.bucket, replica_of.key, replica_of.version_id)
            s3 = self.sim.s3_backend()
            replica = copier.find_version(s3, *ident)
            tags = copier.tags_of(s3, replica) if replica is not None and hasattr(replica, "arn") else {}
            back = [r for r in self._rules(bucket)
                    if r.enabled and r.replica_modifications and r.dest_bucket == origin[0] and r.matches(key, tags)]
            if back:
                self._schedule_sync(ident, origin, "replicaModifications")
        elif version is not None and version.kind == "object":
            for dest, target in version.targets.items():
                if target.state == COMPLETED:
                    self._schedule_sync(ident, (dest, key, version_id), "forward")

    # ================================================================== the copy
    def _schedule(self, version: _Version, target: _Target, delay: float) -> None:
        label = f"s3-replication {version.bucket}/{version.key} -> {target.rule.dest_bucket}"
        target.task = self.sim.clock.schedule_in(delay, lambda: self._attempt(version, target), label)

    def _backoff(self, target: _Target) -> float:
        return min(self.retry["retry_initial_seconds"] * 2 ** max(target.attempts - 1, 0),
                   self.retry["retry_max_seconds"])

    def _attempt(self, version: _Version, target: _Target) -> None:
        now = self.sim.clock.now()
        with self._lock:
            if target.state != PENDING or (version.bucket, version.key, version.version_id) not in self._versions:
                return
            target.attempts += 1
            if self._take_injection(version):
                return self._fail(version, target, "InjectedFailure")
            if region_down(self.sim, self._bucket_region(version.bucket)):
                target.first_attempt = None        # nothing leaves a dead region: wait, never fail
                return self._schedule(version, target, self._backoff(target))
            target.first_attempt = target.first_attempt or now
            if region_down(self.sim, target.dest_region):
                # A temporarily unavailable bucket or Region keeps the object PENDING (S3 user
                # guide, replication status): retry with backoff until it is back, never FAIL.
                target.waits += 1
                return self._schedule(version, target, self._backoff(target))
            s3 = self.sim.s3_backend()
            key_failure = self._kms_failure(version, target) if version.kind == "object" else None
            if key_failure is not None:
                return self._fail(version, target, key_failure)
            try:
                if version.kind == "object":
                    copier.copy_version(s3, version.bucket, version.key, version.version_id, target.rule)
                else:
                    copier.copy_delete_marker(s3, version.bucket, version.key, version.version_id,
                                              target.rule.dest_bucket)
            except copier.ReplicationFailure as failure:
                return self._fail(version, target, failure.reason)
            target.state, target.landed = COMPLETED, now
            self._lags.append((now - version.created).total_seconds())
            self._replicas[(target.rule.dest_bucket, version.key, version.version_id)] = version
            self._notify("completed", version, target)

    def _kms_failure(self, version: _Version, target: _Target) -> str | None:
        """SrcKmsKeyInvalidState / DstKmsKeyInvalidState / DstKmsKeyNotFound when an SSE-KMS
        object's key, or the rule's replica key, cannot be used now (S3 replication failure
        reasons)."""
        src = copier.find_version(self.sim.s3_backend(), version.bucket, version.key, version.version_id)
        if src is None or not str(getattr(src, "encryption", "") or "").startswith("aws:kms"):
            return None
        if key_problem(self.sim, src.kms_key_id, self._bucket_region(version.bucket)) is not None:
            return "SrcKmsKeyInvalidState"
        replica_key = target.rule.replica_kms_key_id
        problem = key_problem(self.sim, replica_key, target.dest_region) if replica_key else None
        if problem is not None:
            return "DstKmsKeyNotFound" if problem[0] == "NotFoundException" else "DstKmsKeyInvalidState"
        return None

    def _fail(self, version: _Version, target: _Target, reason: str) -> None:
        target.state, target.reason = FAILED, reason
        self._notify("failed", version, target)

    def _notify(self, what: str, version: _Version, target: _Target) -> None:
        """Tell the behaviours that watch replication (metrics, events) what happened:
        ``pending`` (tracked), ``completed`` or ``failed``. They run in-process, no HTTP."""
        for interceptor in self.sim.interceptors:
            watcher = getattr(interceptor, "on_replication", None)
            if watcher is not None:
                watcher(what, version, target)

    def _take_injection(self, version: _Version) -> bool:
        if version.injected:
            return True
        for injection in self._injections:
            if injection.matches(version.bucket, version.key):
                if injection.remaining is not None:
                    injection.remaining -= 1
                    if injection.remaining <= 0:
                        self._injections.remove(injection)
                version.injected = True
                return True
        return False

    def _schedule_sync(self, src: tuple[str, str, str], dst: tuple[str, str, str], kind: str) -> None:
        generation = self._generation

        def run() -> None:
            with self._lock:
                if generation != self._generation:
                    return
                if any(region_down(self.sim, self._bucket_region(b)) for b in (src[0], dst[0])):
                    # temporarily unavailable: stays pending, resumes when the region is back
                    self.sim.clock.schedule_in(self.retry["retry_max_seconds"], run, label)
                    return
                if copier.sync_metadata(self.sim.s3_backend(), src, dst):
                    self._metadata_syncs[kind] += 1

        label = f"s3-replication metadata {src[0]}/{src[1]} -> {dst[0]}"
        self.sim.clock.schedule_in(self.lag.draw(), run, label)

    # ================================================================== pause / resume
    def _paused(self, bucket: str, rule_id: str) -> bool:
        return any(rule_id in p.rule_ids for p in self._pauses.get(bucket, []))

    def pause(self, params: dict[str, Any]) -> dict[str, Any]:
        """Pause the matching rules of each target bucket; report how many buckets resolved."""
        if params.get("duration") in (None, ""):
            raise ValueError("'duration' is required, as for FIS's aws:s3:bucket-pause-replication: an ISO-8601 "
                             "duration between PT1M and PT12H, e.g. PT30M (resume ends a pause early)")
        buckets = self._target_buckets(params)
        duration = _iso_duration(params["duration"])
        region = params.get("region")
        prefixes = _list_param(params, "prefixes")
        destinations = {bucket_name_of(b) for b in _list_param(params, "destinationBuckets")}
        until = self.sim.clock.now() + duration if duration else None
        targets = []
        for bucket in buckets:
            rules = [r for r in self._rules(bucket) if r.enabled]
            if region:
                rules = [r for r in rules if self._bucket_region(r.dest_bucket) == region]
            if destinations:
                rules = [r for r in rules if r.dest_bucket in destinations]
            if prefixes:
                rules = [r for r in rules if r.prefix in prefixes]
            if not rules:
                continue
            pause = _Pause(bucket, frozenset(r.id for r in rules), until)
            with self._lock:
                self._pauses.setdefault(bucket, []).append(pause)
                if until is not None:
                    pause.task = self.sim.clock.schedule_at(until, lambda p=pause: self._end_pause(p),
                                                            f"s3-replication pause of {bucket} ends")
            targets.append({"bucket": bucket, "pausedRules": sorted(pause.rule_ids)})
        result: dict[str, Any] = {"resolvedTargets": len(targets), "targets": targets,
                                  "until": until.isoformat() if until else None, "label": SIMULATED}
        if not targets:
            result["message"] = "no replication rule of the targeted buckets matches; FIS would skip this action"
        return result

    def resume(self, params: dict[str, Any]) -> dict[str, Any]:
        """End every pause of the target buckets now; what they held is scheduled after a lag."""
        resumed = released = 0
        for bucket in self._target_buckets(params):
            with self._lock:
                pauses = list(self._pauses.get(bucket, []))
            resumed += len(pauses)
            released += sum(self._end_pause(p) for p in pauses)
        return {"resumedPauses": resumed, "released": released}

    def _target_buckets(self, params: dict[str, Any]) -> list[str]:
        """Buckets named by ``bucket`` / ``buckets`` (names or ARNs), or selected by ``tags``
        (all must match; FIS's way of targeting), optionally within ``sourceRegion``."""
        names = [bucket_name_of(b) for b in _list_param(params, "buckets")]
        if params.get("bucket") is not None:
            names.insert(0, _bucket_param(params))
        tags = params.get("tags")
        if tags is not None:
            if not isinstance(tags, dict) or not tags or not all(isinstance(v, str) for v in tags.values()):
                raise ValueError("'tags' must be a non-empty object of tag key -> value")
            s3 = self.sim.s3_backend()
            for bucket in list(s3.buckets.values()):
                found = {t["Key"]: t["Value"] for t in s3.tagger.list_tags_for_resource(bucket.arn).get("Tags", [])}
                if all(found.get(k) == v for k, v in tags.items()) and bucket.name not in names:
                    if params.get("sourceRegion") in (None, bucket.region_name):
                        names.append(bucket.name)
        if not names and tags is None:
            raise ValueError("name the source bucket(s): 'bucket', 'buckets' or 'tags'")
        return names

    def _end_pause(self, pause: _Pause) -> int:
        """End one pause; schedule what it held (lag counted from now). Returns how many."""
        with self._lock:
            active = self._pauses.get(pause.bucket, [])
            if pause not in active:
                return 0
            active.remove(pause)
            if pause.task is not None:
                pause.task.cancel()
            released, still = 0, []
            for version, target in self._held.get(pause.bucket, []):
                if self._paused(version.bucket, target.rule.id):
                    still.append((version, target))
                    continue
                target.held = False
                self._schedule(version, target, self.lag.draw())
                released += 1
            self._held[pause.bucket] = still
            return released

    # ================================================================== control / status
    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "pause":
            return self.pause(params)
        if action == "resume":
            return self.resume(params)
        if action == "fail":
            return self.inject_failure(params)
        if action == "clear_failures":
            bucket = bucket_name_of(params["bucket"]) if params.get("bucket") else None
            with self._lock:
                before = len(self._injections)
                self._injections = [i for i in self._injections if bucket is not None and i.bucket != bucket]
                return {"cleared": before - len(self._injections)}
        raise self.unknown_action(action)

    def inject_failure(self, params: dict[str, Any]) -> dict[str, Any]:
        bucket = _bucket_param(params)
        prefix, key = params.get("prefix"), params.get("key")
        if (prefix is None) == (key is None):
            raise ValueError("'fail' needs exactly one of 'prefix' or 'key'")
        if not isinstance(prefix if key is None else key, str):
            raise ValueError("'prefix'/'key' must be a string")
        count = params.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise ValueError(f"'count' must be a positive integer, got {count!r}")
        injection = _Injection(bucket, prefix, key, count)
        with self._lock:
            self._injections.append(injection)
        return {"bucket": bucket, "prefix": prefix, "key": key, "count": count}

    def status(self) -> dict[str, Any]:
        now = self.sim.clock.now()
        with self._lock:
            buckets: dict[str, dict[str, Any]] = {}

            def entry(name: str) -> dict[str, Any]:
                return buckets.setdefault(name, {"pending": 0, "completed": 0, "failed": 0, "replica": 0,
                                                 "deleteMarkers": {"pending": 0, "completed": 0, "failed": 0},
                                                 "failureReasons": {}, "rules": {}})

            for version in self._versions.values():
                e = entry(version.bucket)
                counts = e if version.kind == "object" else e["deleteMarkers"]
                counts[version.status.lower()] += 1
                for target in version.targets.values():
                    m = e["rules"].setdefault(target.rule.id, {
                        "destination": target.rule.dest_bucket, "OperationsPendingReplication": 0,
                        "OperationsFailedReplication": 0, "BytesPendingReplication": 0, "ReplicationLatency": 0.0})
                    if target.state == PENDING:
                        m["OperationsPendingReplication"] += 1
                        m["BytesPendingReplication"] += version.size
                        m["ReplicationLatency"] = max(m["ReplicationLatency"], (now - version.created).total_seconds())
                    elif target.state == FAILED:
                        m["OperationsFailedReplication"] += 1
                        e["failureReasons"][target.reason] = e["failureReasons"].get(target.reason, 0) + 1
            for (dest, _, _), source in self._replicas.items():
                if source.kind == "object":
                    entry(dest)["replica"] += 1
                else:
                    entry(dest)["deleteMarkers"]["replica"] = entry(dest)["deleteMarkers"].get("replica", 0) + 1
            for name, counts in self._not_replicated.items():
                entry(name)["notReplicated"] = dict(counts)
            return {
                "buckets": buckets,
                "lag": {**_percentiles(self._lags), "label": SIMULATED},
                "paused": {b: [{"rules": sorted(p.rule_ids), "until": p.until.isoformat() if p.until else None,
                                "held": sum(1 for v, t in self._held.get(b, []) if t.rule.id in p.rule_ids)}
                               for p in ps] for b, ps in self._pauses.items() if ps},
                "injectedFailures": [{"bucket": i.bucket, "prefix": i.prefix, "key": i.key, "remaining": i.remaining}
                                     for i in self._injections],
                "metadataSyncs": dict(self._metadata_syncs),
                "lagSettings": {k: v for k, v in vars(self.lag.settings).items()},
                "retry": dict(self.retry),
            }

    def reset(self) -> None:
        with self._lock:
            self._init_state()

    def _stored_configuration(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        """Answer GetBucketReplication with the configuration as stored. moto's own answer
        drops SourceSelectionCriteria, reports every Filter as Prefix "" and every
        DeleteMarkerReplication as Disabled — a drill reading it would check the wrong thing."""
        import xmltodict

        stored = self.sim.s3_backend().get_bucket(req.bucket).replication
        if not stored:
            return resp
        document = {"ReplicationConfiguration": {"@xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                                                 **{k: v for k, v in stored.items() if not k.startswith("@")}}}
        body = xmltodict.unparse(document).encode()
        headers = Headers({k: v for k, v in resp.headers.items() if k.lower() != "content-length"})
        return AwsResponse(status=200, headers=headers, body=body)


# ---------------------------------------------------------------------- helpers
def _percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, int(round(p * len(ordered) + 0.5)) - 1))]

    return {"count": len(ordered), "p50": rank(0.50), "p95": rank(0.95), "max": ordered[-1]}


def _new_markers(body: bytes) -> Iterable[tuple[str, str]]:
    """(key, delete-marker version id) for each marker a DeleteObjects call created."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    found = []
    for deleted in root.iter():
        if not deleted.tag.endswith("Deleted"):
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in deleted}
        if fields.get("DeleteMarker") == "true" and fields.get("DeleteMarkerVersionId") and not fields.get("VersionId"):
            found.append((fields.get("Key", ""), fields["DeleteMarkerVersionId"]))
    return found


def _bucket_param(params: dict[str, Any]) -> str:
    bucket = params.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        raise ValueError("'bucket' (source bucket name or ARN) is required")
    return bucket_name_of(bucket)


def _list_param(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ValueError(f"'{name}' must be a list of strings or a comma-separated string")


def _iso_duration(text: Any) -> timedelta:
    """ISO-8601 duration as FIS takes it (``PT10M``), between 1 minute and 12 hours."""
    try:
        value = parse_iso_duration(text)
    except ValueError:
        raise ValueError(f"'duration' must be an ISO-8601 duration such as PT10M, got {text!r}") from None
    if not _FIS_MIN <= value <= _FIS_MAX:
        raise ValueError(f"'duration' must be between PT1M and PT12H (FIS limits), got {text}")
    return value
