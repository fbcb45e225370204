"""TieredArchive: the locked, tiered DICOM bucket with its inventory and access-log buckets.

Used twice: the primary archive and its DR replica (same lock and tiers, the DR key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, child_opts
from components.identities import Principals
from components.config import (DrillConfig, IntelligentTieringConfig, LifecycleConfig, LoggingConfig,
                               ObjectLockConfig, Tier)
from components.secure_bucket import Delivery, SecureBucket, SecureBucketArgs, expiry_rule
from drills.contracts import DICOM_PREFIX, SPECIALTY_TAG

INVENTORY_FIELDS = ("Size", "LastModifiedDate", "StorageClass", "ETag", "ReplicationStatus",
                    "EncryptionStatus", "ObjectLockMode", "ObjectLockRetainUntilDate",
                    "ObjectLockLegalHoldStatus", "ChecksumAlgorithm")
INVENTORY_PREFIX = "inventory"


@dataclass
class TieredArchiveArgs:
    """Inputs of a TieredArchive."""

    site: Site
    """Region (provider) of the archive and its log and inventory buckets."""
    purpose: str
    """``archive`` or ``replica``: the buckets' drkit-purpose tag."""
    kms_key_arn: pulumi.Input[str]
    """This region's KMS key (the multi-Region primary or its replica)."""
    object_lock: ObjectLockConfig
    """Default retention of every object version."""
    tiers: Sequence[Tier]
    """Lifecycle tiers, one rule per specialty tag."""
    lifecycle: LifecycleConfig
    """Noncurrent-version and incomplete-upload rules."""
    logging: LoggingConfig
    """Access-log and inventory bucket settings (never locked)."""
    drill: DrillConfig
    """Where drill canaries live, so lifecycle can expire them."""
    intelligent_tiering: IntelligentTieringConfig | None = None
    """Optional archive tiers for INTELLIGENT_TIERING objects."""
    tags: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Extra tags on the archive bucket (e.g. the drill-target tag)."""
    keep: bool = False
    """Protect and retain the buckets (production)."""
    principals: Principals | None = None
    """Identities the bucket policies name; the archive bucket's object allow-list is set by ``restrict()``."""


def tier_rules(tiers: Sequence[Tier], lifecycle: LifecycleConfig, drill: DrillConfig) -> list[dict[str, Any]]:
    """Lifecycle rules: one per specialty tier, noncurrent versions, drill canaries."""
    rules: list[dict[str, Any]] = [
        {"id": f"tier-{tier.name}", "status": "Enabled",
         "filter": {"tag": {"key": SPECIALTY_TAG, "value": tier.specialty.value}},
         "transitions": [{"days": t.days, "storage_class": t.storage_class.value} for t in tier.transitions]}
        for tier in tiers
    ]
    rules.append({
        "id": "noncurrent-versions", "status": "Enabled", "filter": {},
        "noncurrent_version_transitions": [{"noncurrent_days": lifecycle.noncurrent_transition_days,
                                            "storage_class": lifecycle.noncurrent_storage_class.value}],
        "noncurrent_version_expiration": {"noncurrent_days": lifecycle.noncurrent_expiration_days},
    })
    rules.append(expiry_rule("drill-canaries", drill.canary_expiration_days, prefix=drill.prefix,
                             noncurrent_days=lifecycle.noncurrent_expiration_days))
    return rules


class TieredArchive(pulumi.ComponentResource):
    """Archive bucket (Object Lock, SSE-KMS, tiers), daily all-versions inventory, access logs."""

    archive: SecureBucket
    logs: SecureBucket
    inventory_bucket: SecureBucket
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: TieredArchiveArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:tiered_archive:TieredArchive", name, None, opts)
        site = args.site
        account = Account.of(site, self)
        # Server access logs: SSE-S3 and no Object Lock, as AWS requires of a log destination.
        self.logs = SecureBucket(f"{name}-logs", SecureBucketArgs(
            site=site, purpose=f"{args.purpose}-access-logs", kms_key_arn=None,
            lifecycle_rules=[expiry_rule("expire-logs", args.logging.retention_days)],
            deliveries=[Delivery("S3ServerAccessLogDelivery", {"Service": "logging.s3.amazonaws.com"},
                                 condition={"StringEquals": {"aws:SourceAccount": account.account_id}})],
            keep=args.keep, principals=args.principals), opts=pulumi.ResourceOptions(parent=self))
        self.archive = SecureBucket(name, SecureBucketArgs(
            site=site, purpose=args.purpose, kms_key_arn=args.kms_key_arn, enforce_kms_key=True,
            object_lock=args.object_lock, lifecycle_rules=tier_rules(args.tiers, args.lifecycle, args.drill),
            abort_multipart_days=args.lifecycle.abort_multipart_days, access_log_bucket=self.logs.name,
            tags=args.tags, keep=args.keep, principals=args.principals, defer_access=args.principals is not None),
            opts=pulumi.ResourceOptions(parent=self))
        self.name = self.archive.name
        self.arn = self.archive.arn
        self.inventory_bucket = SecureBucket(f"{name}-inventory", SecureBucketArgs(
            site=site, purpose=f"{args.purpose}-inventory", kms_key_arn=args.kms_key_arn,
            lifecycle_rules=[expiry_rule("expire-inventories", args.logging.retention_days)],
            access_log_bucket=self.logs.name,
            deliveries=[Delivery("S3InventoryDelivery", {"Service": "s3.amazonaws.com"}, prefix=f"{INVENTORY_PREFIX}/",
                                 condition={"ArnLike": {"aws:SourceArn": self.arn},
                                            "StringEquals": {"aws:SourceAccount": account.account_id}},
                                 owner_full_control=True)],
            keep=args.keep, principals=args.principals), opts=pulumi.ResourceOptions(parent=self))
        self.inventory = aws.s3.Inventory(
            f"{name}-all-versions", bucket=self.archive.bucket.id, name="all-versions-daily",
            included_object_versions="All", schedule={"frequency": "Daily"},
            optional_fields=list(INVENTORY_FIELDS),
            destination={"bucket": {"bucket_arn": self.inventory_bucket.arn, "format": "CSV",
                                    "prefix": INVENTORY_PREFIX,
                                    "encryption": {"sse_kms": {"key_id": args.kms_key_arn}}}},
            opts=child_opts(self, site, depends_on=[self.inventory_bucket.policy]))
        self.intelligent_tiering: aws.s3.BucketIntelligentTieringConfiguration | None = None
        if args.intelligent_tiering is not None:
            it = args.intelligent_tiering
            tiers = (("ARCHIVE_ACCESS", it.archive_access_days), ("DEEP_ARCHIVE_ACCESS", it.deep_archive_access_days))
            tierings = [{"access_tier": tier, "days": days} for tier, days in tiers if days is not None]
            self.intelligent_tiering = aws.s3.BucketIntelligentTieringConfiguration(
                f"{name}-intelligent-tiering", bucket=self.archive.bucket.id, name="dicom-archive-tiers",
                status="Enabled", filter={"prefix": DICOM_PREFIX}, tierings=tierings, opts=child_opts(self, site))
        self.register_outputs({"bucket": self.name, "arn": self.arn, "logBucket": self.logs.name,
                               "inventoryBucket": self.inventory_bucket.name})
