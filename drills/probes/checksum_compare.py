"""Rung 5's comparison in bounded memory: the wanted versions, the study index and the
compute-checksum completion reports go to CSV files in a temporary directory as they stream
in (a page or a report row at a time), DuckDB loads them into a database file there under a
memory limit (joins spill to disk) and ``sql/rung5_checksums.duckdb.sql`` compares them.
Only counts and the first ``EVIDENCE_CAP`` labels of each kind reach Python, as in the
inventory reconciliation (``drills/probes/reconcile.py``).

Nothing here holds a row set in a Python list or dict: writers take iterators, the tables
take file paths.
"""

from __future__ import annotations

import csv
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol
from urllib.parse import unquote_plus

from drills.errors import InfraError
from drills.probes.batch_jobs import TaskResult
from drills.probes.reconcile import DEFAULT_MEMORY_LIMIT, FINGERPRINT as FP, literal, sql
from drills.probes.rung import EVIDENCE_CAP

SIDES = ("archive", "replica")
_READ = ("read_csv({path}, header=false, auto_detect=false, delim=',', quote='\"', escape='\"', buffer_size=4194304, "
         "allow_quoted_nulls=false, columns={columns})")  # no sniffing: an empty file is no rows


class Indexed(Protocol):
    key: str
    version_id: str
    checksum_sha256: str


def _open(path: Path) -> Any:
    return path.open("w", newline="", encoding="utf-8")


def _writer(handle: Any) -> Any:
    # Every field quoted: an empty string stays an empty string (DuckDB reads an unquoted empty field as NULL).
    return csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")


def write_versions(versions: Iterable[tuple[str, str]], path: Path) -> int:
    """(key, version id) rows to ``path``, streamed; returns the number written."""
    n = 0
    with _open(path) as handle:
        out = _writer(handle)
        for key, version in versions:
            out.writerow([key, version])
            n += 1
    return n


