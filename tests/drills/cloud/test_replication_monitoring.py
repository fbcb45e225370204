"""S3 replication metrics in CloudWatch and replication events (drills.cloud.sim.replication_monitoring)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from drills.cloud.simulation import SimSettings
from tests.helpers.replication import LAG, RTC, dimensions, make_pair, make_rule

MINUTE = 60
RTC_DELAY = 15 * MINUTE
METRICS_ONLY = {"Metrics": {"Status": "Enabled"}}


@pytest.fixture
def pair(cloud_factory, bucket_name):
    return make_pair(cloud_factory(SimSettings(replication_lag={"fixed_seconds": LAG})), bucket_name)


SOURCE_REGION, DESTINATION_REGION = "us-east-1", "us-west-2"      # make_pair's src and dst


def region_of(metric: str) -> str:
    """Where S3 publishes ``metric`` (repl-metrics.html, "Which Region is this metric published
    in?"): OperationsFailedReplication in the source's region, the others in the destination's."""
    return SOURCE_REGION if metric == "OperationsFailedReplication" else DESTINATION_REGION


def series(pair, metric: str, statistic: str = "Maximum") -> list[float]:
    cw = pair.cloud.target.client("cloudwatch", region_of(metric))
    now = pair.cloud.clock.now()
    points = cw.get_metric_statistics(Namespace="AWS/S3", MetricName=metric, Dimensions=dimensions(pair),
                                      StartTime=now - timedelta(hours=3), EndTime=now, Period=60,
                                      Statistics=[statistic])["Datapoints"]
    return [p[statistic] for p in sorted(points, key=lambda p: p["Timestamp"])]


def events_queue(pair):
    """An SNS topic subscribed by an SQS queue, as the source bucket's replication-event target."""
    sns = pair.cloud.target.client("sns", "us-east-1")
    sqs = pair.cloud.target.client("sqs", "us-east-1")
    topic = sns.create_topic(Name="replication-events")["TopicArn"]
    queue = sqs.create_queue(QueueName="replication-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    pair.east.put_bucket_notification_configuration(Bucket=pair.src, NotificationConfiguration={
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:Replication:*"]}]})
    return sqs, queue


def received(sqs, queue) -> list[dict]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            document = json.loads(json.loads(m["Body"])["Message"])
            out.extend(document.get("Records", []))          # not the s3:TestEvent
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


def test_pending_operations_and_bytes_are_reported_per_rule_every_minute(pair):
    """With replication metrics enabled, S3 reports per rule (dimensions SourceBucket,
    DestinationBucket, RuleId) OperationsPendingReplication, BytesPendingReplication,
    ReplicationLatency and OperationsFailedReplication, minute by minute.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html"""
    pair.configure(make_rule(pair.dst, destination=RTC))
    pair.advance(RTC_DELAY)                                            # RTC: reported 15 minutes after
    pair.cloud.sim["replication"].control("pause", {"bucket": pair.src, "duration": "PT20M"})
    for i in range(3):
        pair.east.put_object(Bucket=pair.src, Key=f"k{i}", Body=b"x" * 100)
    pair.advance(10 * MINUTE)
    assert max(series(pair, "OperationsPendingReplication")) == 3
    assert max(series(pair, "BytesPendingReplication")) == 300
    assert max(series(pair, "ReplicationLatency")) >= 9 * MINUTE      # the destination is that far behind
    pair.advance(15 * MINUTE)                                          # the pause ended, copies landed
    assert series(pair, "OperationsPendingReplication")[-1] == 0
    assert sum(series(pair, "OperationsFailedReplication", "Sum")) == 0


def test_failures_are_counted_and_no_metrics_without_the_metrics_block(pair):
    """OperationsFailedReplication counts failed operations per rule; rules without
    ``Metrics`` Enabled publish nothing.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"""
    pair.configure(make_rule(pair.dst, destination=METRICS_ONLY))
    pair.cloud.sim["replication"].control("fail", {"bucket": pair.src, "prefix": "bad/", "count": 2})
    for key in ("bad/1", "bad/2", "ok"):
        pair.east.put_object(Bucket=pair.src, Key=key, Body=b"x")
    pair.advance(3 * MINUTE)
    assert sum(series(pair, "OperationsFailedReplication", "Sum")) == 2

    pair.configure(make_rule(pair.dst, "plain"))
    pair.east.put_object(Bucket=pair.src, Key="later", Body=b"x")
    pair.advance(3 * MINUTE)
    for region in (SOURCE_REGION, DESTINATION_REGION):
        cw = pair.cloud.target.client("cloudwatch", region)
        listed = cw.list_metrics(Namespace="AWS/S3", Dimensions=[{"Name": "RuleId", "Value": "plain"}])["Metrics"]
        assert listed == [], region


def test_failed_replication_event_reaches_the_notification_topic(pair):
    """s3:Replication:OperationFailedReplication needs replication metrics (not RTC) and
    carries the failure reason in replicationEventData.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-metrics-events.html"""
    pair.configure(make_rule(pair.dst, destination=METRICS_ONLY))
    sqs, queue = events_queue(pair)
    pair.cloud.sim["replication"].control("fail", {"bucket": pair.src, "key": "k", "count": 1})
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"x")
    pair.advance(LAG + 1)
    records = received(sqs, queue)
    assert [r["eventName"] for r in records] == ["Replication:OperationFailedReplication"]
    data = records[0]["replicationEventData"]
    assert data["replicationRuleId"] == "all" and data["destinationBucket"] == f"arn:aws:s3:::{pair.dst}"
    assert data["failureReason"] == "InjectedFailure"
    assert records[0]["s3"]["object"]["key"] == "k"


def test_rtc_threshold_events_during_an_outage(pair):
    """With S3 RTC, an object not replicated within 15 minutes raises
    OperationMissedThreshold, and OperationReplicatedAfterThreshold when it finally lands.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-metrics-events.html"""
    pair.configure(make_rule(pair.dst, destination=RTC))
    sqs, queue = events_queue(pair)
    pair.cloud.sim["outage"].control("down", {"region": "us-west-2"})
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"x")
    pair.advance(14 * MINUTE)
    assert received(sqs, queue) == []
    pair.advance(2 * MINUTE)
    assert [r["eventName"] for r in received(sqs, queue)] == ["Replication:OperationMissedThreshold"]
    pair.cloud.sim["outage"].control("up", {"region": "us-west-2"})
    pair.advance(20 * MINUTE)
    after = received(sqs, queue)
    assert [r["eventName"] for r in after] == ["Replication:OperationReplicatedAfterThreshold"]
    assert int(after[0]["replicationEventData"]["replicationTime"]) > 15 * MINUTE


