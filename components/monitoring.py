"""Monitoring: replication alarms and failure events, and the CloudTrail trail (with its locked bucket).

The alert topic itself lives in Alerts (components/alerts.py), with its subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, child_opts
from components.config import LockMode, LoggingConfig, MonitoringConfig, ObjectLockConfig
from components.identities import Principals
from drills.contracts import Objectives
from components.replication import RuleSpec
from components.secure_bucket import Delivery, SecureBucket, SecureBucketArgs, expiry_rule
from components.tiered_archive import TieredArchive

# S3 event types that signal replication trouble (sent to the alert topic).
REPLICATION_EVENTS = ("s3:Replication:OperationFailedReplication", "s3:Replication:OperationMissedThreshold",
                      "s3:Replication:OperationReplicatedAfterThreshold", "s3:Replication:OperationNotTracked")
ALARM_PERIOD_SECONDS = 300
TRAIL_PREFIX = "AWSLogs/"


@dataclass
class MonitoringArgs:
    """Inputs of Monitoring."""

    primary: Site
    """Region of the trail and the OperationsFailedReplication alarms (S3 publishes that metric in
    the source bucket's region)."""
    dr: Site
    """Region of the ReplicationLatency and OperationsPendingReplication alarms: S3 publishes those
    metrics in the destination bucket's region (S3 user guide, "Using S3 Replication metrics")."""
    kms_key_arn: pulumi.Input[str]
    """Primary-region audit key for the trail and its bucket."""
    topic_arn: pulumi.Input[str]
    """Primary-region alert topic (Alerts): failed-replication alarms and replication events."""
    dr_topic_arn: pulumi.Input[str]
    """DR-region alert topic (Alerts): latency and pending alarms (alarm actions must name a topic
    in the alarm's region)."""
    data_event_bucket_arns: Sequence[pulumi.Input[str]]
    """Buckets besides archive and replica whose object access CloudTrail records (landing, evidence,
    inventories); the trail's own bucket is always added (HIPAA 164.312(b))."""
    lock_mode: LockMode
    """Object Lock mode of the trail bucket (the stack's objectLock.mode)."""
    principals: Principals
    """Identities the trail bucket's policy names."""
    archive: TieredArchive
    """Replication source: alarm dimensions, event notifications and data events."""
    replica: TieredArchive
    """Replication destination: alarm dimensions and data events."""
    rules: Sequence[RuleSpec]
    """Replication rules (CloudWatch RuleId dimension)."""
    objectives: Objectives
    """RPO: the ReplicationLatency alarm threshold."""
    settings: MonitoringConfig
    """Pending-operations threshold."""
    logging: LoggingConfig
    """Retention (and Object Lock period) of the trail's log bucket."""
    keep: bool = False
    """Protect and retain the trail, its bucket and its policy (production)."""


class Monitoring(pulumi.ComponentResource):
    """Replication alarms per rule (each in the region S3 publishes its metric in),
    replication-failure events, CloudTrail with a locked bucket."""

    failed_replication_alarms: list[aws.cloudwatch.MetricAlarm]
    trail: aws.cloudtrail.Trail

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:monitoring:Monitoring", name, None, opts)
        site = args.primary
        account = Account.of(site, self)
        self.topic_arn = args.topic_arn
        self.failed_replication_alarms = []
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        for rule in args.rules:
            self._replication_alarms(name, args, rule)
        # S3 allows one notification configuration per bucket: this is the archive's only one.
        self.archive_notifications = aws.s3.BucketNotification(
            f"{name}-replication-events", bucket=args.archive.archive.bucket.id,
            topics=[{"topic_arn": args.topic_arn, "events": list(REPLICATION_EVENTS)}],
            opts=child_opts(self, site))
        trail_name = f"{name}-trail"
        trail_arn = pulumi.Output.format("arn:{0}:cloudtrail:{1}:{2}:trail/{3}", account.partition, site.region,
                                         account.account_id, trail_name)
        # Object Lock: an administrator in this account cannot delete the audit trail early.
        self.trail_bucket = SecureBucket(f"{name}-trail-logs", SecureBucketArgs(
            site=site, purpose="cloudtrail", kms_key_arn=args.kms_key_arn,
            object_lock=ObjectLockConfig(args.lock_mode, args.logging.retention_days),
            lifecycle_rules=[expiry_rule("expire-trail-logs", args.logging.retention_days)],
            access_log_bucket=args.archive.logs.name,
            deliveries=[Delivery("CloudTrailDelivery", {"Service": "cloudtrail.amazonaws.com"},
                                 prefix=pulumi.Output.concat(TRAIL_PREFIX, account.account_id, "/"),
                                 condition={"StringEquals": {"aws:SourceArn": trail_arn}},
                                 read_acl=True, owner_full_control=True)],
            keep=args.keep, principals=args.principals), opts=pulumi.ResourceOptions(parent=self))
        logged = [args.archive.arn, args.replica.arn, *args.data_event_bucket_arns, self.trail_bucket.arn]
        self.trail = aws.cloudtrail.Trail(
            trail_name, name=trail_name, s3_bucket_name=self.trail_bucket.name, kms_key_id=args.kms_key_arn,
            is_multi_region_trail=True, include_global_service_events=True, enable_log_file_validation=True,
            advanced_event_selectors=[
                {"name": "management-events",
                 "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}]},
                {"name": "archive-object-events", "field_selectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                    {"field": "resources.ARN", "starts_withs": [pulumi.Output.concat(arn, "/") for arn in logged]},
                ]},
            ],
            opts=child_opts(self, site, keep=args.keep, depends_on=[self.trail_bucket.policy]))
        self.register_outputs({"trailArn": self.trail.arn})

    def _replication_alarms(self, name: str, args: MonitoringArgs, rule: RuleSpec) -> None:
        dimensions = {"SourceBucket": args.archive.name, "DestinationBucket": args.replica.name,
                      "RuleId": rule.rule_id}
        rpo_seconds = int(args.objectives.rpoMinutes * 60)
        backlog = args.settings.pending_operations_threshold
        # With RTC, S3 publishes ReplicationLatency and OperationsPendingReplication for every rule
        # every minute; when they stop (the rule or the whole configuration was deleted) that is
        # itself an alarm. OperationsFailedReplication appears only when something fails, so missing
        # data there is the good case (and those alarms are FIS stop conditions: they must be OK).
        # Each alarm lives where S3 publishes its metric: latency and pending in the destination
        # bucket's region, failed operations in the source's ("Using S3 Replication metrics").
        specs = (
            ("latency", "ReplicationLatency", "Maximum", rpo_seconds, 1, "breaching",
             f"replication lag of rule {rule.rule_id} above the RPO ({args.objectives.rpoMinutes:g} min), "
             "or no replication metrics at all (rule deleted or disabled)"),
            ("failed", "OperationsFailedReplication", "Sum", 0, 1, "notBreaching",
             f"objects failed to replicate (rule {rule.rule_id})"),
            ("pending", "OperationsPendingReplication", "Maximum", backlog, 3, "breaching",
             f"replication backlog of rule {rule.rule_id} above {backlog} operations, or no metrics at all"),
        )
        for suffix, metric, statistic, threshold, periods, missing, description in specs:
            site, topic = (args.primary, args.topic_arn) if suffix == "failed" else (args.dr, args.dr_topic_arn)
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-{rule.rule_id}-{suffix}", namespace="AWS/S3", metric_name=metric, statistic=statistic,
                dimensions=dimensions, period=ALARM_PERIOD_SECONDS, evaluation_periods=periods,
                threshold=threshold, comparison_operator="GreaterThanThreshold", treat_missing_data=missing,
                alarm_description=description, alarm_actions=[topic], ok_actions=[topic],
                insufficient_data_actions=[topic] if missing == "breaching" else None,
                opts=child_opts(self, site))
            self.alarms.append(alarm)
            if suffix == "failed":
                self.failed_replication_alarms.append(alarm)
