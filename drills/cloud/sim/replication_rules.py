"""S3 replication rules as moto stores them, and which rule applies to an object.

moto keeps ``PutBucketReplication``'s XML as parsed by xmltodict: strings everywhere,
``None`` for empty elements, a dict where a list has one member. ``parse_rules`` turns
that into ``Rule`` values; ``select`` applies the documented choice:

- only rules with ``Status`` Enabled take part;
- a V2 rule (with ``Filter``) matches on prefix, tags (all of them) or both (``And``);
  a V1 rule (top-level ``Prefix``, no ``Filter``) matches on prefix alone;
- when several rules match and name the same destination bucket, the one with the
  highest ``Priority`` wins; rules with different destinations all apply;
- delete markers: V1 rules replicate them; a V2 rule only with
  ``DeleteMarkerReplication`` Enabled and never when it filters on tags (AWS rejects
  that configuration; if one is stored anyway, no marker is replicated by it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Rule:
    """One replication rule of a source bucket."""

    id: str
    priority: int
    enabled: bool
    prefix: str
    tags: tuple[tuple[str, str], ...]
    v1: bool
    dest_bucket: str
    storage_class: str | None = None
    replica_kms_key_id: str | None = None
    sse_kms: bool = False
    replica_modifications: bool = False
    delete_marker_replication: bool = False
    rtc: bool = False
    metrics: bool = False
    """Destination.Metrics Enabled: CloudWatch replication metrics and failure events."""
    event_threshold_minutes: int | None = None
    """Metrics.EventThreshold (RTC: 15): OperationMissedThreshold / ReplicatedAfterThreshold."""

    def matches(self, key: str, tags: Mapping[str, str]) -> bool:
        """Does an object with this key and these tags fall under the rule's filter?"""
        if not key.startswith(self.prefix):
            return False
        return all(tags.get(k) == v for k, v in self.tags)

    @property
    def replicates_delete_markers(self) -> bool:
        if self.v1:
            return True
        return self.delete_marker_replication and not self.tags


def bucket_name_of(arn_or_name: str) -> str:
    """``arn:aws:s3:::name`` (or a bare name) -> ``name``."""
    return arn_or_name.split(":::", 1)[1] if ":::" in arn_or_name else arn_or_name


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _enabled(node: Any, *path: str) -> bool:
    for name in path:
        if not isinstance(node, Mapping):
            return False
        node = node.get(name)
    return isinstance(node, Mapping) and node.get("Status") == "Enabled"


def _tags(items: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(t.get("Key") or ""), str(t.get("Value") or "")) for t in _as_list(items)
                 if isinstance(t, Mapping))


def parse_rule(raw: Mapping[str, Any]) -> Rule:
    """One stored rule -> ``Rule``."""
    filt = raw.get("Filter")
    v1 = "Filter" not in raw
    prefix, tags = "", ()
    if v1:
        prefix = raw.get("Prefix") or ""
    elif isinstance(filt, Mapping):
        if isinstance(filt.get("And"), Mapping):
            prefix = filt["And"].get("Prefix") or ""
            tags = _tags(filt["And"].get("Tag"))
        else:
            prefix = filt.get("Prefix") or ""
            tags = _tags(filt.get("Tag"))
    dest = raw.get("Destination") or {}
    encryption = dest.get("EncryptionConfiguration") or {}
    try:
        priority = int(raw.get("Priority") or 0)
    except (TypeError, ValueError):
        priority = 0
    return Rule(
        id=str(raw.get("ID") or ""),
        priority=priority,
        enabled=raw.get("Status") == "Enabled",
        prefix=prefix,
        tags=tags,
        v1=v1,
        dest_bucket=bucket_name_of(str(dest.get("Bucket") or "")),
        storage_class=dest.get("StorageClass") or None,
        replica_kms_key_id=encryption.get("ReplicaKmsKeyID") or None,
        sse_kms=_enabled(raw, "SourceSelectionCriteria", "SseKmsEncryptedObjects"),
        replica_modifications=_enabled(raw, "SourceSelectionCriteria", "ReplicaModifications"),
        delete_marker_replication=_enabled(raw, "DeleteMarkerReplication"),
        rtc=_enabled(dest, "ReplicationTime"),
        metrics=_enabled(dest, "Metrics"),
        event_threshold_minutes=_threshold(dest),
    )


def _threshold(dest: Mapping[str, Any]) -> int | None:
    metrics = dest.get("Metrics")
    if not _enabled(dest, "Metrics") or not isinstance(metrics, Mapping):
        return None
    threshold = metrics.get("EventThreshold")
    try:
        return int(threshold.get("Minutes")) if isinstance(threshold, Mapping) else None
    except (TypeError, ValueError):
        return None


def parse_rules(config: Mapping[str, Any] | None) -> list[Rule]:
    """moto's stored replication configuration (or None) -> its rules."""
    if not config:
        return []
    return [parse_rule(r) for r in _as_list(config.get("Rule")) if isinstance(r, Mapping)]


def _best_per_destination(rules: list[Rule]) -> dict[str, Rule]:
    best: dict[str, Rule] = {}
    for rule in rules:
        current = best.get(rule.dest_bucket)
        if current is None or rule.priority > current.priority:
            best[rule.dest_bucket] = rule
    return best


def select(rules: list[Rule], key: str, tags: Mapping[str, str]) -> dict[str, Rule]:
    """The rule that applies to a new object version, per destination bucket."""
    return _best_per_destination([r for r in rules if r.enabled and r.matches(key, tags)])


def select_for_delete_marker(rules: list[Rule], key: str) -> dict[str, Rule]:
    """The rules that replicate a new delete marker on ``key``, per destination bucket.

    A marker has no tags, so tag-filtered rules never match it; among the rules that do
    match, the highest priority per destination decides, and it must replicate markers."""
    chosen = _best_per_destination([r for r in rules if r.enabled and r.matches(key, {})])
    return {dest: r for dest, r in chosen.items() if r.replicates_delete_markers}
