"""components/monitoring.py: replication alarms per rule, replication failure events (the
archive's one notification configuration), multi-region CloudTrail with a locked bucket.

Alarm missing-data semantics: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data
CloudTrail bucket policy (aws:SourceArn, AWSLogs/<account>/): https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
"""

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


def topic(d, region: str | None = None):
    """The alert topic of ``region`` (default: the primary region)."""
    (t,) = [t for t in d.all("aws:sns/topic:Topic") if d.region(t) == (region or d.config.primary_region)]
    return t


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
        assert a.inputs["comparisonOperator"] == "GreaterThanThreshold", a.urn
        # A deleted rule stops the latency/backlog metrics: that must alarm, not look healthy.
        expected = "notBreaching" if a.inputs["metricName"] == "OperationsFailedReplication" else "breaching"
        assert a.inputs["treatMissingData"] == expected, a.urn


def test_each_alarm_is_in_the_region_s3_publishes_its_metric_in(stack) -> None:
    """S3 publishes ReplicationLatency, OperationsPendingReplication and BytesPendingReplication
    in the destination bucket's Region and OperationsFailedReplication in the source bucket's
    (the metrics table's "Which Region is this metric published in?"); an alarm sees only its
    own region's metrics, and its actions name a topic of that region.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"""
    primary, dr = stack.config.primary_region, stack.config.dr_region
    assert primary != dr
    for a in stack.all(ALARM, under=MONITORING):
        region = primary if a.inputs["metricName"] == "OperationsFailedReplication" else dr
        assert stack.region(a) == region, a.urn
        arn = topic(stack, region).outputs["arn"]
        assert a.inputs["alarmActions"] == [arn] and a.inputs["okActions"] == [arn], a.urn
        if a.inputs["treatMissingData"] == "breaching":
            assert a.inputs["insufficientDataActions"] == [arn], a.urn


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


def test_at_most_one_notification_configuration_per_bucket(any_stack) -> None:
    targets = Counter(n.inputs["bucket"] for n in any_stack.all(NOTIFICATION))
    assert targets and max(targets.values()) == 1, targets


def test_trail_is_multi_region_validated_encrypted_with_archive_data_events(stack) -> None:
    (trail,) = stack.all("aws:cloudtrail/trail:Trail")
    assert trail.inputs["isMultiRegionTrail"] is True and trail.inputs["enableLogFileValidation"] is True, trail.urn
    sse = stack.for_bucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                           bucket(stack, "evidence"))
    assert trail.inputs["kmsKeyId"] == sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"][
        "kmsMasterKeyId"], "trail and evidence share the audit key"
    selectors = {s["name"]: s for s in trail.inputs["advancedEventSelectors"]}
    fields = {f["field"]: f for f in selectors["archive-object-events"]["fieldSelectors"]}
    assert fields["eventCategory"]["equals"] == ["Data"]
    assert fields["resources.type"]["equals"] == ["AWS::S3::Object"]
    # HIPAA 164.312(b): object access to every bucket that holds PHI or its audit evidence.
    assert sorted(fields["resources.ARN"]["startsWiths"]) == sorted(
        f"arn:aws:s3:::{bucket(stack, p).name}/" for p in ("archive", "replica", "landing", "evidence", "cloudtrail",
                                                         "archive-inventory", "replica-inventory"))
    assert selectors["management-events"]["fieldSelectors"] == [{"field": "eventCategory", "equals": ["Management"]}]


def test_trail_has_its_own_log_bucket_that_admits_cloudtrail(stack) -> None:
    (trail,) = stack.all("aws:cloudtrail/trail:Trail")
    logs = bucket(stack, "cloudtrail")
    assert trail.inputs["s3BucketName"] == logs.name, trail.urn
    policy = stack.for_bucket("aws:s3/bucketPolicy:BucketPolicy", logs)
    by_sid = {s["Sid"]: s for s in policy.policy()["Statement"]}
    assert by_sid["CloudTrailDeliveryAclCheck"]["Action"] == "s3:GetBucketAcl"
    condition = by_sid["CloudTrailDelivery"]["Condition"]["StringEquals"]
    assert condition["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert condition["aws:SourceArn"] == f"arn:aws:cloudtrail:{stack.config.primary_region}:123456789012:trail/" \
        f"{trail.inputs['name']}", "CloudTrail recommends aws:SourceArn"
    assert by_sid["CloudTrailDelivery"]["Resource"] == f"arn:aws:s3:::{logs.name}/AWSLogs/123456789012/*"
    assert policy.urn in trail.dependencies, trail.urn
    lock = stack.for_bucket("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", logs)
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": stack.config.object_lock.mode.value,
                                                       "days": stack.config.logging.retention_days}, lock.urn
    assert trail.protect == stack.config.protect, trail.urn
