"""DynamoDB replica tables (global tables, version 2019.11.21), simulated.

moto refuses ``CreateGlobalTable`` and ignores ``ReplicaUpdates``, so this behaviour keeps
the replica relationship itself: a *group* of regions holding a table of the same name.
It is recorded by the control action ``link`` {table, source_region, replica_regions}
(the offline deploy calls it) or inferred from a client's CreateTable/UpdateTable whose
body carries ``Replicas`` / ``ReplicaUpdates`` (Create adds a region, Delete removes it).

Global tables are multi-active: a successful write by a client (PutItem, UpdateItem,
DeleteItem, BatchWriteItem, TransactWriteItems) in any region of the group is applied to
every other region after a lag (``SimSettings.dynamodb_lag_seconds`` x uniform(0.5, 1.5),
seeded by ``SimSettings.seed``). UpdateItem is propagated as the whole resulting item
(read back at once), not by re-running its expression. Conflicts resolve last-writer-wins:
each write carries its virtual timestamp and a replicated write older than what a region
already holds for that item is dropped (counted as ``superseded``). While a destination
region is down (``sim["outage"]``) or its table does not exist yet, the write is held
and retried every ``retry_seconds`` (``SimSettings.extra["dynamodb_replicas"]``, default
30 simulated seconds) until it can be delivered. The simulation's own requests
(``req.internal``) are never propagated. DescribeTable on a linked table lists the other
regions under ``Replicas``, as AWS does for a global table.
"""

from __future__ import annotations

import binascii
import itertools
import json
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.cloud.clock import SIMULATED, ScheduledTask
from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor
from drills.cloud.sim.replication import region_down

_WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
GLOBAL_TABLE_VERSION = "2019.11.21"


@dataclass
class _Group:
    table: str
    source_region: str
    regions: list[str]


@dataclass
class _Write:
    """One client write on its way to one other region."""

    table: str
    origin: str
    dest: str
    kind: str                      # "put" | "delete"
    payload: dict[str, Any]        # the whole item (put) or its key (delete)
    item_key: str                  # canonical JSON of the key attributes
    stamp: tuple[datetime, int]
    created: datetime
    held: bool = False
    task: ScheduledTask | None = field(default=None, repr=False)


def table_name_of(name_or_arn: str) -> str:
    """``arn:aws:dynamodb:region:acct:table/Name`` (or a bare name) -> ``Name``."""
    return name_or_arn.split(":table/", 1)[1].split("/", 1)[0] if ":table/" in name_or_arn else name_or_arn


