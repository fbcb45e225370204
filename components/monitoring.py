"""Monitoring: the alert topic, replication alarms and failure events, and the CloudTrail trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, child_opts, deny_insecure_transport, policy_json
from components.config import LoggingConfig, MonitoringConfig
from drills.contracts import Objectives
from components.replication import RuleSpec
from components.secure_bucket import Delivery, SecureBucket, SecureBucketArgs, expiry_rule
from components.tiered_archive import TieredArchive

# S3 event types that signal replication trouble (sent to the alert topic).
REPLICATION_EVENTS = ("s3:Replication:OperationFailedReplication", "s3:Replication:OperationMissedThreshold",
                      "s3:Replication:OperationReplicatedAfterThreshold", "s3:Replication:OperationNotTracked")
ALARM_PERIOD_SECONDS = 300


@dataclass
class MonitoringArgs:
    """Inputs of Monitoring."""

    primary: Site
    """Region of the topic, alarms and trail (S3 replication metrics live in the source region)."""
    kms_key_arn: pulumi.Input[str]
    """Primary-region key for the topic, the trail and its bucket."""
    archive: TieredArchive
    """Replication source: alarms, event notifications and data events."""
    replica: TieredArchive
    """Replication destination: alarm dimensions and data events."""
    rules: Sequence[RuleSpec]
    """Replication rules (CloudWatch RuleId dimension)."""
    objectives: Objectives
    """RPO: the ReplicationLatency alarm threshold."""
    settings: MonitoringConfig
    """Pending-operations threshold."""
    logging: LoggingConfig
    """Retention of the trail's log bucket."""
    keep: bool = False
    """Protect and retain the trail bucket (production)."""


class Monitoring(pulumi.ComponentResource):
    """SNS alerts (KMS), replication alarms per rule, replication-failure events, CloudTrail."""

    topic: aws.sns.Topic
    failed_replication_alarms: list[aws.cloudwatch.MetricAlarm]
    trail: aws.cloudtrail.Trail

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:monitoring:Monitoring", name, None, opts)
        site = args.primary
        account = Account.of(site, self)
        self.topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=args.kms_key_arn,
                                   opts=child_opts(self, site))
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-alerts-policy", arn=self.topic.arn, policy=self._topic_policy(account, args),
            opts=child_opts(self, site))
        self.failed_replication_alarms = []
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        for rule in args.rules:
            self._replication_alarms(name, args, rule)
        # S3 allows one notification configuration per bucket: this is the archive's only one.
        self.archive_notifications = aws.s3.BucketNotification(
            f"{name}-replication-events", bucket=args.archive.archive.bucket.id,
            topics=[{"topic_arn": self.topic.arn, "events": list(REPLICATION_EVENTS)}],
            opts=child_opts(self, site, depends_on=[self.topic_policy]))
        self.trail_bucket = SecureBucket(f"{name}-trail-logs", SecureBucketArgs(
            site=site, purpose="cloudtrail", kms_key_arn=args.kms_key_arn,
            lifecycle_rules=[expiry_rule("expire-trail-logs", args.logging.retention_days)],
            access_log_bucket=args.archive.logs.name,
            deliveries=[Delivery("CloudTrailDelivery", {"Service": "cloudtrail.amazonaws.com"}, prefix="AWSLogs/",
                                 condition={"StringEquals": {"aws:SourceAccount": account.account_id}},
                                 read_acl=True, owner_full_control=True)],
            keep=args.keep), opts=pulumi.ResourceOptions(parent=self))
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail", s3_bucket_name=self.trail_bucket.name, kms_key_id=args.kms_key_arn,
            is_multi_region_trail=True, include_global_service_events=True, enable_log_file_validation=True,
            advanced_event_selectors=[
                {"name": "management-events",
                 "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}]},
                {"name": "archive-object-events", "field_selectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                    {"field": "resources.ARN", "starts_withs": [
                        pulumi.Output.concat(args.archive.arn, "/"), pulumi.Output.concat(args.replica.arn, "/")]},
                ]},
            ],
            opts=child_opts(self, site, depends_on=[self.trail_bucket.policy]))
        self.register_outputs({"topicArn": self.topic.arn, "trailArn": self.trail.arn})

    def _replication_alarms(self, name: str, args: MonitoringArgs, rule: RuleSpec) -> None:
        dimensions = {"SourceBucket": args.archive.name, "DestinationBucket": args.replica.name,
                      "RuleId": rule.rule_id}
        rpo_seconds = int(args.objectives.rpoMinutes * 60)
        backlog = args.settings.pending_operations_threshold
        specs = (
            ("latency", "ReplicationLatency", "Maximum", rpo_seconds, 1,
             f"replication lag of rule {rule.rule_id} above the RPO ({args.objectives.rpoMinutes:g} min)"),
            ("failed", "OperationsFailedReplication", "Sum", 0, 1,
             f"objects failed to replicate (rule {rule.rule_id})"),
            ("pending", "OperationsPendingReplication", "Maximum", backlog, 3,
             f"replication backlog of rule {rule.rule_id} above {backlog} operations"),
        )
        for suffix, metric, statistic, threshold, periods, description in specs:
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-{rule.rule_id}-{suffix}", namespace="AWS/S3", metric_name=metric, statistic=statistic,
                dimensions=dimensions, period=ALARM_PERIOD_SECONDS, evaluation_periods=periods,
                threshold=threshold, comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
                alarm_description=description, alarm_actions=[self.topic.arn], ok_actions=[self.topic.arn],
                opts=child_opts(self, args.primary))
            self.alarms.append(alarm)
            if suffix == "failed":
                self.failed_replication_alarms.append(alarm)

    def _topic_policy(self, account: Account, args: MonitoringArgs) -> pulumi.Output[str]:
        topic = self.topic.arn
        return policy_json(
            {"Sid": "AccountOwner", "Effect": "Allow", "Principal": {"AWS": account.root_arn()},
             "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Subscribe",
                        "SNS:ListSubscriptionsByTopic", "SNS:Publish"], "Resource": topic},
            {"Sid": "S3ReplicationEvents", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
             "Action": "SNS:Publish", "Resource": topic,
             "Condition": {"ArnLike": {"aws:SourceArn": args.archive.arn},
                           "StringEquals": {"aws:SourceAccount": account.account_id}}},
            {"Sid": "BackupVaultEvents", "Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
             "Action": "SNS:Publish", "Resource": topic,
             "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}}},
            {"Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": "SNS:Publish", "Resource": topic,
             "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}}},
            deny_insecure_transport(topic, action="SNS:Publish"),
        )
