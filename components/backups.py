"""ImmutableBackups: locked AWS Backup vaults in both regions, the plan that fills them,
restore testing, and the audit framework and report that prove it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, allow, assume_role_policy, child_opts, policy_json, underscore_name
from components.config import BackupConfig, VaultLockMode
from components.identities import Principals

DAILY_SCHEDULE = "cron(0 5 ? * * *)"
RESTORE_TEST_SCHEDULE = "cron(0 6 ? * 1 *)"          # weekly, Sunday 06:00 UTC
VAULT_EVENTS = ("BACKUP_JOB_COMPLETED", "COPY_JOB_FAILED", "RESTORE_JOB_COMPLETED", "RECOVERY_POINT_MODIFIED",
                "S3_BACKUP_OBJECT_FAILED", "S3_RESTORE_OBJECT_FAILED")
REPORT_PREFIX = "backup-audit"
# Denied on the vaults to everyone but the backup role and break-glass (the deploy role may
# also manage the access policy): what ransomware with admin rights would call first.
GUARDED_VAULT_ACTIONS = ("backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle",
                         "backup:PutBackupVaultAccessPolicy", "backup:DeleteBackupVaultAccessPolicy",
                         "backup:StartRestoreJob", "backup:StartCopyJob", "backup:DeleteBackupVault",
                         "backup:DeleteBackupVaultLockConfiguration", "backup:PutBackupVaultLockConfiguration")


@dataclass
class ImmutableBackupsArgs:
    """Inputs of ImmutableBackups."""

    primary: Site
    """Region of the main vault, plan, framework and report plan."""
    dr: Site
    """Region of the copy vault (and the air-gapped vault)."""
    kms_key_arn: pulumi.Input[str]
    """Primary-region backup key for the main vault."""
    replica_kms_key_arn: pulumi.Input[str]
    """DR-region backup key for the copy vault."""
    data_key_arn: pulumi.Input[str]
    """Key of the archive's objects (the backup role decrypts them through S3)."""
    app_key_arn: pulumi.Input[str]
    """Key of the index table (used through DynamoDB)."""
    principals: Principals
    """Identities the vault access policies name."""
    archive_bucket_arn: pulumi.Input[str]
    """Archive bucket to back up (continuous + daily)."""
    index_table_arn: pulumi.Input[str]
    """Study index table to back up."""
    evidence_bucket: pulumi.Input[str]
    """Bucket name the Backup Audit Manager report plan writes to."""
    topic_arn: pulumi.Input[str]
    """SNS topic for the primary vault's events."""
    settings: BackupConfig
    """Vault lock, retention, continuous, copy, air gap."""
    keep: bool = False
    """Protect and retain the vaults; protect the plan, selections and vault policies (production)."""
    dr_topic_arn: pulumi.Input[str] | None = None
    """SNS topic in the DR region for the DR vault's events (topics are regional)."""


