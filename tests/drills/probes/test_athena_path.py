"""The Athena path's runner (drills.probes.athena_path) against a stand-in for Athena that runs
the statements it receives in DuckDB: the same rung findings as the DuckDB inventory path.

This tests the statements drkit sends (AWS's inventory DDL is recorded, not run: DuckDB has no
OpenCSVSerde), the paging and typing of GetQueryResults, and the shared rung statements. It
is not a test of Athena: Athena itself was never run (no AWS account; moto's Athena returns
canned results). AWS: "Querying Amazon S3 Inventory with Amazon Athena"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-athena-query.html).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from drills import s3_inventory as fmt
from drills.probes import athena_path, reconcile
from drills.probes.inventory_report import InventoryLocation, load_local
from drills.synth.inventory import generate_pair

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)
PAGE = 7                     # rows per GetQueryResults page (Athena's is 1,000): paging is exercised


class DuckAthena:
    """Just enough of boto3's Athena client: statements run in DuckDB, results paged as Athena does."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[str] = []
        self.results: dict[str, tuple[list[str], list[str], list[tuple]]] = {}
        self.ids = itertools.count()

    def start_query_execution(self, QueryString: str, **_: object) -> dict:
        qid = f"q{next(self.ids)}"
        self.statements.append(QueryString)
        if not QueryString.startswith(("CREATE DATABASE", "CREATE EXTERNAL TABLE")):
            cur = self.con.execute(QueryString)
            if cur.description:
                names = [d[0] for d in cur.description]
                types = [_athena_type(str(d[1])) for d in cur.description]
                self.results[qid] = (names, types, cur.fetchall())
        return {"QueryExecutionId": qid}

    def get_query_execution(self, QueryExecutionId: str) -> dict:
        return {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}}

    def get_query_results(self, QueryExecutionId: str, NextToken: str | None = None) -> dict:
        names, types, rows = self.results[QueryExecutionId]
        start = int(NextToken or 0)
        page = [{"Data": [{"VarCharValue": n} for n in names]}] if start == 0 else []
        page += [{"Data": [{} if v is None else {"VarCharValue": _text(v)} for v in row]}
                 for row in rows[start:start + PAGE]]
        out = {"ResultSet": {"Rows": page, "ResultSetMetadata": {
            "ColumnInfo": [{"Name": n, "Type": t} for n, t in zip(names, types)]}}}
        if start + PAGE < len(rows):
            out["NextToken"] = str(start + PAGE)
        return out


def _athena_type(duck: str) -> str:
    return {"BIGINT": "bigint", "INTEGER": "integer", "BOOLEAN": "boolean", "HUGEINT": "bigint"}.get(
        duck, "timestamp" if duck.startswith("TIMESTAMP") else "varchar")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return generate_pair(tmp_path_factory.mktemp("athena"), 5_000, per_kind=3)


def test_the_athena_runner_gives_the_inventory_paths_findings(pair, tmp_path):
    archive, replica = load_local(pair.archive_manifest), load_local(pair.replica_manifest)
    facts = reconcile.Facts(now=NOW)
    duck = reconcile.reconcile_reports(archive, replica, facts, temp_dir=str(tmp_path))

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("CREATE MACRO from_iso8601_timestamp(x) AS CAST(x AS TIMESTAMPTZ)")
    found = {}
    for side, report in (("archive", archive), ("replica", replica)):
        cols = ", ".join(f"'{c.column}': 'VARCHAR'" for c in report.columns)
        con.execute(f"CREATE TABLE {side}_inventory AS SELECT *, '2026-11-30-00-00' AS dt FROM read_csv("
                    f"'{report.files[0]}', header=false, columns={{{cols}}}, auto_detect=false)")
        where = InventoryLocation(report.source_bucket, "all", f"{side}-inventory", "inventory", "CSV")
        found[side] = (where, report.manifest, "2026-11-30-00-00")
    fake = DuckAthena(con)
    params = {"scope_regex": reconcile.literal(reconcile.scope_regex("dicom/")),
              "cutoff": reconcile.literal(NOW - timedelta(minutes=15)), "now": reconcile.literal(NOW)}
    engine = athena_path.AthenaEngine(fake, "drkit_test", "s3://results/", "primary", params, sleep=lambda s: None)
    athena_path.define(engine, found, "dicom/")
    athena = [reconcile.RUNG_BUILDERS[n](engine, facts, archive.source_bucket, replica.source_bucket)
              for n in reconcile.ANSWERS]

    assert [r.status for r in athena] == [r.status for r in duck]
    assert [r.findings for r in athena] == [r.findings for r in duck]
    assert [r.counts for r in athena] == [r.counts for r in duck]
    ddl = next(s for s in fake.statements if s.startswith("CREATE EXTERNAL TABLE"))
    assert "'org.apache.hadoop.hive.serde2.OpenCSVSerde'" in ddl and "'projection.dt.format' = 'yyyy-MM-dd-HH-mm'" in ddl
    assert "LOCATION 's3://archive-inventory/inventory/archive-bucket/all/hive/'" in ddl
    assert all(f"`{c.column}` string" in ddl for c in fmt.schema_columns("CSV", archive.manifest["fileSchema"]))


