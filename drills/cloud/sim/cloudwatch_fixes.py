"""CloudWatch reads that moto 5.2 gets wrong (a patch of moto's CloudWatch backend/responses).

- GetMetricData: a MetricStat query with dimensions matches datapoints by name and
  dimensions only, so a same-named metric of another namespace is mixed in. AWS
  identifies a metric by namespace, name and dimensions (cloudwatch_concepts.html,
  "Metrics": "a metric is uniquely defined by a name, a namespace, and zero or more
  dimensions"). Here each query sees only its own namespace.
- DescribeAlarmHistory is missing (moto answers HTTP 500). AWS (API_DescribeAlarmHistory)
  returns the alarm's history newest first (``ScanBy`` TimestampDescending by default),
  filtered by ``AlarmName``, ``HistoryItemType``, ``StartDate``/``EndDate``, paged by
  ``MaxRecords`` (1–100) and ``NextToken``. Answered from moto's alarms: a
  ConfigurationUpdate when the alarm was created and a StateUpdate for every state change
  (``HistoryData`` with oldState/newState), stamped with the times moto recorded (virtual
  time while the embedded cloud's clock drives moto).
- Metrics published every minute but kept as runs (``drills.cloud.sim.metric_runs``: S3
  replication metrics of an idle rule) are read as if every datapoint were stored:
  GetMetricStatistics, GetMetricData and ListMetrics see them as aggregated datapoints
  split on the period boundaries moto groups by (GetMetricStatistics: periods counted from
  the earliest datapoint found; GetMetricData: from StartTime). ListMetrics lists a run's
  metric while it published within the last two weeks ("metrics that have not had any new
  data points in the past two weeks do not appear", API_ListMetrics).

``install()``/``uninstall()`` are called by ``drills.cloud.moto_fixes``; ``use_simulation``
by the embedded cloud when it starts and stops.
"""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from drills.cloud.sim import metric_runs

_originals: dict[str, Callable[..., Any]] = {}
_local = threading.local()
_SEP = "\x1f"
_sim: list[Any] = [None]             # the running simulation, whose behaviours publish metric runs
LISTED_FOR = timedelta(days=14)


def use_simulation(sim: Any) -> None:
    """The simulation whose behaviours' metric runs CloudWatch reads include (None: none)."""
    _sim[0] = sim


def _runs(region: str, start: datetime | None, end: datetime | None) -> list[metric_runs.MetricRun]:
    return metric_runs.published(_sim[0], region, start, end)


def _with_extra(extra: list[Any], call: Callable[[], Any]) -> Any:
    previous = getattr(_local, "extra", None)
    _local.extra = extra
    try:
        return call()
    finally:
        _local.extra = previous


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def history_items(alarm: Any) -> list[dict[str, Any]]:
    """The alarm's history as DescribeAlarmHistory items, oldest first."""
    items = [{"AlarmName": alarm.name, "AlarmType": "CompositeAlarm" if alarm.rule else "MetricAlarm",
              "Timestamp": _aware(alarm.configuration_updated_timestamp), "HistoryItemType": "ConfigurationUpdate",
              "HistorySummary": f'Alarm "{alarm.name}" created',
              "HistoryData": json.dumps({"version": "1.0", "type": "Create"})}]
    states = [(v, r, d, t) for kind, r, d, v, t in alarm.history if kind == "StateUpdate"]
    states.append((alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp))
    for (old, old_reason, _, _), (new, new_reason, new_data, when) in zip(states, states[1:]):
        data = {"version": "1.0", "oldState": {"stateValue": old, "stateReason": old_reason},
                "newState": {"stateValue": new, "stateReason": new_reason}}
        try:
            if new_data and json.loads(new_data):
                data["newState"]["stateReasonData"] = json.loads(new_data)
        except ValueError:
            pass
        items.append({"AlarmName": alarm.name, "AlarmType": items[0]["AlarmType"], "Timestamp": _aware(when),
                      "HistoryItemType": "StateUpdate", "HistorySummary": f"Alarm updated from {old} to {new}",
                      "HistoryData": json.dumps(data)})
    return items


