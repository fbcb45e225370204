"""Rung 2, replication state, from a HEAD of every version on both sides:

- no archive version FAILED;
- nothing PENDING longer than the threshold (the rule's RTC threshold, else the RPO objective);
- every archive version under the scope carries a replication status (else no rule covers it);
- every archive version has a copy in the replica under the *same version id*, marked REPLICA;
- every version in the replica is marked REPLICA (anything else was written there directly).

Status flags alone prove little (REFERENCE.md: failures have stayed silent for months), so
the replica is looked up by version id, not trusted from the source's COMPLETED.
"""

from __future__ import annotations

from collections import Counter

from drills.engine.model import RungResult, Severity
from drills.probes.observe import Observation, age_seconds
from drills.probes.rung import RungReport, version_label

RUNG, NAME = 2, "replication-state"


def check(obs: Observation) -> RungResult:
    report = RungReport(RUNG, NAME)
    archive, replica = obs.listings()
    source_heads = obs.heads("archive")
    replica_of_source = obs.replica_heads_of_source()
    replica_heads = obs.heads("replica")
    minutes, threshold_source = obs.threshold()
    now = obs.clock.now()

    states: Counter[str] = Counter()
    failed, stale_pending, absent, no_copy, not_marked, completed_without_copy, vanished = [], [], [], [], [], [], []
    in_flight = obs.in_flight()
    for kv, head in sorted(source_heads.items()):
        label = version_label(*kv)
        if head.missing:
            vanished.append(label)
            continue
        status = head.replication_status or "NONE"
        states[status] += 1
        if status == "FAILED":
            failed.append(label)
        elif status == "PENDING" and age_seconds(now, archive.versions[kv].last_modified) >= minutes * 60:
            stale_pending.append(label)
        elif status == "NONE":
            absent.append(label)
        copy = replica_of_source.get(kv)
        if copy is None or copy.missing:
            if status == "COMPLETED":
                completed_without_copy.append(label)
            elif status != "PENDING" and kv not in in_flight:
                no_copy.append(label)
        elif copy.replication_status != "REPLICA":
            not_marked.append(label)
    direct = [version_label(*kv) for kv, h in replica_heads.items()
              if not h.missing and h.replication_status != "REPLICA" and kv not in source_heads]

    report.counts.update(archiveVersions=len(source_heads), statuses=dict(sorted(states.items())),
                         failed=len(failed), pendingOverThreshold=len(stale_pending), statusAbsent=len(absent),
                         replicaMissing=len(no_copy) + len(completed_without_copy), replicaNotMarked=len(not_marked),
                         replicaWrittenDirectly=len(direct), thresholdMinutes=minutes,
                         thresholdSource=threshold_source, headRequests=obs.requests.get("HeadObject", 0),
                         simulated=bool(getattr(obs.clock, "simulated", False)))
    src, dst = archive.bucket, replica.bucket
    report.find_labels("replication-failed", Severity.CRITICAL, src,
                       f"archive version(s) in {src} report replication FAILED", failed,
                       remediation="fix the cause (permissions, KMS, configuration) and re-replicate with "
                                   "S3 Batch Replication; live replication never retries FAILED objects")
    report.find_labels("replication-pending-over-threshold", Severity.HIGH, src,
                       f"archive version(s) in {src} PENDING longer than {minutes:g} minutes ({threshold_source})",
                       stale_pending)
    report.find_labels("replication-status-absent", Severity.HIGH, src,
                       f"archive version(s) in {src} carry no replication status: no enabled rule covered them "
                       "when they were written", absent,
                       remediation="copy them with S3 Batch Replication; live replication never catches up")
    report.find_labels("replica-missing-for-completed", Severity.CRITICAL, dst,
                       f"archive version(s) report COMPLETED but {dst} has no version with their id",
                       completed_without_copy)
    report.find_labels("replica-version-missing", Severity.CRITICAL, dst,
                       f"archive version(s) have no copy with the same version id in {dst}", no_copy)
    report.find_labels("replica-not-marked-replica", Severity.HIGH, dst,
                       f"version(s) in {dst} carry the archive's version id but are not marked REPLICA", not_marked)
    report.find_labels("replica-written-directly", Severity.HIGH, dst,
                       f"version(s) in {dst} are not replicas of any archive version", direct)
    if vanished:
        report.not_verified(f"{len(vanished)} listed archive version(s) vanished before they could be read")
    return report.result()
