"""ImagingPlatform: the whole two-region imaging archive, composed from drkit's components."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.access import ObjectAccess
from components.alerts import Alerts, AlertsArgs
from components.backups import ImmutableBackups, ImmutableBackupsArgs
from components.base import Site
from components.batch_operations import BatchOperations, BatchOperationsArgs
from components.config import AuthorizerType, PlatformConfig
from components.dicomweb import DicomWeb, DicomWebArgs, DicomWebAuth
from components.identities import Identities, IdentitiesArgs, Principals
from components.drill_templates import DRILL_TARGET_TAG, AttackTargets, DrillTemplates, DrillTemplatesArgs
from components.evidence_vault import EvidenceVault, EvidenceVaultArgs
from components.failover import Failover, FailoverArgs
from components.ingest_pipeline import IngestPipeline, IngestPipelineArgs
from components.keys import KeyPurpose, Keys, KeysArgs, KeyUse
from components.monitoring import Monitoring, MonitoringArgs
from components.replication import CrossRegionReplication, CrossRegionReplicationArgs
from components.study_index import StudyIndex, StudyIndexArgs
from components.tiered_archive import TieredArchive, TieredArchiveArgs
from drills.dicomweb import package as dicomweb_package
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


def default_dicomweb_archive() -> Path:
    """The DICOMweb function's zip (drills.dicomweb.package), built like the ingest function's."""
    return dicomweb_package.write()


@dataclass
class ImagingPlatformArgs:
    """Inputs of the ImagingPlatform."""

    config: PlatformConfig
    """The validated ``drkit:`` stack config."""
    function_archive: Path = field(default_factory=default_function_archive)
    """The ingest function's deployment zip."""
    dicomweb_archive: Path | None = None
    """The DICOMweb function's deployment zip; None builds it (only when ``drkit:dicomweb`` is enabled)."""


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

        self.identities = Identities(f"{name}-identities", IdentitiesArgs(site=self.primary, settings=cfg.security),
                                     opts=child)
        p = self.identities.principals
        self.keys = Keys(f"{name}-keys", KeysArgs(primary=self.primary, dr=self.dr, keep=keep), opts=child)
        data, backup = self.keys.pairs[KeyPurpose.DATA], self.keys.pairs[KeyPurpose.BACKUP]
        audit, app = self.keys.pairs[KeyPurpose.AUDIT], self.keys.pairs[KeyPurpose.APP]
        archive_args = dict(object_lock=cfg.object_lock, tiers=cfg.tiers, lifecycle=cfg.lifecycle,
                            logging=cfg.logging, drill=cfg.drill, intelligent_tiering=cfg.intelligent_tiering,
                            keep=keep, principals=p)
        self.archive = TieredArchive(f"{name}-archive", TieredArchiveArgs(
            site=self.primary, purpose="archive", kms_key_arn=data.primary_arn,
            tags={DRILL_TARGET_TAG: name}, **archive_args), opts=child)
        self.replica = TieredArchive(f"{name}-replica", TieredArchiveArgs(
            site=self.dr, purpose="replica", kms_key_arn=data.replica_arn, **archive_args), opts=child)
        self.replication = CrossRegionReplication(f"{name}-replication", CrossRegionReplicationArgs(
            primary=self.primary, dr=self.dr, archive=self.archive, replica=self.replica,
            archive_key_arn=data.primary_arn, replica_key_arn=data.replica_arn,
            settings=cfg.replication, drill=cfg.drill, keep=keep), opts=child)
        # The topic and its policy used to be Monitoring's children: aliases keep them in place.
        monitoring_urn = pulumi.create_urn(f"{name}-monitoring", "drkit:monitoring:Monitoring", parent=self)
        self.alerts = Alerts(f"{name}-alerts", AlertsArgs(
            primary=self.primary, dr=self.dr, kms_key_arn=app.primary_arn, replica_kms_key_arn=app.replica_arn,
            settings=cfg.alerts, archive_arn=self.archive.arn,
            topic_aliases=[pulumi.Alias(name=f"{name}-monitoring-alerts", parent=monitoring_urn)],
            policy_aliases=[pulumi.Alias(name=f"{name}-monitoring-alerts-policy", parent=monitoring_urn)]),
            opts=child)
        topic_arn = self.alerts.topic.arn
        self.index = StudyIndex(f"{name}-index", StudyIndexArgs(
            primary=self.primary, dr=self.dr, kms_key_arn=app.primary_arn,
            replica_kms_key_arn=app.replica_arn, keep=keep), opts=child)
        self.evidence = EvidenceVault(f"{name}-evidence", EvidenceVaultArgs(
            site=self.primary, kms_key_arn=audit.primary_arn, lock_mode=cfg.object_lock.mode,
            settings=cfg.evidence, access_log_bucket=self.archive.logs.name, principals=p, keep=keep), opts=child)
        self.backups = ImmutableBackups(f"{name}-backups", ImmutableBackupsArgs(
            primary=self.primary, dr=self.dr, kms_key_arn=backup.primary_arn,
            replica_kms_key_arn=backup.replica_arn, data_key_arn=data.primary_arn, app_key_arn=app.primary_arn,
            archive_bucket_arn=self.archive.arn, index_table_arn=self.index.arn, evidence_bucket=self.evidence.name,
            topic_arn=topic_arn, dr_topic_arn=self.alerts.dr_topic.arn, settings=cfg.backups, principals=p,
            keep=keep), opts=child)
        self.dicomweb, self.dicomweb_dr = self._dicomweb(name, args, p, child)
        self.ingest = IngestPipeline(f"{name}-ingest", IngestPipelineArgs(
            primary=self.primary, dr=self.dr, kms_key_arn=data.primary_arn, app_kms_key_arn=app.primary_arn,
            replica_app_kms_key_arn=app.replica_arn, principals=p, archive_bucket=self.archive.name,
            archive_bucket_arn=self.archive.arn, index_table=self.index.name, index_table_arn=self.index.arn,
            claims_table=self.index.claims_name, claims_table_arn=self.index.claims_arn,
            access_log_bucket=self.archive.logs.name, topic_arn=topic_arn,
            function_archive=args.function_archive, settings=cfg.ingest, keep=keep,
            hash_key_readers=[r for roles in self._dicomweb_roles() for r in roles]), opts=child)
        self.monitoring = Monitoring(f"{name}-monitoring", MonitoringArgs(
            primary=self.primary, dr=self.dr, kms_key_arn=audit.primary_arn, topic_arn=topic_arn,
            dr_topic_arn=self.alerts.dr_topic.arn, archive=self.archive,
            replica=self.replica, rules=self.replication.rules, objectives=cfg.objectives,
            data_event_bucket_arns=[self.ingest.landing.arn, self.evidence.bucket.arn,
                                    self.archive.inventory_bucket.arn, self.replica.inventory_bucket.arn],
            lock_mode=cfg.object_lock.mode, principals=p, settings=cfg.monitoring, logging=cfg.logging,
            keep=keep), opts=child)
        self.failover = Failover(f"{name}-failover", FailoverArgs(
            primary=self.primary, dr=self.dr, archive=self.archive, replica=self.replica), opts=child)
        replica_table_arn = pulumi.Output.format("arn:{0}:dynamodb:{1}:{2}:table/{3}", p.account.partition,
                                                 self.dr.region, p.account.account_id, self.index.name)
        self.drills = DrillTemplates(f"{name}-drills", DrillTemplatesArgs(
            primary=self.primary, dr=self.dr, archive=self.archive, replica=self.replica, target_tag_value=name,
            stop_alarm_arns=[a.arn for a in self.monitoring.failed_replication_alarms],
            settings=cfg.drill, targets=AttackTargets(
                vault_arns=[self.backups.vault.arn, self.backups.dr_vault.arn],
                table_arns=[self.index.arn, replica_table_arn, self.index.claims_arn, pulumi.Output.format(
                    "arn:{0}:dynamodb:{1}:{2}:table/{3}", p.account.partition, self.dr.region, p.account.account_id,
                    self.index.claims_name)],
                data_key_arns=[data.primary_arn, data.replica_arn])),
            opts=child)
        self.batch = BatchOperations(f"{name}-batch", BatchOperationsArgs(
            primary=self.primary, dr=self.dr, archive=self.archive, replica=self.replica,
            archive_kms_key_arn=data.primary_arn, replica_kms_key_arn=data.replica_arn), opts=child)
        self._restrict_archive(p, cfg)
        self.key_policies = self.keys.guard(p, self._key_uses(p))
        self.register_outputs({"archiveBucket": self.archive.name, "replicaBucket": self.replica.name})

    def _dicomweb(self, name: str, args: ImagingPlatformArgs, p: Principals,
                  child: pulumi.ResourceOptions) -> tuple[DicomWeb | None, DicomWeb | None]:
        """One DICOMweb service per region: the primary reads (and stores into) the archive bucket
        and the index; DR reads the replica bucket and the index's DR replica, read-only unless
        ``drkit:dicomweb.promoteDr``. None, None when ``drkit:dicomweb.enabled`` is false."""
        settings = args.config.dicomweb
        if not settings.enabled:
            return None, None
        a = settings.authorizer
        auth = DicomWebAuth("jwt", a.issuer, a.audiences) if a.type is AuthorizerType.JWT else DicomWebAuth("iam")
        archive = args.dicomweb_archive if args.dicomweb_archive is not None else default_dicomweb_archive()
        data, app = self.keys.pairs[KeyPurpose.DATA], self.keys.pairs[KeyPurpose.APP]
        replica_table_arn = pulumi.Output.format("arn:{0}:dynamodb:{1}:{2}:table/{3}", p.account.partition,
                                                 self.dr.region, p.account.account_id, self.index.name)
        replica_claims_arn = pulumi.Output.format("arn:{0}:dynamodb:{1}:{2}:table/{3}", p.account.partition,
                                                  self.dr.region, p.account.account_id, self.index.claims_name)
        primary = DicomWeb(f"{name}-dicomweb", DicomWebArgs(
            site=self.primary, role="primary", bucket=self.archive.name, bucket_arn=self.archive.arn,
            table=self.index.name, table_arn=self.index.arn, kms_key_arn=data.primary_arn,
            app_kms_key_arn=app.primary_arn, auth=auth, function_archive=archive, writable=True,
            claims_table=self.index.claims_name, claims_table_arn=self.index.claims_arn), opts=child)
        dr = DicomWeb(f"{name}-dicomweb-dr", DicomWebArgs(
            site=self.dr, role="dr", bucket=self.replica.name, bucket_arn=self.replica.arn,
            table=self.index.name, table_arn=replica_table_arn, kms_key_arn=data.replica_arn,
            app_kms_key_arn=app.replica_arn, auth=auth, function_archive=archive, writable=settings.promote_dr,
            claims_table=self.index.claims_name, claims_table_arn=replica_claims_arn), opts=child)
        return primary, dr

    def _dicomweb_roles(self) -> tuple[list, list]:
        """(primary, DR) DICOMweb role ARNs: empty lists when DICOMweb is off."""
        return ([self.dicomweb.role.arn] if self.dicomweb else [],
                [self.dicomweb_dr.role.arn] if self.dicomweb_dr else [])

    def _restrict_archive(self, p: Principals, cfg: PlatformConfig) -> None:
        """Object allow-lists of archive and replica, now that every role on them exists."""
        forward, failback = self.replication.role.arn, self.replication.failback_role
        ingest, backup, batch = self.ingest.role.arn, self.backups.role.arn, self.batch.role.arn
        failback_arns = [failback.arn] if failback is not None else []
        people = [*p.readers, *p.operators]
        web, web_dr = self._dicomweb_roles()
        # The ransomware drill's attackers stand for compromised principals the archive trusts
        # (README "Ransomware drill identities"): both write objects like an operator; the bypass
        # attacker may also change retention like break-glass (else the bucket policy would void
        # its s3:BypassGovernanceRetention). Neither reads, nor changes configuration.
        attackers = self._attacker_arns()
        bypass = [self.drills.attacker_bypass.arn] if self.drills.attacker_bypass is not None else []
        self.archive.archive.restrict(ObjectAccess(
            read=[ingest, forward, backup, batch, *web, *people],
            write=[ingest, *web, *failback_arns, *p.operators, *attackers], retention=bypass,
            # FIS pauses replication by rewriting the configuration; AWS Backup turns on the
            # notifications and inventory continuous S3 backups need.
            config=[self.drills.role.arn, backup],
            vpc_only=[(ingest, cfg.ingest.vpc.s3_endpoint_id)] if cfg.ingest.vpc else ()))
        # Only replication writes the replica (and a promoted DR DICOMweb service, which the
        # operator turned on for a failover): nothing else written there can ride failback into dicom/.
        promoted = web_dr if cfg.dicomweb.promote_dr else []
        self.replica.archive.restrict(ObjectAccess(read=[*failback_arns, *web_dr, batch, *people],
                                                   write=[forward, *promoted]))

    def _attacker_arns(self) -> list[pulumi.Output[str]]:
        """The ransomware drill's attacker roles (none when ``drkit:drill.attacker.enabled`` is false)."""
        return [r.arn for r in (self.drills.attacker, self.drills.attacker_bypass) if r is not None]

    def _key_uses(self, p: Principals) -> dict[KeyPurpose, KeyUse]:
        """Who uses each purpose's keys, and through which services."""
        replication = [self.replication.role.arn,
                       *([self.replication.failback_role.arn] if self.replication.failback_role else [])]
        ingest, backup = self.ingest.role.arn, self.backups.role.arn
        people = [*p.readers, *p.operators]
        web = [r for roles in self._dicomweb_roles() for r in roles]
        # Creating a KMS-encrypted vault, table, function or secret replica makes the caller use
        # the key through that service (grants, data keys): the deploy role, or — without one
        # (non-production) — the account's IAM, still only through those services.
        deployer = [p.deploy if p.deploy is not None else p.root]
        account = p.account.account_id
        trail = pulumi.Output.format("arn:{0}:cloudtrail:{1}:{2}:trail/{3}", p.account.partition,
                                     self.primary.region, account, self.monitoring.trail.name)
        return {
            KeyPurpose.DATA: KeyUse(via_services=("s3",),
                                    roles=[ingest, *replication, backup, self.batch.role.arn, *web, *people,
                                           *p.uploaders, *self._attacker_arns()],
                                    service_principals=("s3.amazonaws.com",)),
            KeyPurpose.BACKUP: KeyUse(via_services=("backup",), roles=[backup, *deployer]),
            KeyPurpose.AUDIT: KeyUse(
                via_services=("s3",), roles=[*people, p.backup_reports],
                extra_statements=[{
                    "Sid": "CloudTrailEncryptsThisTrail", "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceArn": trail},
                                  "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": pulumi.Output.format(
                                      "arn:{0}:cloudtrail:*:{1}:trail/*", p.account.partition, account)}}}]),
            KeyPurpose.APP: KeyUse(
                via_services=("dynamodb", "secretsmanager", "sqs", "sns", "lambda"),
                roles=[ingest, backup, *web, *people, *deployer],
                service_principals=("s3.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com",
                                    "backup.amazonaws.com", "logs.{region}.amazonaws.com")),
        }