class ImmutableBackups(pulumi.ComponentResource):
    """Vaults with Vault Lock, a continuous + daily plan copying to DR, restore tests, audit."""

    vault: aws.backup.Vault
    dr_vault: aws.backup.Vault
    air_gapped_vault: aws.backup.LogicallyAirGappedVault | None
    plan: aws.backup.Plan
    framework: aws.backup.Framework

    def __init__(self, name: str, args: ImmutableBackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:backups:ImmutableBackups", name, None, opts)
        s = args.settings
        primary, dr = args.primary, args.dr
        account = Account.of(primary, self)
        self.vault, self.vault_lock = self._vault(f"{name}-vault", primary, args.kms_key_arn, args)
        self.dr_vault, self.dr_vault_lock = self._vault(f"{name}-dr-vault", dr, args.replica_kms_key_arn, args)
        self.air_gapped_vault = None
        self.air_gapped_share = None
        if s.air_gapped:
            self.air_gapped_vault = aws.backup.LogicallyAirGappedVault(
                f"{name}-air-gapped", min_retention_days=s.min_retention_days,
                max_retention_days=s.max_retention_days, opts=child_opts(self, dr, keep=args.keep))
            if s.air_gapped_share_with:
                self._share_air_gapped_vault(name, dr, s.air_gapped_share_with, args.keep)
        trust = assume_role_policy("backup.amazonaws.com", account, if_exists=True)
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=trust,
                                 description="AWS Backup: back up and restore the archive and index",
                                 opts=child_opts(self, primary))
        self.role_policy = aws.iam.RolePolicy(f"{name}-role-policy", role=self.role.id,
                                              policy=self._role_policy(name, args, account),
                                              opts=child_opts(self, primary))
        self.role_policies = [self.role_policy]
        self.vault_policies = [self._vault_policy(f"{name}-{what}", vault, site, args)
                               for what, vault, site in (("vault", self.vault, primary), ("dr-vault", self.dr_vault, dr))]
        self.plan = aws.backup.Plan(f"{name}-plan", rules=self._rules(s),
                                    opts=child_opts(self, primary, keep=args.keep))
        self.selections = [
            aws.backup.Selection(f"{name}-{what}", name=underscore_name(f"{name}-{what}"), plan_id=self.plan.id,
                                 iam_role_arn=self.role.arn, resources=[arn],
                                 opts=child_opts(self, primary, keep=args.keep, depends_on=self.role_policies))
            for what, arn in (("archive", args.archive_bucket_arn), ("index", args.index_table_arn))
        ]
        self.restore_testing_plan = aws.backup.RestoreTestingPlan(
            f"{name}-restore-testing", name=underscore_name(f"{name}-restore-testing"),
            schedule_expression=RESTORE_TEST_SCHEDULE, start_window_hours=24,
            recovery_point_selection={"algorithm": "LATEST_WITHIN_WINDOW", "include_vaults": [self.vault.arn],
                                      "recovery_point_types": ["CONTINUOUS", "SNAPSHOT"],
                                      "selection_window_days": 7},
            opts=child_opts(self, primary))
        self.restore_testing_selections = [
            aws.backup.RestoreTestingSelection(
                f"{name}-restore-{what}", name=underscore_name(f"{name}-restore-{what}"),
                restore_testing_plan_name=self.restore_testing_plan.name, protected_resource_type=kind,
                protected_resource_arns=[arn], iam_role_arn=self.role.arn, validation_window_hours=24,
                opts=child_opts(self, primary, depends_on=self.role_policies))
            for what, kind, arn in (("archive", "S3", args.archive_bucket_arn),
                                    ("index", "DynamoDB", args.index_table_arn))
        ]
        self.framework = aws.backup.Framework(
            f"{name}-framework", name=underscore_name(f"{name}-framework", 256),
            description="drkit: retention, vault lock, encryption, cross-region copy, freshness, plan frequency",
            controls=self._controls(s, dr.region), opts=child_opts(self, primary))
        self.report_plan = aws.backup.ReportPlan(
            f"{name}-report", name=underscore_name(f"{name}-report", 256),
            description="Backup Audit Manager control compliance, delivered to the evidence bucket",
            report_delivery_channel={"s3_bucket_name": args.evidence_bucket, "s3_key_prefix": REPORT_PREFIX,
                                     "formats": ["CSV", "JSON"]},
            report_setting={"report_template": "CONTROL_COMPLIANCE_REPORT",
                            "framework_arns": [self.framework.arn], "number_of_frameworks": 1},
            opts=child_opts(self, primary))
        self.notifications = aws.backup.VaultNotifications(
            f"{name}-vault-events", backup_vault_name=self.vault.name, sns_topic_arn=args.topic_arn,
            backup_vault_events=list(VAULT_EVENTS), opts=child_opts(self, primary))
        self.dr_notifications = None
        if args.dr_topic_arn is not None:
            self.dr_notifications = aws.backup.VaultNotifications(
                f"{name}-dr-vault-events", backup_vault_name=self.dr_vault.name, sns_topic_arn=args.dr_topic_arn,
                backup_vault_events=list(VAULT_EVENTS), opts=child_opts(self, dr))
        self.register_outputs({"vault": self.vault.name, "drVault": self.dr_vault.name, "planId": self.plan.id})

    def _vault(self, name: str, site: Site, key: pulumi.Input[str], args: ImmutableBackupsArgs,
               ) -> tuple[aws.backup.Vault, aws.backup.VaultLockConfiguration]:
        s = args.settings
        vault = aws.backup.Vault(name, kms_key_arn=key, opts=child_opts(self, site, keep=args.keep))
        changeable = s.changeable_for_days if s.vault_lock is VaultLockMode.COMPLIANCE else None
        lock = aws.backup.VaultLockConfiguration(
            f"{name}-lock", backup_vault_name=vault.name, min_retention_days=s.min_retention_days,
            max_retention_days=s.max_retention_days, changeable_for_days=changeable,
            opts=child_opts(self, site, keep=args.keep))
        return vault, lock

    def _rules(self, s: BackupConfig) -> list[dict]:
        rules = []
        if s.continuous:
            rules.append({"rule_name": "continuous", "target_vault_name": self.vault.name,
                          "schedule": DAILY_SCHEDULE, "enable_continuous_backup": True,
                          "lifecycle": {"delete_after": s.continuous_retention_days}})
        copies = []
        if s.copy_to_dr:
            copies.append({"destination_vault_arn": self.dr_vault.arn,
                           "lifecycle": {"delete_after": s.daily_retention_days}})
        if self.air_gapped_vault is not None:
            copies.append({"destination_vault_arn": self.air_gapped_vault.arn,
                           "lifecycle": {"delete_after": s.daily_retention_days}})
        if s.cross_account_vault_arn:
            # The recovery account's vault, under that account's own key and policies.
            copies.append({"destination_vault_arn": s.cross_account_vault_arn,
                           "lifecycle": {"delete_after": s.daily_retention_days}})
        rules.append({"rule_name": "daily", "target_vault_name": self.vault.name, "schedule": DAILY_SCHEDULE,
                      "start_window": 60, "completion_window": 24 * 60,
                      "lifecycle": {"delete_after": s.daily_retention_days}, "copy_actions": copies})
        return rules

    def _share_air_gapped_vault(self, name: str, dr: Site, principals: tuple[str, ...], keep: bool) -> None:
        """RAM share of the air-gapped vault, so a recovery account can restore from it when this
        account is lost or locked (AWS Backup logically air-gapped vault sharing)."""
        self.air_gapped_share = aws.ram.ResourceShare(
            f"{name}-air-gapped-share", name=f"{name}-air-gapped-share", allow_external_principals=False,
            opts=child_opts(self, dr, keep=keep))
        aws.ram.ResourceAssociation(f"{name}-air-gapped-share-vault", resource_share_arn=self.air_gapped_share.arn,
                                    resource_arn=self.air_gapped_vault.arn, opts=child_opts(self, dr, keep=keep))
        for principal in principals:
            aws.ram.PrincipalAssociation(f"{name}-air-gapped-share-{principal[-12:]}",
                                         resource_share_arn=self.air_gapped_share.arn, principal=principal,
                                         opts=child_opts(self, dr, keep=keep))

    def _vault_policy(self, name: str, vault: aws.backup.Vault, site: Site,
                      args: ImmutableBackupsArgs) -> aws.backup.VaultPolicy:
        """Deny deleting, shortening, re-policing, restoring and copying recovery points to all but
        the backup role and break-glass (AWS's ransomware-resilient backup guidance)."""
        p = args.principals
        allowed = [self.role.arn, p.break_glass, p.root]
        policy_admins = [*p.config_admins()]
        restore_copy = ("backup:StartRestoreJob", "backup:StartCopyJob")
        destructive = [a for a in GUARDED_VAULT_ACTIONS
                       if a not in ("backup:PutBackupVaultAccessPolicy", *restore_copy)]
        document = policy_json(
            {"Sid": "DenyRecoveryPointDestructionExceptBackupRole", "Effect": "Deny", "Principal": "*",
             "Action": destructive, "Resource": "*", "Condition": {"ArnNotLike": {"aws:PrincipalArn": allowed}}},
            # Restore drills run as operator roles (the restore itself still passes the backup role).
            {"Sid": "DenyRestoreAndCopyExceptBackupRoleAndOperators", "Effect": "Deny", "Principal": "*",
             "Action": list(restore_copy), "Resource": "*",
             "Condition": {"ArnNotLike": {"aws:PrincipalArn": [*allowed, *p.operators]}}},
            {"Sid": "DenyAccessPolicyChangesExceptDeployRole", "Effect": "Deny", "Principal": "*",
             "Action": "backup:PutBackupVaultAccessPolicy", "Resource": "*",
             "Condition": {"ArnNotLike": {"aws:PrincipalArn": policy_admins}}},
        )
        return aws.backup.VaultPolicy(f"{name}-policy", backup_vault_name=vault.name, policy=document,
                                      opts=child_opts(self, site, keep=args.keep))

    def _role_policy(self, name: str, args: ImmutableBackupsArgs, account: Account) -> pulumi.Output[str]:
        """What AWS Backup needs for this archive and index, and nothing on other buckets or tables
        (replaces the AWS managed policies, which grant iam:PassRole on every role and every bucket)."""
        region = args.primary.region
        bucket, table = args.archive_bucket_arn, args.index_table_arn
        objects = pulumi.Output.concat(bucket, "/*")
        restore_buckets = pulumi.Output.format("arn:{0}:s3:::{1}-restore-*", account.partition, name)
        restore_tables = pulumi.Output.format("arn:{0}:dynamodb:{1}:{2}:table/{3}-restore-*", account.partition,
                                              region, account.account_id, name)
        vaults = [self.vault.arn, self.dr_vault.arn,
                  *([self.air_gapped_vault.arn] if self.air_gapped_vault is not None else []),
                  *([args.settings.cross_account_vault_arn] if args.settings.cross_account_vault_arn else [])]
        managed_rules = pulumi.Output.format("arn:{0}:events:*:{1}:rule/AwsBackupManagedRule*", account.partition,
                                             account.account_id)
        return policy_json(
            allow(["s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:GetBucketTagging", "s3:GetBucketAcl",
                   "s3:GetBucketNotification", "s3:PutBucketNotification", "s3:GetInventoryConfiguration",
                   "s3:PutInventoryConfiguration", "s3:ListBucket", "s3:ListBucketVersions",
                   "s3:GetBucketObjectLockConfiguration"], bucket, sid="BackUpArchiveBucket"),
            allow(["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
                   "s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:GetObjectRetention",
                   "s3:GetObjectLegalHold", "s3:GetObjectAttributes"], objects, sid="BackUpArchiveObjects"),
            allow(["s3:CreateBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:PutBucketVersioning",
                   "s3:ListBucket", "s3:ListBucketVersions", "s3:PutBucketTagging", "s3:PutBucketOwnershipControls",
                   "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectTagging",
                   "s3:PutObjectAcl", "s3:PutObjectRetention", "s3:ListMultipartUploadParts",
                   "s3:AbortMultipartUpload"],
                  [restore_buckets, pulumi.Output.concat(restore_buckets, "/*")], sid="RestoreIntoNewBuckets"),
            allow(["dynamodb:DescribeTable", "dynamodb:CreateBackup", "dynamodb:DescribeBackup",
                   "dynamodb:DeleteBackup", "dynamodb:ListTagsOfResource", "dynamodb:DescribeContinuousBackups",
                   "dynamodb:StartAwsBackupJob", "dynamodb:RestoreTableFromAwsBackup"],
                  [table, pulumi.Output.concat(table, "/backup/*")], sid="BackUpIndexTable"),
            allow(["dynamodb:RestoreTableFromAwsBackup", "dynamodb:CreateTable", "dynamodb:DescribeTable",
                   "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem",
                   "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:TagResource"],
                  restore_tables, sid="RestoreIntoNewTables"),
            allow(["backup:DescribeBackupVault", "backup:CopyIntoBackupVault"], vaults, sid="CopyToVaults"),
            allow(["events:PutRule", "events:DeleteRule", "events:EnableRule", "events:DisableRule",
                   "events:DescribeRule", "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule"],
                  managed_rules, sid="ContinuousBackupEventRules"),
            allow(["s3:ListAllMyBuckets", "tag:GetResources", "events:ListRules", "cloudwatch:GetMetricData"], "*",
                  sid="DiscoverResources"),
            allow(["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], args.data_key_arn, sid="ArchiveKeyViaS3",
                  condition={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}),
            allow(["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"], args.app_key_arn,
                  sid="IndexKeyViaDynamoDb",
                  condition={"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}}),
            allow(["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*"],
                  [args.kms_key_arn, args.replica_kms_key_arn], sid="VaultKeysViaBackup",
                  condition={"StringEquals": {"kms:ViaService": [f"backup.{region}.amazonaws.com",
                                                                f"backup.{args.dr.region}.amazonaws.com"]}}),
        )

    @staticmethod
    def _controls(s: BackupConfig, dr_region: str) -> list[dict]:
        def params(**values: object) -> list[dict]:
            return [{"name": k, "value": str(v)} for k, v in values.items()]

        protected = {"compliance_resource_types": ["S3", "DynamoDB"]}
        return [
            {"name": "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
             "input_parameters": params(requiredRetentionDays=s.min_retention_days)},
            {"name": "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK", "scope": protected,
             "input_parameters": params(minRetentionDays=s.min_retention_days, maxRetentionDays=s.max_retention_days)},
            {"name": "BACKUP_RECOVERY_POINT_ENCRYPTED"},
            {"name": "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION", "scope": protected,
             "input_parameters": params(crossRegionList=dr_region)},
            {"name": "BACKUP_LAST_RECOVERY_POINT_CREATED", "scope": protected,
             "input_parameters": params(recoveryPointAgeUnit="days", recoveryPointAgeValue=1)},
            {"name": "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
             "input_parameters": params(requiredFrequencyUnit="hours", requiredFrequencyValue=24,
                                        requiredRetentionDays=s.min_retention_days)},
        ]
