"""S3 Lifecycle as virtual days pass, and Glacier restores that take their tier's time.

moto stores a bucket's lifecycle configuration and never runs it; it finishes every
Glacier restore at once. This behaviour:

* records when each object version was created and when it became noncurrent (after-hooks
  on the writes and deletes that pass the middleware);
* evaluates every bucket's lifecycle rules at each virtual midnight while any bucket has a
  configuration (and on ``POST /_drkit/lifecycle/evaluate``): transitions, expiration (a delete marker in a
  versioned bucket), noncurrent transitions and expiration (never of a version that Object
  Lock still protects), expired-delete-marker clean-up and abort of incomplete multipart
  uploads. Dates follow S3: creation (or noncurrent) time + N days, rounded up to the next
  midnight UTC. The 128 KB default minimum for transitions applies unless the rule has a
  size filter (``TransitionDefaultMinimumObjectSize``);
* answers ``RestoreObject`` itself for GLACIER / DEEP_ARCHIVE objects: 202 then the restored
  copy appears after a duration drawn (seeded) within the tier's documented range, 409
  ``RestoreAlreadyInProgress`` meanwhile, ``x-amz-restore`` on HEAD, expiry after ``Days``.

Rule source: moto's stored rules say whether a bucket has a configuration; the rules are
read from the request body that moto accepted (moto drops ``ObjectSizeGreaterThan`` /
``LessThan``, ``NewerNoncurrentVersions`` on expiration and the default-minimum header), or
from moto's rule objects when no body was seen.

Lifecycle deletes and transitions act on moto's backend directly: they are not API calls,
so no other behaviour sees a request for them. In particular delete markers made by
lifecycle expiration are never replicated (REFERENCE.md); they are listed by
``is_lifecycle_delete_marker`` for any behaviour that wants to tell. Every time here is
virtual and every duration simulated.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterable
from xml.parsers.expat import ExpatError

import xmltodict

from drills.cloud.clock import SIMULATED, ScheduledTask
from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor, aws_error
from drills.storage_classes import (ARCHIVE_CLASSES, FACTS, RESTORE_TIERS, TRANSITION_DEFAULT_ALL,
                                    TRANSITION_MIN_OBJECT_BYTES, StorageClass, colder,
                                    transition_allowed_by_size)
from drills.times import parse_time_or_none

if TYPE_CHECKING:
    from drills.cloud.simulation import Simulation

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
# Storage-class facts (order, 128 KB minimum, restore tiers and times) live in drills.storage_classes.
MIN_TRANSITION_SIZE = TRANSITION_MIN_OBJECT_BYTES
DEFAULT_MIN_SIZE_MODE = TRANSITION_DEFAULT_ALL
TIERS = RESTORE_TIERS

# Restore durations (seconds) drawn uniformly within each tier's documented range
# (drills.storage_classes). AWS gives no lower bound for Deep Archive, so 9 h / 24 h are this
# simulation's choice. Override per behaviour setting
# ``extra["lifecycle"]["restoreSeconds"][class][tier] = [low, high]``.
_SIMULATED_LOW_HOURS = {"DEEP_ARCHIVE": {"Standard": 9.0, "Bulk": 24.0}}
RESTORE_SECONDS: dict[str, dict[str, tuple[float, float]]] = {
    cls: {tier: ((low if low is not None else _SIMULATED_LOW_HOURS[cls][tier]) * 3600, high * 3600)
          for tier, (low, high) in FACTS[StorageClass(cls)].restore_hours.items()}
    for cls in ARCHIVE_CLASSES
}

# AWS documents that Expedited retrievals "are not available for objects stored in the S3
# Glacier Deep Archive storage class" (RestoreObject API reference) but names no error code
# for it. We answer with the code S3 uses for "not valid for the object's storage class"
# (also returned by RestoreObject on a non-archived object).
DEEP_ARCHIVE_EXPEDITED_ERROR = (403, "InvalidObjectState",
                                "Expedited retrievals are not available for the DEEP_ARCHIVE storage class")

_CREATING_OPS = ("PutObject", "CompleteMultipartUpload", "CopyObject")
# PUT ?lifecycle resolves to the deprecated PutBucketLifecycle (same URI in botocore's model).
_PUT_LIFECYCLE_OPS = ("PutBucketLifecycleConfiguration", "PutBucketLifecycle")


# --------------------------------------------------------------------------- time helpers

def ceil_midnight(when: datetime) -> datetime:
    """``when`` rounded up to the next midnight UTC (unchanged if it is one)."""
    midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == when else midnight + DAY


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _parse_date(value: Any) -> datetime | None:
    return parse_time_or_none(value)


# --------------------------------------------------------------------------- rules

@dataclass(frozen=True)
class Transition:
    storage_class: str
    days: int | None = None
    date: datetime | None = None


@dataclass(frozen=True)
class NoncurrentAction:
    days: int
    storage_class: str | None = None      # None: expiration
    newer_versions: int | None = None     # NewerNoncurrentVersions to retain


@dataclass
class Rule:
    """One lifecycle rule, normalised from the XML body or moto's rule object."""

    rule_id: str
    enabled: bool
    prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    size_gt: int | None = None
    size_lt: int | None = None
    transitions: list[Transition] = field(default_factory=list)
    expiration_days: int | None = None
    expiration_date: datetime | None = None
    expired_delete_marker: bool = False
    noncurrent_transitions: list[NoncurrentAction] = field(default_factory=list)
    noncurrent_expiration: NoncurrentAction | None = None
    abort_days: int | None = None

    @property
    def has_size_filter(self) -> bool:
        return self.size_gt is not None or self.size_lt is not None

    def matches(self, key: str, size: int | None, tags: dict[str, str]) -> bool:
        """Filter match; ``size`` None for a delete marker (which has no tags either)."""
        if not key.startswith(self.prefix):
            return False
        if self.tags and (size is None or any(tags.get(k) != v for k, v in self.tags.items())):
            return False
        if size is not None:
            if self.size_gt is not None and not size > self.size_gt:
                return False
            if self.size_lt is not None and not size < self.size_lt:
                return False
        elif self.has_size_filter:
            return False
        return True


