"""S3 replication metrics in CloudWatch and replication events, as S3 emits them.

Watches the replication behaviour (``on_replication``: a copy became pending, completed or
failed) and does what S3 does for rules whose destination has ``Metrics`` Enabled (S3
user guide, "Using S3 Replication metrics" and "Receiving replication failure events with
Amazon S3 Event Notifications"):

- CloudWatch ``AWS/S3`` metrics per rule, dimensions ``SourceBucket``, ``DestinationBucket``,
  ``RuleId``, in the source bucket's region, one datapoint per (virtual) minute, stamped at
  the start of the minute it covers: ``ReplicationLatency`` (Seconds: the most the
  destination is behind the source — the longest replication that finished in the minute,
  or the age of the oldest copy still pending), ``OperationsPendingReplication`` (Count) and
  ``BytesPendingReplication`` (Bytes) at the end of the minute, ``OperationsFailedReplication``
  (Count, failures in the minute). Datapoints are emitted while a rule has work pending or
  had some in the minute, plus one minute of zeros after it drains; an idle rule emits
  nothing (alarms see missing data and apply their ``TreatMissingData``).
- events to the source bucket's notification targets (SNS topics, SQS queues) that
  subscribe to them: ``s3:Replication:OperationFailedReplication`` (metrics enabled);
  with S3 RTC and its ``Metrics.EventThreshold`` (15 minutes) also
  ``OperationMissedThreshold`` when a copy is still pending at the threshold and
  ``OperationReplicatedAfterThreshold`` when it lands later. The record carries
  ``replicationEventData`` (replicationRuleId, destinationBucket, s3Operation,
  requestTime, failureReason, threshold, replicationTime). ``OperationNotTracked`` and
  Lambda / EventBridge targets are not emulated (counted under ``notEmulated``).

Metrics go straight into moto's CloudWatch backend (readable with GetMetricStatistics /
GetMetricData) and wake the alarm evaluator (``drills.cloud.sim.cloudwatch_alarms``).
Every time here is virtual.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus

from drills.cloud.clock import SIMULATED, ScheduledTask
from drills.cloud.interceptors import Interceptor
from drills.cloud.sim import replication_copy as copier

log = logging.getLogger(__name__)

NAMESPACE = "AWS/S3"
MINUTE = timedelta(minutes=1)
EVENT_FAILED = "s3:Replication:OperationFailedReplication"
EVENT_MISSED = "s3:Replication:OperationMissedThreshold"
EVENT_AFTER = "s3:Replication:OperationReplicatedAfterThreshold"


@dataclass
class _RuleState:
    """Per (source bucket, destination bucket, rule): what is pending, what happened this minute."""

    region: str
    pending: dict[int, tuple[datetime, int]] = field(default_factory=dict)   # id(target) -> (created, size)
    landed_latencies: list[float] = field(default_factory=list)
    failed: int = 0
    idle_minutes: int = 0


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
        self.datapoints = 0
        self.events: dict[str, int] = {}
        self.not_emulated: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            if self._tick is not None:
                self._tick.cancel()
            for task in self._threshold_tasks.values():
                task.cancel()
            self._init_state()

    # ------------------------------------------------------------------ from replication
    def on_replication(self, what: str, version: Any, target: Any) -> None:
        rule = target.rule
        if not (rule.metrics or rule.rtc):
            return
        now = self.sim.clock.now()
        ident = (version.bucket, rule.dest_bucket, rule.id)
        with self._lock:
            state = self._rules.get(ident)
            if state is None:
                region = self._bucket_region(version.bucket) or "us-east-1"
                state = self._rules[ident] = _RuleState(region)
            state.idle_minutes = 0
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

    # ------------------------------------------------------------------ metrics
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
                active = bool(state.pending or state.landed_latencies or state.failed)
                if not active:
                    state.idle_minutes += 1
                    if state.idle_minutes > 1:
                        continue                       # one minute of zeros after it drained, then nothing
                ages = [(now - created).total_seconds() for created, _ in state.pending.values()]
                latency = max(state.landed_latencies + ages, default=0.0)
                values = (("ReplicationLatency", latency, "Seconds"),
                          ("OperationsPendingReplication", float(len(state.pending)), "Count"),
                          ("BytesPendingReplication", float(sum(size for _, size in state.pending.values())), "Bytes"),
                          ("OperationsFailedReplication", float(state.failed), "Count"))
                dimensions = [{"Name": "SourceBucket", "Value": source}, {"Name": "DestinationBucket", "Value": dest},
                              {"Name": "RuleId", "Value": rule_id}]
                self._put(state.region, stamp, dimensions, values)
                regions.add(state.region)
                state.landed_latencies, state.failed = [], 0
            if any(s.idle_minutes <= 1 for s in self._rules.values()):
                self._tick = self.sim.clock.schedule_at(_minute_floor(now) + MINUTE, self._emit,
                                                        "s3-replication metrics (per minute)")
        for region in regions:
            self._wake_alarms(region)

    def _put(self, region: str, stamp: datetime, dimensions: list[dict[str, str]],
             values: tuple[tuple[str, float, str], ...]) -> None:
        from moto.cloudwatch.models import MetricDatum

        backend = self.sim.backend("cloudwatch", region)
        naive = stamp.astimezone(timezone.utc).replace(tzinfo=None)     # moto's convention
        for metric, value, unit in values:
            backend.metric_data.append(MetricDatum(NAMESPACE, metric, value, dimensions, naive, unit))
            self.datapoints += 1

    def _wake_alarms(self, region: str) -> None:
        try:
            alarms = self.sim["alarms"]
        except KeyError:
            return
        alarms.wake(region)

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
            return {"rules": {f"{s}->{d} ({r})": {"pending": len(st.pending), "region": st.region}
                              for (s, d, r), st in self._rules.items()},
                    "datapoints": self.datapoints, "events": dict(self.events),
                    "notEmulated": dict(self.not_emulated), "label": SIMULATED}


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