class DynamoDBReplicas(Interceptor):
    """Propagate item writes between the regions of a replicated table, with lag and LWW."""

    name = "dynamodb_replicas"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.RLock()
        extra = dict(sim.settings.extra.get(self.name, {}) or {})
        self.retry_seconds = float(extra.get("retry_seconds", 30.0))
        self._init_state()

    def _init_state(self) -> None:
        self._rng = random.Random(f"{self.sim.settings.seed}:dynamodb-replicas")
        self._seq = itertools.count()
        self._groups: dict[str, _Group] = {}
        self._stamps: dict[tuple[str, str, str], tuple[datetime, int]] = {}
        self._pending: list[_Write] = []
        self._stats: dict[str, dict[str, Any]] = {}

    # ================================================================== linking
    def link(self, table: str, source_region: str, replica_regions: list[str]) -> dict[str, Any]:
        """Record that ``table`` in ``source_region`` is replicated to ``replica_regions``."""
        table = table_name_of(table)
        with self._lock:
            group = self._groups.get(table)
            if group is None:
                group = self._groups[table] = _Group(table, source_region, [source_region])
            for region in [source_region, *replica_regions]:
                if region not in group.regions:
                    group.regions.append(region)
            missing = [r for r in group.regions if not self._table_exists(table, r)]
            return {"table": table, "sourceRegion": group.source_region, "regions": list(group.regions),
                    "missingTables": missing}

    def unlink(self, table: str, region: str | None = None) -> dict[str, Any]:
        table = table_name_of(table)
        with self._lock:
            group = self._groups.get(table)
            if group is None:
                return {"table": table, "linked": False}
            if region is None or region == group.source_region:
                del self._groups[table]
                return {"table": table, "linked": False}
            if region in group.regions:
                group.regions.remove(region)
            return {"table": table, "linked": True, "regions": list(group.regions)}

    def _table_exists(self, table: str, region: str) -> bool:
        try:
            return table in self.sim.backend("dynamodb", region).tables
        except KeyError:
            return False

    def _key_attrs(self, table: str, region: str) -> list[str]:
        return list(self.sim.backend("dynamodb", region).get_table(table).table_key_attrs)

    # ================================================================== hooks
    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "dynamodb" or not resp.ok or not req.region:
            return resp
        op = req.operation
        if op == "DescribeTable":
            return self._describe(req, resp)
        if req.internal:
            return resp
        if op in ("CreateTable", "UpdateTable"):
            self._infer_link(req)
        elif op in _WRITE_OPS:
            self._on_write(op, req, resp)
        return resp

    def _infer_link(self, req: AwsRequest) -> None:
        body = req.json()
        table = table_name_of(str(body.get("TableName", "")))
        added, removed = [], []
        for replica in body.get("Replicas") or []:
            if isinstance(replica, dict) and replica.get("RegionName"):
                added.append(replica["RegionName"])
        for update in body.get("ReplicaUpdates") or []:
            if isinstance(update.get("Create"), dict) and update["Create"].get("RegionName"):
                added.append(update["Create"]["RegionName"])
            if isinstance(update.get("Delete"), dict) and update["Delete"].get("RegionName"):
                removed.append(update["Delete"]["RegionName"])
        if table and added:
            self.link(table, req.region, [r for r in added if r != req.region])
        for region in removed:
            self.unlink(table, region)

    def _describe(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        doc = resp.json()
        table = doc.get("Table") or {}
        with self._lock:
            group = self._groups.get(str(table.get("TableName", "")))
            if group is None or req.region not in group.regions:
                return resp
            others = [r for r in group.regions if r != req.region]
        table["Replicas"] = [{"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in others]
        table["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
        resp.body = json.dumps(doc).encode()
        if "x-amz-crc32" in resp.headers:
            resp.headers["x-amz-crc32"] = str(binascii.crc32(resp.body))
        return resp

    def _on_write(self, op: str, req: AwsRequest, resp: AwsResponse) -> None:
        body = req.json()
        region = req.region
        assert region is not None
        if op == "PutItem":
            self._record(body.get("TableName", ""), region, "put", body.get("Item") or {})
        elif op == "DeleteItem":
            self._record(body.get("TableName", ""), region, "delete", body.get("Key") or {})
        elif op == "UpdateItem":
            self._record_update(body.get("TableName", ""), region, body.get("Key") or {})
        elif op == "BatchWriteItem":
            unprocessed = resp.json().get("UnprocessedItems") or {}
            for table, requests in (body.get("RequestItems") or {}).items():
                for request in requests:
                    if request in (unprocessed.get(table) or []):
                        continue
                    if "PutRequest" in request:
                        self._record(table, region, "put", request["PutRequest"].get("Item") or {})
                    elif "DeleteRequest" in request:
                        self._record(table, region, "delete", request["DeleteRequest"].get("Key") or {})
        elif op == "TransactWriteItems":
            for entry in body.get("TransactItems") or []:
                if "Put" in entry:
                    self._record(entry["Put"].get("TableName", ""), region, "put", entry["Put"].get("Item") or {})
                elif "Delete" in entry:
                    delete = entry["Delete"]
                    self._record(delete.get("TableName", ""), region, "delete", delete.get("Key") or {})
                elif "Update" in entry:
                    self._record_update(entry["Update"].get("TableName", ""), region, entry["Update"].get("Key") or {})

    def _group_for(self, table: str, region: str) -> _Group | None:
        with self._lock:
            group = self._groups.get(table_name_of(table))
            return group if group is not None and region in group.regions else None

    def _record_update(self, table: str, region: str, key: dict[str, Any]) -> None:
        if self._group_for(table, region) is None:
            return
        client = self.sim.internal_client("dynamodb", region)
        item = client.get_item(TableName=table_name_of(table), Key=key, ConsistentRead=True).get("Item")
        if item is None:
            self._record(table, region, "delete", key)
        else:
            self._record(table, region, "put", item)

    def _record(self, table: str, region: str, kind: str, payload: dict[str, Any]) -> None:
        group = self._group_for(table, region)
        if group is None:
            return
        name = group.table
        key = {a: payload[a] for a in self._key_attrs(name, region) if a in payload}
        item_key = json.dumps(key, sort_keys=True)
        now = self.sim.clock.now()
        with self._lock:
            stamp = (now, next(self._seq))
            self._stamps[(name, region, item_key)] = stamp
            for dest in group.regions:
                if dest == region:
                    continue
                write = _Write(name, region, dest, kind, payload if kind == "put" else key, item_key, stamp, now)
                self._pending.append(write)
                self._schedule(write, self.sim.settings.dynamodb_lag_seconds * self._rng.uniform(0.5, 1.5))

    # ================================================================== delivery
    def _schedule(self, write: _Write, delay: float) -> None:
        write.task = self.sim.clock.schedule_in(delay, lambda: self._deliver(write),
                                                f"dynamodb-replica {write.table} {write.origin} -> {write.dest}")

    def _deliver(self, write: _Write) -> None:
        with self._lock:
            if write not in self._pending:
                return
            stats = self._stats_for(write.table)
            if region_down(self.sim, write.dest) or not self._table_exists(write.table, write.dest):
                write.held = True
                return self._schedule(write, self.retry_seconds)
            current = self._stamps.get((write.table, write.dest, write.item_key))
            if current is not None and current >= write.stamp:
                self._pending.remove(write)
                stats["superseded"] += 1
                return None
            client = self.sim.internal_client("dynamodb", write.dest)
            try:
                if write.kind == "put":
                    client.put_item(TableName=write.table, Item=write.payload)
                else:
                    client.delete_item(TableName=write.table, Key=write.payload)
            except (ClientError, BotoCoreError):
                write.held = True
                return self._schedule(write, self.retry_seconds)
            self._stamps[(write.table, write.dest, write.item_key)] = write.stamp
            self._pending.remove(write)
            stats["delivered"] += 1
            lag = (self.sim.clock.now() - write.created).total_seconds()
            stats["maxLagSeconds"] = max(stats["maxLagSeconds"], lag)
            return None

    def _stats_for(self, table: str) -> dict[str, Any]:
        return self._stats.setdefault(table, {"delivered": 0, "superseded": 0, "maxLagSeconds": 0.0})

    # ================================================================== control / status
    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "link":
            table = params.get("table")
            source = params.get("source_region")
            replicas = params.get("replica_regions")
            if not isinstance(table, str) or not table:
                raise ValueError("'table' (table name) is required")
            if not isinstance(source, str) or not _REGION.match(source):
                raise ValueError(f"'source_region' must be an AWS region name, got {source!r}")
            if (not isinstance(replicas, list) or not replicas
                    or not all(isinstance(r, str) and _REGION.match(r) for r in replicas)):
                raise ValueError(f"'replica_regions' must be a non-empty list of AWS region names, got {replicas!r}")
            if not self._table_exists(table_name_of(table), source):
                raise ValueError(f"table {table!r} does not exist in {source}")
            return self.link(table, source, replicas)
        if action == "unlink":
            if not isinstance(params.get("table"), str):
                raise ValueError("'table' (table name) is required")
            return self.unlink(params["table"], params.get("region"))
        raise self.unknown_action(action)

    def status(self) -> dict[str, Any]:
        now = self.sim.clock.now()
        with self._lock:
            tables: dict[str, Any] = {}
            for name, group in self._groups.items():
                pending = [w for w in self._pending if w.table == name]
                stats = self._stats_for(name)
                tables[name] = {
                    "sourceRegion": group.source_region,
                    "replicaRegions": [r for r in group.regions if r != group.source_region],
                    "pendingWrites": len(pending),
                    "heldWrites": sum(1 for w in pending if w.held),
                    "oldestPendingSeconds": max(((now - w.created).total_seconds() for w in pending), default=0.0),
                    **stats,
                    "label": SIMULATED,
                }
            return {"tables": tables, "lagSeconds": self.sim.settings.dynamodb_lag_seconds,
                    "retrySeconds": self.retry_seconds}

    def reset(self) -> None:
        with self._lock:
            for write in self._pending:
                if write.task is not None:
                    write.task.cancel()
            self._init_state()