@dataclass
class LifecycleConfig:
    rules: list[Rule]
    min_size_mode: str = DEFAULT_MIN_SIZE_MODE


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def parse_lifecycle_xml(body: bytes, min_size_mode: str | None = None) -> LifecycleConfig:
    """Rules from a PutBucketLifecycleConfiguration body (the XML boto3 sends)."""
    doc = xmltodict.parse(body).get("LifecycleConfiguration") or {}
    rules = []
    for raw in _listify(doc.get("Rule")):
        flt = raw.get("Filter") or {}
        both = flt.get("And") or {}
        tag_list = _listify(flt.get("Tag")) + _listify(both.get("Tag"))
        expiration = raw.get("Expiration") or {}
        nce = raw.get("NoncurrentVersionExpiration")
        rules.append(Rule(
            rule_id=str(raw.get("ID") or ""),
            enabled=raw.get("Status") == "Enabled",
            prefix=(raw.get("Prefix") or flt.get("Prefix") or both.get("Prefix") or ""),
            tags={t["Key"]: t.get("Value") or "" for t in tag_list},
            size_gt=_int(flt.get("ObjectSizeGreaterThan", both.get("ObjectSizeGreaterThan"))),
            size_lt=_int(flt.get("ObjectSizeLessThan", both.get("ObjectSizeLessThan"))),
            transitions=[Transition(t["StorageClass"], _int(t.get("Days")), _parse_date(t.get("Date")))
                         for t in _listify(raw.get("Transition"))],
            expiration_days=_int(expiration.get("Days")),
            expiration_date=_parse_date(expiration.get("Date")),
            expired_delete_marker=str(expiration.get("ExpiredObjectDeleteMarker", "")).lower() == "true",
            noncurrent_transitions=[NoncurrentAction(int(t["NoncurrentDays"]), t["StorageClass"],
                                                     _int(t.get("NewerNoncurrentVersions")))
                                    for t in _listify(raw.get("NoncurrentVersionTransition"))],
            noncurrent_expiration=(NoncurrentAction(int(nce["NoncurrentDays"]), None,
                                                    _int(nce.get("NewerNoncurrentVersions")))
                                   if nce and nce.get("NoncurrentDays") is not None else None),
            abort_days=_int((raw.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")),
        ))
    return LifecycleConfig(rules, min_size_mode or DEFAULT_MIN_SIZE_MODE)


def rules_from_moto(moto_rules: Iterable[Any]) -> LifecycleConfig:
    """Rules from moto's stored ``LifecycleRule`` objects (no size filters: moto drops them)."""
    rules = []
    for r in moto_rules:
        flt = r.filter
        prefix, tags = r.prefix or "", {}
        if flt is not None:
            prefix = flt.prefix or prefix
            if flt.tag_key:
                tags[flt.tag_key] = flt.tag_value or ""
            if flt.and_filter is not None:
                prefix = flt.and_filter.prefix or prefix
                tags.update(flt.and_filter.tags)
        rules.append(Rule(
            rule_id=r.id or "", enabled=r.status == "Enabled", prefix=prefix, tags=tags,
            transitions=[Transition(t.storage_class, _int(t.days), _parse_date(t.date)) for t in r.transitions or []],
            expiration_days=_int(r.expiration_days), expiration_date=_parse_date(r.expiration_date),
            expired_delete_marker=str(r.expired_object_delete_marker or "").lower() == "true",
            noncurrent_transitions=[NoncurrentAction(int(t.days), t.storage_class, _int(t.newer_versions))
                                    for t in r.noncurrent_version_transitions or []],
            noncurrent_expiration=(NoncurrentAction(int(r.nve_noncurrent_days))
                                   if r.nve_noncurrent_days is not None else None),
            abort_days=_int(r.aimu_days),
        ))
    return LifecycleConfig(rules)


def _deeper(target: str, current: str | None) -> bool:
    return colder(target, current)


def _size_allows(config: LifecycleConfig, rule: Rule, target: str, size: int) -> bool:
    """The default minimum object size for transitions; a rule's own size filter overrides it."""
    return rule.has_size_filter or transition_allowed_by_size(size, target, config.min_size_mode)


# --------------------------------------------------------------------------- restores

@dataclass
class Restore:
    bucket: str
    key: str
    version_id: str
    storage_class: str
    tier: str
    days: int
    requested_at: datetime
    done_at: datetime
    expires_at: datetime | None = None
    task: ScheduledTask | None = None

    @property
    def ongoing(self) -> bool:
        return self.expires_at is None

    def as_status(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "versionId": self.version_id,
                "storageClass": self.storage_class, "tier": self.tier, "days": self.days,
                "requestedAt": self.requested_at.isoformat(),
                "eta" if self.ongoing else "restoredAt": self.done_at.isoformat(),
                **({"expiresAt": self.expires_at.isoformat()} if self.expires_at else {}),
                "label": SIMULATED}


# --------------------------------------------------------------------------- the behaviour

class LifecycleAndRestore(Interceptor):
    name = "lifecycle"

    def __init__(self, sim: "Simulation") -> None:
        super().__init__(sim)
        self._lock = threading.RLock()
        options = sim.settings.extra.get(self.name, {}) or {}
        self._restore_ranges = {cls: dict(tiers) for cls, tiers in RESTORE_SECONDS.items()}
        for cls, tiers in (options.get("restoreSeconds") or {}).items():
            self._restore_ranges.setdefault(cls, {}).update({t: tuple(v) for t, v in tiers.items()})
        self._rng = random.Random(f"{sim.settings.seed}:lifecycle")
        self._daily: ScheduledTask | None = None
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        with self._lock:
            self._created: dict[tuple[str, str, str], datetime] = {}
            self._noncurrent: dict[tuple[str, str, str], datetime] = {}
            self._uploads: dict[tuple[str, str], datetime] = {}
            self._configs: dict[str, LifecycleConfig] = {}
            self._lifecycle_markers: set[tuple[str, str, str]] = set()
            for restore in getattr(self, "_restores", {}).values():
                if restore.task is not None:
                    restore.task.cancel()
            self._restores: dict[tuple[str, str, str], Restore] = {}
            self._counts: dict[str, int] = {}
            self._last_evaluation: datetime | None = None
            if self._daily is not None:
                self._daily.cancel()
                self._daily = None

    def is_lifecycle_delete_marker(self, bucket: str, key: str, version_id: str) -> bool:
        """True if lifecycle expiration (not a client) created this delete marker."""
        with self._lock:
            return (bucket, key, version_id) in self._lifecycle_markers

    def created_at(self, bucket: str, key: str, version_id: str) -> datetime | None:
        """Virtual creation time of an object version, if a request for it passed the middleware."""
        with self._lock:
            return self._created.get((bucket, key, version_id))

    # ------------------------------------------------------------------ hooks
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service == "s3" and req.operation == "RestoreObject":
            return self._restore_object(req)
        return None

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "s3" or not resp.ok or not req.bucket:
            return resp
        op = req.operation
        if op in _CREATING_OPS and req.key:
            self._record_new_version(req.bucket, req.key)
        elif op == "DeleteObject" and req.key and req.version_id is None:
            self._record_new_version(req.bucket, req.key)
        elif op == "DeleteObjects":
            for key in _unversioned_keys_in_delete(req.body):
                self._record_new_version(req.bucket, key)
        elif op == "CreateMultipartUpload":
            upload_id = _xml_field(resp.body, "InitiateMultipartUploadResult", "UploadId")
            if upload_id:
                with self._lock:
                    self._uploads[(req.bucket, upload_id)] = self.sim.clock.now()
        elif op in _PUT_LIFECYCLE_OPS:
            mode = req.headers.get("x-amz-transition-default-minimum-object-size")
            config = parse_lifecycle_xml(req.body, mode)
            with self._lock:
                self._configs[req.bucket] = config
            self._ensure_daily()
        elif op in ("DeleteBucketLifecycle", "DeleteBucket"):
            with self._lock:
                self._configs.pop(req.bucket, None)
        elif op == "HeadObject" and req.key:
            version = req.version_id or resp.headers.get("x-amz-version-id") or "null"
            with self._lock:
                restore = self._restores.get((req.bucket, req.key, version))
            if restore is not None and restore.ongoing:
                resp.headers["x-amz-restore"] = 'ongoing-request="true"'
        return resp

    def _record_new_version(self, bucket_name: str, key: str) -> None:
        """The newest version of ``key`` was just created; its predecessor became noncurrent."""
        bucket = self._bucket(bucket_name)
        versions = bucket.keys.getlist(key, []) if bucket is not None else []
        if not versions:
            return
        now = self.sim.clock.now()
        with self._lock:
            self._created[(bucket_name, key, str(versions[-1].version_id))] = now
            if len(versions) > 1:
                self._noncurrent.setdefault((bucket_name, key, str(versions[-2].version_id)), now)

    # ------------------------------------------------------------------ control / status
    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "evaluate":
            return {"now": self.sim.clock.now().isoformat(), "actions": self.evaluate(), "label": SIMULATED}
        raise self.unknown_action(action)

    def status(self) -> dict[str, Any]:
        classes: dict[str, dict[str, int]] = {}
        noncurrent: dict[str, dict[str, int]] = {}
        for name, bucket in list(self._buckets().items()):
            for _key, versions in bucket.keys.lists():
                for i, version in enumerate(versions):
                    cls = getattr(version, "storage_class", None)
                    if cls is None:          # delete marker
                        continue
                    target = classes if i == len(versions) - 1 else noncurrent
                    target.setdefault(name, {}).setdefault(cls, 0)
                    target[name][cls] += 1
        with self._lock:
            return {
                "objectsByStorageClass": classes,
                "noncurrentByStorageClass": noncurrent,
                "bucketsWithLifecycle": sorted(self._configs),
                "restoresInFlight": [r.as_status() for r in self._restores.values() if r.ongoing],
                "restoredCopies": [r.as_status() for r in self._restores.values() if not r.ongoing],
                "lifecycleDeleteMarkers": len(self._lifecycle_markers),
                "actions": dict(self._counts),
                "lastEvaluation": self._last_evaluation.isoformat() if self._last_evaluation else None,
                "label": SIMULATED,
            }

    # ------------------------------------------------------------------ moto access
    def _buckets(self) -> dict[str, Any]:
        return self.sim.s3_backend().buckets

    def _bucket(self, name: str) -> Any | None:
        return self._buckets().get(name)

    # ------------------------------------------------------------------ evaluation
    def _ensure_daily(self) -> None:
        """Evaluate at every virtual midnight while any bucket has a lifecycle configuration."""
        with self._lock:
            if self._daily is not None:
                return
            self._daily = self.sim.clock.schedule_at(self.sim.clock.next_midnight(), self._daily_evaluation, "lifecycle: daily evaluation")

    def _daily_evaluation(self) -> None:
        with self._lock:
            self._daily = None
        try:
            self.evaluate()
        finally:
            if any(bucket.rules for bucket in list(self._buckets().values())):
                self._ensure_daily()

    def _config_for(self, name: str, bucket: Any) -> LifecycleConfig | None:
        if not bucket.rules:                # moto says there is no configuration
            with self._lock:
                self._configs.pop(name, None)
            return None
        with self._lock:
            config = self._configs.get(name)
        return config if config is not None else rules_from_moto(bucket.rules)

    def evaluate(self) -> dict[str, int]:
        """Apply every bucket's lifecycle rules as of the virtual now; returns action counts."""
        now = self.sim.clock.now()
        done: dict[str, int] = {}
        for name, bucket in list(self._buckets().items()):
            config = self._config_for(name, bucket)
            if config is None:
                continue
            rules = [r for r in config.rules if r.enabled]
            if not rules:
                continue
            for key, versions in bucket.keys.lists():
                self._evaluate_key(name, bucket, key, list(versions), config, rules, now, done)
            self._abort_uploads(name, bucket, rules, now, done)
        with self._lock:
            self._last_evaluation = now
            for action, n in done.items():
                self._counts[action] = self._counts.get(action, 0) + n
        if done:
            log.info("lifecycle evaluation at %s (virtual): %s", now.isoformat(), done)
        return done

    def _evaluate_key(self, name: str, bucket: Any, key: str, versions: list[Any], config: LifecycleConfig,
                      rules: list[Rule], now: datetime, done: dict[str, int]) -> None:
        newer_noncurrent = 0
        for index in range(len(versions) - 1, -1, -1):
            version = versions[index]
            is_current = index == len(versions) - 1
            vid = str(version.version_id)
            if not hasattr(version, "storage_class"):          # a delete marker
                if is_current and len(versions) == 1:
                    self._expire_marker(name, key, vid, rules, done)
                continue
            tags = self.sim.s3_backend().tagger.get_tag_dict_for_resource(version.arn)
            matching = [r for r in rules if r.matches(key, version.size, tags)]
            if is_current:
                self._current_actions(name, bucket, key, version, config, matching, now, done)
            else:
                self._noncurrent_actions(name, key, versions, index, config, matching, newer_noncurrent, now, done)
                newer_noncurrent += 1

    def _age_start(self, name: str, key: str, version: Any) -> datetime:
        with self._lock:
            created = self._created.get((name, key, str(version.version_id)))
        return created or _aware(version.last_modified)

    def _current_actions(self, name: str, bucket: Any, key: str, version: Any, config: LifecycleConfig,
                         matching: list[Rule], now: datetime, done: dict[str, int]) -> None:
        created = self._age_start(name, key, version)
        target = None
        for rule in matching:
            for t in rule.transitions:
                due = t.date if t.date is not None else (
                    ceil_midnight(created + timedelta(days=t.days)) if t.days is not None else None)
                if due is None or due > now or not _deeper(t.storage_class, target or version.storage_class):
                    continue
                if _size_allows(config, rule, t.storage_class, version.size):
                    target = t.storage_class
        if target is not None:              # a transition takes precedence over a delete marker
            version.set_storage_class(target)
            done[f"transition:{target}"] = done.get(f"transition:{target}", 0) + 1
            return
        for rule in matching:
            due = rule.expiration_date if rule.expiration_date is not None else (
                ceil_midnight(created + timedelta(days=rule.expiration_days))
                if rule.expiration_days is not None else None)
            if due is not None and due <= now:
                self._expire_current(name, bucket, key, done)
                return

    def _expire_current(self, name: str, bucket: Any, key: str, done: dict[str, int]) -> None:
        backend = self.sim.s3_backend()
        if bucket.is_versioned:
            backend.delete_object(name, key)                # adds a delete marker
            self._record_new_version(name, key)
            marker = bucket.keys.getlist(key, [])[-1]
            with self._lock:
                self._lifecycle_markers.add((name, key, str(marker.version_id)))
            done["expiration:delete-marker"] = done.get("expiration:delete-marker", 0) + 1
        else:
            backend.delete_object(name, key)
            done["expiration:delete"] = done.get("expiration:delete", 0) + 1

    def _noncurrent_actions(self, name: str, key: str, versions: list[Any], index: int, config: LifecycleConfig,
                            matching: list[Rule], newer_noncurrent: int, now: datetime,
                            done: dict[str, int]) -> None:
        version = versions[index]
        vid = str(version.version_id)
        with self._lock:
            since = self._noncurrent.get((name, key, vid))
        if since is None:                   # fall back to the successor's creation
            since = self._age_start(name, key, versions[index + 1])

        def due(action: NoncurrentAction) -> bool:
            if action.newer_versions is not None and newer_noncurrent < action.newer_versions:
                return False
            return ceil_midnight(since + timedelta(days=action.days)) <= now

        if any(r.noncurrent_expiration and due(r.noncurrent_expiration) for r in matching):
            if self._locked(version, now):
                done["noncurrent-expiration:skipped-locked"] = done.get("noncurrent-expiration:skipped-locked", 0) + 1
            else:
                # Retention has ended in virtual time; moto checks it against the real clock.
                version.lock_mode = version.lock_until = None
                self.sim.s3_backend().delete_object(name, key, version_id=vid, bypass=True)
                with self._lock:
                    self._created.pop((name, key, vid), None)
                    self._noncurrent.pop((name, key, vid), None)
                done["noncurrent-expiration"] = done.get("noncurrent-expiration", 0) + 1
                return
        target = None
        for rule in matching:
            for action in rule.noncurrent_transitions:
                cls = action.storage_class or ""
                if due(action) and _deeper(cls, target or version.storage_class) \
                        and _size_allows(config, rule, cls, version.size):
                    target = cls
        if target is not None:
            version.set_storage_class(target)
            done[f"noncurrent-transition:{target}"] = done.get(f"noncurrent-transition:{target}", 0) + 1

    def _expire_marker(self, name: str, key: str, vid: str, rules: list[Rule], done: dict[str, int]) -> None:
        """ExpiredObjectDeleteMarker: remove a delete marker that has no versions left behind it."""
        if any(r.expired_delete_marker and r.matches(key, None, {}) for r in rules):
            self.sim.s3_backend().delete_object(name, key, version_id=vid, bypass=True)
            with self._lock:
                self._created.pop((name, key, vid), None)
            done["expired-delete-marker"] = done.get("expired-delete-marker", 0) + 1

    @staticmethod
    def _locked(version: Any, now: datetime) -> bool:
        """Object Lock still protects this version (legal hold, or retention in the virtual future)."""
        if (version.lock_legal_status or "").upper() == "ON":
            return True
        until = _parse_date(version.lock_until) if version.lock_until else None
        return until is not None and until > now

    def _abort_uploads(self, name: str, bucket: Any, rules: list[Rule], now: datetime, done: dict[str, int]) -> None:
        for upload_id, upload in list(bucket.multiparts.items()):
            with self._lock:
                started = self._uploads.get((name, upload_id))
            if started is None:
                continue
            for rule in rules:
                if rule.abort_days is None or not upload.key_name.startswith(rule.prefix):
                    continue
                if ceil_midnight(started + timedelta(days=rule.abort_days)) <= now:
                    self.sim.s3_backend().abort_multipart_upload(name, upload_id)
                    with self._lock:
                        self._uploads.pop((name, upload_id), None)
                    done["abort-multipart-upload"] = done.get("abort-multipart-upload", 0) + 1
                    break

    # ------------------------------------------------------------------ restores
    def _restore_object(self, req: AwsRequest) -> AwsResponse | None:
        bucket = self._bucket(req.bucket or "")
        if bucket is None or req.key is None:
            return None                      # moto answers NoSuchBucket
        try:
            body = (xmltodict.parse(req.body).get("RestoreRequest") or {}) if req.body else {}
        except ExpatError:
            return aws_error(req, 400, "MalformedXML", "The XML you provided was not well-formed")
        if body.get("Type") == "SELECT" or body.get("OutputLocation"):
            return None                      # S3 Select restores: left to moto
        key = self.sim.s3_backend().get_object(req.bucket, req.key, version_id=req.version_id)
        if key is None:
            if req.version_id:
                return aws_error(req, 404, "NoSuchVersion", "The specified version does not exist.",
                                 Key=req.key, VersionId=req.version_id)
            return aws_error(req, 404, "NoSuchKey", "The specified key does not exist.", Key=req.key)
        if key.storage_class not in ARCHIVE_CLASSES:
            return None                      # moto: InvalidObjectState, as S3
        tier = (body.get("GlacierJobParameters") or {}).get("Tier") or body.get("Tier") or "Standard"
        days = body.get("Days")
        if tier not in TIERS or days is None or not str(days).isdigit() or int(days) < 1:
            return aws_error(req, 400, "MalformedXML", "The XML you provided was not well-formed or did not "
                             "validate against our published schema")
        if tier == "Expedited" and not FACTS[StorageClass(key.storage_class)].expedited:
            status, code, message = DEEP_ARCHIVE_EXPEDITED_ERROR
            return aws_error(req, status, code, message, StorageClass=key.storage_class)
        ident = (req.bucket, req.key, str(key.version_id))
        now = self.sim.clock.now()
        with self._lock:
            existing = self._restores.get(ident)
            if existing is not None and existing.ongoing:
                return aws_error(req, 409, "RestoreAlreadyInProgress", "Object restore is already in progress")
        if existing is not None:             # already restored: S3 extends the expiry, 200 OK
            self._finish_restore(existing, int(days), now)
            return AwsResponse(200, Headers())
        low, high = self._restore_ranges[key.storage_class][tier]
        with self._lock:
            seconds = self._rng.uniform(low, high)
        restore = Restore(req.bucket, req.key, str(key.version_id), key.storage_class, tier, int(days),
                          requested_at=now, done_at=now + timedelta(seconds=seconds))
        restore.task = self.sim.clock.schedule_at(restore.done_at, lambda: self._complete(restore),
                                                  f"s3 restore {tier} {key.storage_class}")
        with self._lock:
            self._restores[ident] = restore
        _send_restore_post_event(self.sim, bucket, key)
        return AwsResponse(202, Headers())

    def _moto_key(self, restore: Restore) -> Any | None:
        if self._bucket(restore.bucket) is None:
            return None
        return self.sim.s3_backend().get_object(restore.bucket, restore.key, version_id=restore.version_id)

    def _complete(self, restore: Restore) -> None:
        self._finish_restore(restore, restore.days, self.sim.clock.now())

    def _finish_restore(self, restore: Restore, days: int, now: datetime) -> None:
        """The restored copy is (still) there: expiry = now + Days, rounded up to midnight UTC."""
        key = self._moto_key(restore)
        ident = (restore.bucket, restore.key, restore.version_id)
        if key is None:                      # the version went away meanwhile
            with self._lock:
                self._restores.pop(ident, None)
            return
        if restore.ongoing:
            restore.done_at = now
        restore.expires_at = ceil_midnight(now + timedelta(days=days))
        key.set_expiry(restore.expires_at)   # moto now reports ongoing-request="false" and serves GET
        if restore.task is not None:
            restore.task.cancel()
        restore.task = self.sim.clock.schedule_at(restore.expires_at, lambda: self._expire(restore),
                                                  "s3 restored copy expires")
        if key.status == "RESTORED":         # reading status lets moto send s3:ObjectRestore:Completed
            log.debug("restore of %s/%s complete (virtual %s)", restore.bucket, restore.key, now.isoformat())

    def _expire(self, restore: Restore) -> None:
        key = self._moto_key(restore)
        if key is not None:
            key.set_expiry(None)
            key.status = None                # moto's restore state back to "never restored"
        with self._lock:
            self._restores.pop((restore.bucket, restore.key, restore.version_id), None)


# --------------------------------------------------------------------------- small helpers

def _xml_field(body: bytes, root: str, name: str) -> str | None:
    try:
        return (xmltodict.parse(body).get(root) or {}).get(name)
    except ExpatError:
        return None


def _unversioned_keys_in_delete(body: bytes) -> list[str]:
    """Keys of a DeleteObjects request that were deleted without a version id (new delete markers)."""
    try:
        doc = xmltodict.parse(body).get("Delete") or {}
    except ExpatError:
        return []
    return [o["Key"] for o in _listify(doc.get("Object")) if isinstance(o, dict) and not o.get("VersionId")]


def _send_restore_post_event(sim: "Simulation", bucket: Any, key: Any) -> None:
    """s3:ObjectRestore:Post through moto's own notification code, as S3 sends when a restore starts."""
    from moto.s3 import notifications
    event = notifications.S3NotificationEvent.OBJECT_RESTORE_POST_EVENT
    notifications.send_event(sim.account_id, event, bucket, key=key)
