"""DynamoDB point-in-time recovery as of the instant asked for, in virtual time.

moto 5.2 restores a table "to a point in time" by copying it as it is now, accepts any
RestoreDateTime, and keeps Earliest/LatestRestorableDateTime at the moment PITR was
enabled (wall time). AWS (API_RestoreTableToPointInTime, PointInTimeRecovery.html):

- PITR keeps a table's changes from the moment it is enabled (EarliestRestorableDateTime,
  and at most ``RecoveryPeriodInDays``, default 35, back); LatestRestorableDateTime is
  typically 5 minutes before now; disabling PITR discards the history;
- a restore creates a new table holding the items as they were at ``RestoreDateTime``
  (or at LatestRestorableDateTime with ``UseLatestRestorableTime``); a time outside the
  window is refused with ``InvalidRestoreTimeException``; a table without PITR with
  ``PointInTimeRecoveryUnavailableException``; the new table's ``RestoreSummary`` carries
  the restore time.

Here every successful item write (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
TransactWriteItems — the simulation's own too) on a table with PITR appends the item's
resulting state, read back from moto, to that item's history stamped with the virtual
clock; enabling PITR snapshots the table. A restore lets moto create the table (schema,
indexes), then replaces its items with each item's last state at or before the instant.
"""

from __future__ import annotations

import binascii
import copy
import json
import threading
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from drills.cloud.clock import SIMULATED
from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error
from drills.cloud.sim.dynamodb_items import WRITES as ITEM_WRITES, item_actions
from drills.cloud.sim.dynamodb_replicas import table_name_of

LATEST_LAG = timedelta(minutes=5)
DEFAULT_PERIOD_DAYS = 35
_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


@dataclass
class _Timeline:
    enabled_at: datetime
    period_days: int = DEFAULT_PERIOD_DAYS
    # (hash DynamoType, range DynamoType | None) -> [(virtual time, Item copy | None)], in time order
    items: dict[Any, list[tuple[datetime, Any]]] = field(default_factory=lambda: defaultdict(list))


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), timezone.utc)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _rewritten(resp: AwsResponse, document: dict[str, Any]) -> AwsResponse:
    """``resp`` with a new JSON body (and its x-amz-crc32, which the SDK checks)."""
    resp.body = json.dumps(document, default=str).encode()
    resp.headers["x-amz-crc32"] = str(binascii.crc32(resp.body))
    return resp


