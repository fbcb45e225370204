"""The inventory path: rungs 1-4 and 8 of the ladder from S3 Inventory reports of the archive
and its replica, reconciled by DuckDB under a memory limit (out-of-core joins spill to a
temporary directory), with the same rung results and findings as the listing path.

The statements are the files in ``drills/probes/sql/`` (shared with the Athena path); only
the counts and the first ``EVIDENCE_CAP`` labels of each finding reach Python, so memory is
DuckDB's limit plus a constant. Rung 5 (checksum *values* are in no inventory) is answered by
an S3 Batch Operations compute-checksum job over ``current_versions`` (drills/probes/
batch_checksums.py). Rungs the inventory cannot answer say so: 6 (the sample needs downloads; run the listing path with
``--rung 6``), 7 (the study index is not exported to S3 here). Rung 9 reads configuration,
not objects, and runs as on the listing path.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from drills.engine.model import RungResult, Severity, Status
from drills.errors import InfraError
from drills.probes import hierarchy, immutability, index_parity, integrity, inventory, replication_state
from drills.probes.inventory_report import InventoryReport
from drills.probes.observe import Observation, Unobservable
from drills.probes.rung import EVIDENCE_CAP, RungReport

SQL_DIR = Path(__file__).parent / "sql"
DEFAULT_MEMORY_LIMIT = "256MB"
ANSWERS = (1, 2, 3, 4, 8)
# The normalised columns the statements read (inventory_report.NORMALIZED has more).
COLUMNS = ("key", "version_id", "is_latest", "is_delete_marker", "size", "last_modified", "replication_status",
           "lock_mode", "retain_until", "legal_hold")
NOT_ANSWERED = {
    5: "stored checksum values are in neither listings nor S3 Inventory: this path answers rung 5 with an "
       "S3 Batch Operations S3ComputeObjectChecksum job (--checksums batch); --checksums heads runs on the "
       "listing path",
    6: "the byte sample downloads objects; run it on the listing path (--path listing --rung 6)",
    7: "the inventory path does not read the study index (no DynamoDB export to S3 yet); "
       "run --path listing --rung 7",
}


def sql(name: str) -> str:
    """A statement from sql/, without its comment lines (Athena's DDL parser refuses them)."""
    lines = (SQL_DIR / f"{name}.sql").read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--")).strip()


def render(text: str, **params: str) -> str:
    for name, value in params.items():
        text = text.replace("{" + name + "}", value)
    return text


def literal(value: str | datetime) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    return "'" + value.replace("'", "''") + "'"


def scope_regex(scope: str) -> str:
    return "^" + re.escape(scope) + r"([^/]+)/([^/]+)/([^/]+)\.dcm$"


# DuckDB joins versions on a fingerprint instead of the two strings. The statements (shared with
# Athena) say ``x.key = y.key AND x.version_id = y.version_id`` and test ``y.key IS NULL``
# after a LEFT JOIN; DuckDB's tables carry ``fp`` = the 128-bit MD5 of ``version_id || '/' ||
# key`` (injective before hashing: a version id never holds '/'; "null" for unversioned) and
# ``current_keys`` carries ``uid_fp`` of ``study/series/sop`` (no '/' inside a UID), and the
# join conditions are rewritten onto them. The hash tables then hold 16 bytes per row instead
# of two strings (~80 bytes at these keys), so a 10M-row join runs in a 64 MB limit; the labels
# still come from the probe side's strings. A false match needs an MD5 collision between two
# different (key, versionId) of the two reports: ~10^-25 by chance at 10M rows per side.
FINGERPRINT = "md5_number(version_id || '/' || key)"
UID_FINGERPRINT = "md5_number(study || '/' || series || '/' || sop)"
_SAME_VERSION = re.compile(r"\b([a-z])\.key = ([a-z])\.key AND \1\.version_id = \2\.version_id\b")
_SAME_SOP = re.compile(r"\b([a-z])\.study = ([a-z])\.study AND \1\.series = \2\.series AND \1\.sop = \2\.sop\b")
_ABSENT_KEY = re.compile(r"\b([a-z])\.key IS (NOT )?NULL\b")
_ABSENT_SOP = re.compile(r"\b([a-z])\.sop IS (NOT )?NULL\b")


def fingerprint_joins(text: str) -> str:
    """A shared statement with its version and SOP joins (and absence tests) on DuckDB's
    fingerprint columns; the same rows come out (see FINGERPRINT)."""
    text = _SAME_VERSION.sub(r"\1.fp = \2.fp", text)
    text = _SAME_SOP.sub(r"\1.uid_fp = \2.uid_fp", text)
    text = _ABSENT_KEY.sub(r"\1.fp IS \2NULL", text)
    return _ABSENT_SOP.sub(r"\1.uid_fp IS \2NULL", text)


def capped(body: str) -> str:
    """The first EVIDENCE_CAP rows of each kind by label, each with its kind's total ``n``."""
    return (f"SELECT * FROM (SELECT d.*, count(*) OVER (PARTITION BY kind) AS n, "
            f"row_number() OVER (PARTITION BY kind ORDER BY label) AS rn FROM ({body}) d "
            f"WHERE kind IS NOT NULL) x WHERE rn <= {EVIDENCE_CAP} ORDER BY kind, label")


@dataclass
class Engine:
    """A DuckDB connection with the ``archive``, ``replica`` and ``in_flight`` views defined.
    ``fingerprints``: the tables carry ``fp``/``uid_fp`` and statements join on them."""

    con: Any
    params: dict[str, str]
    fingerprints: bool = False

    def rows(self, name_or_sql: str, cap: bool = False) -> list[dict[str, Any]]:
        text = sql(name_or_sql) if re.fullmatch(r"[a-z0-9_]+", name_or_sql) else name_or_sql
        text = render(text, **self.params)
        if self.fingerprints:
            text = fingerprint_joins(text)
        if cap:
            text = capped(text)
        try:
            cursor = self.con.execute(text)
        except Exception as exc:            # noqa: BLE001 - duckdb.Error has no common import-time base here
            raise InfraError(f"reconciliation query {name_or_sql[:40]!r} failed: {exc}") from exc
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def execute(self, text: str) -> None:
        if self.fingerprints:
            text = fingerprint_joins(text)
        try:
            self.con.execute(text)
        except Exception as exc:            # noqa: BLE001 - duckdb.Error, imported lazily
            raise InfraError(f"reconciliation statement failed: {exc}") from exc

    def kinds(self, name: str) -> dict[str, tuple[int, list[dict[str, Any]]]]:
        out: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        for row in self.rows(name, cap=True):
            total, rows = out.get(row["kind"], (int(row["n"]), []))
            rows.append(row)
            out[row["kind"]] = (total, rows)
        return out

    def close(self) -> None:
        self.con.close()


def open_engine(archive: InventoryReport, replica: InventoryReport, scope: str, cutoff: datetime, now: datetime,
                memory_limit: str = DEFAULT_MEMORY_LIMIT, temp_dir: str | None = None, threads: int = 2) -> Engine:
    """Load both reports (the rows under ``scope``) into a DuckDB database file in ``temp_dir``
    (read once, stored compressed; joins and sorts beyond ``memory_limit`` spill there)."""
    import duckdb

    folder = Path(temp_dir or tempfile.mkdtemp(prefix="drkit-reconcile-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(folder / "reconcile.duckdb"),
                             config={"memory_limit": memory_limit, "threads": threads,
                                     "temp_directory": str(folder / "spill"), "preserve_insertion_order": False})
    except duckdb.Error as exc:
        raise InfraError(f"cannot open the reconciliation database in {folder}: {exc}") from exc
    params = {"scope_regex": literal(scope_regex(scope)), "cutoff": literal(cutoff), "now": literal(now)}
    engine = Engine(con, params, fingerprints=True)
    engine.execute("SET TimeZone='UTC'")
    engine.execute("SET enable_progress_bar=false")
    for name, report in (("archive", archive), ("replica", replica)):
        engine.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {', '.join(COLUMNS)}, {FINGERPRINT} AS fp "
                       f"FROM ({report.normalized_select()}) t WHERE starts_with(key, {literal(scope)})")
    engine.execute(f"CREATE OR REPLACE TABLE in_flight AS SELECT *, {FINGERPRINT} AS fp "
                   f"FROM ({render(sql('in_flight'), **params)}) q")
    engine.execute(f"CREATE OR REPLACE TABLE current_keys AS SELECT *, {UID_FINGERPRINT} AS uid_fp "
                   f"FROM ({render(sql('current_keys'), **params)}) q")
    return engine


# --------------------------------------------------------------------------- rungs

def _labels(found: dict[str, tuple[int, list[dict[str, Any]]]], kind: str) -> tuple[int, list[str]]:
    total, rows = found.get(kind, (0, []))
    return total, [r["label"] for r in rows]


def _find(report: RungReport, found: dict[str, tuple[int, list[dict[str, Any]]]], kind: str, code: str,
          severity: Severity, resource: str, message: str, remediation: str = "") -> int:
    total, labels = _labels(found, kind)
    report.find_counted(code, severity, resource, message, total, labels, remediation=remediation)
    return total


def rung1(engine: Engine, obs: Observation, archive_bucket: str, replica_bucket: str) -> RungResult:
    report = RungReport(inventory.RUNG, inventory.NAME)
    minutes, source = obs.threshold()
    sides = {r["side"]: r for r in engine.rows("side_counts")}
    in_flight = engine.rows("SELECT count(*) AS n FROM in_flight")[0]["n"]

    def counts(side: str, bucket: str) -> dict[str, Any]:
        r = sides.get(side, {})
        return {"bucket": bucket, "instances": int(r.get("instances") or 0), "bytes": int(r.get("bytes") or 0),
                "versions": int(r.get("versions") or 0), "versionBytes": int(r.get("version_bytes") or 0),
                "noncurrentVersions": int(r.get("noncurrent_versions") or 0),
                "deleteMarkers": int(r.get("delete_markers") or 0), "inventoryRows": int(r.get("rows_read") or 0)}
    report.counts.update(archive=counts("archive", archive_bucket), replica=counts("replica", replica_bucket),
                         inFlight=int(in_flight), thresholdMinutes=minutes, thresholdSource=source,
                         simulated=bool(getattr(obs.clock, "simulated", False)), source="s3-inventory")
    found = engine.kinds("rung1_parity")
    n_markers = found.get("missing-marker", (0, []))[0]
    try:
        rule = obs.scope_rule()
    except Unobservable as exc:
        rule = None
        if n_markers:
            report.not_verified(f"delete-marker parity: {exc}")
    markers_replicated = (rule or {}).get("DeleteMarkerReplication", {}).get("Status") == "Enabled"
    bucket = replica_bucket
    report.counts.update(missingVersions=found.get("missing", (0,))[0],
                         sizeMismatches=found.get("size-mismatch", (0,))[0],
                         extraVersions=found.get("extra", (0,))[0], missingDeleteMarkers=n_markers,
                         deleteMarkerReplication=markers_replicated)
    _find(report, found, "missing", "replica-missing-versions", Severity.CRITICAL, bucket,
          f"archive version(s) under {obs.scope} have no copy in the replica {bucket}",
          remediation="find why they were not replicated (rung 2) and copy them with S3 Batch Replication")
    _find(report, found, "size-mismatch", "replica-size-mismatch", Severity.CRITICAL, bucket,
          f"replica version(s) in {bucket} differ in size from the archive's")
    _find(report, found, "extra", "replica-extra-versions", Severity.HIGH, bucket,
          f"version(s) in the replica {bucket} that the archive {archive_bucket} does not hold "
          "(written directly into the DR bucket, or deleted from the archive by version id)")
    if markers_replicated:
        _find(report, found, "missing-marker", "replica-missing-delete-markers", Severity.HIGH, bucket,
              f"archive delete marker(s) not replicated to {bucket} although the rule replicates them")
    elif n_markers and rule is not None:
        _find(report, found, "missing-marker", "delete-markers-not-replicated", Severity.INFO, bucket,
              "archive delete marker(s) not in the replica (the rule in force does not replicate "
              "delete markers; rung 9 compares that with the declared config)")
    return report.result()


def rung2(engine: Engine, obs: Observation, src: str, dst: str) -> RungResult:
    report = RungReport(replication_state.RUNG, replication_state.NAME)
    minutes, threshold_source = obs.threshold()
    statuses = {r["status"]: int(r["n"]) for r in engine.rows("rung2_statuses")}
    found = engine.kinds("rung2_replication")

    def n(kind: str) -> int:
        return found.get(kind, (0,))[0]
    report.counts.update(archiveVersions=sum(statuses.values()), statuses=dict(sorted(statuses.items())),
                         failed=n("failed"), pendingOverThreshold=n("pending-over-threshold"),
                         statusAbsent=n("status-absent"), replicaMissing=n("no-copy") + n("completed-without-copy"),
                         replicaNotMarked=n("not-marked"), replicaWrittenDirectly=n("written-directly"),
                         thresholdMinutes=minutes, thresholdSource=threshold_source, headRequests=0,
                         simulated=bool(getattr(obs.clock, "simulated", False)), source="s3-inventory")
    _find(report, found, "failed", "replication-failed", Severity.CRITICAL, src,
          f"archive version(s) in {src} report replication FAILED",
          remediation="fix the cause (permissions, KMS, configuration) and re-replicate with "
                      "S3 Batch Replication; live replication never retries FAILED objects")
    _find(report, found, "pending-over-threshold", "replication-pending-over-threshold", Severity.HIGH, src,
          f"archive version(s) in {src} PENDING longer than {minutes:g} minutes ({threshold_source})")
    _find(report, found, "status-absent", "replication-status-absent", Severity.HIGH, src,
          f"archive version(s) in {src} carry no replication status: no enabled rule covered them "
          "when they were written",
          remediation="copy them with S3 Batch Replication; live replication never catches up")
    _find(report, found, "completed-without-copy", "replica-missing-for-completed", Severity.CRITICAL, dst,
          f"archive version(s) report COMPLETED but {dst} has no version with their id")
    _find(report, found, "no-copy", "replica-version-missing", Severity.CRITICAL, dst,
          f"archive version(s) have no copy with the same version id in {dst}")
    _find(report, found, "not-marked", "replica-not-marked-replica", Severity.HIGH, dst,
          f"version(s) in {dst} carry the archive's version id but are not marked REPLICA")
    _find(report, found, "written-directly", "replica-written-directly", Severity.HIGH, dst,
          f"version(s) in {dst} are not replicas of any archive version")
    return report.result()


def _shape(rows: list[dict[str, Any]], side: str) -> dict[str, int]:
    r = next((x for x in rows if x["side"] == side), {})
    return {"studies": int(r.get("studies") or 0), "series": int(r.get("series") or 0),
            "instances": int(r.get("instances") or 0)}


def rung3(engine: Engine, obs: Observation, archive_bucket: str, replica_bucket: str) -> RungResult:
    report = RungReport(hierarchy.HIERARCHY, hierarchy.HIERARCHY_NAME)
    shapes = engine.rows("rung3_shapes")
    differing = engine.rows("rung3_hierarchy")
    outside = engine.kinds("rung3_outside")
    total = int(differing[0]["total"]) if differing else 0
    in_flight_keys = engine.rows("SELECT count(DISTINCT key) AS n FROM in_flight")[0]["n"]
    report.counts.update(archive=_shape(shapes, "archive"), replica=_shape(shapes, "replica"),
                         studiesDiffering=total, inFlightKeys=int(in_flight_keys),
                         keysOutsideLayout=outside.get("outside", (0,))[0])
    if total:
        evidence = [{"study": r["study"], "archive": {"series": int(r["a_series"]), "instances": int(r["a_instances"])},
                     "replica": {"series": int(r["r_series"]), "instances": int(r["r_instances"])}}
                    for r in differing]
        report.find("hierarchy-mismatch", Severity.CRITICAL, replica_bucket,
                    f"{total} stud(ies) have different series/instance counts in the replica {replica_bucket} "
                    f"than in the archive {archive_bucket}", {"count": total, "studies": evidence},
                    remediation="see rung 4 for the SOP Instance UIDs that differ")
    _find(report, outside, "outside", "keys-outside-layout", Severity.MEDIUM, archive_bucket,
          f"current key(s) under {obs.scope} in {archive_bucket} do not follow "
          f"{obs.scope}<Study>/<Series>/<SOP>.dcm")
    return report.result()


def rung4(engine: Engine, obs: Observation, archive_bucket: str, replica_bucket: str) -> RungResult:
    report = RungReport(hierarchy.SOP_SET, hierarchy.SOP_SET_NAME)
    shapes = engine.rows("rung3_shapes")
    rows = engine.rows("rung4_sop_diff")
    in_flight_keys = engine.rows("SELECT count(DISTINCT key) AS n FROM in_flight")[0]["n"]

    def grouped(direction: str) -> tuple[int, list[dict[str, Any]]]:
        mine = [r for r in rows if r["direction"] == direction]
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for r in mine:
            g = groups.setdefault((r["study"], r["series"]), {"study": r["study"], "series": r["series"],
                                                              "sopInstanceUIDs": [], "count": int(r["n_group"])})
            g["sopInstanceUIDs"].append(r["sop"])
        return (int(mine[0]["total"]) if mine else 0), [groups[k] for k in sorted(groups)]
    missing_total, missing = grouped("missing")
    extra_total, extra = grouped("extra")
    report.counts.update(archiveInstances=_shape(shapes, "archive")["instances"],
                         replicaInstances=_shape(shapes, "replica")["instances"],
                         missingInReplica=missing_total, extraInReplica=extra_total, inFlightKeys=int(in_flight_keys))
    if missing_total:
        report.find("replica-missing-instances", Severity.CRITICAL, replica_bucket,
                    f"{missing_total} SOP instance(s) of the archive {archive_bucket} are not readable from the "
                    f"replica {replica_bucket}", {"count": missing_total, "bySeries": missing},
                    remediation="replicate them (S3 Batch Replication) and find why live replication missed them")
    if extra_total:
        report.find("replica-extra-instances", Severity.HIGH, replica_bucket,
                    f"{extra_total} SOP instance(s) readable from the replica {replica_bucket} are not current in "
                    f"the archive {archive_bucket}", {"count": extra_total, "bySeries": extra})
    return report.result()


def rung8(engine: Engine, obs: Observation, archive_bucket: str, replica_bucket: str) -> RungResult:
    report = RungReport(immutability.RUNG, immutability.NAME)
    counts = engine.rows("rung8_counts")[0]
    found = engine.kinds("rung8_locks")

    def labelled(kind: str) -> tuple[int, list[str]]:
        total, rows = found.get(kind, (0, []))
        return total, [f"{r['label']} (archive {r['a_mode']}/{_iso(r['a_until'])}/hold {r['a_hold']}; "
                       f"replica {r['c_mode']}/{_iso(r['c_until'])}/hold {r['c_hold']})" for r in rows]
    weaker_n, weaker = labelled("weaker")
    differs_n, differs = labelled("differs")
    report.counts.update(compared=int(counts["compared"] or 0), lockedVersions=int(counts["locked"] or 0),
                         legalHolds=int(counts["holds"] or 0), retentionExpired=int(counts["expired"] or 0),
                         replicaWeaker=weaker_n, replicaDiffering=differs_n)
    report.find_counted("replica-lock-weaker", Severity.CRITICAL, replica_bucket,
                        f"replica version(s) in {replica_bucket} are less protected than their archive version in "
                        f"{archive_bucket}", weaker_n, weaker,
                        remediation="re-apply the source's retention/legal hold to the replica version")
    report.find_counted("replica-lock-differs", Severity.MEDIUM, replica_bucket,
                        f"replica version(s) in {replica_bucket} carry a lock that differs from the archive's",
                        differs_n, differs)
    return report.result()


def _iso(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else "none"


RUNG_BUILDERS: dict[int, Callable[[Engine, Observation, str, str], RungResult]] = {
    1: rung1, 2: rung2, 3: rung3, 4: rung4, 8: rung8}
RUNG_NAMES = {1: inventory.NAME, 2: replication_state.NAME, 3: hierarchy.HIERARCHY_NAME,
              4: hierarchy.SOP_SET_NAME, 5: integrity.CHECKSUMS_NAME, 6: integrity.SAMPLE_NAME,
              7: index_parity.NAME, 8: immutability.NAME}


def export_current_versions(engine: Any, path: Path) -> Path:
    """``current_versions`` as a CSV file (key, version id; every field quoted), written by
    DuckDB's COPY so that no row passes through Python; an engine without COPY (Athena's)
    streams its result rows to the file a result page at a time (``iter_rows``)."""
    if isinstance(engine, Engine):
        query = render(sql("current_versions"), **engine.params)
        engine.execute(f"COPY ({query}) TO {literal(str(path))} (FORMAT CSV, HEADER false, FORCE_QUOTE *)")
        return path
    from drills.probes.checksum_compare import write_versions

    write_versions(((str(r["key"]), str(r["version_id"])) for r in engine.iter_rows("current_versions")), path)
    return path


def not_answered(number: int) -> RungResult:
    return RungResult(number, RUNG_NAMES[number], Status.NOT_VERIFIED,
                      reason=NOT_ANSWERED[number])


def cutoff_of(obs: Observation) -> tuple[datetime, datetime]:
    """(now, now - threshold): versions newer than the cutoff may still be in flight."""
    minutes, _ = obs.threshold()
    now = obs.clock.now()
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return now, now - timedelta(minutes=minutes)


@dataclass
class Facts:
    """What the rung builders read besides the reports, for reports reconciled offline (no
    cloud to ask): the replication threshold, the rule in force, the time and the scope."""

    now: datetime
    threshold_minutes: float = 15.0
    threshold_source: str = "given"
    rule: dict[str, Any] | None = None
    scope: str = "dicom/"

    @property
    def clock(self) -> "Facts":
        return self

    simulated = False

    def threshold(self) -> tuple[float, str]:
        return self.threshold_minutes, self.threshold_source

    def scope_rule(self) -> dict[str, Any] | None:
        return self.rule


def reconcile_reports(archive: InventoryReport, replica: InventoryReport, facts: Facts,
                      rungs: tuple[int, ...] = ANSWERS, memory_limit: str = DEFAULT_MEMORY_LIMIT,
                      temp_dir: str | None = None, threads: int = 2) -> list[RungResult]:
    """Rungs ``rungs`` (of 1-4, 8) from two reports alone, e.g. reports copied out of S3."""
    now = facts.now if facts.now.tzinfo else facts.now.replace(tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory(prefix="drkit-reconcile-", dir=temp_dir) as tmp:
        engine = open_engine(archive, replica, facts.scope, now - timedelta(minutes=facts.threshold_minutes), now,
                             memory_limit=memory_limit, temp_dir=tmp, threads=threads)
        try:
            return [RUNG_BUILDERS[n](engine, facts, archive.source_bucket, replica.source_bucket)  # type: ignore[arg-type]
                    for n in rungs if n in RUNG_BUILDERS]
        finally:
            engine.close()


def export_repair_manifest(engine: Engine, archive_bucket: str, path: Path) -> int:
    """Write the Batch Replication manifest (CSV Bucket,Key,VersionId, keys URL-encoded as S3
    Batch Operations reads them) of every archive version the replica lacks, straight from
    DuckDB (no row passes through Python); returns the number of rows."""
    query = render(sql("repair_replicate"), archive_bucket=literal(archive_bucket), **engine.params)
    encoded = (f"SELECT bucket, replace(replace(url_encode(key), '%2F', '/'), '%20', '+') AS key, version_id "
               f"FROM ({query}) q ORDER BY key, version_id")
    engine.execute(f"COPY ({encoded}) TO {literal(str(path))} (FORMAT CSV, HEADER false)")
    return int(engine.rows(f"SELECT count(*) AS n FROM ({query}) q")[0]["n"])
