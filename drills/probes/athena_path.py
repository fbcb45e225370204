"""The ladder on the Athena path (AWS, any size): the inventory path's reconciliation run by
Athena over the S3 Inventory tables instead of DuckDB on this machine.

drkit creates a database and one table per bucket with the DDL AWS documents for CSV
inventory (``sql/athena_inventory_table.sql``: OpenCSVSerde over the hive symlinks, partition
projection on ``dt``), views ``archive`` / ``replica`` (``sql/normalize.athena.sql``, newest
partition), ``in_flight`` and ``current_keys``, then runs the very statements of the inventory
path (``sql/*.sql``) through ``StartQueryExecution`` and reads ``GetQueryResults``. The rung
builders are ``drills.probes.reconcile``'s, so the rung results and findings are the same.

Tested here only by running the same statements in DuckDB (tests/drills/probes): Athena itself
was not run (no AWS account; moto's Athena returns canned results).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from drills import s3_inventory as fmt
from drills.errors import InfraError, UsageError
from drills.probes import reconcile
from drills.probes.inventory_report import InventoryLocation, ReportUnusable, locate
from drills.probes.observe import Observation, call

POLL_SECONDS = 1.0
TIMEOUT_SECONDS = 1800.0
_TIME_FIELDS = {"ObjectLockRetainUntilDate": "retain_until"}
_TEXT_FIELDS = {"ReplicationStatus": "replication_status", "ObjectLockMode": "lock_mode",
                "ObjectLockLegalHoldStatus": "legal_hold"}


@dataclass
class AthenaEngine:
    """``reconcile.Engine``'s interface (rows, kinds) over Athena."""

    athena: Any
    database: str
    output: str                 # s3://bucket/prefix/ for query results
    workgroup: str
    params: dict[str, str]
    sleep: Callable[[float], None] = time.sleep

    def execute(self, text: str) -> str:
        kwargs: dict[str, Any] = {"QueryString": text, "QueryExecutionContext": {"Database": self.database},
                                  "ResultConfiguration": {"OutputLocation": self.output},
                                  "WorkGroup": self.workgroup}
        qid = _athena(self.athena.start_query_execution, **kwargs)["QueryExecutionId"]
        waited = 0.0
        while True:
            state = _athena(self.athena.get_query_execution, QueryExecutionId=qid)["QueryExecution"]["Status"]
            if state["State"] == "SUCCEEDED":
                return qid
            if state["State"] in ("FAILED", "CANCELLED"):
                raise InfraError(f"Athena query {qid} {state['State']}: {state.get('StateChangeReason', '')}")
            if waited > TIMEOUT_SECONDS:
                raise InfraError(f"Athena query {qid} still {state['State']} after {TIMEOUT_SECONDS:.0f} s")
            self.sleep(POLL_SECONDS)
            waited += POLL_SECONDS

    def rows(self, name_or_sql: str, cap: bool = False) -> list[dict[str, Any]]:
        """The result rows as a list: for results of a known small size (counts, capped kinds)."""
        return list(self.iter_rows(name_or_sql, cap=cap))

    def iter_rows(self, name_or_sql: str, cap: bool = False) -> Iterator[dict[str, Any]]:
        """The result rows streamed: one ``GetQueryResults`` page (up to 1,000 rows) is held at a
        time and the next is asked for only when the caller has taken this one's rows."""
        text = reconcile.sql(name_or_sql) if re.fullmatch(r"[a-z0-9_]+", name_or_sql) else name_or_sql
        text = reconcile.render(text, **self.params)
        qid = self.execute(reconcile.capped(text) if cap else text)
        names: list[str] = []
        kwargs: dict[str, Any] = {"QueryExecutionId": qid}
        while True:
            page = _athena(self.athena.get_query_results, **kwargs)
            meta = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
            types = [c["Type"] for c in meta]
            rows = page["ResultSet"]["Rows"]
            if not names:
                names = [c["Name"] for c in meta]
                rows = rows[1:]                      # the first row of the first page is the header
            for r in rows:
                yield dict(zip(names, (_typed(d.get("VarCharValue"), t) for d, t in zip(r["Data"], types))))
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]

    kinds = reconcile.Engine.kinds

    def close(self) -> None:
        """Nothing to release; the database and views stay for inspection."""


def _typed(value: str | None, kind: str) -> Any:
    if value is None:
        return None
    if kind in ("bigint", "integer"):
        return int(value)
    if kind == "boolean":
        return value == "true"
    if kind.startswith("timestamp"):
        return datetime.fromisoformat(value)
    return value


