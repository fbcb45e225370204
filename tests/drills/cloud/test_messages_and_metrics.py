"""SQS times on the virtual clock (drills.cloud.sim.sqs_clock) and CloudWatch reads
(drills.cloud.sim.cloudwatch_fixes), on the embedded cloud."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest


@pytest.fixture
def sqs(client):
    return client("sqs", "us-east-1")


@pytest.fixture
def cw(client):
    return client("cloudwatch", "us-east-1")


def test_visibility_timeout_runs_on_the_virtual_clock(cloud, sqs):
    """A received message stays invisible for the visibility timeout and then is visible
    again (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html);
    on the embedded cloud the timeout is virtual: real seconds do not end it, advancing the clock does."""
    url = sqs.create_queue(QueueName="vis", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="study")
    assert len(sqs.receive_message(QueueUrl=url).get("Messages", [])) == 1
    time.sleep(2.5)                                  # wall time passes, virtual time does not
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    cloud.clock.advance(3)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["All"]).get("Messages", [])
    assert len(again) == 1 and again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_delay_and_sent_timestamp_are_virtual(cloud, sqs):
    """DelaySeconds hides a new message for that long; SentTimestamp is when it was sent
    (API_SendMessage, API_ReceiveMessage attributes) — both on the virtual clock."""
    url = sqs.create_queue(QueueName="delay")["QueueUrl"]
    cloud.clock.advance(3600)
    sent_at = cloud.clock.now()
    sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=5)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    cloud.clock.advance(6)
    message = sqs.receive_message(QueueUrl=url, AttributeNames=["SentTimestamp"])["Messages"][0]
    assert abs(int(message["Attributes"]["SentTimestamp"]) / 1000 - sent_at.timestamp()) < 1


def test_get_metric_data_keeps_namespaces_apart(cloud, cw):
    """A metric is identified by namespace, name and dimensions: a query for one namespace
    never sees a same-named metric of another.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Metric"""
    now = cloud.clock.now().replace(second=0, microsecond=0)
    dims = [{"Name": "RuleId", "Value": "r1"}]
    cw.put_metric_data(Namespace="AWS/S3", MetricData=[{"MetricName": "ReplicationLatency", "Dimensions": dims,
                                                        "Value": 5.0, "Timestamp": now}])
    cw.put_metric_data(Namespace="Custom/Other", MetricData=[{"MetricName": "ReplicationLatency", "Dimensions": dims,
                                                              "Value": 500.0, "Timestamp": now}])
    result = cw.get_metric_data(
        MetricDataQueries=[{"Id": "q", "MetricStat": {"Metric": {"Namespace": "AWS/S3", "MetricName": "ReplicationLatency",
                                                                 "Dimensions": dims}, "Period": 60, "Stat": "Maximum"}}],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=5))
    assert result["MetricDataResults"][0]["Values"] == [5.0]


def test_describe_alarm_history_lists_state_changes_newest_first(cloud, cw):
    """DescribeAlarmHistory returns the alarm's history (creation, state updates with old and
    new state), newest first, filterable by HistoryItemType.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html"""
    cw.put_metric_alarm(AlarmName="replication-lag", Namespace="AWS/S3", MetricName="ReplicationLatency",
                        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=900,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")
    # "ignore": the embedded cloud's alarm evaluation keeps the set state while no data arrives.
    cw.set_alarm_state(AlarmName="replication-lag", StateValue="ALARM", StateReason="drill")
    cloud.clock.advance(60)
    cw.set_alarm_state(AlarmName="replication-lag", StateValue="OK", StateReason="recovered")
    items = cw.describe_alarm_history(AlarmName="replication-lag")["AlarmHistoryItems"]
    states = [i for i in items if i["HistoryItemType"] == "StateUpdate"]
    assert states[0]["HistorySummary"].endswith("from ALARM to OK")
    assert states[1]["HistorySummary"].endswith("to ALARM")
    assert states[0]["Timestamp"] >= states[1]["Timestamp"]
    only = cw.describe_alarm_history(AlarmName="replication-lag", HistoryItemType="ConfigurationUpdate")
    assert [i["HistoryItemType"] for i in only["AlarmHistoryItems"]] == ["ConfigurationUpdate"]