def test_copies_within_the_threshold_raise_no_event(pair):
    pair.configure(make_rule(pair.dst, destination=RTC))
    sqs, queue = events_queue(pair)
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"x")
    pair.advance(20 * MINUTE)
    assert pair.status("k") == "COMPLETED" and received(sqs, queue) == []


def test_threshold_events_need_rtc(pair):
    """Threshold-based events need S3 RTC; metrics alone give only failure events.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-metrics-events.html"""
    pair.configure(make_rule(pair.dst, destination={"Metrics": {"Status": "Enabled",
                                                                "EventThreshold": {"Minutes": 15}}}))
    sqs, queue = events_queue(pair)
    pair.cloud.sim["outage"].control("down", {"region": "us-west-2"})
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"x")
    pair.advance(20 * MINUTE)
    pair.cloud.sim["outage"].control("up", {"region": "us-west-2"})
    pair.advance(20 * MINUTE)
    assert pair.status("k") == "COMPLETED" and received(sqs, queue) == []


def cw_client(pair, region: str = DESTINATION_REGION):
    return pair.cloud.target.client("cloudwatch", region)


def minutes(pair, metric: str, span_minutes: int, statistic: str = "Maximum", region: str | None = None) -> list[dict]:
    now = pair.cloud.clock.now()
    points = cw_client(pair, region or region_of(metric)).get_metric_statistics(
        Namespace="AWS/S3", MetricName=metric, Dimensions=dimensions(pair),
        StartTime=now - timedelta(minutes=span_minutes), EndTime=now, Period=60,
        Statistics=[statistic, "SampleCount"])["Datapoints"]
    return sorted(points, key=lambda p: p["Timestamp"])


