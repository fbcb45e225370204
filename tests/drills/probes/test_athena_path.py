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
