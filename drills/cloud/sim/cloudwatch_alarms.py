"""CloudWatch metric alarms evaluated in virtual time (moto stores alarms, never evaluates them).

Following the CloudWatch user guide ("Using Amazon CloudWatch alarms": alarm states,
evaluating an alarm, "Configuring how CloudWatch alarms treat missing data"):

- A new alarm starts in ``INSUFFICIENT_DATA`` ("Unchecked: Initial alarm creation");
  updating an existing alarm with PutMetricAlarm keeps its state.
- The evaluator runs once per virtual minute while there is something to evaluate (a new
  alarm, new datapoints, or datapoints still inside some alarm's window). Each run looks at
  the alarm's last ``EvaluationPeriods`` complete periods of ``Period`` seconds (periods
  aligned to the epoch), computes ``Statistic`` (SampleCount, Average, Sum, Minimum,
  Maximum) over the datapoints of the exact metric (namespace, name, dimensions; ``Unit``
  when set) in each, and compares it with ``Threshold`` by ``ComparisonOperator``.
- ``DatapointsToAlarm`` (default ``EvaluationPeriods``) breaching periods -> ``ALARM``;
  otherwise ``OK``. Missing periods follow ``TreatMissingData``: ``notBreaching`` (good),
  ``breaching`` (bad), ``ignore`` (an all-missing window keeps the state), ``missing``
  (default; the most recent ``EvaluationPeriods`` datapoints within a range widened by
  ``EXTRA_RANGE`` periods are evaluated — AWS's exact "evaluation range" is not emulated —
  and none at all -> ``INSUFFICIENT_DATA``).
- A state change is recorded (history, StateReason, StateReasonData, StateUpdatedTimestamp
  in virtual time) and, with actions enabled, the matching actions run: SNS topic ARNs
  receive the alarm notification JSON (AlarmName, NewStateValue, OldStateValue,
  NewStateReason, StateChangeTime, Region, AlarmArn, Trigger ...), delivered by SNS to its
  subscribers (SQS queues included). ``SetAlarmState`` runs the actions of the state it
  sets when that differs (the next evaluation then corrects the state). Other action types (Auto Scaling, EC2, Systems
  Manager), percentile statistics, metric-math and composite alarms are not emulated:
  such alarms keep their state and are counted under ``notEmulated``.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from drills.cloud.clock import SIMULATED, ScheduledTask
from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor
from drills.cloud.sim import metric_runs

log = logging.getLogger(__name__)

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
MINUTE = timedelta(minutes=1)
EXTRA_RANGE = 2     # periods looked back beyond EvaluationPeriods for TreatMissingData=missing
_COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
                 "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
                 "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)"}


def _naive(when: datetime) -> datetime:
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


class _Series:
    """moto's datapoints of one region, indexed by metric identity and kept in time order
    (read incrementally: moto only appends)."""

    def __init__(self) -> None:
        self.seen = 0
        self.by_metric: dict[tuple, tuple[list[datetime], list[Any]]] = defaultdict(lambda: ([], []))

    def refresh(self, data: list[Any]) -> None:
        if len(data) < self.seen:            # moto was reset
            self.seen, self.by_metric = 0, defaultdict(lambda: ([], []))
        for datum in data[self.seen:]:
            key = (datum.namespace, datum.name, frozenset((d.name, d.value) for d in datum.dimensions))
            stamps, points = self.by_metric[key]
            at = _naive(datum.timestamp)
            index = bisect.bisect_right(stamps, at)
            stamps.insert(index, at)
            points.insert(index, datum)
        self.seen = len(data)

    def between(self, key: tuple, start: datetime, end: datetime) -> list[Any]:
        """Datapoints of the metric with start <= timestamp < end (naive UTC)."""
        stamps, points = self.by_metric.get(key, ([], []))
        return points[bisect.bisect_left(stamps, start):bisect.bisect_left(stamps, end)]


class _Published:
    """Metrics the behaviours publish every minute as runs (``metric_runs``), read per alarm
    period as aggregated datapoints — what the per-minute datapoints would give."""

    def __init__(self, sim: Any, region: str, since: datetime) -> None:
        self.sim, self.region, self.since = sim, region, since
        self._by_key: dict[tuple, list[metric_runs.MetricRun]] | None = None

    def get(self, key: tuple, start: datetime, end: datetime) -> list[Any]:
        if self._by_key is None:
            self._by_key = defaultdict(list)
            for run in metric_runs.published(self.sim, self.region, self.since, None):
                self._by_key[run.key].append(run)
        pieces = (run.clip(start, end) for run in self._by_key.get(key, ()))
        return [metric_runs.as_datum(p) for p in pieces if p is not None]


def _statistic(statistic: str, points: list[Any]) -> float | None:
    values: list[float] = []
    total = count = 0.0
    low, high = float("inf"), float("-inf")
    for p in points:
        if hasattr(p, "value"):
            v = float(p.value)
            values.append(v)
            total, count, low, high = total + v, count + 1, min(low, v), max(high, v)
        else:                                 # StatisticValues (moto's MetricAggregatedDatum)
            total += float(p.sum)
            count += float(p.sample_count)
            low, high = min(low, float(p.min)), max(high, float(p.max))
    if count == 0:
        return None
    return {"SampleCount": count, "Sum": total, "Average": total / count, "Minimum": low,
            "Maximum": high}.get(statistic)


class CloudWatchAlarms(Interceptor):
    """Evaluate stored metric alarms as virtual minutes pass; run their SNS actions."""

    name = "alarms"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.RLock()
        self._init_state()

    def _init_state(self) -> None:
        self._series: dict[str, _Series] = {}
        self._tick: ScheduledTask | None = None
        self._active_until: datetime | None = None
        self._previous: dict[str, dict[str, tuple]] = {}
        self.evaluations = 0
        self.transitions = 0
        self.notifications = 0
        self.not_emulated: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            if self._tick is not None:
                self._tick.cancel()
            self._init_state()

    # ------------------------------------------------------------------ hooks
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service == "monitoring" and req.operation == "SetAlarmState" and req.region:
            alarms = self.sim.backend("cloudwatch", req.region).alarms
            with self._lock:
                self._previous[f"set:{req.region}"] = {name: (a, a.state_value) for name, a in alarms.items()}
        if req.service == "monitoring" and req.operation == "PutMetricAlarm" and req.region:
            alarms = self.sim.backend("cloudwatch", req.region).alarms
            with self._lock:
                self._previous[req.region] = {name: (a, a.state_value, a.state_reason, a.state_reason_data,
                                                     a.state_updated_timestamp, list(a.history))
                                              for name, a in alarms.items()}
        return None

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "monitoring" or not req.region:
            return resp
        if req.operation == "PutMetricAlarm":
            with self._lock:
                before = self._previous.pop(req.region, {})
            if resp.ok:
                for name, alarm in self.sim.backend("cloudwatch", req.region).alarms.items():
                    previous = before.get(name)
                    if previous is not None and previous[0] is alarm:
                        continue
                    if previous is not None:          # an update keeps the alarm's state and history
                        (_, alarm.state_value, alarm.state_reason, alarm.state_reason_data,
                         alarm.state_updated_timestamp, alarm.history) = previous
                    else:                             # a new alarm starts INSUFFICIENT_DATA
                        alarm.state_value = INSUFFICIENT
                        alarm.state_reason = "Unchecked: Initial alarm creation"
                self.wake(req.region)
        elif req.operation == "SetAlarmState":
            with self._lock:
                before = self._previous.pop(f"set:{req.region}", {})
            if resp.ok:
                # "When the updated state differs from the previous value, the action configured
                # for the appropriate state is invoked" (CloudWatch API reference, SetAlarmState).
                now = self.sim.clock.now()
                for name, alarm in self.sim.backend("cloudwatch", req.region).alarms.items():
                    old = before.get(name)
                    if old is not None and old[0] is alarm and old[1] != alarm.state_value:
                        self._run_actions(req.region, alarm, old[1], alarm.state_value, alarm.state_reason, now)
                self.wake(req.region)
        elif resp.ok and req.operation == "PutMetricData":
            self.wake(req.region)
        return resp

    # ------------------------------------------------------------------ scheduling
    def wake(self, region: str | None = None) -> None:
        """New data or alarms: evaluate every minute until no alarm window holds recent data."""
        now = self.sim.clock.now()
        horizon = now + self._longest_window() + 2 * MINUTE
        with self._lock:
            self._active_until = max(self._active_until or horizon, horizon)
            if self._tick is None:
                first = now.replace(second=0, microsecond=0) + MINUTE
                self._tick = self.sim.clock.schedule_at(first, self._run, "cloudwatch alarm evaluation")

    def _longest_window(self) -> timedelta:
        """How long a datapoint can still change some alarm's state: until the (aligned)
        period holding it has left the alarm's widest look-back."""
        longest = 0
        for region in self._regions():
            for alarm in self.sim.backend("cloudwatch", region).alarms.values():
                try:
                    periods = int(alarm.evaluation_periods or 1) + 1 + EXTRA_RANGE
                    longest = max(longest, int(alarm.period or 60) * periods)
                except (TypeError, ValueError):
                    continue
        return timedelta(seconds=longest)

    def _regions(self) -> list[str]:
        from moto.cloudwatch.models import cloudwatch_backends

        return [region for region, backend in cloudwatch_backends[self.sim.account_id].items()
                if backend.alarms or backend.metric_data]

    def _run(self) -> None:
        now = self.sim.clock.now()
        with self._lock:
            self._tick = None
        self.evaluate_all(now)
        with self._lock:
            if self._active_until is not None and now < self._active_until and self._tick is None:
                self._tick = self.sim.clock.schedule_at(now.replace(second=0, microsecond=0) + MINUTE, self._run,
                                                        "cloudwatch alarm evaluation")
            elif self._tick is None:
                self._active_until = None

    # ------------------------------------------------------------------ evaluation
    def evaluate_all(self, now: datetime) -> int:
        """Evaluate every metric alarm of every region at ``now``; return how many changed state."""
        changed = 0
        lookback = self._longest_window() + MINUTE
        for region in self._regions():
            backend = self.sim.backend("cloudwatch", region)
            with self._lock:
                series = self._series.setdefault(region, _Series())
                series.refresh(backend.metric_data)
            published = _Published(self.sim, region, _naive(now) - lookback)
            for alarm in list(backend.alarms.values()):
                new = self._evaluate(alarm, series, published, now)
                if new is not None and new[0] != alarm.state_value:
                    self._transition(region, alarm, new[0], new[1], new[2], now)
                    changed += 1
        return changed

    def _evaluate(self, alarm: Any, series: _Series, published: "_Published",
                  now: datetime) -> tuple[str, str, dict[str, Any]] | None:
        if alarm.rule is not None or alarm.metric_data_queries or alarm.extended_statistic or not alarm.statistic:
            kind = "composite" if alarm.rule is not None else "metricMathOrPercentile"
            self.not_emulated[kind] = self.not_emulated.get(kind, 0) + 1
            return None
        self.evaluations += 1
        period = int(alarm.period)
        periods = int(alarm.evaluation_periods)
        needed = int(alarm.datapoints_to_alarm or periods)
        threshold = float(alarm.threshold)
        compare = _COMPARE.get(alarm.comparison_operator)
        if compare is None:
            self.not_emulated["comparison"] = self.not_emulated.get("comparison", 0) + 1
            return None
        key = (alarm.namespace, alarm.metric_name, frozenset((d.name, d.value) for d in alarm.dimensions))
        epoch = int(now.timestamp())
        end = epoch - epoch % period                      # end of the last complete period

        def period_value(i: int) -> float | None:        # the i-th period back from ``end`` (1 = last)
            start_dt = _naive(datetime.fromtimestamp(end - i * period, timezone.utc))
            end_dt = _naive(datetime.fromtimestamp(end - (i - 1) * period, timezone.utc))
            points = series.between(key, start_dt, end_dt) + published.get(key, start_dt, end_dt)
            if alarm.unit:
                points = [p for p in points if p.unit in (None, alarm.unit)]
            return _statistic(alarm.statistic, points)

        values: list[float | None] = [period_value(i) for i in range(periods, 0, -1)]
        treat = alarm.treat_missing_data or "missing"
        present = [v for v in values if v is not None]
        if treat == "missing" and len(present) < periods:
            # AWS looks back over a wider "evaluation range" for the most recent datapoints;
            # approximated here as EXTRA_RANGE more periods (the exact range is not emulated).
            older = [period_value(i) for i in range(periods + EXTRA_RANGE, periods, -1)]
            present = ([v for v in older if v is not None] + present)[-periods:]
        if not present and treat in ("missing", "ignore"):
            if treat == "ignore":
                return None
            return (INSUFFICIENT, "Insufficient Data: no datapoints were received for "
                    f"{periods} period{'s' if periods > 1 else ''}.", {"recentDatapoints": []})
        if treat == "breaching":
            breaching = sum(1 for v in values if v is None or compare(v, threshold))
        else:
            breaching = sum(1 for v in present if compare(v, threshold))
        state = ALARM if breaching >= needed else OK
        shown = ", ".join(f"{v:g}" for v in present) or "no datapoints"
        verdict = "was" if state == ALARM else "was not"
        reason = (f"Threshold Crossed: {breaching} out of the last {periods} datapoints [{shown}] "
                  f"{verdict} {alarm.comparison_operator} the threshold ({threshold:g}) "
                  f"(minimum {needed} datapoint{'s' if needed > 1 else ''} for {OK if state == ALARM else ALARM} "
                  f"-> {state} transition).")
        data = {"version": "1.0", "queryDate": _iso(now), "statistic": alarm.statistic, "period": period,
                "recentDatapoints": present, "threshold": threshold,
                "evaluatedDatapoints": [{"timestamp": _iso(datetime.fromtimestamp(end - i * period, timezone.utc)),
                                         **({"value": v} if v is not None else {})}
                                        for i, v in zip(range(periods, 0, -1), values)]}
        return state, reason, data

    def _transition(self, region: str, alarm: Any, state: str, reason: str, data: dict[str, Any],
                    now: datetime) -> None:
        old = alarm.state_value
        alarm.update_state(reason, json.dumps(data), state)   # history + StateUpdatedTimestamp (virtual)
        self.transitions += 1
        self._run_actions(region, alarm, old, state, reason, now)

    def _run_actions(self, region: str, alarm: Any, old: str, state: str, reason: str, now: datetime) -> None:
        if not alarm.actions_enabled:
            return
        actions = {ALARM: alarm.alarm_actions, OK: alarm.ok_actions, INSUFFICIENT: alarm.insufficient_data_actions}
        for arn in actions.get(state) or []:
            if arn.startswith("arn:aws:sns:"):
                self._notify(arn, region, alarm, old, state, reason, now)
            else:
                self.not_emulated["action"] = self.not_emulated.get("action", 0) + 1

    def _notify(self, arn: str, region: str, alarm: Any, old: str, state: str, reason: str, now: datetime) -> None:
        from moto.sns.exceptions import TopicNotFound

        message = {
            "AlarmName": alarm.name, "AlarmDescription": alarm.description, "AWSAccountId": self.sim.account_id,
            "AlarmConfigurationUpdatedTimestamp": _iso(alarm.configuration_updated_timestamp),
            "NewStateValue": state, "NewStateReason": reason, "StateChangeTime": _iso(now),
            "Region": _REGION_NAMES.get(region, region), "AlarmArn": alarm.alarm_arn, "OldStateValue": old,
            "OKActions": list(alarm.ok_actions or []), "AlarmActions": list(alarm.alarm_actions or []),
            "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
            "Trigger": {"MetricName": alarm.metric_name, "Namespace": alarm.namespace, "StatisticType": "Statistic",
                        "Statistic": str(alarm.statistic).upper(), "Unit": alarm.unit,
                        "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
                        "Period": int(alarm.period), "EvaluationPeriods": int(alarm.evaluation_periods),
                        "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
                        "ComparisonOperator": alarm.comparison_operator, "Threshold": float(alarm.threshold),
                        "TreatMissingData": alarm.treat_missing_data or "missing",
                        "EvaluateLowSampleCountPercentile": ""},
        }
        subject = f'{state}: "{alarm.name}" in {_REGION_NAMES.get(region, region)}'[:100]
        try:
            self.sim.backend("sns", arn.split(":")[3]).publish(message=json.dumps(message), arn=arn, subject=subject)
            self.notifications += 1
        except (TopicNotFound, KeyError, ValueError) as exc:
            log.warning("alarm notification to %s not delivered: %s", arn, type(exc).__name__)

    # ------------------------------------------------------------------ control / status
    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "evaluate":
            now = self.sim.clock.now()
            return {"changed": self.evaluate_all(now), "at": now.isoformat(), "label": SIMULATED}
        raise KeyError(action)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"evaluations": self.evaluations, "transitions": self.transitions,
                    "notifications": self.notifications, "notEmulated": dict(self.not_emulated),
                    "activeUntil": self._active_until.isoformat() if self._active_until else None,
                    "label": SIMULATED}


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"
