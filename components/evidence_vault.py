"""EvidenceVault: the Object-Locked bucket drill reports and backup audit reports are kept in."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.access import ObjectAccess
from components.base import Site
from components.config import EvidenceConfig, LockMode, ObjectLockConfig
from components.identities import Principals
from components.secure_bucket import Delivery, SecureBucket, SecureBucketArgs

REPORTS_PREFIX = "backup-audit/"


@dataclass
class EvidenceVaultArgs:
    """Inputs of an EvidenceVault."""

    site: Site
    """Region of the bucket."""
    kms_key_arn: pulumi.Input[str]
    """SSE-KMS key (the audit key)."""
    lock_mode: LockMode
    """Object Lock mode (the stack's objectLock.mode: COMPLIANCE in prod)."""
    settings: EvidenceConfig
    """Retention of every evidence object."""
    access_log_bucket: pulumi.Input[str]
    """Bucket receiving its server access logs."""
    principals: Principals
    """Identities: Backup Audit Manager's role writes reports; operators write and readers read evidence."""
    keep: bool = False
    """Protect and retain the bucket (production)."""


class EvidenceVault(pulumi.ComponentResource):
    """Locked, KMS-encrypted, private, TLS-only bucket for reports an auditor checks."""

    bucket: SecureBucket
    name: pulumi.Output[str]

    def __init__(self, name: str, args: EvidenceVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:evidence_vault:EvidenceVault", name, None, opts)
        p = args.principals
        # Backup Audit Manager delivers as its service-linked role, named directly (identities.py
        # creates it, or the account has it): no "Principal: *" grant, which S3 would judge public.
        self.bucket = SecureBucket(name, SecureBucketArgs(
            site=args.site, purpose="evidence", kms_key_arn=args.kms_key_arn, enforce_kms_key=True,
            object_lock=ObjectLockConfig(args.lock_mode, args.settings.retention_days),
            access_log_bucket=args.access_log_bucket,
            deliveries=[Delivery("BackupAuditReports", {"AWS": p.backup_reports}, prefix=REPORTS_PREFIX,
                                 owner_full_control=True)],
            keep=args.keep, principals=p, defer_access=True), opts=pulumi.ResourceOptions(parent=self))
        self.bucket.restrict(ObjectAccess(read=[*p.readers, *p.operators],
                                          write=[*p.operators, p.backup_reports]))
        self.name = self.bucket.name
        self.register_outputs({"bucket": self.name, "arn": self.bucket.arn})
