"""ImagingPlatform: the whole two-region imaging archive, composed from drkit's components."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.backups import ImmutableBackups, ImmutableBackupsArgs
from components.base import Site
from components.config import PlatformConfig
from components.drill_templates import DRILL_TARGET_TAG, DrillTemplates, DrillTemplatesArgs
from components.evidence_vault import EvidenceVault, EvidenceVaultArgs
from components.failover import Failover, FailoverArgs
from components.ingest_pipeline import IngestPipeline, IngestPipelineArgs
from components.keys import Keys, KeysArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.replication import CrossRegionReplication, CrossRegionReplicationArgs
from components.study_index import StudyIndex, StudyIndexArgs
from components.tiered_archive import TieredArchive, TieredArchiveArgs
from drills.errors import UsageError
from drills.ingest import package as function_package

# Longest physical name derived from the platform name: "<name>-monitoring-trail-logs" plus
# Pulumi's 8-character auto-name suffix must fit S3's 63-character bucket-name limit.
NAME_LIMIT = 63 - len("-monitoring-trail-logs") - 8
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def default_function_archive() -> Path:
    """The ingest function's zip (drills.ingest.package: the handler's import closure plus
    pydicom, deterministic), built from the ``drills`` package this program runs with."""
    return function_package.write()


@dataclass
class ImagingPlatformArgs:
    """Inputs of the ImagingPlatform."""

    config: PlatformConfig
    """The validated ``drkit:`` stack config."""
    function_archive: Path = field(default_factory=default_function_archive)
    """The ingest function's deployment zip."""


class ImagingPlatform(pulumi.ComponentResource):
    """Primary and DR providers and every component of the archive, wired together."""

    primary: Site
    dr: Site

    def __init__(self, name: str, args: ImagingPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not _NAME.fullmatch(name) or len(name) > NAME_LIMIT:
            raise UsageError(f"platform name {name!r} cannot name S3 buckets: use a stack name of lowercase "
                             f"letters, digits and hyphens, at most {NAME_LIMIT - len('drkit-')} characters")
        super().__init__("drkit:platform:ImagingPlatform", name, None, opts)
        cfg, keep = args.config, args.config.protect
        tags = {"drkit-platform": name, "drkit-environment": cfg.environment.value, "drkit-managed-by": "pulumi"}
        self.primary = Site(aws.Provider(f"{name}-primary", region=cfg.primary_region, default_tags={"tags": tags},
                                         opts=pulumi.ResourceOptions(parent=self)), cfg.primary_region)
        self.dr = Site(aws.Provider(f"{name}-dr", region=cfg.dr_region, default_tags={"tags": tags},
                                    opts=pulumi.ResourceOptions(parent=self)), cfg.dr_region)
        child = pulumi.ResourceOptions(parent=self)

        self.keys = Keys(f"{name}-keys", KeysArgs(primary=self.primary, dr=self.dr, keep=keep), opts=child)
        archive_args = dict(object_lock=cfg.object_lock, tiers=cfg.tiers, lifecycle=cfg.lifecycle,
                            logging=cfg.logging, drill=cfg.drill, intelligent_tiering=cfg.intelligent_tiering,
                            keep=keep)
        self.archive = TieredArchive(f"{name}-archive", TieredArchiveArgs(
            site=self.primary, purpose="archive", kms_key_arn=self.keys.primary_arn,
            tags={DRILL_TARGET_TAG: name}, **archive_args), opts=child)
        self.replica = TieredArchive(f"{name}-replica", TieredArchiveArgs(
            site=self.dr, purpose="replica", kms_key_arn=self.keys.replica_arn, **archive_args), opts=child)
        self.replication = CrossRegionReplication(f"{name}-replication", CrossRegionReplicationArgs(
            primary=self.primary, dr=self.dr, archive=self.archive, replica=self.replica,
            archive_key_arn=self.keys.primary_arn, replica_key_arn=self.keys.replica_arn,
            settings=cfg.replication, drill=cfg.drill), opts=child)
        self.monitoring = Monitoring(f"{name}-monitoring", MonitoringArgs(
            primary=self.primary, kms_key_arn=self.keys.primary_arn, archive=self.archive, replica=self.replica,
            rules=self.replication.rules, objectives=cfg.objectives, settings=cfg.monitoring,
            logging=cfg.logging, keep=keep), opts=child)
        self.index = StudyIndex(f"{name}-index", StudyIndexArgs(
            primary=self.primary, dr=self.dr, kms_key_arn=self.keys.primary_arn,
            replica_kms_key_arn=self.keys.replica_arn, keep=keep), opts=child)
        self.evidence = EvidenceVault(f"{name}-evidence", EvidenceVaultArgs(
            site=self.primary, kms_key_arn=self.keys.primary_arn, lock_mode=cfg.object_lock.mode,
            settings=cfg.evidence, access_log_bucket=self.archive.logs.name, keep=keep), opts=child)
        self.backups = ImmutableBackups(f"{name}-backups", ImmutableBackupsArgs(
            primary=self.primary, dr=self.dr, kms_key_arn=self.keys.primary_arn,
            replica_kms_key_arn=self.keys.replica_arn, archive_bucket_arn=self.archive.arn,
            index_table_arn=self.index.arn, evidence_bucket=self.evidence.name,
            topic_arn=self.monitoring.topic.arn, settings=cfg.backups, keep=keep), opts=child)
        self.ingest = IngestPipeline(f"{name}-ingest", IngestPipelineArgs(
            primary=self.primary, dr=self.dr, kms_key_arn=self.keys.primary_arn,
            replica_kms_key_arn=self.keys.replica_arn, archive_bucket=self.archive.name,
            archive_bucket_arn=self.archive.arn, index_table=self.index.name, index_table_arn=self.index.arn,
            access_log_bucket=self.archive.logs.name, topic_arn=self.monitoring.topic.arn,
            function_archive=args.function_archive, settings=cfg.ingest, keep=keep), opts=child)
        self.failover = Failover(f"{name}-failover", FailoverArgs(
            primary=self.primary, dr=self.dr, archive=self.archive, replica=self.replica), opts=child)
        self.drills = DrillTemplates(f"{name}-drills", DrillTemplatesArgs(
            primary=self.primary, dr=self.dr, archive=self.archive, replica=self.replica, target_tag_value=name,
            stop_alarm_arns=[a.arn for a in self.monitoring.failed_replication_alarms],
            settings=cfg.drill), opts=child)
        self.register_outputs({"archiveBucket": self.archive.name, "replicaBucket": self.replica.name})
