"""CrossRegionReplication: archive -> replica S3 replication (RTC, delete markers, replica KMS),
with an optional reverse rule set (replica -> archive) for failback.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, allow, assume_role_policy, child_opts, policy_json
from components.config import DrillConfig, ReplicationConfig, StorageClass
from components.tiered_archive import TieredArchive
from drills.contracts import DICOM_PREFIX, QUARANTINE_PREFIX


@dataclass(frozen=True)
class RuleSpec:
    """One replication rule: its id (CloudWatch RuleId dimension) and key prefix."""

    rule_id: str
    prefix: str


def rule_specs(drill: DrillConfig) -> tuple[RuleSpec, ...]:
    """The prefixes drkit replicates, in priority order: studies, quarantine, drill canaries."""
    return (RuleSpec("dicom", DICOM_PREFIX), RuleSpec("quarantine", QUARANTINE_PREFIX),
            RuleSpec("drill-canaries", drill.prefix))


@dataclass
class CrossRegionReplicationArgs:
    """Inputs of CrossRegionReplication."""

    primary: Site
    """Region of the archive (source of the forward rules)."""
    dr: Site
    """Region of the replica (source of the failback rules)."""
    archive: TieredArchive
    """Source bucket."""
    replica: TieredArchive
    """Destination bucket (same Object Lock settings, DR key)."""
    archive_key_arn: pulumi.Input[str]
    """KMS key the archive's objects are encrypted with."""
    replica_key_arn: pulumi.Input[str]
    """KMS key replicas are encrypted with (the multi-Region replica)."""
    settings: ReplicationConfig
    """RTC, delete markers, storage class, failback, tag filter."""
    drill: DrillConfig
    """Drill canary prefix, replicated like studies so drills can measure lag."""
    keep: bool = False
    """Protect the replication configurations (production): deleting one silently stops DR."""


class CrossRegionReplication(pulumi.ComponentResource):
    """Least-privilege replication role(s) and the bucket replication configuration(s)."""

    role: aws.iam.Role
    config: aws.s3.BucketReplicationConfig
    failback_role: aws.iam.Role | None
    failback_config: aws.s3.BucketReplicationConfig | None
    rules: tuple[RuleSpec, ...]

    def __init__(self, name: str, args: CrossRegionReplicationArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:replication:CrossRegionReplication", name, None, opts)
        self.rules = rule_specs(args.drill)
        versioning = [args.archive.archive.versioning, args.replica.archive.versioning]
        self.role, self.config = self._direction(
            name, args, source=args.archive, source_site=args.primary, source_key=args.archive_key_arn,
            dest=args.replica, dest_site=args.dr, dest_key=args.replica_key_arn,
            storage_class=args.settings.replica_storage_class, depends_on=versioning)
        self.failback_role = self.failback_config = None
        if args.settings.failback:
            self.failback_role, self.failback_config = self._direction(
                f"{name}-failback", args, source=args.replica, source_site=args.dr,
                source_key=args.replica_key_arn, dest=args.archive, dest_site=args.primary,
                dest_key=args.archive_key_arn, storage_class=StorageClass.STANDARD,
                depends_on=[*versioning, self.config])
        self.register_outputs({"roleArn": self.role.arn, "ruleIds": [r.rule_id for r in self.rules]})

    def _direction(self, name: str, args: CrossRegionReplicationArgs, *, source: TieredArchive,
                   source_site: Site, source_key: pulumi.Input[str], dest: TieredArchive, dest_site: Site,
                   dest_key: pulumi.Input[str], storage_class: StorageClass,
                   depends_on: list[pulumi.Resource]) -> tuple[aws.iam.Role, aws.s3.BucketReplicationConfig]:
        """One direction: its role, inline policy and BucketReplicationConfig on ``source``."""
        account = Account.of(source_site, self)
        trust = assume_role_policy("s3.amazonaws.com", account, if_exists=True)
        role = aws.iam.Role(f"{name}-role", assume_role_policy=trust, description=f"S3 replication {name}",
                            opts=child_opts(self, source_site))
        policy = aws.iam.RolePolicy(
            f"{name}-policy", role=role.id,
            policy=self._role_policy(source, source_site, source_key, dest, dest_site, dest_key),
            opts=child_opts(self, source_site))
        settings = args.settings
        rules = []
        for priority, spec in enumerate(self.rules, start=1):
            destination: dict = {
                "bucket": dest.arn, "storage_class": storage_class.value,
                "encryption_configuration": {"replica_kms_key_id": dest_key},
                "metrics": {"status": "Enabled"},
            }
            if settings.rtc:
                destination["replication_time"] = {"status": "Enabled", "time": {"minutes": settings.rtc_minutes}}
                destination["metrics"]["event_threshold"] = {"minutes": settings.rtc_minutes}
            if settings.tags:
                rule_filter = {"and": {"prefix": spec.prefix, "tags": dict(settings.tags)}}
            else:
                rule_filter = {"prefix": spec.prefix}
            rules.append({
                "id": spec.rule_id, "priority": priority, "status": "Enabled", "filter": rule_filter,
                "delete_marker_replication": {"status": "Enabled" if settings.delete_markers else "Disabled"},
                "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"},
                                              "replica_modifications": {"status": "Enabled"}},
                "destination": destination,
            })
        config = aws.s3.BucketReplicationConfig(
            f"{name}-config", bucket=source.archive.bucket.id, role=role.arn, rules=rules,
            opts=child_opts(self, source_site, keep=args.keep, depends_on=[*depends_on, policy]))
        return role, config

    def _role_policy(self, source: TieredArchive, source_site: Site, source_key: pulumi.Input[str],
                     dest: TieredArchive, dest_site: Site, dest_key: pulumi.Input[str]) -> pulumi.Output[str]:
        """Read source versions (with lock state and tags) under the replicated prefixes, write
        only into the destination's same prefixes, decrypt with the source key, encrypt with the
        destination key — each key only through S3 in its region, for that bucket."""
        source_objects = [pulumi.Output.concat(source.arn, "/", r.prefix, "*") for r in self.rules]
        source_context = [source.arn, pulumi.Output.concat(source.arn, "/*")]   # bucket key: the bucket ARN
        dest_context = [dest.arn, pulumi.Output.concat(dest.arn, "/*")]
        dest_objects = [pulumi.Output.concat(dest.arn, "/", r.prefix, "*") for r in self.rules]
        return policy_json(
            allow(["s3:GetReplicationConfiguration", "s3:ListBucket"], source.arn, sid="SourceBucket"),
            allow(["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
                   "s3:GetObjectRetention", "s3:GetObjectLegalHold"], source_objects, sid="ReadSourceVersions"),
            allow(["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"], dest_objects,
                  sid="WriteReplicas"),
            allow(["kms:Decrypt"], source_key, sid="DecryptSource", condition={
                "StringEquals": {"kms:ViaService": f"s3.{source_site.region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": source_context},
            }),
            allow(["kms:Encrypt", "kms:GenerateDataKey"], dest_key, sid="EncryptReplicas", condition={
                "StringEquals": {"kms:ViaService": f"s3.{dest_site.region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": dest_context},
            }),
        )
