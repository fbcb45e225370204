"""EvidenceVault: the Object-Locked bucket drill reports and backup audit reports are kept in."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.base import Account, Site
from components.config import EvidenceConfig, LockMode, ObjectLockConfig
from components.keys import BACKUP_REPORTS_ROLE
from components.secure_bucket import Delivery, SecureBucket, SecureBucketArgs

REPORTS_PREFIX = "backup-audit/"


@dataclass
class EvidenceVaultArgs:
    """Inputs of an EvidenceVault."""

    site: Site
    """Region of the bucket."""
    kms_key_arn: pulumi.Input[str]
    """SSE-KMS key."""
    lock_mode: LockMode
    """Object Lock mode (the stack's objectLock.mode: COMPLIANCE in prod)."""
    settings: EvidenceConfig
    """Retention of every evidence object."""
    access_log_bucket: pulumi.Input[str]
    """Bucket receiving its server access logs."""
    keep: bool = False
    """Protect and retain the bucket (production)."""


class EvidenceVault(pulumi.ComponentResource):
    """Locked, KMS-encrypted, private, TLS-only bucket for reports an auditor checks."""

    bucket: SecureBucket
    name: pulumi.Output[str]

    def __init__(self, name: str, args: EvidenceVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:evidence_vault:EvidenceVault", name, None, opts)
        account = Account.of(args.site, self)
        reports_role = pulumi.Output.format("arn:{0}:iam::{1}:{2}", account.partition, account.account_id,
                                            BACKUP_REPORTS_ROLE)
        # The Backup Audit Manager role is matched by aws:PrincipalArn, so the policy stays
        # valid before that service-linked role exists (a missing principal ARN is rejected).
        self.bucket = SecureBucket(name, SecureBucketArgs(
            site=args.site, purpose="evidence", kms_key_arn=args.kms_key_arn, enforce_kms_key=True,
            object_lock=ObjectLockConfig(args.lock_mode, args.settings.retention_days),
            access_log_bucket=args.access_log_bucket,
            deliveries=[Delivery("BackupAuditReports", {"AWS": "*"}, prefix=REPORTS_PREFIX,
                                 condition={"ArnEquals": {"aws:PrincipalArn": reports_role},
                                            "StringEquals": {"aws:PrincipalAccount": account.account_id}},
                                 owner_full_control=True)],
            keep=args.keep), opts=pulumi.ResourceOptions(parent=self))
        self.name = self.bucket.name
        self.register_outputs({"bucket": self.name, "arn": self.bucket.arn})