def install() -> None:
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    if _originals:
        return
    _originals["get_all_metrics"] = CloudWatchBackend.get_all_metrics
    _originals["get_metric_data"] = CloudWatchBackend.get_metric_data
    _originals["get_metric_statistics"] = CloudWatchBackend.get_metric_statistics
    _originals["get_filtered_metrics"] = CloudWatchBackend.get_filtered_metrics
    original_all, original_data = _originals["get_all_metrics"], _originals["get_metric_data"]
    original_stats, original_filtered = _originals["get_metric_statistics"], _originals["get_filtered_metrics"]

    def get_all_metrics(self: Any) -> list[Any]:
        data = original_all(self)
        extra = getattr(_local, "extra", None)
        if extra:
            data = data + extra
        if not getattr(_local, "qualify", False):
            return data
        qualified = []
        for datum in data:
            twin = copy.copy(datum)
            twin.name = f"{datum.namespace}{_SEP}{datum.name}"
            qualified.append(twin)
        return qualified

    def get_metric_statistics(self: Any, namespace: str, metric_name: str, start_time: datetime,
                              end_time: datetime, period: int, stats: list[str], dimensions: list[dict[str, str]],
                              unit: str | None = None) -> list[Any]:
        start, end = (metric_runs.naive_utc(t.replace(microsecond=0)) for t in (start_time, end_time))
        wanted = {(d["Name"], d.get("Value")) for d in dimensions or []}
        runs = [r for r in _runs(self.region_name, start, end) if r.namespace == namespace and r.name == metric_name
                and wanted <= set(r.dimensions) and (not unit or r.unit == unit)] if start < end else []
        if not runs:
            return original_stats(self, namespace, metric_name, start_time, end_time, period, stats, dimensions, unit)
        # moto groups periods from the earliest datapoint it finds: split the runs on that grid.
        stored = [metric_runs.naive_utc(md.timestamp) for md in original_all(self)
                  if md.namespace == namespace and md.name == metric_name
                  and start <= metric_runs.naive_utc(md.timestamp) < end and (not unit or md.unit == unit)
                  and (not dimensions or md.filter(None, None, dimensions))]
        origin = min(stored + [r.start for r in runs])
        pieces = metric_runs.split_all(runs, [(origin, timedelta(seconds=int(period)))])
        return _with_extra([metric_runs.as_datum(p) for p in pieces],
                           lambda: original_stats(self, namespace, metric_name, start_time, end_time, period,
                                                  stats, dimensions, unit))

    def get_filtered_metrics(self: Any, metric_name: str, namespace: str,
                             dimensions: list[dict[str, str]]) -> list[Any]:
        sim = _sim[0]
        if sim is None:
            return original_filtered(self, metric_name, namespace, dimensions)
        now = metric_runs.naive_utc(sim.clock.now())
        listed: dict[tuple, metric_runs.MetricRun] = {}
        for run in _runs(self.region_name, now - LISTED_FOR, now):
            listed.setdefault(run.key, run)
        return _with_extra([metric_runs.as_datum(r) for r in listed.values()],
                           lambda: original_filtered(self, metric_name, namespace, dimensions))

    def get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime,
                        scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
        start, end = (metric_runs.naive_utc(t.replace(microsecond=0)) for t in (start_time, end_time))
        runs = _runs(self.region_name, start, end) if start < end else []
        if runs:
            # moto groups each query's periods from StartTime: split the runs on every grid.
            grids = [(start, timedelta(seconds=int((q.get("MetricStat") or q).get("Period") or 60)))
                     for q in queries]
            pieces = metric_runs.split_all(runs, grids)
            extra = [metric_runs.as_datum(p) for p in pieces]
            return _with_extra(extra, lambda: _metric_data(self, queries, start_time, end_time, scan_by))
        return _metric_data(self, queries, start_time, end_time, scan_by)

    def _metric_data(self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime,
                     scan_by: str) -> list[dict[str, Any]]:
        if any(str(q.get("Expression", "")).startswith("SELECT") for q in queries):
            return original_data(self, queries, start_time, end_time, scan_by)
        qualified = copy.deepcopy(queries)
        for query in qualified:
            stat = query.get("MetricStat") or {}
            metric = stat.get("Metric")
            if metric and "Namespace" in metric and "MetricName" in metric:
                query.setdefault("Label", f"{metric['MetricName']} {stat.get('Stat')}")
                metric["MetricName"] = f"{metric['Namespace']}{_SEP}{metric['MetricName']}"
        _local.qualify = True
        try:
            return original_data(self, qualified, start_time, end_time, scan_by)
        finally:
            _local.qualify = False

    def describe_alarm_history(self: Any) -> Any:
        name = self._get_param("AlarmName")
        kind = self._get_param("HistoryItemType")
        start, end = self._get_param("StartDate"), self._get_param("EndDate")
        scan_by = self._get_param("ScanBy") or "TimestampDescending"
        max_records = int(self._get_param("MaxRecords") or 100)
        if not 1 <= max_records <= 100:
            raise ValidationError("The parameter MaxRecords must be between 1 and 100.")
        backend = self.cloudwatch_backend
        alarms = backend.get_alarms_by_alarm_names([name]) if name else backend.describe_alarms()
        items = [item for alarm in alarms for item in history_items(alarm)]
        if kind:
            items = [i for i in items if i["HistoryItemType"] == kind]
        if start:
            items = [i for i in items if i["Timestamp"] >= _aware(start)]
        if end:
            items = [i for i in items if i["Timestamp"] <= _aware(end)]
        items.sort(key=lambda i: i["Timestamp"], reverse=scan_by != "TimestampAscending")
        offset = int(self._get_param("NextToken") or 0)
        page = items[offset:offset + max_records]
        result: dict[str, Any] = {"AlarmHistoryItems": page}
        if offset + max_records < len(items):
            result["NextToken"] = str(offset + max_records)
        return ActionResult(result)

    CloudWatchBackend.get_all_metrics = get_all_metrics
    CloudWatchBackend.get_metric_data = get_metric_data
    CloudWatchBackend.get_metric_statistics = get_metric_statistics
    CloudWatchBackend.get_filtered_metrics = get_filtered_metrics
    _originals["describe_alarm_history"] = getattr(CloudWatchResponse, "describe_alarm_history", None)
    CloudWatchResponse.describe_alarm_history = describe_alarm_history


def uninstall() -> None:
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    if not _originals:
        return
    CloudWatchBackend.get_all_metrics = _originals.pop("get_all_metrics")
    CloudWatchBackend.get_metric_data = _originals.pop("get_metric_data")
    CloudWatchBackend.get_metric_statistics = _originals.pop("get_metric_statistics")
    CloudWatchBackend.get_filtered_metrics = _originals.pop("get_filtered_metrics")
    _sim[0] = None
    previous = _originals.pop("describe_alarm_history")
    if previous is None:
        del CloudWatchResponse.describe_alarm_history
    else:
        CloudWatchResponse.describe_alarm_history = previous
