"""Alerts: the alert topics (primary and DR region), who they reach, and the EventBridge rules
that raise an alert on every change to the controls that keep the archive recoverable.

A topic in each region, each with the configured subscriptions, so alerts about the DR
region's keys, vaults and replica still reach people when the primary region is gone. The
control-plane rules match CloudTrail management events ("AWS API Call via CloudTrail"); they
need the stack's trail (management events, all regions), which Monitoring creates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, child_opts, deny_insecure_transport, policy_json
from components.config import AlertsConfig

# eventSource prefix -> CloudTrail eventNames that weaken a control (a change must reach a person).
WATCHED_CALLS: dict[str, tuple[str, ...]] = {
    "kms": ("DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "CreateGrant", "DisableKeyRotation",
            "CancelKeyDeletion", "UpdatePrimaryRegion", "DeleteAlias", "UpdateAlias"),
    "s3": ("PutBucketPolicy", "DeleteBucketPolicy", "PutBucketReplication", "DeleteBucketReplication",
           "PutObjectLockConfiguration", "PutBucketLifecycle", "DeleteBucketLifecycle",
           "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock", "PutBucketEncryption",
           "DeleteBucketEncryption", "PutBucketVersioning", "PutBucketLogging", "PutBucketAcl", "DeleteBucket"),
    "cloudtrail": ("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"),
    "backup": ("DeleteBackupPlan", "UpdateBackupPlan", "DeleteBackupSelection", "DeleteBackupVault",
               "DeleteBackupVaultLockConfiguration", "PutBackupVaultLockConfiguration",
               "PutBackupVaultAccessPolicy", "DeleteBackupVaultAccessPolicy", "DeleteRecoveryPoint",
               "UpdateRecoveryPointLifecycle", "DeleteBackupVaultNotifications"),
    "dynamodb": ("DeleteTable", "UpdateTable", "UpdateContinuousBackups", "DeleteBackup", "PutResourcePolicy",
                 "DeleteResourcePolicy"),
    "secretsmanager": ("DeleteSecret", "PutResourcePolicy", "DeleteResourcePolicy", "RemoveRegionsFromReplication",
                       "PutSecretValue", "UpdateSecret"),
}


@dataclass
class AlertsArgs:
    """Inputs of Alerts."""

    primary: Site
    """Region of the main topic (failed-replication alarms, replication and vault events)."""
    dr: Site
    """Region of the second topic (DR-region control-plane events; the replication latency and
    pending alarms, which live where S3 publishes those metrics: the replica's region)."""
    kms_key_arn: pulumi.Input[str]
    """Primary-region key of the primary topic (the app key)."""
    replica_kms_key_arn: pulumi.Input[str]
    """DR-region key of the DR topic."""
    settings: AlertsConfig
    """Subscriptions (email, https, sqs, lambda) added to both topics."""
    archive_arn: pulumi.Input[str]
    """The archive bucket: S3 may publish its replication events."""
    topic_aliases: Sequence[pulumi.Alias] = field(default_factory=list)
    """Former URNs of the primary topic (it used to be Monitoring's)."""
    policy_aliases: Sequence[pulumi.Alias] = field(default_factory=list)
    """Former URNs of the primary topic's policy."""


class Alerts(pulumi.ComponentResource):
    """Topics in both regions, their subscriptions and policies, and control-plane event rules."""

    topic: aws.sns.Topic
    dr_topic: aws.sns.Topic
    rules: list[aws.cloudwatch.EventRule]
    subscriptions: list[aws.sns.TopicSubscription]

    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:alerts:Alerts", name, None, opts)
        account = Account.of(args.primary, self)
        self.rules, self.subscriptions, self.targets = [], [], []
        self.topic = self._region(name, args.primary, args.kms_key_arn, args, account, aliases=args.topic_aliases,
                                  policy_aliases=args.policy_aliases, suffix="")
        self.dr_topic = self._region(name, args.dr, args.replica_kms_key_arn, args, account, suffix="-dr")
        self.register_outputs({"topicArn": self.topic.arn, "drTopicArn": self.dr_topic.arn})

    def _region(self, name: str, site: Site, key: pulumi.Input[str], args: AlertsArgs, account: Account, *,
                suffix: str, aliases: Sequence[pulumi.Alias] = (),
                policy_aliases: Sequence[pulumi.Alias] = ()) -> aws.sns.Topic:
        opts = child_opts(self, site)
        topic = aws.sns.Topic(f"{name}{suffix}-topic", kms_master_key_id=key,
                              opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=list(aliases))))
        rules = []
        for source, calls in WATCHED_CALLS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}{suffix}-{source}-changes",
                description=f"drkit: alert on {source} calls that weaken the archive's controls",
                event_pattern=pulumi.Output.json_dumps({
                    "source": [f"aws.{source}"], "detail-type": ["AWS API Call via CloudTrail"],
                    "detail": {"eventSource": [f"{source}.amazonaws.com"], "eventName": list(calls)}}),
                opts=child_opts(self, site))
            rules.append(rule)
        self.rules += rules
        policy = aws.sns.TopicPolicy(
            f"{name}{suffix}-topic-policy", arn=topic.arn, policy=_topic_policy(topic, account, rules, args),
            opts=pulumi.ResourceOptions.merge(child_opts(self, site),
                                              pulumi.ResourceOptions(aliases=list(policy_aliases))))
        for rule, source in zip(rules, WATCHED_CALLS):
            self.targets.append(aws.cloudwatch.EventTarget(
                f"{name}{suffix}-{source}-changes-target", rule=rule.name, arn=topic.arn,
                opts=child_opts(self, site, depends_on=[policy])))
        for index, sub in enumerate(args.settings.subscriptions):
            self.subscriptions.append(aws.sns.TopicSubscription(
                f"{name}{suffix}-subscription-{index}", topic=topic.arn, protocol=sub.protocol.value,
                endpoint=sub.endpoint, opts=child_opts(self, site)))
        return topic


def _topic_policy(topic: aws.sns.Topic, account: Account, rules: list[aws.cloudwatch.EventRule],
                  args: AlertsArgs) -> pulumi.Output[str]:
    arn, this_account = topic.arn, {"aws:SourceAccount": account.account_id}
    return policy_json(
        {"Sid": "AccountOwner", "Effect": "Allow", "Principal": {"AWS": account.root_arn()},
         "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Subscribe",
                    "SNS:ListSubscriptionsByTopic", "SNS:Publish"], "Resource": arn},
        {"Sid": "S3ReplicationEvents", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
         "Action": "SNS:Publish", "Resource": arn,
         "Condition": {"ArnLike": {"aws:SourceArn": args.archive_arn}, "StringEquals": this_account}},
        {"Sid": "BackupVaultEvents", "Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
         "Action": "SNS:Publish", "Resource": arn, "Condition": {"StringEquals": this_account}},
        {"Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": "SNS:Publish", "Resource": arn, "Condition": {"StringEquals": this_account}},
        {"Sid": "ControlPlaneEventRules", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": "SNS:Publish", "Resource": arn,
         "Condition": {"ArnEquals": {"aws:SourceArn": [r.arn for r in rules]}}},
        deny_insecure_transport(arn, action="SNS:Publish"),
    )
