"""Rung 8, immutability parity: each replica version carries the same Object Lock mode,
retain-until date and legal hold as the archive version it copies (from HEAD on both sides).

A replica weaker than its source (no lock, GOVERNANCE for COMPLIANCE, an earlier retain-until,
a dropped legal hold) is critical: the DR copy could be deleted while the source could not.
"""

from __future__ import annotations

from datetime import datetime, timezone

from drills.engine.model import RungResult, Severity
from drills.probes.observe import Head, Observation
from drills.probes.rung import RungReport, version_label

RUNG, NAME = 8, "immutability-parity"
_MODE_STRENGTH = {None: 0, "GOVERNANCE": 1, "COMPLIANCE": 2}


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _weaker(copy: Head, source: Head) -> bool:
    if _MODE_STRENGTH.get(copy.lock_mode, 0) < _MODE_STRENGTH.get(source.lock_mode, 0):
        return True
    src_until, copy_until = _utc(source.retain_until), _utc(copy.retain_until)
    if src_until is not None and (copy_until is None or copy_until < src_until):
        return True
    return source.legal_hold == "ON" and copy.legal_hold != "ON"


def check(obs: Observation) -> RungResult:
    report = RungReport(RUNG, NAME)
    archive, replica = obs.listings()
    sources = obs.heads("archive")
    copies = obs.replica_heads_of_source()
    now = obs.clock.now()
    weaker, differing = [], []
    compared = locked = holds = expired = 0
    for kv, source in sorted(sources.items()):
        copy = copies.get(kv)
        if source.missing or copy is None or copy.missing:
            continue                         # absent copies are rungs 1-2's findings
        compared += 1
        locked += source.lock_mode is not None
        holds += source.legal_hold == "ON"
        until = _utc(source.retain_until)
        expired += until is not None and until <= now
        same = (copy.lock_mode == source.lock_mode and _utc(copy.retain_until) == until
                and (copy.legal_hold or "OFF") == (source.legal_hold or "OFF"))
        if same:
            continue
        label = (f"{version_label(*kv)} (archive {source.lock_mode}/{_iso(source.retain_until)}/"
                 f"hold {source.legal_hold or 'OFF'}; replica {copy.lock_mode}/{_iso(copy.retain_until)}/"
                 f"hold {copy.legal_hold or 'OFF'})")
        (weaker if _weaker(copy, source) else differing).append(label)
    report.counts.update(compared=compared, lockedVersions=locked, legalHolds=holds, retentionExpired=expired,
                         replicaWeaker=len(weaker), replicaDiffering=len(differing))
    report.find_labels("replica-lock-weaker", Severity.CRITICAL, replica.bucket,
                       f"replica version(s) in {replica.bucket} are less protected than their archive version in "
                       f"{archive.bucket}", weaker,
                       remediation="re-apply the source's retention/legal hold to the replica version")
    report.find_labels("replica-lock-differs", Severity.MEDIUM, replica.bucket,
                       f"replica version(s) in {replica.bucket} carry a lock that differs from the archive's",
                       differing)
    return report.result()


def _iso(when: datetime | None) -> str:
    value = _utc(when)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "none"
