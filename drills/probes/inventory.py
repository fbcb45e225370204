"""Rung 1, inventory parity: the archive and its DR replica hold the same instances, bytes,
current and noncurrent versions and delete markers under the scope prefix.

Read from ListObjectVersions alone (one request per 1,000 keys; nothing is downloaded).
Versions younger than the replication threshold that are not in the replica yet are
counted as in flight, not as missing.
"""

from __future__ import annotations

from typing import Any

from drills.engine.model import RungResult, Severity
from drills.probes.observe import BucketListing, Observation, Unobservable
from drills.probes.rung import RungReport, version_label

RUNG, NAME = 1, "inventory-parity"


def side_counts(listing: BucketListing) -> dict[str, Any]:
    current = listing.current()
    return {"bucket": listing.bucket, "instances": len(current), "bytes": sum(v.size for v in current.values()),
            "versions": len(listing.objects()), "versionBytes": sum(v.size for v in listing.objects()),
            "noncurrentVersions": len(listing.noncurrent()), "deleteMarkers": len(listing.delete_markers()),
            "listRequests": listing.requests}


def check(obs: Observation) -> RungResult:
    report = RungReport(RUNG, NAME)
    archive, replica = obs.listings()
    in_flight = obs.in_flight()
    minutes, source = obs.threshold()
    report.counts.update(archive=side_counts(archive), replica=side_counts(replica),
                         inFlight=len(in_flight), thresholdMinutes=minutes, thresholdSource=source,
                         simulated=bool(getattr(obs.clock, "simulated", False)))

    missing, size_mismatch, missing_markers = [], [], []
    for kv, version in archive.versions.items():
        there = replica.versions.get(kv)
        if there is None:
            if kv in in_flight:
                continue
            (missing_markers if version.delete_marker else missing).append(version_label(*kv))
        elif there.delete_marker != version.delete_marker:
            missing.append(version_label(*kv))
        elif not version.delete_marker and there.size != version.size:
            size_mismatch.append(version_label(*kv))
    extra = [version_label(*kv) for kv in replica.versions if kv not in archive.versions]

    try:
        rule = obs.scope_rule()
    except Unobservable as exc:
        rule = None
        if missing_markers:
            report.not_verified(f"delete-marker parity: {exc}")
    markers_replicated = (rule or {}).get("DeleteMarkerReplication", {}).get("Status") == "Enabled"
    report.counts.update(missingVersions=len(missing), sizeMismatches=len(size_mismatch),
                         extraVersions=len(extra), missingDeleteMarkers=len(missing_markers),
                         deleteMarkerReplication=markers_replicated)
    bucket = replica.bucket
    report.find_labels("replica-missing-versions", Severity.CRITICAL, bucket,
                       f"archive version(s) under {obs.scope} have no copy in the replica {bucket}", missing,
                       remediation="find why they were not replicated (rung 2) and copy them with S3 Batch Replication")
    report.find_labels("replica-size-mismatch", Severity.CRITICAL, bucket,
                       f"replica version(s) in {bucket} differ in size from the archive's", size_mismatch)
    report.find_labels("replica-extra-versions", Severity.HIGH, bucket,
                       f"version(s) in the replica {bucket} that the archive {archive.bucket} does not hold "
                       "(written directly into the DR bucket, or deleted from the archive by version id)", extra)
    if markers_replicated:
        report.find_labels("replica-missing-delete-markers", Severity.HIGH, bucket,
                           f"archive delete marker(s) not replicated to {bucket} although the rule replicates them",
                           missing_markers)
    elif missing_markers and rule is not None:
        report.find_labels("delete-markers-not-replicated", Severity.INFO, bucket,
                           "archive delete marker(s) not in the replica (the rule in force does not replicate "
                           "delete markers; rung 9 compares that with the declared config)", missing_markers)
    return report.result()
