"""Rungs 3 and 4, from the keys alone (``dicom/<Study>/<Series>/<SOP>.dcm``):

3. DICOM hierarchy: per study, the series and instance counts of the archive and the replica
   are equal;
4. SOP Instance UID set difference per study and series, both ways, named by UIDs (never
   patient data).

Current versions only (what a reader gets); instances still in flight are not counted missing.
"""

from __future__ import annotations

from collections import defaultdict

from drills.engine.model import RungResult, Severity
from drills.probes.observe import BucketListing, Observation
from drills.probes.rung import EVIDENCE_CAP, RungReport

HIERARCHY, HIERARCHY_NAME = 3, "dicom-hierarchy"
SOP_SET, SOP_SET_NAME = 4, "sop-instance-set"

Tree = dict[str, dict[str, set[str]]]    # study -> series -> SOP Instance UIDs


def parse_key(key: str, scope: str) -> tuple[str, str, str] | None:
    """(study, series, sop) of an archive key, or None when it does not follow the layout."""
    rest = key[len(scope):] if key.startswith(scope) else None
    if rest is None or not rest.endswith(".dcm"):
        return None
    parts = rest[:-len(".dcm")].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def tree(listing: BucketListing, scope: str, skip: set[str] = frozenset()) -> tuple[Tree, list[str]]:
    """The study/series/instance tree of the current versions, and keys outside the layout."""
    result: Tree = defaultdict(lambda: defaultdict(set))
    outside: list[str] = []
    for key in listing.current():
        if key in skip:
            continue
        parts = parse_key(key, scope)
        if parts is None:
            outside.append(key)
            continue
        result[parts[0]][parts[1]].add(parts[2])
    return result, outside


def _trees(obs: Observation) -> tuple[Tree, Tree, list[str], int]:
    """Both sides' trees, built once per ladder run (rungs 3 and 4 share them)."""
    def build() -> tuple[Tree, Tree, list[str], int]:
        archive, replica = obs.listings()
        in_flight_keys = {k for k, _ in obs.in_flight()}
        source, outside = tree(archive, obs.scope, skip=in_flight_keys)
        copy, _ = tree(replica, obs.scope, skip=in_flight_keys)
        return source, copy, outside, len(in_flight_keys)
    return obs._once("trees", build)


def _shape(t: Tree) -> dict[str, int]:
    return {"studies": len(t), "series": sum(len(s) for s in t.values()),
            "instances": sum(len(i) for s in t.values() for i in s.values())}


def check_hierarchy(obs: Observation) -> RungResult:
    report = RungReport(HIERARCHY, HIERARCHY_NAME)
    source, copy, outside, in_flight = _trees(obs)
    archive, replica = obs.listings()
    differing = []
    for study in sorted(set(source) | set(copy)):
        a, r = source.get(study, {}), copy.get(study, {})
        a_shape = (len(a), sum(len(i) for i in a.values()))
        r_shape = (len(r), sum(len(i) for i in r.values()))
        if a_shape != r_shape:
            differing.append({"study": study, "archive": {"series": a_shape[0], "instances": a_shape[1]},
                              "replica": {"series": r_shape[0], "instances": r_shape[1]}})
    report.counts.update(archive=_shape(source), replica=_shape(copy), studiesDiffering=len(differing),
                         inFlightKeys=in_flight, keysOutsideLayout=len(outside))
    if differing:
        report.find("hierarchy-mismatch", Severity.CRITICAL, replica.bucket,
                    f"{len(differing)} stud(ies) have different series/instance counts in the replica {replica.bucket} "
                    f"than in the archive {archive.bucket}",
                    {"count": len(differing), "studies": differing[:EVIDENCE_CAP]},
                    remediation="see rung 4 for the SOP Instance UIDs that differ")
    report.find_labels("keys-outside-layout", Severity.MEDIUM, archive.bucket,
                       f"current key(s) under {obs.scope} in {archive.bucket} do not follow "
                       f"{obs.scope}<Study>/<Series>/<SOP>.dcm", outside)
    return report.result()


def _difference(a: Tree, b: Tree) -> dict[str, dict[str, list[str]]]:
    """SOP Instance UIDs in ``a`` and not in ``b``, per study and series."""
    out: dict[str, dict[str, list[str]]] = {}
    for study, series_map in a.items():
        for series, sops in series_map.items():
            gone = sops - b.get(study, {}).get(series, set())
            if gone:
                out.setdefault(study, {})[series] = sorted(gone)
    return out


def _capped(diff: dict[str, dict[str, list[str]]]) -> tuple[int, list[dict[str, object]]]:
    rows = [{"study": st, "series": se, "sopInstanceUIDs": sops[:EVIDENCE_CAP], "count": len(sops)}
            for st, m in sorted(diff.items()) for se, sops in sorted(m.items())]
    return sum(r["count"] for r in rows), rows[:EVIDENCE_CAP]


def check_sop_set(obs: Observation) -> RungResult:
    report = RungReport(SOP_SET, SOP_SET_NAME)
    source, copy, _, in_flight = _trees(obs)
    archive, replica = obs.listings()
    missing_total, missing = _capped(_difference(source, copy))
    extra_total, extra = _capped(_difference(copy, source))
    report.counts.update(archiveInstances=_shape(source)["instances"], replicaInstances=_shape(copy)["instances"],
                         missingInReplica=missing_total, extraInReplica=extra_total, inFlightKeys=in_flight)
    if missing_total:
        report.find("replica-missing-instances", Severity.CRITICAL, replica.bucket,
                    f"{missing_total} SOP instance(s) of the archive {archive.bucket} are not readable from the "
                    f"replica {replica.bucket}", {"count": missing_total, "bySeries": missing},
                    remediation="replicate them (S3 Batch Replication) and find why live replication missed them")
    if extra_total:
        report.find("replica-extra-instances", Severity.HIGH, replica.bucket,
                    f"{extra_total} SOP instance(s) readable from the replica {replica.bucket} are not current in "
                    f"the archive {archive.bucket}", {"count": extra_total, "bySeries": extra})
    return report.result()