class IndexSink:
    """Appends index items to one CSV file, page by page, from any number of scan segments."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._handle = _open(path)
        self._out = _writer(self._handle)
        self._lock = threading.Lock()

    def add(self, items: Iterable[Indexed]) -> None:
        page = [(i.key, i.version_id, i.checksum_sha256) for i in items]     # one Scan page at most
        with self._lock:
            for key, version, checksum in page:
                self.rows += 1
                self._out.writerow([self.rows, key, version, checksum])

    def close(self) -> None:
        self._handle.close()


def write_report(results: Iterable[TaskResult], path: Path) -> int:
    """A completion report's task rows to ``path``, streamed: the key as written and URL-decoded
    (a report may echo the manifest's encoding), the status, the computed base64 SHA-256 (empty
    when the task reported none) and the error code."""
    n = 0
    with _open(path) as handle:
        out = _writer(handle)
        for r in results:
            n += 1
            out.writerow([n, r.key, unquote_plus(r.key), r.version_id, r.status, r.checksum("SHA256") or "",
                          r.error_code])
    return n


@dataclass
class Comparison:
    """What the comparison found: counts, and per kind its total and first labels (sorted)."""

    index_items: int
    versions: int
    matched: int                  # archive == replica == index
    unindexed: int                # wanted versions the index does not hold
    index_matches: int            # the archive side's computed value equals the index's
    found: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    not_verified: dict[str, dict[str, Any]] = field(default_factory=dict)

    def kind(self, name: str) -> tuple[int, list[str]]:
        return self.found.get(name, (0, []))


KINDS = {
    # rung 5: the index's value is the reference; without an index item the two copies must agree
    "archive-mismatch": "indexed AND ix IS NOT NULL AND a IS NOT NULL AND a <> ix",
    "replica-mismatch": "(indexed AND ix IS NOT NULL AND r IS NOT NULL AND r <> ix) "
                        "OR (NOT indexed AND a IS NOT NULL AND r IS NOT NULL AND a <> r)",
    "index-without-checksum": "indexed AND ix IS NULL",
    # repair: a computed archive-side value that the index does not confirm
    "differs-index": "a IS NOT NULL AND (NOT indexed OR ix IS NULL OR a <> ix)",
}
NOT_IN_REPORT = 0                # error id of a wanted version the side's report does not name
# Why a side has no checksum for a version it reported (the error text, mapped to an ``errors`` id).
_CHECKSUM_ERROR = ("CASE WHEN checksum = '' THEN coalesce(nullif(error_code, ''), CASE WHEN status = 'succeeded' "
                   "THEN 'NoChecksumInResult' ELSE 'TaskFailed' END) END")
# A task of a job that computes nothing (replicate, restore): only its status counts.
_TASK_ERROR = "CASE WHEN status <> 'succeeded' THEN coalesce(nullif(error_code, ''), 'TaskFailed') END"


class ChecksumTables:
    """A DuckDB database file in ``folder`` holding ``wanted``, ``index_items`` and one
    ``report_<side>`` table per side, loaded from CSV files.

    Only ``wanted`` holds strings (key, version id: for the manifest and the labels). Every
    other table and every join carries fixed-size columns: ``fp``, the 128-bit MD5 of
    ``version_id || '/' || key`` (injective before hashing: a version id never holds '/'), as in
    the reconciliation; ``cfp``, the 128-bit MD5 of a base64 SHA-256 (NULL: no value), so that
    checksums compare as 16-byte numbers instead of 44-character strings; and an error id
    (``errors``: 0 = NotInReport, then each error code as first met). Two checksums that differ
    compare equal only if their MD5s collide (a second preimage of MD5 over SHA-256 values:
    not feasible, ~2^-128 by chance). A join's hash table then holds ~36 bytes per row, and
    labels are looked up in ``wanted`` for the first ``EVIDENCE_CAP`` of a kind only."""

    def __init__(self, folder: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int = 2) -> None:
        import duckdb

        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        try:
            self.con = duckdb.connect(str(folder / "checksums.duckdb"),
                                      config={"memory_limit": memory_limit, "threads": threads,
                                              "temp_directory": str(folder / "spill"),
                                              "preserve_insertion_order": False})
        except duckdb.Error as exc:
            raise InfraError(f"cannot open the checksum comparison database in {folder}: {exc}") from exc
        self.execute("SET enable_progress_bar=false")
        # ``kfp`` fingerprints the key alone (a report's key is looked up among the wanted keys).
        self.execute("CREATE TABLE wanted (key VARCHAR, version_id VARCHAR, fp UHUGEINT, kfp UHUGEINT)")
        self.execute("CREATE TABLE index_items (fp UHUGEINT, cfp UHUGEINT)")
        self.execute("CREATE TABLE errors (id UINTEGER, code VARCHAR)")
        self.execute(f"INSERT INTO errors VALUES ({NOT_IN_REPORT}, 'NotInReport')")
        for side in SIDES:
            self.execute(f"CREATE TABLE report_{side} (fp UHUGEINT, cfp UHUGEINT, err UINTEGER)")

    def __enter__(self) -> "ChecksumTables":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def execute(self, text: str) -> Any:
        try:
            return self.con.execute(text)
        except Exception as exc:            # noqa: BLE001 - duckdb.Error, imported lazily
            raise InfraError(f"checksum comparison statement {text[:60]!r}... failed: {exc}") from exc

    def scalar(self, text: str) -> Any:
        return self.execute(text).fetchone()[0]

    def choose(self, candidates: Path, sample: int | None, seed: int) -> int:
        """``wanted`` = the distinct (key, version id) rows of the CSV ``candidates``, or
        ``sample`` of them in key order drawn with ``seed`` (the same draw as ``random.sample``
        over the sorted list: it only picks indices); returns how many."""
        source = _READ.format(path=literal(str(candidates)), columns="{'key': 'VARCHAR', 'version_id': 'VARCHAR'}")
        # Duplicates dropped on the fingerprint (a numeric aggregate, which spills), not on the strings.
        self.execute(f"CREATE OR REPLACE TABLE listed AS SELECT key, version_id, {FP} AS fp, md5_number(key) AS kfp "
                     f"FROM {source}")
        self.execute("CREATE OR REPLACE TABLE candidates AS SELECT l.* FROM listed l JOIN (SELECT fp, min(rowid) AS r "
                     "FROM listed GROUP BY fp) first ON l.rowid = first.r")
        self.execute("DROP TABLE listed")
        total = int(self.scalar("SELECT count(*) FROM candidates"))
        if sample is None or sample >= total:
            self.execute("INSERT INTO wanted SELECT key, version_id, fp, kfp FROM candidates")
        else:
            picks = self.folder / "sample.csv"
            with _open(picks) as handle:
                out = csv.writer(handle, lineterminator="\n")
                for index in sorted(random.Random(seed).sample(range(total), sample)):
                    out.writerow([index + 1])
            # Ranks by a sort (which spills; a window over all rows would hold them): with insertion
            # order kept for this one statement, the sorted table's row ids are the ranks.
            self.execute("SET preserve_insertion_order=true")
            try:
                self.execute("CREATE OR REPLACE TABLE ranked AS SELECT key, version_id FROM candidates "
                             "ORDER BY key, version_id")
            finally:
                self.execute("SET preserve_insertion_order=false")
            self.execute(f"INSERT INTO wanted SELECT key, version_id, {FP}, md5_number(key) FROM ranked WHERE rowid IN "
                         f"(SELECT rn - 1 FROM read_csv({literal(str(picks))}, header=false, "
                         "columns={'rn': 'BIGINT'}))")
            self.execute("DROP TABLE ranked")
        self.execute("DROP TABLE candidates")
        return int(self.scalar("SELECT count(*) FROM wanted"))

    def write_manifest(self, bucket: str, path: Path) -> int:
        """The ``S3BatchOperations_CSV_20180820`` manifest of ``wanted`` (Bucket,Key,VersionId,
        keys URL-encoded as ``batch_jobs.manifest_csv`` does) written by DuckDB's COPY."""
        encoded = ("SELECT " + literal(bucket) + " AS bucket, "
                   "replace(replace(url_encode(key), '%2F', '/'), '%20', '+') AS key, version_id "
                   "FROM wanted ORDER BY fp")     # deterministic; a fixed-size sort key spills cheaply
        self.execute(f"COPY ({encoded}) TO {literal(str(path))} (FORMAT CSV, HEADER false)")
        return int(self.scalar("SELECT count(*) FROM wanted"))

    def load_index(self, path: Path) -> None:
        """The index items of an ``IndexSink`` file (a version indexed twice: the last row)."""
        source = _READ.format(path=literal(str(path)), columns="{'n': 'BIGINT', 'key': 'VARCHAR', "
                              "'version_id': 'VARCHAR', 'checksum': 'VARCHAR'}")
        self._load_last("index_items", f"SELECT n, {FP} AS fp, CASE WHEN checksum = '' THEN NULL "
                        f"ELSE md5_number(checksum) END AS cfp FROM {source}", "s.fp, s.cfp")

    def _load_last(self, table: str, select: str, columns: str) -> None:
        """Rows of ``select`` (``n``, ``fp``, ...) into ``table`` as ``columns`` of ``staged s``,
        the last (highest ``n``) of each version only. The versions listed more
        than once are found by a count per fingerprint (an aggregate of fixed-size states, which
        spills); the join that drops their earlier rows builds on those few only."""
        self.execute(f"CREATE OR REPLACE TEMP TABLE staged AS {select}")
        self.execute("CREATE OR REPLACE TEMP TABLE repeated AS SELECT fp, max(n) AS n FROM staged GROUP BY fp "
                     "HAVING count(*) > 1")
        self.execute(f"INSERT INTO {table} SELECT {columns} FROM staged s LEFT JOIN repeated d ON d.fp = s.fp "
                     "WHERE d.fp IS NULL OR d.n = s.n")
        self.execute("DROP TABLE staged")
        self.execute("DROP TABLE repeated")

    def load_report(self, side: str, path: Path, checksums: bool = True) -> None:
        """A ``write_report`` file as ``report_<side>``: a key not among the wanted keys as
        written is read URL-decoded; a version reported twice: its last row. ``checksums``:
        the job computed checksums (a task without one is an error: its code, or
        NoChecksumInResult / TaskFailed); False: a job that computes nothing (replicate,
        restore), whose failed tasks are the errors."""
        if side not in SIDES:
            raise ValueError(f"unknown side {side!r}")
        source = _READ.format(path=literal(str(path)), columns="{'n': 'BIGINT', 'key': 'VARCHAR', "
                              "'key_decoded': 'VARCHAR', 'version_id': 'VARCHAR', 'status': 'VARCHAR', "
                              "'checksum': 'VARCHAR', 'error_code': 'VARCHAR'}")
        error = _CHECKSUM_ERROR if checksums else _TASK_ERROR
        value = "CASE WHEN checksum = '' THEN NULL ELSE md5_number(checksum) END" if checksums else "NULL"
        # Both fingerprints only where decoding changes the key (a report echoing encoded keys).
        self.execute("CREATE OR REPLACE TEMP TABLE reported AS SELECT n, md5_number(version_id || '/' || key) AS fp, "
                     "CASE WHEN key_decoded <> key THEN md5_number(version_id || '/' || key_decoded) END "
                     "AS fp_decoded, "
                     f"CASE WHEN key_decoded <> key THEN md5_number(key) END AS kfp, {value}::UHUGEINT AS cfp, "
                     f"{error} AS error FROM {source}")
        self.execute("INSERT INTO errors SELECT (SELECT max(id) FROM errors) + row_number() OVER (ORDER BY error), "
                     "error FROM (SELECT DISTINCT error FROM reported WHERE error IS NOT NULL "
                     "AND error NOT IN (SELECT code FROM errors))")
        # The wanted-key lookup joins only the rows whose key decoding changes (usually none).
        fp = "r.fp"
        if self.scalar("SELECT count(*) FROM reported WHERE kfp IS NOT NULL"):
            self.execute("CREATE OR REPLACE TEMP TABLE kept AS SELECT DISTINCT kfp FROM wanted WHERE kfp IN "
                         "(SELECT kfp FROM reported WHERE kfp IS NOT NULL)")
            fp = ("CASE WHEN r.fp_decoded IS NULL OR r.kfp IN (SELECT kfp FROM kept) THEN r.fp "
                  "ELSE r.fp_decoded END")
        self._load_last(f"report_{side}", f"SELECT r.n, {fp} AS fp, r.cfp, e.id AS err FROM reported r "
                        "LEFT JOIN errors e ON e.code = r.error", "s.fp, s.cfp, s.err")
        self.execute("DROP TABLE reported")
        self.execute("DROP TABLE IF EXISTS kept")

    def compare(self, sides: Iterable[str] = SIDES) -> Comparison:
        """Each wanted version against the reports of ``sides`` and the index (a side whose
        report was not loaded compares as an empty report)."""
        # One hash join per statement, each over fixed-size columns (several hash tables in one
        # pipeline run out of a small limit); the last writes the outcome (sql/rung5_checksums).
        self.execute("CREATE OR REPLACE TABLE with_index AS SELECT w.fp, i.fp IS NOT NULL AS indexed, i.cfp AS ix "
                     "FROM wanted w LEFT JOIN index_items i ON i.fp = w.fp")
        self.execute("CREATE OR REPLACE TABLE with_archive AS SELECT w.*, a.fp IS NOT NULL AS a_in, a.cfp AS a_cfp, "
                     "a.err AS a_err FROM with_index w LEFT JOIN report_archive a ON a.fp = w.fp")
        self.execute("DROP TABLE with_index")
        self.execute(f"CREATE OR REPLACE TABLE outcome AS {sql('rung5_checksums.duckdb')}")
        self.execute("DROP TABLE with_archive")
        counts = self.execute(
            "SELECT count(*), count(*) FILTER (WHERE indexed AND ix IS NOT NULL AND a = ix AND r = ix), "
            "count(*) FILTER (WHERE NOT indexed), count(*) FILTER (WHERE indexed AND a = ix) FROM outcome").fetchone()
        comparison = Comparison(index_items=int(self.scalar("SELECT count(*) FROM index_items")),
                                versions=int(counts[0]), matched=int(counts[1]), unindexed=int(counts[2]),
                                index_matches=int(counts[3]))
        for kind, condition in KINDS.items():
            comparison.found[kind] = self._labelled(condition)
        for side in sides:
            column = f"{side[0]}_err"
            total, labels = self._labelled(f"{column} IS NOT NULL")
            errors = dict(self.execute(f"SELECT e.code, o.n FROM (SELECT {column} AS id, count(*) AS n FROM outcome "
                                       f"WHERE {column} IS NOT NULL GROUP BY {column}) o JOIN errors e USING (id) "
                                       "ORDER BY e.code").fetchall())
            comparison.not_verified[side] = {"count": total, "errors": errors, "labels": labels}
        return comparison

    def _labelled(self, condition: str) -> tuple[int, list[str]]:
        """How many outcome rows meet ``condition``, and the first ``EVIDENCE_CAP`` labels
        (``key@version``) by label: the strings of ``wanted`` are read for those rows only."""
        total = int(self.scalar(f"SELECT count(*) FROM outcome WHERE {condition}"))
        if not total:
            return 0, []
        label = "CASE WHEN version_id = '' THEN key ELSE key || '@' || version_id END"
        labels = [row[0] for row in self.execute(
            f"SELECT {label} AS label FROM wanted WHERE fp IN (SELECT fp FROM outcome WHERE {condition}) "
            f"ORDER BY label LIMIT {EVIDENCE_CAP}").fetchall()]
        return total, labels
