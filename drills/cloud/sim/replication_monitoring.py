"""S3 replication metrics in CloudWatch and replication events, as S3 emits them.

Does what S3 does for replication rules whose destination has ``Metrics`` Enabled (S3 user
guide, "Using S3 Replication metrics", the metrics table in "Monitoring metrics with Amazon
CloudWatch", and "Receiving replication failure events with Amazon S3 Event Notifications"),
from the moment such a rule is put (``PutBucketReplication``) until it is removed, disabled
or its metrics are turned off (another ``PutBucketReplication``, ``DeleteBucketReplication``,
``DeleteBucket``), and watching the replication behaviour (``on_replication``: a copy became
pending, completed or failed):

- CloudWatch ``AWS/S3`` metrics per rule, dimensions ``SourceBucket``, ``DestinationBucket``,
  ``RuleId``, one datapoint per (virtual) minute, stamped at the start of the minute it
  covers. ``ReplicationLatency`` (Seconds: the most the destination is behind the source —
  the longest replication that finished in the minute, or the age of the oldest copy still
  pending), ``OperationsPendingReplication`` (Count) and ``BytesPendingReplication`` (Bytes)
  at the end of the minute are published every minute, also when nothing replicates (then
  0: "still published if replication doesn't occur: Yes"), and stop when the destination
  bucket is deleted. ``OperationsFailedReplication`` (Count, failures in the minute) is
  published only for minutes with replication work ("... doesn't occur: No"), also after
  the destination bucket was deleted. With S3 RTC, "CloudWatch begins reporting replication
  metrics 15 minutes after you enable S3 RTC" on the rule (``RTC_METRICS_DELAY``).
  Minutes with work are stored in moto's CloudWatch backend; idle minutes are not stored
  one by one but answered as runs of zeros (``metric_runs``): every CloudWatch read and the
  alarm evaluator see them as the per-minute datapoints they stand for, and a clock advanced
  by months costs nothing. Regions, as the metrics table's "Which Region is this metric
  published in?" says: the three pending/latency metrics are published in the destination
  bucket's region, ``OperationsFailedReplication`` in the source bucket's region (the
  destination's region is looked up when the rule is put, and again while it is unknown).
- events to the source bucket's notification targets (SNS topics, SQS queues) that
  subscribe to them: ``s3:Replication:OperationFailedReplication`` (metrics enabled);
  with S3 RTC and its ``Metrics.EventThreshold`` (15 minutes) also
  ``OperationMissedThreshold`` when a copy is still pending at the threshold and
  ``OperationReplicatedAfterThreshold`` when it lands later. The record carries
  ``replicationEventData`` (replicationRuleId, destinationBucket, s3Operation,
  requestTime, failureReason, threshold, replicationTime). ``OperationNotTracked`` and
  Lambda / EventBridge targets are not emulated (counted under ``notEmulated``).

Stored datapoints and newly published runs wake the alarm evaluator
(``drills.cloud.sim.cloudwatch_alarms``). Every time here is virtual.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import quote_plus

from drills.cloud.clock import SIMULATED, ScheduledTask
from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor
from drills.cloud.sim import replication_copy as copier
from drills.cloud.sim.metric_runs import MetricRun, naive_utc
from drills.cloud.sim.replication_rules import parse_rules

log = logging.getLogger(__name__)

NAMESPACE = "AWS/S3"
MINUTE = timedelta(minutes=1)
RTC_METRICS_DELAY = timedelta(minutes=15)
EVENT_FAILED = "s3:Replication:OperationFailedReplication"
EVENT_MISSED = "s3:Replication:OperationMissedThreshold"
EVENT_AFTER = "s3:Replication:OperationReplicatedAfterThreshold"
# Published every minute, 0 when idle: (metric, unit).
ALWAYS = (("ReplicationLatency", "Seconds"), ("OperationsPendingReplication", "Count"),
          ("BytesPendingReplication", "Bytes"))
FAILED = ("OperationsFailedReplication", "Count")


class _Intervals:
    """When a series is published: [since, until) spans (until None = still published)."""

    def __init__(self) -> None:
        self.spans: list[list[datetime | None]] = []

    @property
    def open(self) -> bool:
        return bool(self.spans) and self.spans[-1][1] is None

    def start(self, since: datetime) -> None:
        if not self.open:
            self.spans.append([since, None])

    def stop(self, at: datetime) -> None:
        if self.open:
            since = self.spans[-1][0]
            assert since is not None
            if at <= since:
                self.spans.pop()             # stopped before its first minute
            else:
                self.spans[-1][1] = at

    def covers(self, stamp: datetime) -> bool:
        return any(a <= stamp and (b is None or stamp < b) for a, b in self.spans)   # type: ignore[operator]


@dataclass
class _RuleState:
    """Per (source bucket, destination bucket, rule): when it publishes, what is pending,
    what happened this minute, which minutes have stored datapoints."""

    region: str                                                  # source bucket's: OperationsFailedReplication
    dest_region: str | None = None                               # destination bucket's: the other three
    always: _Intervals = field(default_factory=_Intervals)      # latency and pending metrics
    failed_metric: _Intervals = field(default_factory=_Intervals)
    stored: list[datetime] = field(default_factory=list)       # stamps of stored minutes (naive UTC), ascending
    pending: dict[int, tuple[datetime, int]] = field(default_factory=dict)   # id(target) -> (created, size)
    landed_latencies: list[float] = field(default_factory=list)
    failed: int = 0

    @property
    def always_region(self) -> str:
        """Where the latency and pending metrics are published (the source's region only while
        the destination bucket cannot be found)."""
        return self.dest_region or self.region

    @property
    def regions(self) -> set[str]:
        return {self.region, self.always_region}

    @property
    def busy(self) -> bool:
        return bool(self.pending or self.landed_latencies or self.failed)


def _minute_floor(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


class ReplicationMonitoring(Interceptor):
    """CloudWatch replication metrics and S3 replication events (see module docstring)."""

    name = "replication_monitoring"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.RLock()
        self._init_state()

    def _init_state(self) -> None:
        self._rules: dict[tuple[str, str, str], _RuleState] = {}
        self._tick: ScheduledTask | None = None
        self._threshold_tasks: dict[int, ScheduledTask] = {}
        self._wakes: list[ScheduledTask] = []
        self.datapoints = 0
        self.events: dict[str, int] = {}
        self.not_emulated: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            for task in [self._tick, *self._threshold_tasks.values(), *self._wakes]:
                if task is not None:
                    task.cancel()
            self._init_state()

    # ------------------------------------------------------------------ rule configuration
    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "s3" or not resp.ok or not req.bucket or req.key:
            return resp
        if req.operation in ("PutBucketReplication", "DeleteBucketReplication"):
            self._sync_rules(req.bucket)
        elif req.operation == "DeleteBucket":
            self._bucket_deleted(req.bucket)
        return resp

    def _sync_rules(self, bucket: str) -> None:
        """Start publishing for every enabled rule with metrics, stop for the others."""
        found = copier.get_bucket(self.sim.s3_backend(), bucket)
        rules = parse_rules(getattr(found, "replication", None)) if found is not None else []
        wanted = {(bucket, r.dest_bucket, r.id): r for r in rules if r.enabled and r.metrics}
        now = self.sim.clock.now()
        region = getattr(found, "region_name", None) or "us-east-1"
        with self._lock:
            for ident, state in self._rules.items():
                if ident[0] == bucket and ident not in wanted:
                    self._stop(state, now, failed_too=True)
            for ident, rule in wanted.items():
                state = self._rules.setdefault(ident, _RuleState(region))
                state.dest_region = state.dest_region or self._bucket_region(rule.dest_bucket)
                if not state.always.open:
                    self._start(state, now + (RTC_METRICS_DELAY if rule.rtc else timedelta(0)))

    def _bucket_deleted(self, bucket: str) -> None:
        now = self.sim.clock.now()
        with self._lock:
            for (source, dest, _), state in self._rules.items():
                if source == bucket or dest == bucket:
                    # "Still published if the destination bucket is deleted?" No, except
                    # OperationsFailedReplication (published in the source region).
                    self._stop(state, now, failed_too=source == bucket)

    def _start(self, state: _RuleState, at: datetime) -> None:
        since = _minute_floor(at)            # the minute under way is the first one published
        state.always.start(since)
        state.failed_metric.start(since)
        regions = sorted(state.regions)
        # The first minute's datapoint exists once that minute is over: evaluate alarms then.
        self._wakes = [t for t in self._wakes if t.due > self.sim.clock.now()]
        self._wakes.append(self.sim.clock.schedule_at(
            since + MINUTE, lambda: [self._wake_alarms(r) for r in regions], "s3-replication metrics start"))

    def _stop(self, state: _RuleState, at: datetime, *, failed_too: bool) -> None:
        if not state.always.open and not (failed_too and state.failed_metric.open):
            return
        until = _minute_floor(at)            # the minute under way is not published any more
        state.always.stop(until)
        if failed_too:
            state.failed_metric.stop(until)
        for region in sorted(state.regions):
            self._wake_alarms(region)

    # ------------------------------------------------------------------ from replication
    def on_replication(self, what: str, version: Any, target: Any) -> None:
        rule = target.rule
        if not rule.metrics:
            return
        now = self.sim.clock.now()
        ident = (version.bucket, rule.dest_bucket, rule.id)
        with self._lock:
            state = self._rules.get(ident)
            if state is None:                  # configured before this behaviour saw it: from now on
                state = self._rules[ident] = _RuleState(self._bucket_region(version.bucket) or "us-east-1")
                state.dest_region = self._bucket_region(rule.dest_bucket)
                self._start(state, now)
            elif state.dest_region is None:
                state.dest_region = self._bucket_region(rule.dest_bucket)
            if what == "pending":
                state.pending[id(target)] = (version.created, version.size)
                if rule.rtc and rule.event_threshold_minutes:
                    due = version.created + timedelta(minutes=rule.event_threshold_minutes)
                    self._threshold_tasks[id(target)] = self.sim.clock.schedule_at(
                        due, lambda v=version, t=target: self._missed_threshold(v, t),
                        f"s3-replication threshold {version.bucket}/{version.key}")
            else:
                state.pending.pop(id(target), None)
                task = self._threshold_tasks.pop(id(target), None)
                if task is not None:
                    task.cancel()
                if what == "completed":
                    latency = (now - version.created).total_seconds()
                    state.landed_latencies.append(latency)
                    threshold = rule.event_threshold_minutes if rule.rtc else None
                    if threshold and latency > threshold * 60:
                        self._event(EVENT_AFTER, version, target, replicationTime=str(int(latency)))
                elif what == "failed":
                    state.failed += 1
                    self._event(EVENT_FAILED, version, target, failureReason=target.reason or "")
            self._ensure_ticking(now)

    def _missed_threshold(self, version: Any, target: Any) -> None:
        with self._lock:
            self._threshold_tasks.pop(id(target), None)
            if target.state == "PENDING":
                self._event(EVENT_MISSED, version, target)

    # ------------------------------------------------------------------ metrics: minutes with work
    def _ensure_ticking(self, now: datetime) -> None:
        if self._tick is None:
            self._tick = self.sim.clock.schedule_at(_minute_floor(now) + MINUTE, self._emit,
                                                    "s3-replication metrics (per minute)")

    def _emit(self) -> None:
        now = self.sim.clock.now()
        stamp = _minute_floor(now) - MINUTE          # the minute just covered
        regions: set[str] = set()
        with self._lock:
            self._tick = None
            for (source, dest, rule_id), state in list(self._rules.items()):
                if not state.busy:
                    continue                          # an idle minute: a zero of the rule's runs
                ages = [(now - created).total_seconds() for created, _ in state.pending.values()]
                latency = max(state.landed_latencies + ages, default=0.0)
                values = (latency, float(len(state.pending)), float(sum(size for _, size in state.pending.values())))
                dimensions = [{"Name": "SourceBucket", "Value": source}, {"Name": "DestinationBucket", "Value": dest},
                              {"Name": "RuleId", "Value": rule_id}]
                if state.always.covers(stamp):
                    self._put(state.always_region, stamp, dimensions,
                              [(metric, value, unit) for (metric, unit), value in zip(ALWAYS, values)])
                    regions.add(state.always_region)
                    naive = naive_utc(stamp)
                    index = bisect.bisect_left(state.stored, naive)
                    if index == len(state.stored) or state.stored[index] != naive:
                        state.stored.insert(index, naive)
                if state.failed_metric.covers(stamp):
                    self._put(state.region, stamp, dimensions, [(FAILED[0], float(state.failed), FAILED[1])])
                    regions.add(state.region)
                state.landed_latencies, state.failed = [], 0
            if any(state.pending for state in self._rules.values()):
                self._ensure_ticking(now)
        for region in sorted(regions):
            self._wake_alarms(region)

    def _put(self, region: str, stamp: datetime, dimensions: list[dict[str, str]],
             values: list[tuple[str, float, str]]) -> None:
        from moto.cloudwatch.models import MetricDatum

        backend = self.sim.backend("cloudwatch", region)
        naive = naive_utc(stamp)     # moto's convention
        for metric, value, unit in values:
            backend.metric_data.append(MetricDatum(NAMESPACE, metric, value, dimensions, naive, unit))
            self.datapoints += 1

    def _wake_alarms(self, region: str) -> None:
        try:
            alarms = self.sim["alarms"]
        except KeyError:
            return
        alarms.wake(region)

    # ------------------------------------------------------------------ metrics: idle minutes
    def metric_runs(self, region: str, start: datetime | None, end: datetime | None) -> list[MetricRun]:
        """The zeros of idle minutes in ``region`` (naive UTC bounds), as runs: every minute a
        rule publishes, that is over, and has no stored datapoint (see ``metric_runs``)."""
        visible = naive_utc(_minute_floor(self.sim.clock.now()))
        end = visible if end is None else min(end, visible)
        runs: list[MetricRun] = []
        with self._lock:
            for (source, dest, rule_id), state in self._rules.items():
                if state.always_region != region:
                    continue
                dimensions = (("SourceBucket", source), ("DestinationBucket", dest), ("RuleId", rule_id))
                for lo, hi in _idle(state.always.spans, state.stored, start, end):
                    runs += [MetricRun(NAMESPACE, metric, dimensions, unit, lo, hi) for metric, unit in ALWAYS]
        return runs

    # ------------------------------------------------------------------ events
    def _event(self, event_name: str, version: Any, target: Any, **extra: str) -> None:
        s3 = self.sim.s3_backend()
        bucket = copier.get_bucket(s3, version.bucket)
        config = getattr(bucket, "notification_configuration", None) if bucket is not None else None
        if config is None:
            return
        stored = copier.find_version(s3, version.bucket, version.key, version.version_id)
        etag = str(getattr(stored, "etag", "") or "").replace('"', "")
        now = self.sim.clock.now()
        threshold = target.rule.event_threshold_minutes
        record = {
            "eventVersion": "2.2", "eventSource": "aws:s3", "awsRegion": bucket.region_name,
            "eventTime": _iso(now), "eventName": event_name[3:],
            "userIdentity": {"principalId": "s3.amazonaws.com"},
            "requestParameters": {"sourceIPAddress": "s3.amazonaws.com"}, "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "",
                   "bucket": {"name": bucket.name, "arn": bucket.arn,
                              "ownerIdentity": {"principalId": self.sim.account_id}},
                   "object": {"key": quote_plus(version.key), "size": version.size, "eTag": etag,
                              "versionId": version.version_id, "sequencer": ""}},
            "replicationEventData": {
                "replicationRuleId": target.rule.id, "destinationBucket": f"arn:aws:s3:::{target.rule.dest_bucket}",
                "s3Operation": "OBJECT_PUT" if version.kind == "object" else "OBJECT_DELETE",
                "requestTime": _iso(version.created), "failureReason": extra.get("failureReason", ""),
                "threshold": str(threshold * 60) if threshold else "",
                "replicationTime": extra.get("replicationTime", ""),
            },
        }
        delivered = 0
        for notification in config.topic:
            if notification.matches(event_name, version.key):
                record["s3"]["configurationId"] = notification.id
                delivered += self._to_topic(notification.arn, {"Records": [record]})
        for notification in config.queue:
            if notification.matches(event_name, version.key):
                record["s3"]["configurationId"] = notification.id
                delivered += self._to_queue(notification.arn, {"Records": [record]})
        for notification in config.cloud_function:
            if notification.matches(event_name, version.key):
                self.not_emulated["lambdaTarget"] = self.not_emulated.get("lambdaTarget", 0) + 1
        if delivered:
            self.events[event_name] = self.events.get(event_name, 0) + delivered

    def _to_topic(self, arn: str, document: dict[str, Any]) -> int:
        from moto.sns.exceptions import TopicNotFound

        try:
            self.sim.backend("sns", arn.split(":")[3]).publish(message=json.dumps(document), arn=arn,
                                                               subject="Amazon S3 Notification")
            return 1
        except (TopicNotFound, KeyError, ValueError) as exc:
            log.warning("replication event to %s not delivered: %s", arn, type(exc).__name__)
            return 0

    def _to_queue(self, arn: str, document: dict[str, Any]) -> int:
        from moto.sqs.exceptions import QueueDoesNotExist

        try:
            self.sim.backend("sqs", arn.split(":")[3]).send_message(arn.split(":")[-1], json.dumps(document))
            return 1
        except (QueueDoesNotExist, KeyError, ValueError) as exc:
            log.warning("replication event to %s not delivered: %s", arn, type(exc).__name__)
            return 0

    # ------------------------------------------------------------------ status
    def _bucket_region(self, bucket: str) -> str | None:
        found = copier.get_bucket(self.sim.s3_backend(), bucket)
        return getattr(found, "region_name", None) if found is not None else None

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"rules": {f"{s}->{d} ({r})": {"pending": len(st.pending), "region": st.region,
                                                   "destinationRegion": st.always_region,
                                                   "publishing": st.always.open,
                                                   "since": _since(st.always)}
                              for (s, d, r), st in self._rules.items()},
                    "datapoints": self.datapoints, "events": dict(self.events),
                    "notEmulated": dict(self.not_emulated), "label": SIMULATED}


def _since(intervals: _Intervals) -> str | None:
    return intervals.spans[-1][0].isoformat() if intervals.open and intervals.spans[-1][0] else None


def _idle(spans: list[list[datetime | None]], stored: list[datetime], start: datetime | None,
          end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """[lo, hi) stretches of published minutes (naive UTC) within [start, end) without a
    stored datapoint."""
    for since, until in spans:
        assert since is not None
        lo = naive_utc(since) if start is None else max(naive_utc(since), start)
        hi = end if until is None else min(naive_utc(until), end)
        if hi <= lo:
            continue
        for stamp in stored[bisect.bisect_left(stored, lo):bisect.bisect_left(stored, hi)]:
            if lo < stamp:
                yield lo, stamp
            lo = stamp + MINUTE
        if lo < hi:
            yield lo, hi


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
