"""Rung 7, index <-> archive parity, both ways, in both regions:

- every study-index item (primary table) names an archive version that exists, and the
  current one; every current archive instance has an index item;
- the same for the DR replica table against the replica bucket;
- the DR replica table holds the same items as the primary table.

Items and objects still within the replication threshold are not counted on the DR side.
"""

from __future__ import annotations

from drills.engine.model import RungResult, Severity
from drills.probes.observe import BucketListing, IndexItem, Observation
from drills.probes.rung import RungReport, version_label

RUNG, NAME = 7, "index-parity"


def _compare(report: RungReport, side: str, table: str, region: str, items: list[IndexItem],
             listing: BucketListing, skip: set[tuple[str, str]]) -> None:
    current = listing.current()
    objects = {kv for kv, v in listing.versions.items() if not v.delete_marker}
    indexed_keys = {i.key for i in items}
    orphans, stale = [], []
    for item in items:
        kv = (item.key, item.version_id)
        if kv in skip:
            continue
        if kv not in objects:
            orphans.append(version_label(*kv))
        elif current.get(item.key) is None or current[item.key].version_id != item.version_id:
            stale.append(version_label(*kv))
    skipped_keys = {k for k, _ in skip}
    unindexed = [version_label(k, v.version_id) for k, v in current.items()
                 if k not in indexed_keys and k not in skipped_keys]
    resource = f"{table} ({region})"
    report.counts[side] = {"table": table, "region": region, "bucket": listing.bucket, "items": len(items),
                           "instances": len(current), "orphanItems": len(orphans), "staleItems": len(stale),
                           "unindexedInstances": len(unindexed)}
    report.find_labels(f"{side}-index-orphan-items", Severity.HIGH, resource,
                       f"item(s) of the index {resource} name a version that {listing.bucket} does not hold",
                       orphans, remediation="remove or repair the items; readers following them get nothing")
    report.find_labels(f"{side}-index-stale-items", Severity.MEDIUM, resource,
                       f"item(s) of the index {resource} name a version that is not the current one in "
                       f"{listing.bucket} (or the key was deleted)", stale)
    report.find_labels(f"{side}-unindexed-instances", Severity.HIGH, listing.bucket,
                       f"current instance(s) in {listing.bucket} have no item in the index {resource}", unindexed,
                       remediation="re-index them: a study the index does not know is lost to readers")


def check(obs: Observation) -> RungResult:
    report = RungReport(RUNG, NAME)
    o = obs.outputs
    archive, replica = obs.listings()
    primary_items = obs.index(o.primaryRegion)
    dr_items = obs.index(o.drRegion)
    in_flight = obs.in_flight()
    _compare(report, "primary", o.indexTable, o.primaryRegion, primary_items, archive, set())
    _compare(report, "dr", o.indexTable, o.drRegion, dr_items, replica, in_flight)
    primary = {(i.key, i.version_id, i.checksum_sha256) for i in primary_items}
    dr = {(i.key, i.version_id, i.checksum_sha256) for i in dr_items}
    only_primary = [version_label(k, v) for k, v, _ in primary - dr if (k, v) not in in_flight]
    only_dr = [version_label(k, v) for k, v, _ in dr - primary]
    report.counts["tables"] = {"onlyInPrimary": len(only_primary), "onlyInDr": len(only_dr)}
    report.find_labels("index-replica-behind", Severity.HIGH, f"{o.indexTable} ({o.drRegion})",
                       f"index item(s) of {o.primaryRegion} missing or different in the DR replica table",
                       only_primary)
    report.find_labels("index-replica-diverged", Severity.HIGH, f"{o.indexTable} ({o.drRegion})",
                       f"item(s) of the DR replica table that the {o.primaryRegion} table does not hold", only_dr)
    return report.result()