def test_an_idle_rule_publishes_zeros_every_minute(pair):
    """A rule with replication metrics enabled publishes ReplicationLatency,
    OperationsPendingReplication and BytesPendingReplication every minute from when it is
    configured, also when nothing replicates (the metrics table's "Is this metric still
    published if replication doesn't occur?": Yes); OperationsFailedReplication is not
    ("... doesn't occur?": No).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"""
    pair.configure(make_rule(pair.dst, destination=METRICS_ONLY))
    pair.advance(10 * MINUTE)
    for metric in ("ReplicationLatency", "OperationsPendingReplication", "BytesPendingReplication"):
        points = minutes(pair, metric, 10)
        assert len(points) >= 9, metric                       # one a minute (the first one was partial)
        assert {(p["Maximum"], p["SampleCount"]) for p in points} == {(0.0, 1.0)}, metric
        stamps = [p["Timestamp"] for p in points]
        assert all(b - a == timedelta(minutes=1) for a, b in zip(stamps, stamps[1:])), metric
    assert minutes(pair, "OperationsFailedReplication", 10, "Sum") == []
    listed = cw_client(pair).list_metrics(Namespace="AWS/S3", Dimensions=[{"Name": "RuleId", "Value": "all"}])
    assert {m["MetricName"] for m in listed["Metrics"]} == {"ReplicationLatency", "OperationsPendingReplication",
                                                            "BytesPendingReplication"}
    # GetMetricData sees the same minutes, and coarser periods aggregate them (5 samples of 0).
    now = pair.cloud.clock.now()
    query = {"Metric": {"Namespace": "AWS/S3", "MetricName": "ReplicationLatency", "Dimensions": dimensions(pair)},
             "Period": 300, "Stat": "SampleCount"}
    data = cw_client(pair).get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": query}],
                                           StartTime=now - timedelta(minutes=5), EndTime=now)
    assert data["MetricDataResults"][0]["Values"] in ([5.0], [4.0])   # the minute under way is not over


def test_work_shows_real_values_between_the_zeros(pair):
    """Minutes with work carry the real values; the minutes before and after are zeros.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"""
    pair.configure(make_rule(pair.dst, destination=METRICS_ONLY))
    pair.advance(5 * MINUTE)
    pair.cloud.sim["replication"].control("pause", {"bucket": pair.src, "duration": "PT5M"})
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"x" * 10)
    pair.advance(15 * MINUTE)
    pending = [p["Maximum"] for p in minutes(pair, "OperationsPendingReplication", 20)]
    assert pending[:3] == [0.0, 0.0, 0.0] and pending[-3:] == [0.0, 0.0, 0.0] and max(pending) == 1.0
    assert {p["SampleCount"] for p in minutes(pair, "BytesPendingReplication", 20)} == {1.0}
    assert max(p["Maximum"] for p in minutes(pair, "BytesPendingReplication", 20)) == 10.0


def test_rtc_metrics_begin_15_minutes_after_the_rule_is_enabled(pair):
    """"If you're using S3 Replication Time Control, Amazon CloudWatch begins reporting
    replication metrics 15 minutes after you enable S3 RTC on the respective replication rule."
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"""
    pair.configure(make_rule(pair.dst, destination=RTC))
    pair.advance(14 * MINUTE)
    assert minutes(pair, "ReplicationLatency", 14) == []
    pair.advance(5 * MINUTE)
    assert 3 <= len(minutes(pair, "ReplicationLatency", 19)) <= 5


@pytest.mark.parametrize("change", ["delete-configuration", "disable-rule", "metrics-off", "delete-destination"])
def test_metrics_stop_when_the_rule_goes(pair, change):
    """Replication metrics exist only for rules with metrics enabled: after the configuration
    is deleted, the rule disabled or its Metrics turned off, no new datapoints; nor for the
    three pending/latency metrics once the destination bucket is deleted ("still published
    if the destination bucket is deleted?": No).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"""
    pair.configure(make_rule(pair.dst, destination=METRICS_ONLY))
    pair.advance(5 * MINUTE)
    assert minutes(pair, "OperationsPendingReplication", 5)
    if change == "delete-configuration":
        pair.east.delete_bucket_replication(Bucket=pair.src)
    elif change == "disable-rule":
        pair.configure(make_rule(pair.dst, status="Disabled", destination=METRICS_ONLY))
    elif change == "metrics-off":
        pair.configure(make_rule(pair.dst, destination={"Metrics": {"Status": "Disabled"}}))
    else:
        pair.west.delete_bucket(Bucket=pair.dst)      # the source keeps its configuration
    pair.advance(10 * MINUTE)
    assert minutes(pair, "OperationsPendingReplication", 9) == []
    assert len(minutes(pair, "OperationsPendingReplication", 17)) >= 5      # what was published stays