class PagedResults:
    """An Athena client whose one query result is ``total`` current versions, each
    ``GetQueryResults`` page (1,000 rows, the first with the header, as Athena pages) made only
    when asked for: the client itself holds no rows."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pages_asked = 0

    def start_query_execution(self, **_: object) -> dict:
        return {"QueryExecutionId": "q"}

    def get_query_execution(self, QueryExecutionId: str) -> dict:
        return {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}}

    def get_query_results(self, QueryExecutionId: str, NextToken: str | None = None) -> dict:
        self.pages_asked += 1
        start = int(NextToken or 0)
        rows = [{"Data": [{"VarCharValue": "key"}, {"VarCharValue": "version_id"}]}] if start == 0 else []
        end = min(self.total, start + 1000 - len(rows))
        rows += [{"Data": [{"VarCharValue": f"dicom/1.2.{i // 100}/1.3.{i}/1.4.{i}.dcm"}, {"VarCharValue": f"v{i}"}]}
                 for i in range(start, end)]
        page = {"ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": [
            {"Name": "key", "Type": "varchar"}, {"Name": "version_id", "Type": "varchar"}]}}}
        if end < self.total:
            page["NextToken"] = str(end)
        return page


def _paged_engine(total: int) -> tuple[PagedResults, athena_path.AthenaEngine]:
    client = PagedResults(total)
    return client, athena_path.AthenaEngine(client, "drkit_test", "s3://results/", "primary", {}, sleep=lambda s: None)


def test_result_rows_are_read_a_page_at_a_time_as_they_are_taken():
    """GetQueryResults returns up to 1,000 rows per call with a NextToken
    (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html)."""
    client, engine = _paged_engine(2_500)
    rows = engine.iter_rows("current_versions")
    assert client.pages_asked == 0
    assert next(rows) == {"key": "dicom/1.2.0/1.3.0/1.4.0.dcm", "version_id": "v0"}
    assert client.pages_asked == 1
    rest = list(rows)
    assert client.pages_asked == 3 and len(rest) == 2_499 and rest[-1]["version_id"] == "v2499"


def test_current_versions_stream_from_athena_to_the_manifest_file_in_bounded_memory(tmp_path):
    """Rung 5's candidates on the Athena path (``reconcile.export_current_versions``): 60,000
    versions go to the file while Python holds about one result page; as a list of row dicts
    they would take well over 10 MiB (tracemalloc)."""
    import tracemalloc

    client, engine = _paged_engine(60_000)
    tracemalloc.start()
    try:
        reconcile.export_current_versions(engine, tmp_path / "current.csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    lines = (tmp_path / "current.csv").read_text().splitlines()
    assert len(lines) == 60_000 and lines[-1] == '"dicom/1.2.599/1.3.59999/1.4.59999.dcm","v59999"'
    assert client.pages_asked == 61
    assert peak < 2 * 2**20, f"Python allocated {peak / 2**20:.1f} MiB at peak"