class DynamoDBPointInTime(Interceptor):
    """Item history per PITR-enabled table; restores as of the requested instant."""

    name = "dynamodb_pitr"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.RLock()
        self._tables: dict[tuple[str, str], _Timeline] = {}
        self.restores = 0

    # ------------------------------------------------------------------ moto state
    def _table(self, region: str, name: str) -> Any:
        backend = self.sim.backend("dynamodb", region)
        return backend.tables.get(table_name_of(name))

    @staticmethod
    def _all(table: Any) -> list[tuple[Any, Any]]:
        out = []
        for hash_key, value in list(table.items.items()):
            if table.has_range_key:
                out.extend(((hash_key, range_key), item) for range_key, item in list(value.items()))
            else:
                out.append(((hash_key, None), value))
        return out

    def window(self, timeline: _Timeline) -> tuple[datetime, datetime]:
        now = self.sim.clock.now()
        earliest = max(timeline.enabled_at, now - timedelta(days=timeline.period_days))
        return earliest, now - LATEST_LAG

    # ------------------------------------------------------------------ before
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "dynamodb" or req.operation != "RestoreTableToPointInTime" or not req.region:
            return None
        body = req.json()
        source = body.get("SourceTableName") or body.get("SourceTableArn") or ""
        if self._table(req.region, source) is None:
            return None                   # moto answers SourceTableNotFoundException
        with self._lock:
            timeline = self._tables.get((req.region, table_name_of(source)))
        if timeline is None:
            return aws_error(req, 400, "PointInTimeRecoveryUnavailableException",
                             f"Point in time recovery is not enabled for table '{table_name_of(source)}'")
        latest_flag = bool(body.get("UseLatestRestorableTime"))
        try:
            when = _instant(body.get("RestoreDateTime"))
        except (ValueError, OverflowError):
            return aws_error(req, 400, "ValidationException", "RestoreDateTime is not a valid timestamp")
        if latest_flag and when is not None:
            return aws_error(req, 400, "ValidationException",
                             "Only one of RestoreDateTime or UseLatestRestorableTime may be specified")
        if not latest_flag and when is None:
            return aws_error(req, 400, "ValidationException",
                             "Either RestoreDateTime or UseLatestRestorableTime must be specified")
        earliest, latest = self.window(timeline)
        if latest_flag:
            when = latest
        assert when is not None
        if when < earliest or when > latest:
            return aws_error(req, 400, "InvalidRestoreTimeException",
                             "An invalid restore time was specified. RestoreDateTime must be between "
                             "EarliestRestorableDateTime and LatestRestorableDateTime.")
        req.params["drkitRestoreAt"] = when.isoformat()
        return None

    # ------------------------------------------------------------------ after
    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "dynamodb" or not resp.ok or not req.region:
            return resp
        op = req.operation
        if op == "UpdateContinuousBackups":
            self._on_update(req)
            return self._describe_backups(req, resp)
        if op == "DescribeContinuousBackups":
            return self._describe_backups(req, resp)
        if op in _WRITES:
            self._on_write(req)
        elif op == "RestoreTableToPointInTime" and "drkitRestoreAt" in req.params:
            return self._restore(req, resp, datetime.fromisoformat(req.params["drkitRestoreAt"]))
        elif op == "DeleteTable":
            with self._lock:
                self._tables.pop((req.region, table_name_of(req.json().get("TableName", ""))), None)
        return resp

    def _on_update(self, req: AwsRequest) -> None:
        body = req.json()
        name = table_name_of(body.get("TableName", ""))
        spec = body.get("PointInTimeRecoverySpecification") or {}
        key = (req.region or "", name)
        with self._lock:
            if not spec.get("PointInTimeRecoveryEnabled"):
                self._tables.pop(key, None)
                return
            timeline = self._tables.get(key)
            if timeline is None:
                timeline = self._tables[key] = _Timeline(enabled_at=self.sim.clock.now())
                table = self._table(req.region or "", name)
                for item_key, item in self._all(table) if table is not None else []:
                    timeline.items[item_key].append((timeline.enabled_at, copy.deepcopy(item)))
            if spec.get("RecoveryPeriodInDays"):
                timeline.period_days = int(spec["RecoveryPeriodInDays"])

    def _describe_backups(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        name = table_name_of(req.json().get("TableName", ""))
        with self._lock:
            timeline = self._tables.get((req.region or "", name))
        if timeline is None:
            return resp
        document = resp.json()
        description = document.get("ContinuousBackupsDescription", {}).get("PointInTimeRecoveryDescription")
        if description is None:
            return resp
        earliest, latest = self.window(timeline)
        description["EarliestRestorableDateTime"] = _epoch(earliest)
        description["LatestRestorableDateTime"] = _epoch(max(latest, earliest))
        description["RecoveryPeriodInDays"] = timeline.period_days
        return _rewritten(resp, document)

    @staticmethod
    def _keys_written(req: AwsRequest) -> list[tuple[str, dict[str, Any]]]:
        return [(action.table, action.key) for action in item_actions(req.operation, req.json())
                if action.operation in ITEM_WRITES]

    def _on_write(self, req: AwsRequest) -> None:
        region = req.region or ""
        with self._lock:
            if not any(r == region for r, _ in self._tables):
                return
            backend = self.sim.backend("dynamodb", region)
            now = self.sim.clock.now()
            for table_name, attrs in self._keys_written(req):
                name = table_name_of(table_name)
                timeline = self._tables.get((region, name))
                table = backend.tables.get(name)
                if timeline is None or table is None:
                    continue
                try:
                    item_key = backend.get_keys_value(table, attrs)
                except Exception:          # noqa: BLE001 - moto's validation error; the write named no full key
                    continue
                item = table.get_item(*item_key)
                timeline.items[item_key].append((now, copy.deepcopy(item) if item is not None else None))

    def _restore(self, req: AwsRequest, resp: AwsResponse, when: datetime) -> AwsResponse:
        body = req.json()
        source_name = table_name_of(body.get("SourceTableName") or body.get("SourceTableArn") or "")
        with self._lock:
            timeline = self._tables.get((req.region or "", source_name))
            target = self._table(req.region or "", body.get("TargetTableName", ""))
            if timeline is None or target is None:
                return resp
            target.items = defaultdict(dict) if target.has_range_key else {}
            for (hash_key, range_key), history in timeline.items.items():
                index = bisect_right([t for t, _ in history], when)
                if index == 0 or history[index - 1][1] is None:
                    continue
                item = copy.deepcopy(history[index - 1][1])
                if target.has_range_key:
                    target.items[hash_key][range_key] = item
                else:
                    target.items[hash_key] = item
            target.restore_date_time = when.replace(tzinfo=None)     # moto keeps naive UTC
            self.restores += 1
        document = resp.json()
        summary = document.get("TableDescription", {}).get("RestoreSummary")
        if summary is not None:
            summary["RestoreDateTime"] = _epoch(when)
        return _rewritten(resp, document)

    # ------------------------------------------------------------------ reporting
    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"tables": {f"{r}/{t}": {"enabledAt": tl.enabled_at.isoformat(), "items": len(tl.items),
                                             "label": SIMULATED} for (r, t), tl in self._tables.items()},
                    "restores": self.restores}

    def reset(self) -> None:
        with self._lock:
            self._tables.clear()
            self.restores = 0
