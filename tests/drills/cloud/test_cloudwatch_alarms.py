"""CloudWatch metric alarms evaluated in virtual time (drills.cloud.sim.cloudwatch_alarms)."""

from __future__ import annotations

import json

import pytest

from drills.cloud.simulation import SimSettings
from tests.helpers.replication import LAG, RTC, dimensions, make_pair, make_rule

MINUTE = 60
REGION = "us-east-1"
DEST_REGION = "us-west-2"        # make_pair's destination: S3 publishes ReplicationLatency there (repl-metrics.html)


@pytest.fixture
def cw(cloud):
    return cloud.target.client("cloudwatch", REGION)


def subscribed_queue(cloud, name: str = "alerts", region: str = REGION) -> tuple[str, object, str]:
    sns, sqs = cloud.target.client("sns", region), cloud.target.client("sqs", region)
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, sqs, queue


def alarm_messages(sqs, queue) -> list[dict]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(json.loads(m["Body"])["Message"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


def state(cw, name: str) -> str:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def put_alarm(cw, name: str = "a", *, missing: str | None = None, periods: int = 1, to_alarm: int | None = None,
              actions: list[str] | None = None) -> None:
    extra = {"TreatMissingData": missing} if missing else {}
    if to_alarm:
        extra["DatapointsToAlarm"] = to_alarm
    cw.put_metric_alarm(AlarmName=name, Namespace="Test", MetricName="m", Statistic="Maximum", Period=60,
                        EvaluationPeriods=periods, Threshold=5, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=actions or [], OKActions=actions or [], **extra)


def put_value(cloud, cw, value: float) -> None:
    cw.put_metric_data(Namespace="Test", MetricData=[{"MetricName": "m", "Value": value,
                                                      "Timestamp": cloud.clock.now()}])


def test_a_new_alarm_starts_insufficient_data_and_is_evaluated(cloud, cw):
    """"When you create an alarm, its initial state is INSUFFICIENT_DATA"; a breaching
    datapoint moves it to ALARM, a good one back to OK.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html"""
    put_alarm(cw)
    assert state(cw, "a") == "INSUFFICIENT_DATA"
    put_value(cloud, cw, 9)
    cloud.clock.advance(2 * MINUTE)
    alarm = cw.describe_alarms(AlarmNames=["a"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM" and "Threshold Crossed" in alarm["StateReason"]
    assert abs((alarm["StateUpdatedTimestamp"] - cloud.clock.now()).total_seconds()) <= 120
    put_value(cloud, cw, 1)
    cloud.clock.advance(2 * MINUTE)
    assert state(cw, "a") == "OK"


def test_updating_an_alarm_keeps_its_state(cloud, cw):
    """PutMetricAlarm on an existing alarm: "its state is left unchanged".
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"""
    put_alarm(cw)
    put_value(cloud, cw, 9)
    cloud.clock.advance(2 * MINUTE)
    assert state(cw, "a") == "ALARM"
    put_alarm(cw)
    assert state(cw, "a") == "ALARM"


@pytest.mark.parametrize("treatment, expected", [("missing", "INSUFFICIENT_DATA"), ("notBreaching", "OK"),
                                                 ("breaching", "ALARM"), ("ignore", "INSUFFICIENT_DATA")])
def test_treat_missing_data(cloud, cw, treatment, expected):
    """With no datapoints: missing -> INSUFFICIENT_DATA, notBreaching -> OK, breaching ->
    ALARM, ignore -> the current state is kept.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data"""
    put_alarm(cw, missing=treatment)
    cloud.clock.advance(3 * MINUTE)
    assert state(cw, "a") == expected


def test_ignore_keeps_the_last_state_when_data_stops(cloud, cw):
    put_alarm(cw, missing="ignore")
    put_value(cloud, cw, 9)
    cloud.clock.advance(2 * MINUTE)
    assert state(cw, "a") == "ALARM"
    cloud.clock.advance(30 * MINUTE)
    assert state(cw, "a") == "ALARM"


def test_m_out_of_n_datapoints(cloud, cw):
    """DatapointsToAlarm M of EvaluationPeriods N: ALARM only when M of the last N periods breach.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation"""
    put_alarm(cw, periods=3, to_alarm=2, missing="notBreaching")
    put_value(cloud, cw, 9)
    cloud.clock.advance(MINUTE)
    put_value(cloud, cw, 1)
    cloud.clock.advance(MINUTE)
    assert state(cw, "a") == "OK"                     # 1 of 3 breaching
    put_value(cloud, cw, 9)
    cloud.clock.advance(MINUTE)
    assert state(cw, "a") == "ALARM"                  # 2 of 3


def test_state_changes_notify_the_sns_topic_and_its_sqs_subscriber(cloud, cw):
    """An alarm's actions run on a state change: the SNS topic receives the alarm JSON
    (NewStateValue, OldStateValue, Trigger ...) and delivers it to its SQS subscribers.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
    https://docs.aws.amazon.com/sns/latest/dg/sns-sqs-as-subscriber.html"""
    topic, sqs, queue = subscribed_queue(cloud)
    put_alarm(cw, actions=[topic], missing="notBreaching")
    cloud.clock.advance(2 * MINUTE)
    put_value(cloud, cw, 9)
    cloud.clock.advance(MINUTE)
    messages = alarm_messages(sqs, queue)
    assert [(m["OldStateValue"], m["NewStateValue"]) for m in messages] == [("INSUFFICIENT_DATA", "OK"),
                                                                           ("OK", "ALARM")]
    assert messages[1]["AlarmName"] == "a" and messages[1]["Trigger"]["MetricName"] == "m"
    assert messages[1]["Trigger"]["TreatMissingData"] == "notBreaching"


def test_replication_pause_drill_sees_its_alarm_go_to_alarm_and_back_to_ok(cloud_factory, bucket_name):
    """The stack's latency alarm (AWS/S3 ReplicationLatency, Maximum over 300 s > the RPO,
    TreatMissingData notBreaching) during a 30-minute replication pause: a drill polling
    DescribeAlarms sees ALARM during the pause and OK once replication caught up, and the
    topic gets both notifications. The alarm and its topic are in the destination bucket's
    region, where S3 publishes ReplicationLatency.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html"""
    cloud = cloud_factory(SimSettings(replication_lag={"fixed_seconds": LAG}))
    pair = make_pair(cloud, bucket_name)
    pair.configure(make_rule(pair.dst, destination=RTC))
    cw = cloud.target.client("cloudwatch", DEST_REGION)
    topic, sqs, queue = subscribed_queue(cloud, region=DEST_REGION)
    cw.put_metric_alarm(AlarmName="latency", Namespace="AWS/S3", MetricName="ReplicationLatency",
                        Dimensions=dimensions(pair), Statistic="Maximum", Period=300, EvaluationPeriods=1,
                        Threshold=900, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                        AlarmActions=[topic], OKActions=[topic])
    pair.east.put_object(Bucket=pair.src, Key="before", Body=b"x")
    cloud.clock.advance(10 * MINUTE)
    assert state(cw, "latency") == "OK"
    cloud.sim["replication"].control("pause", {"bucket": pair.src, "duration": "PT30M"})
    pair.east.put_object(Bucket=pair.src, Key="during", Body=b"x")
    seen = []
    for _ in range(60):
        cloud.clock.advance(MINUTE)
        current = state(cw, "latency")
        if not seen or seen[-1] != current:
            seen.append(current)
    assert seen == ["OK", "ALARM", "OK"]
    assert [m["NewStateValue"] for m in alarm_messages(sqs, queue)] == ["OK", "ALARM", "OK"]


def test_set_alarm_state_runs_the_actions_and_evaluation_corrects_it(cloud, cw):
    """SetAlarmState: "When the updated state differs from the previous value, the action
    configured for the appropriate state is invoked"; the next evaluation sets the real state.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html"""
    topic, sqs, queue = subscribed_queue(cloud)
    put_alarm(cw, actions=[topic], missing="notBreaching")
    cloud.clock.advance(2 * MINUTE)
    alarm_messages(sqs, queue)                                    # the INSUFFICIENT_DATA -> OK notice
    cw.set_alarm_state(AlarmName="a", StateValue="ALARM", StateReason="drill: test the notification path")
    assert state(cw, "a") == "ALARM"
    assert [m["NewStateValue"] for m in alarm_messages(sqs, queue)] == ["ALARM"]
    cloud.clock.advance(2 * MINUTE)
    assert state(cw, "a") == "OK"


def test_statistic_sets_are_evaluated(cloud, cw):
    """Datapoints sent as StatisticValues (a statistic set) count with their Maximum, Sum
    and SampleCount.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/publishingMetrics.html"""
    put_alarm(cw)
    cw.put_metric_data(Namespace="Test", MetricData=[{"MetricName": "m", "Timestamp": cloud.clock.now(),
                                                      "StatisticValues": {"SampleCount": 3, "Sum": 12,
                                                                          "Minimum": 1, "Maximum": 9}}])
    cloud.clock.advance(2 * MINUTE)
    assert state(cw, "a") == "ALARM"


def test_an_idle_rules_zeros_keep_a_breaching_alarm_ok_until_the_rule_is_deleted(cloud_factory, bucket_name):
    """An alarm treating missing data as breaching on an idle rule's ReplicationLatency sees
    the zeros S3 publishes every minute ("still published if replication doesn't occur?":
    Yes) and stays OK; once the replication configuration is deleted no more datapoints
    come and the alarm goes to ALARM. The alarm is in the destination bucket's region, where
    S3 publishes ReplicationLatency; the same alarm in the source's region sees no data.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data"""
    cloud = cloud_factory(SimSettings(replication_lag={"fixed_seconds": LAG}))
    pair = make_pair(cloud, bucket_name)
    pair.configure(make_rule(pair.dst, destination={"Metrics": {"Status": "Enabled"}}))
    source_cw = cloud.target.client("cloudwatch", REGION)
    source_cw.put_metric_alarm(AlarmName="latency", Namespace="AWS/S3", MetricName="ReplicationLatency",
                               Dimensions=dimensions(pair), Statistic="Maximum", Period=300, EvaluationPeriods=1,
                               Threshold=900, ComparisonOperator="GreaterThanThreshold",
                               TreatMissingData="breaching")
    cw = cloud.target.client("cloudwatch", DEST_REGION)
    cw.put_metric_alarm(AlarmName="latency", Namespace="AWS/S3", MetricName="ReplicationLatency",
                        Dimensions=dimensions(pair), Statistic="Maximum", Period=300, EvaluationPeriods=1,
                        Threshold=900, ComparisonOperator="GreaterThanThreshold", TreatMissingData="breaching")
    cloud.clock.advance(7 * MINUTE)                            # a whole (aligned) period since the rule was put
    assert state(cw, "latency") == "OK"
    assert state(source_cw, "latency") == "ALARM"              # no ReplicationLatency in the source's region
    cloud.clock.advance(3 * 24 * 60 * MINUTE)                  # days later, still idle, still OK
    assert state(cw, "latency") == "OK"
    pair.east.delete_bucket_replication(Bucket=pair.src)
    cloud.clock.advance(11 * MINUTE)
    assert state(cw, "latency") == "ALARM"


@pytest.mark.slow
def test_the_dev_stacks_latency_alarm_fires_during_a_replication_pause(cloud, tmp_path):
    """End to end on the project's own dev stack (deployed offline, then a synthetic data set
    ingested). S3 publishes the replication metrics of an RTC rule every minute, also when
    nothing replicates ("Is this metric still published if replication doesn't occur?
    Yes"), and "CloudWatch begins reporting replication metrics 15 minutes after you enable
    S3 RTC": so the stack's breaching-on-missing-data alarms are in ALARM for the first 15
    minutes, then OK while idle; during a 45-minute replication pause the
    ReplicationLatency alarm (> the RPO) goes to ALARM and back to OK once replication
    caught up, and the alert topic receives the RTC threshold events. The latency and pending
    alarms are in the DR region, where S3 publishes those metrics ("This metric is published in
    the Region of the destination bucket"), the failed-operations alarms in the primary region.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-metrics-events.html
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data"""
    from pathlib import Path

    from drills.deploy.engine import deploy
    from drills.ingest.batch import ingest_files
    from drills.ingest.core import IngestDestination, Ingestor
    from drills.ingest.pseudonym import Pseudonymizer
    from drills.ingest.sources import collect
    from drills.ingest.summary import IngestSummary
    from drills.project import find_project
    from drills.synth.dataset import generate

    root = Path(__file__).resolve().parents[3]
    if not (root / "__main__.py").is_file():
        pytest.skip("the Pulumi program (__main__.py) is not there yet")
    out = deploy(find_project(project_dir=root), "dev", cloud.target, cloud.sim).outputs
    clients = {region: cloud.target.client("cloudwatch", region) for region in (out.primaryRegion, out.drRegion)}
    s3 = cloud.target.client("s3", out.primaryRegion)
    key = "dicom/1/2/3.dcm"
    rules = s3.get_bucket_replication(Bucket=out.archiveBucket)["ReplicationConfiguration"]["Rules"]
    rule = max((r for r in rules if key.startswith(r.get("Filter", {}).get("Prefix", "\0"))),
               key=lambda r: r["Priority"])["ID"]
    alarms = [(region, a) for region, cw in clients.items() for a in cw.describe_alarms()["MetricAlarms"]
              if a["Namespace"] == "AWS/S3"]
    where = {a["AlarmName"]: region for region, a in alarms}
    assert {(region, a["MetricName"]) for region, a in alarms} == {
        (out.drRegion, "ReplicationLatency"), (out.drRegion, "OperationsPendingReplication"),
        (out.primaryRegion, "OperationsFailedReplication")}

    def state_of(name: str) -> str:
        return state(clients[where[name]], name)

    replication = {a["AlarmName"]: a["MetricName"] for _, a in alarms}
    latency = [a["AlarmName"] for _, a in alarms if a["MetricName"] == "ReplicationLatency"
               and {"Name": "RuleId", "Value": rule} in a["Dimensions"]]
    assert latency, "the dev stack declares a ReplicationLatency alarm for the rule of dicom/"
    breaching = [a["AlarmName"] for _, a in alarms if a["TreatMissingData"] == "breaching"]
    cloud.clock.advance(5 * MINUTE)                     # RTC: no metrics for the first 15 minutes
    assert {name: state_of(name) for name in breaching} == {name: "ALARM" for name in breaching}

    dataset = tmp_path / "dataset"
    generate(dataset, 3, 7)
    dest = IngestDestination.from_outputs(out, cloud.target)
    summary = IngestSummary(simulated=True)
    ingest_files(Ingestor(dest, Pseudonymizer.from_secret(cloud.target, dest.region)),
                 collect([dataset]).files, summary, workers=2)
    assert not summary.failures
    cloud.clock.advance(20 * MINUTE)                    # replicated, and idle for a whole alarm period
    assert {name: state_of(name) for name in replication} == {name: "OK" for name in replication}
    stored = cloud.sim["replication_monitoring"].status()["datapoints"]
    cloud.clock.advance(30 * MINUTE)                    # idle: zeros every minute, none of them stored
    assert {name: state_of(name) for name in replication} == {name: "OK" for name in replication}
    assert cloud.sim["replication_monitoring"].status()["datapoints"] == stored
    events_before = cloud.sim["replication_monitoring"].status()["events"]

    assert cloud.sim["replication"].control("pause", {"bucket": out.archiveBucket,
                                                      "duration": "PT45M"})["resolvedTargets"] == 1
    s3.put_object(Bucket=out.archiveBucket, Key=key, Body=b"x" * 1000, ChecksumAlgorithm="SHA256")
    seen = []
    for _ in range(75):
        cloud.clock.advance(MINUTE)
        current = state_of(latency[0])
        if not seen or seen[-1] != current:
            seen.append(current)
    assert seen == ["OK", "ALARM", "OK"]
    assert {name: state_of(name) for name in replication} == {name: "OK" for name in replication}
    events = cloud.sim["replication_monitoring"].status()["events"]
    assert {k: events.get(k, 0) - events_before.get(k, 0) for k in events} == {
        "s3:Replication:OperationMissedThreshold": 1, "s3:Replication:OperationReplicatedAfterThreshold": 1}