def _athena(fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(f"Athena {fn.__name__}", fn, **kwargs)
    except ClientError as exc:
        raise InfraError(f"Athena {fn.__name__}: {exc}") from exc
    except BotoCoreError as exc:
        raise InfraError(f"Athena {fn.__name__}: {exc}") from exc


def table_ddl(table: str, where: InventoryLocation, manifest: dict[str, Any]) -> str:
    if manifest.get("fileFormat") != "CSV":
        raise ReportUnusable("the Athena path reads CSV inventories (the DDL AWS documents for CSV)")
    columns = fmt.schema_columns("CSV", str(manifest.get("fileSchema", "")))
    rendered = ",\n".join(f"  `{c.column}` string" for c in columns)
    location = f"s3://{where.destination_bucket}/{where.base}hive/"
    return reconcile.render(reconcile.sql("athena_inventory_table"), table=table, columns=rendered,
                            location=reconcile.literal(location))


def normalize_view(table: str, manifest: dict[str, Any], dt: str, scope: str) -> str:
    present = {c.name for c in fmt.schema_columns("CSV", str(manifest.get("fileSchema", "")))}
    parts = []
    for name, alias in _TEXT_FIELDS.items():
        parts.append(f"nullif({fmt.BY_NAME[name].column}, '') AS {alias}" if name in present
                     else f"CAST(NULL AS varchar) AS {alias}")
    for name, alias in _TIME_FIELDS.items():
        parts.append(f"CAST(from_iso8601_timestamp(nullif({fmt.BY_NAME[name].column}, '')) AS timestamp) AS {alias}"
                     if name in present else f"CAST(NULL AS timestamp) AS {alias}")
    return reconcile.render(reconcile.sql("normalize.athena"), table=table, select_columns=",\n         ".join(parts),
                            dt=reconcile.literal(dt), scope=reconcile.literal(scope))


def open_athena(obs: Observation, output: str, database: str | None = None, workgroup: str = "primary",
                manifests: dict[str, tuple[InventoryLocation, dict[str, Any], str]] | None = None) -> AthenaEngine:
    """Create the database, tables and views; ``manifests`` side -> (location, manifest, dt)."""
    if not output.startswith("s3://"):
        raise UsageError(f"--athena-output must be an s3:// location for query results (got {output!r})")
    o = obs.outputs
    athena = obs.client("athena", o.primaryRegion)
    database = database or f"drkit_{re.sub(r'[^a-z0-9_]', '_', o.archiveBucket.lower())}"
    now, cutoff = reconcile.cutoff_of(obs)
    params = {"scope_regex": reconcile.literal(reconcile.scope_regex(obs.scope)),
              "cutoff": reconcile.literal(cutoff), "now": reconcile.literal(now)}
    engine = AthenaEngine(athena, database, output, workgroup, params)
    engine.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    define(engine, manifests or newest_manifests(obs), obs.scope)
    return engine


def define(engine: AthenaEngine, found: dict[str, tuple[InventoryLocation, dict[str, Any], str]],
           scope: str) -> None:
    """The inventory tables (AWS's DDL) and the views the shared statements read."""
    for side, (where, manifest, dt) in found.items():
        table = f"{side}_inventory"
        engine.execute(table_ddl(table, where, manifest))
        engine.execute(f"CREATE OR REPLACE VIEW {side} AS {normalize_view(table, manifest, dt, scope)}")
    for view in ("in_flight", "current_keys"):
        engine.execute(f"CREATE OR REPLACE VIEW {view} AS {reconcile.render(reconcile.sql(view), **engine.params)}")


def newest_manifests(obs: Observation) -> dict[str, tuple[InventoryLocation, dict[str, Any], str]]:
    """Per side: where its inventory is, its newest manifest and that report's dt partition."""
    import json

    from drills.probes.inventory_report import _get

    o = obs.outputs
    found = {}
    for side, region, bucket in (("archive", o.primaryRegion, o.archiveBucket),
                                 ("replica", o.drRegion, o.replicaBucket)):
        s3 = obs.client("s3", region)
        where = locate(s3, bucket)
        page = call("ListObjectsV2", s3.list_objects_v2, Bucket=where.destination_bucket,
                    Prefix=f"{where.base}hive/", Delimiter="/")
        dts = sorted(p["Prefix"].rstrip("/").rsplit("dt=", 1)[-1] for p in page.get("CommonPrefixes", []) or [])
        if not dts:
            raise ReportUnusable(f"no S3 Inventory hive partition for {bucket} yet")
        dt = dts[-1]
        when = datetime.strptime(dt, "%Y-%m-%d-%H-%M")
        manifest = json.loads(_get(s3, where.destination_bucket, f"{where.base}{when:%Y-%m-%dT%H-%MZ}/manifest.json"))
        found[side] = (where, manifest, dt)
    return found

