"""DrillTemplates: the AWS FIS experiment that pauses archive replication, with its role, and
the ransomware drill's attacker roles.

The experiment selects buckets by the drill-target tag, whose value is this platform's name,
so a drill of one stack can never select another stack's bucket in the same account.

Attacker roles (``drkit:drill.attacker``; off by default in production): ``attacker`` holds what
a compromised admin-like workload would — write and delete rights on this stack's archive and
replica (objects, retention, lock default, bucket policy, versioning, replication, lifecycle),
its backup vaults and recovery points, and its index tables, and the data keys through S3 for
writes — and ``attacker-bypass`` also ``s3:BypassGovernanceRetention``. Both explicitly deny
every read of studies and index items (the drill never needs them, a leaked session cannot
exfiltrate), reach nothing outside this stack, and are assumable only by the configured principals
of this account (``trustedPrincipalArns``, default the operator roles; none configured: principals
tagged ``drkit-drill-runner`` = the platform name) with a ``drkit-*`` session name, for at most an
hour (IAM's minimum; the drill asks for 15 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pulumi
import pulumi_aws as aws

from components.base import POLICY_VERSION, Account, Site, allow, assume_role_policy, child_opts, policy_json
from components.config import DrillConfig
from components.tiered_archive import TieredArchive

DRILL_TARGET_TAG = "drkit-drill-target"
DRILL_RUNNER_TAG = "drkit-drill-runner"
PAUSE_REPLICATION = "aws:s3:bucket-pause-replication"
ATTACKER_SESSION_NAMES = "drkit-*"
MAX_SESSION_SECONDS = 3600          # IAM's minimum MaxSessionDuration
ATTACKER_OBJECT_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention",
                           "s3:PutObjectLegalHold")
ATTACKER_BUCKET_ACTIONS = ("s3:PutBucketObjectLockConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                           "s3:PutBucketVersioning", "s3:PutReplicationConfiguration", "s3:PutLifecycleConfiguration")
ATTACKER_BACKUP_ACTIONS = ("backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle",
                           "backup:DeleteBackupVault", "backup:DeleteBackupVaultAccessPolicy",
                           "backup:DeleteBackupVaultLockConfiguration", "backup:PutBackupVaultAccessPolicy")
ATTACKER_TABLE_ACTIONS = ("dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:PutItem", "dynamodb:DeleteItem",
                          "dynamodb:BatchWriteItem")
BYPASS = "s3:BypassGovernanceRetention"
NEVER_READ = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes",
              "s3:RestoreObject", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
              "backup:StartRestoreJob", "backup:StartCopyJob", "kms:Decrypt")


@dataclass
class AttackTargets:
    """What the attacker roles may write and delete: this stack's resources only."""

    vault_arns: Sequence[pulumi.Input[str]]
    """Primary and DR backup vaults."""
    table_arns: Sequence[pulumi.Input[str]]
    """The study index and its DR replica."""
    data_key_arns: Sequence[pulumi.Input[str]]
    """The archive's and replica's keys (S3 SSE-KMS writes need kms:GenerateDataKey)."""


@dataclass
class DrillTemplatesArgs:
    """Inputs of DrillTemplates."""

    primary: Site
    """Region the experiment runs in (the replication source's)."""
    dr: Site
    """Region of the replication destinations the pause applies to."""
    archive: TieredArchive
    """Replication source; carries the drill-target tag."""
    replica: TieredArchive
    """Replication destination whose inbound replication is paused."""
    target_tag_value: str
    """Value of the drill-target tag on the archive bucket."""
    stop_alarm_arns: Sequence[pulumi.Input[str]]
    """CloudWatch alarms that stop the experiment when they fire."""
    settings: DrillConfig
    """Pause duration; the attacker roles."""
    targets: AttackTargets | None = None
    """What the attacker roles reach (needed when ``settings.attacker.enabled``)."""


