"""components/monitoring.py: encrypted alert topic, replication alarms per rule, replication
failure events (the archive's one notification configuration), multi-region CloudTrail."""

from __future__ import annotations

from collections import Counter

from components.monitoring import REPLICATION_EVENTS
from components.secure_bucket import PURPOSE_TAG

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
MONITORING = "drkit:monitoring:Monitoring"


def bucket(d, purpose: str):
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return b


def topic(d):
    (t,) = d.all("aws:sns/topic:Topic")
    return t


def test_topic_is_kms_encrypted_and_tls_only(stack) -> None:
    (key,) = stack.all("aws:kms/key:Key")
    t = topic(stack)
    assert t.inputs["kmsMasterKeyId"] == key.outputs["arn"], t.urn
    (policy,) = stack.all("aws:sns/topicPolicy:TopicPolicy")
    by_sid = {s["Sid"]: s for s in policy.policy()["Statement"]}
    assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny", policy.urn
    assert by_sid["S3ReplicationEvents"]["Condition"]["ArnLike"]["aws:SourceArn"] == \
        f"arn:aws:s3:::{bucket(stack, 'archive').name}", policy.urn


def test_three_replication_alarms_per_rule(stack) -> None:
    alarms = stack.all(ALARM, under=MONITORING)
    archive, replica = bucket(stack, "archive").name, bucket(stack, "replica").name
    rules = {a.inputs["dimensions"]["RuleId"] for a in alarms}
    assert rules == {"dicom", "quarantine", "drill-canaries"}
    assert Counter(a.inputs["metricName"] for a in alarms) == {
        "ReplicationLatency": 3, "OperationsFailedReplication": 3, "OperationsPendingReplication": 3}
    for a in alarms:
        assert a.inputs["namespace"] == "AWS/S3", a.urn
        assert (a.inputs["dimensions"]["SourceBucket"], a.inputs["dimensions"]["DestinationBucket"]) == (archive, replica)
        assert a.inputs["alarmActions"] == [topic(stack).outputs["arn"]], a.urn
        assert a.inputs["comparisonOperator"] == "GreaterThanThreshold", a.urn
        assert stack.region(a) == stack.config.primary_region, a.urn


def test_alarm_thresholds_come_from_objectives(dev, eu) -> None:
    for d in (dev, eu):
        for a in d.all(ALARM, under=MONITORING):
            metric = a.inputs["metricName"]
            if metric == "ReplicationLatency":
                assert a.inputs["threshold"] == d.config.objectives.rpoMinutes * 60, a.urn
            elif metric == "OperationsFailedReplication":
                assert (a.inputs["threshold"], a.inputs["statistic"]) == (0, "Sum"), a.urn
            else:
                assert a.inputs["threshold"] == d.config.monitoring.pending_operations_threshold, a.urn
    assert {a.inputs["threshold"] for a in eu.all(ALARM, under=MONITORING)
            if a.inputs["metricName"] == "ReplicationLatency"} == {1800}


def test_replication_failures_notify_the_topic(stack) -> None:
    n = stack.for_bucket(NOTIFICATION, bucket(stack, "archive"))
    (entry,) = n.inputs["topics"]
    assert entry["topicArn"] == topic(stack).outputs["arn"], n.urn
    assert set(entry["events"]) == set(REPLICATION_EVENTS), n.urn
    assert "s3:Replication:OperationFailedReplication" in entry["events"]
    (policy,) = stack.all("aws:sns/topicPolicy:TopicPolicy")
    assert policy.urn in n.dependencies, n.urn


def test_at_most_one_notification_configuration_per_bucket(any_stack) -> None:
    targets = Counter(n.inputs["bucket"] for n in any_stack.all(NOTIFICATION))
    assert targets and max(targets.values()) == 1, targets


def test_trail_is_multi_region_validated_encrypted_with_archive_data_events(stack) -> None:
    (trail,) = stack.all("aws:cloudtrail/trail:Trail")
    (key,) = stack.all("aws:kms/key:Key")
    assert trail.inputs["isMultiRegionTrail"] is True and trail.inputs["enableLogFileValidation"] is True, trail.urn
    assert trail.inputs["kmsKeyId"] == key.outputs["arn"], trail.urn
    selectors = {s["name"]: s for s in trail.inputs["advancedEventSelectors"]}
    fields = {f["field"]: f for f in selectors["archive-object-events"]["fieldSelectors"]}
    assert fields["eventCategory"]["equals"] == ["Data"]
    assert fields["resources.type"]["equals"] == ["AWS::S3::Object"]
    assert sorted(fields["resources.ARN"]["startsWiths"]) == sorted(
        f"arn:aws:s3:::{bucket(stack, p).name}/" for p in ("archive", "replica"))
    assert selectors["management-events"]["fieldSelectors"] == [{"field": "eventCategory", "equals": ["Management"]}]


def test_trail_has_its_own_log_bucket_that_admits_cloudtrail(stack) -> None:
    (trail,) = stack.all("aws:cloudtrail/trail:Trail")
    logs = bucket(stack, "cloudtrail")
    assert trail.inputs["s3BucketName"] == logs.name, trail.urn
    policy = stack.for_bucket("aws:s3/bucketPolicy:BucketPolicy", logs)
    by_sid = {s["Sid"]: s for s in policy.policy()["Statement"]}
    assert by_sid["CloudTrailDeliveryAclCheck"]["Action"] == "s3:GetBucketAcl"
    assert by_sid["CloudTrailDelivery"]["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert policy.urn in trail.dependencies, trail.urn