def test_a_year_of_idle_minutes_is_not_stored(pair):
    """Drills advance the clock by months (lifecycle, backups): an idle rule's zeros are
    answered as runs, nothing is stored per minute, and reads still see every minute
    (here: hourly periods of 60 samples, all 0).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"""
    pair.configure(make_rule(pair.dst, destination=METRICS_ONLY))
    backends = [pair.cloud.sim.backend("cloudwatch", region) for region in (SOURCE_REGION, DESTINATION_REGION)]
    pair.advance(365 * 24 * 60 * MINUTE)
    assert all(b.metric_data == [] for b in backends) and pair.cloud.sim["replication_monitoring"].status()["datapoints"] == 0
    now = pair.cloud.clock.now()
    hourly = cw_client(pair).get_metric_statistics(
        Namespace="AWS/S3", MetricName="ReplicationLatency", Dimensions=dimensions(pair),
        StartTime=now - timedelta(hours=24), EndTime=now, Period=3600, Statistics=["SampleCount", "Maximum"])
    points = hourly["Datapoints"]
    # every minute that is over and starts in the window (the first and last ones may be cut)
    assert len(points) in (24, 25) and sum(p["SampleCount"] for p in points) in (24 * 60 - 1, 24 * 60)
    assert {p["Maximum"] for p in points} == {0.0}
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"x")
    pair.advance(5 * MINUTE)
    assert 1 <= pair.cloud.sim["replication_monitoring"].status()["datapoints"] <= 8   # only minutes with work


def test_metrics_are_published_in_the_documented_regions(pair):
    """The metrics table's "Which Region is this metric published in?": Bytes Pending
    Replication, Replication Latency and Operations Pending Replication "in the Region of the
    destination bucket", Operations Failed Replication in the Region of the source bucket. So
    GetMetricStatistics in the source's region has no ReplicationLatency, the destination's
    region has it, and the failures are counted only in the source's region.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"""
    pair.configure(make_rule(pair.dst, destination=METRICS_ONLY))
    pair.cloud.sim["replication"].control("fail", {"bucket": pair.src, "key": "bad", "count": 1})
    pair.cloud.sim["replication"].control("pause", {"bucket": pair.src, "duration": "PT5M"})
    pair.east.put_object(Bucket=pair.src, Key="bad", Body=b"x")
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"x" * 10)
    pair.advance(10 * MINUTE)
    for metric in ("ReplicationLatency", "OperationsPendingReplication", "BytesPendingReplication"):
        assert minutes(pair, metric, 10, region=SOURCE_REGION) == [], metric
        assert len(minutes(pair, metric, 10, region=DESTINATION_REGION)) >= 9, metric
    assert max(p["Maximum"] for p in minutes(pair, "ReplicationLatency", 10, region=DESTINATION_REGION)) > 0
    assert sum(p["Sum"] for p in minutes(pair, "OperationsFailedReplication", 10, "Sum", region=SOURCE_REGION)) == 1
    assert minutes(pair, "OperationsFailedReplication", 10, "Sum", region=DESTINATION_REGION) == []
    by_region = {region: {m["MetricName"] for m in cw_client(pair, region).list_metrics(
        Namespace="AWS/S3", Dimensions=[{"Name": "RuleId", "Value": "all"}])["Metrics"]}
        for region in (SOURCE_REGION, DESTINATION_REGION)}
    assert by_region == {SOURCE_REGION: {"OperationsFailedReplication"},
                         DESTINATION_REGION: {"ReplicationLatency", "OperationsPendingReplication",
                                              "BytesPendingReplication"}}