class DrillTemplates(pulumi.ComponentResource):
    """FIS experiment template ``pause-replication`` and its least-privilege role; the attacker roles."""

    role: aws.iam.Role
    pause_replication: aws.fis.ExperimentTemplate
    attacker: aws.iam.Role | None = None
    attacker_bypass: aws.iam.Role | None = None

    def __init__(self, name: str, args: DrillTemplatesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:drill_templates:DrillTemplates", name, None, opts)
        site = args.primary
        account = Account.of(site, self)
        # FIS's documented confused-deputy guard: only experiments of this account assume the role.
        experiments = pulumi.Output.format("arn:{0}:fis:*:{1}:experiment/*", account.partition, account.account_id)
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=assume_role_policy("fis.amazonaws.com", account,
                                                                                       source_arn=experiments),
                                 description="AWS FIS: pause drkit archive replication", opts=child_opts(self, site))
        self.role_policy = aws.iam.RolePolicy(f"{name}-role-policy", role=self.role.id, policy=policy_json(
            allow(["s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration"], args.archive.arn,
                  sid="SourceReplicationConfig"),
            allow(["s3:PauseReplication"], args.replica.arn, sid="PauseDestination"),
            allow(["s3:ListAllMyBuckets", "tag:GetResources"], "*", sid="ResolveTargetsByTag"),
        ), opts=child_opts(self, site))
        minutes = args.settings.pause_minutes
        self.pause_replication = aws.fis.ExperimentTemplate(
            f"{name}-pause-replication",
            description=f"drkit: pause archive replication to {args.dr.region} for {minutes} minutes",
            role_arn=self.role.arn,
            actions=[{"name": "pause-replication", "action_id": PAUSE_REPLICATION,
                      "parameters": [{"key": "duration", "value": f"PT{minutes}M"},
                                     {"key": "region", "value": args.dr.region},
                                     {"key": "destinationBuckets", "value": args.replica.name}],
                      "target": {"key": "Buckets", "value": "archive"}}],
            targets=[{"name": "archive", "resource_type": "aws:s3:bucket", "selection_mode": "ALL",
                      "resource_tags": [{"key": DRILL_TARGET_TAG, "value": args.target_tag_value}]}],
            stop_conditions=[{"source": "aws:cloudwatch:alarm", "value": arn} for arn in args.stop_alarm_arns],
            experiment_options={"empty_target_resolution_mode": "fail"},
            tags={"Name": f"{name}-pause-replication"},
            opts=child_opts(self, site, depends_on=[self.role_policy]))
        if args.settings.attacker.enabled:
            if args.targets is None:
                raise ValueError("DrillTemplatesArgs.targets is needed when drkit:drill.attacker.enabled is true")
            self.attacker = self._attacker(f"{name}-attacker", args, account, bypass=False)
            self.attacker_bypass = self._attacker(f"{name}-attacker-bypass", args, account, bypass=True)
        self.register_outputs({"pauseReplicationTemplateId": self.pause_replication.id,
                               "attackerRoleArn": self.attacker.arn if self.attacker else None,
                               "attackerBypassRoleArn": self.attacker_bypass.arn if self.attacker_bypass else None})

    def _attacker(self, name: str, args: DrillTemplatesArgs, account: Account, *, bypass: bool) -> aws.iam.Role:
        site, targets = args.primary, args.targets
        assert targets is not None
        role = aws.iam.Role(
            name, assume_role_policy=attacker_trust_policy(account, args.settings.attacker.trusted_principal_arns,
                                                           args.target_tag_value),
            max_session_duration=MAX_SESSION_SECONDS,
            description=f"drkit ransomware drill attacker{' with s3:BypassGovernanceRetention' if bypass else ''}: "
                        "destructive rights on this stack only, no reads; assumed only by the drill runner",
            tags={"drkit-purpose": "ransomware-drill-attacker"}, opts=child_opts(self, site))
        buckets = [args.archive.arn, args.replica.arn]
        objects = [pulumi.Output.concat(b, "/*") for b in buckets]
        object_actions = [*ATTACKER_OBJECT_ACTIONS, *([BYPASS] if bypass else [])]
        recovery_points = [pulumi.Output.format("arn:{0}:backup:{1}:{2}:recovery-point:*", account.partition,
                                                region, account.account_id)
                           for region in (args.primary.region, args.dr.region)]
        via_s3 = [f"s3.{args.primary.region}.amazonaws.com", f"s3.{args.dr.region}.amazonaws.com"]
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy_json(
            allow(object_actions, objects, sid="DestroyArchiveObjects"),
            allow(ATTACKER_BUCKET_ACTIONS, buckets, sid="WeakenArchiveBuckets"),
            allow(ATTACKER_BACKUP_ACTIONS, [*targets.vault_arns, *recovery_points], sid="DestroyBackups"),
            allow(ATTACKER_TABLE_ACTIONS, list(targets.table_arns), sid="DropIndex"),
            allow(["kms:GenerateDataKey"], list(targets.data_key_arns), sid="WriteThroughS3",
                  condition={"StringEquals": {"kms:ViaService": via_s3}}),
            {"Sid": "NeverReadStudies", "Effect": "Deny", "Action": list(NEVER_READ), "Resource": "*"},
        ), opts=child_opts(self, site))
        return role


def attacker_trust_policy(account: Account, trusted: Sequence[str], platform: str) -> pulumi.Output[str]:
    """Principals of this account only: the named ones (or, none named, those tagged
    ``drkit-drill-runner`` = the platform), with a ``drkit-*`` session name."""
    who: dict[str, Any] = ({"ArnEquals": {"aws:PrincipalArn": list(trusted)}} if trusted
                           else {"StringEquals": {f"aws:PrincipalTag/{DRILL_RUNNER_TAG}": platform}})
    return pulumi.Output.json_dumps({"Version": POLICY_VERSION, "Statement": [{
        "Sid": "OnlyTheDrillRunner", "Effect": "Allow", "Principal": {"AWS": account.root_arn()},
        "Action": "sts:AssumeRole",
        "Condition": {**who, "StringLike": {"sts:RoleSessionName": ATTACKER_SESSION_NAMES}}}]})
