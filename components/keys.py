"""Keys: a KMS multi-Region primary key in the primary region and its replica in the DR region.

One key material serves both regions (``mrk-…``), so the DR region decrypts replicas, copied
backups and the DynamoDB replica locally, even while the primary region is down.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, child_opts, policy_json

# Services that encrypt into drkit's buckets, topics and trails with this key.
BACKUP_REPORTS_ROLE = "role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"
KEY_SERVICE_PRINCIPALS = ("s3.amazonaws.com", "sns.amazonaws.com", "cloudtrail.amazonaws.com",
                          "backup.amazonaws.com", "cloudwatch.amazonaws.com")


@dataclass
class KeysArgs:
    """Inputs of Keys."""

    primary: Site
    """Region of the multi-Region primary key."""
    dr: Site
    """Region of the replica key."""
    deletion_window_days: int = 30
    """Waiting period before a scheduled key deletion takes effect."""
    keep: bool = False
    """Protect both keys and retain them on delete (production)."""


class Keys(pulumi.ComponentResource):
    """The archive's KMS multi-Region key pair, each with an alias."""

    primary_key: aws.kms.Key
    replica_key: aws.kms.ReplicaKey
    primary_arn: pulumi.Output[str]
    replica_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:keys:Keys", name, None, opts)
        account = Account.of(args.primary, self)
        policy = self._key_policy(account)
        self.primary_key = aws.kms.Key(
            name, description=f"drkit {name}: archive, backups, index, queues (multi-Region primary)",
            multi_region=True, enable_key_rotation=True, deletion_window_in_days=args.deletion_window_days,
            policy=policy, opts=child_opts(self, args.primary, keep=args.keep))
        self.replica_key = aws.kms.ReplicaKey(
            f"{name}-replica", description=f"drkit {name}: DR replica of the multi-Region key",
            primary_key_arn=self.primary_key.arn, deletion_window_in_days=args.deletion_window_days,
            policy=policy, opts=child_opts(self, args.dr, keep=args.keep))
        self.primary_alias = aws.kms.Alias(
            f"{name}-alias", name=f"alias/{name}", target_key_id=self.primary_key.key_id,
            opts=child_opts(self, args.primary))
        self.replica_alias = aws.kms.Alias(
            f"{name}-replica-alias", name=f"alias/{name}", target_key_id=self.replica_key.key_id,
            opts=child_opts(self, args.dr))
        self.primary_arn = self.primary_key.arn
        self.replica_arn = self.replica_key.arn
        self.register_outputs({"primaryKeyArn": self.primary_arn, "replicaKeyArn": self.replica_arn})

    @staticmethod
    def _key_policy(account: Account) -> pulumi.Output[str]:
        """Account administers the key through IAM; listed services may use it for this account only."""
        return policy_json(
            {"Sid": "AccountAdministersThroughIam", "Effect": "Allow",
             "Principal": {"AWS": account.root_arn()}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "ServicesEncryptForThisAccount", "Effect": "Allow",
             "Principal": {"Service": list(KEY_SERVICE_PRINCIPALS)},
             "Action": ["kms:GenerateDataKey*", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}}},
            # Backup Audit Manager writes reports into the (KMS) evidence bucket as this
            # service-linked role; matched by ARN so the policy is valid before the role exists.
            {"Sid": "BackupReportsWriteEvidence", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*",
             "Condition": {"ArnEquals": {"aws:PrincipalArn": pulumi.Output.format(
                 "arn:{0}:iam::{1}:{2}", account.partition, account.account_id, BACKUP_REPORTS_ROLE)},
                 "StringEquals": {"aws:PrincipalAccount": account.account_id}}},
        )
