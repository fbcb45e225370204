"""The stack config (namespace ``drkit:``), read once and validated into frozen dataclasses.

Two entry points: ``load()`` reads ``pulumi.Config("drkit")`` inside a Pulumi program;
``from_mapping(dict)`` validates a plain mapping (unit tests, tools). Every invalid value
raises ``drills.errors.ConfigError`` naming its key, e.g. ``drkit:objectLock.retentionDays``;
inside ``pulumi preview``/``up`` that error fails the program before any resource exists.
docs/stack-reference.md documents every key, its default and its constraint.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Iterator, Mapping, TypeVar

from drills.contracts import DICOM_PREFIX, QUARANTINE_PREFIX, Objectives, Specialty
from drills.errors import ConfigError
from drills.storage_classes import StorageClass, standard_restore_hours

NAMESPACE = "drkit"
RTC_MINUTES = 15                    # the only value S3 accepts for RTC and its metrics threshold
CONTINUOUS_BACKUP_DAYS = (1, 35)    # AWS Backup continuous (point-in-time) retention range
MIN_CHANGEABLE_DAYS = 3             # vault-lock cooling-off before compliance mode is final
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ACCOUNT = re.compile(r"\d{12}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
_BACKUP_VAULT_ARN = re.compile(r"arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:backup-vault:[\w.-]+")
_ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")
_REQUIRED = object()
E = TypeVar("E", bound=Enum)


class Environment(str, Enum):
    """Kind of stack; only ``prod`` counts as production."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class LockMode(str, Enum):
    """S3 Object Lock default-retention mode."""

    COMPLIANCE = "COMPLIANCE"
    GOVERNANCE = "GOVERNANCE"


class VaultLockMode(str, Enum):
    """AWS Backup Vault Lock mode: compliance sets ChangeableForDays, governance does not."""

    COMPLIANCE = "compliance"
    GOVERNANCE = "governance"


# --------------------------------------------------------------------------- dataclasses

@dataclass(frozen=True)
class ObjectLockConfig:
    """``drkit:objectLock``: default retention of every archive object version."""

    mode: LockMode
    retention_days: int


@dataclass(frozen=True)
class ReplicationConfig:
    """``drkit:replication``: cross-region replication archive -> replica."""

    rtc: bool
    rtc_minutes: int
    delete_markers: bool
    replica_storage_class: StorageClass
    failback: bool
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Transition:
    """One lifecycle transition: after ``days`` move current versions to ``storage_class``."""

    days: int
    storage_class: StorageClass


@dataclass(frozen=True)
class Tier:
    """Lifecycle tier for objects tagged ``drkit-specialty=<specialty>``."""

    name: str
    specialty: Specialty
    transitions: tuple[Transition, ...]


@dataclass(frozen=True)
class LifecycleConfig:
    """``drkit:lifecycle``: rules for noncurrent versions and incomplete uploads."""

    noncurrent_transition_days: int
    noncurrent_storage_class: StorageClass
    noncurrent_expiration_days: int
    abort_multipart_days: int


@dataclass(frozen=True)
class BackupConfig:
    """``drkit:backups``: AWS Backup vaults, lock and plan."""

    vault_lock: VaultLockMode
    min_retention_days: int
    max_retention_days: int
    changeable_for_days: int | None
    continuous: bool
    continuous_retention_days: int
    daily_retention_days: int
    copy_to_dr: bool
    air_gapped: bool
    cross_account_vault_arn: str | None = None
    air_gapped_share_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttackerConfig:
    """``drkit:drill.attacker``: the ransomware drill's attacker roles (``attacker``, and
    ``attacker-bypass`` which also holds ``s3:BypassGovernanceRetention``)."""

    enabled: bool
    """Deploy the two roles (default: every stack not marked ``environment: prod``)."""
    trusted_principal_arns: tuple[str, ...]
    """The only principals that may assume them (default: ``security.operatorRoleArns``); empty:
    principals of this account tagged ``drkit-drill-runner`` = the platform name."""


@dataclass(frozen=True)
class DrillConfig:
    """``drkit:drill``: where drills write canaries and how long a FIS pause lasts."""

    prefix: str
    pause_minutes: int
    canary_expiration_days: int
    attacker: AttackerConfig = AttackerConfig(enabled=False, trusted_principal_arns=())
    """The ransomware drill's attacker roles."""


@dataclass(frozen=True)
class LoggingConfig:
    """``drkit:logging``: server-access-log and inventory buckets."""

    log_bucket_object_lock: bool
    retention_days: int


@dataclass(frozen=True)
class IntelligentTieringConfig:
    """``drkit:intelligentTiering``: opt-in archive tiers for INTELLIGENT_TIERING objects."""

    archive_access_days: int | None
    deep_archive_access_days: int | None


@dataclass(frozen=True)
class IngestVpcConfig:
    """``drkit:ingest.vpc``: run the function in private subnets that reach S3 through a gateway endpoint."""

    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    s3_endpoint_id: str


@dataclass(frozen=True)
class IngestConfig:
    """``drkit:ingest``: landing bucket, queue and function."""

    landing_expiration_days: int
    max_receive_count: int
    layer_arns: tuple[str, ...]
    timeout_seconds: int
    memory_mb: int
    reserved_concurrency: int = 10
    vpc: IngestVpcConfig | None = None


@dataclass(frozen=True)
class EvidenceConfig:
    """``drkit:evidence``: the locked bucket drill reports and backup audits go to."""

    retention_days: int


@dataclass(frozen=True)
class MonitoringConfig:
    """``drkit:monitoring``: alarm thresholds not derived from the objectives."""

    pending_operations_threshold: int


class AlertProtocol(str, Enum):
    """SNS subscription protocols an alert may be sent with (a chat webhook is ``https``)."""

    EMAIL = "email"
    HTTPS = "https"
    SQS = "sqs"
    LAMBDA = "lambda"


@dataclass(frozen=True)
class AlertSubscription:
    """One ``drkit:alerts.subscriptions[]`` entry: where alerts go."""

    protocol: AlertProtocol
    endpoint: str


@dataclass(frozen=True)
class AlertsConfig:
    """``drkit:alerts``: who is told (required in prod: alerts that reach nobody are no alerts)."""

    subscriptions: tuple[AlertSubscription, ...]


@dataclass(frozen=True)
class SecurityConfig:
    """``drkit:security``: the identities the stack's key and resource policies name.

    Unset roles are created by the stack (break-glass and key administrator: trusted by this
    account with MFA, no permissions attached) so every policy still names one role."""

    deploy_role_arn: str | None
    break_glass_role_arn: str | None
    key_admin_role_arn: str | None
    reader_role_arns: tuple[str, ...]
    operator_role_arns: tuple[str, ...]
    uploader_role_arns: tuple[str, ...]
    organization_id: str | None
    reports_role: str


class AuthorizerType(str, Enum):
    """How the DICOMweb HTTP API authenticates callers (nothing is anonymous)."""

    JWT = "jwt"
    IAM = "iam"


@dataclass(frozen=True)
class DicomWebAuthorizer:
    """``drkit:dicomweb.authorizer``: a JWT authorizer (``issuer`` + ``audiences``) or AWS_IAM."""

    type: AuthorizerType
    issuer: str = ""
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class DicomWebConfig:
    """``drkit:dicomweb``: one DICOMweb service per region (primary: the archive bucket and the
    index; DR: the replica bucket and the index's replica, read-only unless ``promoteDr``)."""

    enabled: bool
    authorizer: DicomWebAuthorizer
    promote_dr: bool = False


@dataclass(frozen=True)
class PlatformConfig:
    """The whole validated ``drkit:`` namespace."""

    primary_region: str
    dr_region: str
    environment: Environment
    protect: bool
    acknowledge_compliance_lock: bool
    object_lock: ObjectLockConfig
    replication: ReplicationConfig
    tiers: tuple[Tier, ...]
    lifecycle: LifecycleConfig
    backups: BackupConfig
    objectives: Objectives
    drill: DrillConfig
    logging: LoggingConfig
    intelligent_tiering: IntelligentTieringConfig | None
    ingest: IngestConfig
    evidence: EvidenceConfig
    monitoring: MonitoringConfig
    security: SecurityConfig = None  # type: ignore[assignment]   # always set by from_mapping
    alerts: AlertsConfig = AlertsConfig(())
    dicomweb: DicomWebConfig = DicomWebConfig(False, DicomWebAuthorizer(AuthorizerType.IAM))

    @property
    def production(self) -> bool:
        return self.environment is Environment.PROD


DEFAULT_TIERS: tuple[dict[str, Any], ...] = (
    {"specialty": "radiology", "transitions": [{"days": 90, "storageClass": "GLACIER_IR"},
                                               {"days": 365, "storageClass": "DEEP_ARCHIVE"}]},
    {"specialty": "cardiology", "transitions": [{"days": 60, "storageClass": "STANDARD_IA"},
                                                {"days": 180, "storageClass": "GLACIER_IR"},
                                                {"days": 730, "storageClass": "DEEP_ARCHIVE"}]},
    {"specialty": "pathology", "transitions": [{"days": 30, "storageClass": "GLACIER_IR"},
                                               {"days": 120, "storageClass": "DEEP_ARCHIVE"}]},
)

# Top-level keys and whether Pulumi hands them over as plain strings (the rest are JSON).
TOP_LEVEL_KEYS: dict[str, bool] = {
    "primaryRegion": True, "drRegion": True, "environment": True, "protect": False,
    "acknowledgeComplianceLock": False, "objectLock": False, "replication": False, "tiers": False,
    "lifecycle": False, "backups": False, "objectives": False, "drill": False, "logging": False,
    "intelligentTiering": False, "ingest": False, "evidence": False, "monitoring": False,
    "security": False, "alerts": False, "dicomweb": False,
}


# --------------------------------------------------------------------------- reading

def key_name(path: str) -> str:
    """``objectLock.mode`` -> ``drkit:objectLock.mode``."""
    return f"{NAMESPACE}:{path}"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


class _Node:
    """One config object being read: each accessor names its key in errors; ``done`` rejects
    keys nobody read (typos such as ``retentiondays``)."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(key_name(path), f"expected an object, got {_kind(data)}")
        self.data = dict(data)
        self.path = path
        self.read: set[str] = set()

    def at(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def raw(self, name: str, default: Any) -> Any:
        self.read.add(name)
        value = self.data.get(name)
        if value is None:
            if default is _REQUIRED:
                raise ConfigError(key_name(self.at(name)), "is required")
            return default
        return value

    def int(self, name: str, default: Any = _REQUIRED, *, minimum: int | None = None,
            maximum: int | None = None) -> int:
        value = self.raw(name, default)
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key_name(self.at(name)), f"expected a whole number, got {_kind(value)} ({value!r})")
        _check_range(self.at(name), value, minimum, maximum)
        return value

    def number(self, name: str, default: Any = _REQUIRED, *, minimum: float | None = None) -> float:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key_name(self.at(name)), f"expected a number, got {_kind(value)} ({value!r})")
        if minimum is not None and value <= minimum:
            raise ConfigError(key_name(self.at(name)), f"must be greater than {minimum:g} (got {value!r})")
        return float(value)

    def bool(self, name: str, default: Any = _REQUIRED) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise ConfigError(key_name(self.at(name)), f"expected true or false, got {_kind(value)} ({value!r})")
        return value

    def str(self, name: str, default: Any = _REQUIRED) -> str:
        value = self.raw(name, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(key_name(self.at(name)), f"expected a non-empty string, got {_kind(value)} ({value!r})")
        return value

    def enum(self, name: str, cls: type[E], default: Any = _REQUIRED) -> E:
        return parse_enum(self.at(name), cls, self.raw(name, default))

    def node(self, name: str) -> "_Node":
        return _Node(self.raw(name, None), self.at(name))

    def items(self, name: str, default: Any = _REQUIRED) -> Iterator[tuple[str, Any]]:
        value = self.raw(name, default)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key_name(self.at(name)), f"expected a list, got {_kind(value)}")
        for i, item in enumerate(value):
            yield f"{self.at(name)}[{i}]", item

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            known = ", ".join(sorted(self.read))
            raise ConfigError(key_name(self.at(unknown[0])), f"unknown key (known keys here: {known})")


def parse_enum(path: str, cls: type[E], value: Any) -> E:
    """Match ``value`` to a member of ``cls`` by value, ignoring case; name the key if none fits."""
    if isinstance(value, cls):
        return value
    allowed = ", ".join(m.value for m in cls)
    if isinstance(value, str):
        for member in cls:
            if member.value.lower() == value.lower():
                return member
    raise ConfigError(key_name(path), f"{value!r} is not one of: {allowed}")


def _check_range(path: str, value: int, minimum: int | None, maximum: int | None) -> None:
    if minimum is not None and value < minimum:
        raise ConfigError(key_name(path), f"must be at least {minimum} (got {value})")
    if maximum is not None and value > maximum:
        raise ConfigError(key_name(path), f"must be at most {maximum} (got {value})")


# --------------------------------------------------------------------------- sections

def _object_lock(root: _Node) -> ObjectLockConfig:
    node = root.node("objectLock")
    cfg = ObjectLockConfig(mode=node.enum("mode", LockMode, LockMode.GOVERNANCE.value),
                           retention_days=node.int("retentionDays", 30))
    if cfg.retention_days < 1:
        raise ConfigError(key_name("objectLock.retentionDays"),
                          f"Object Lock default retention must be at least 1 day (got {cfg.retention_days})")
    node.done()
    return cfg


def _replication(root: _Node) -> ReplicationConfig:
    node = root.node("replication")
    rtc = node.bool("rtc", True)
    rtc_minutes = node.int("rtcMinutes", RTC_MINUTES)
    if rtc_minutes != RTC_MINUTES:
        raise ConfigError(key_name("replication.rtcMinutes"),
                          f"S3 Replication Time Control accepts only {RTC_MINUTES} minutes (got {rtc_minutes})")
    tags_raw = node.raw("tags", {})
    if not isinstance(tags_raw, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags_raw.items()):
        raise ConfigError(key_name("replication.tags"), "expected an object of tag name -> string value")
    delete_markers = node.bool("deleteMarkers", True)
    if delete_markers and tags_raw:
        raise ConfigError(key_name("replication.deleteMarkers"),
                          "S3 does not allow delete-marker replication on tag-filtered rules; "
                          "set deleteMarkers: false or remove replication.tags")
    cfg = ReplicationConfig(
        rtc=rtc, rtc_minutes=rtc_minutes, delete_markers=delete_markers,
        replica_storage_class=node.enum("replicaStorageClass", StorageClass, StorageClass.STANDARD.value),
        failback=node.bool("failback", False),
        tags=tuple(sorted(tags_raw.items())),
    )
    node.done()
    return cfg


def _transitions(path: str, items: Iterator[tuple[str, Any]]) -> tuple[Transition, ...]:
    """Transitions in day order, each into a colder class, each after the AWS minimums.

    Rule (REFERENCE.md minimum storage durations): a transition out of a class comes at
    least that class's minimum storage duration after the transition into it (Standard-IA /
    One Zone-IA 30 days, Glacier IR and Glacier Flexible 90, Deep Archive 180); and AWS
    never moves objects younger than 30 days into Standard-IA or One Zone-IA.
    """
    result: list[Transition] = []
    previous = Transition(0, StorageClass.STANDARD)
    for where, item in items:
        node = _Node(item, where)
        days = node.int("days", minimum=0)
        cls = node.enum("storageClass", StorageClass)
        node.done()
        if cls is StorageClass.STANDARD:
            raise ConfigError(key_name(f"{where}.storageClass"), "lifecycle cannot transition objects to STANDARD")
        if cls.rank <= previous.storage_class.rank:
            raise ConfigError(key_name(f"{where}.storageClass"),
                              f"transitions must move to a colder class: {cls.value} does not come after "
                              f"{previous.storage_class.value} (order: {', '.join(c.value for c in StorageClass)})")
        if days < cls.lifecycle_min_age_days:
            raise ConfigError(key_name(f"{where}.days"),
                              f"AWS transitions objects to {cls.value} only when they are at least "
                              f"{cls.lifecycle_min_age_days} days old (got {days})")
        earliest = previous.days + previous.storage_class.min_storage_days
        if result and days <= previous.days:
            raise ConfigError(key_name(f"{where}.days"),
                              f"transitions must be in increasing day order: "
                              f"day {days} is not after day {previous.days}")
        if days < earliest:
            raise ConfigError(key_name(f"{where}.days"),
                              f"{cls.value} at day {days} is only {days - previous.days} days after "
                              f"{previous.storage_class.value} at day {previous.days}; "
                              f"{previous.storage_class.value} has a {previous.storage_class.min_storage_days}-day "
                              f"minimum storage duration, so this transition must be at day {earliest} or later")
        result.append(Transition(days, cls))
        previous = result[-1]
    if not result:
        raise ConfigError(key_name(path), "a tier needs at least one transition")
    return tuple(result)


def _tiers(root: _Node) -> tuple[Tier, ...]:
    tiers: list[Tier] = []
    seen: set[Specialty] = set()
    for where, item in root.items("tiers", list(DEFAULT_TIERS)):
        node = _Node(item, where)
        specialty = node.enum("specialty", Specialty)
        name = node.str("name", specialty.value)
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", name):
            raise ConfigError(key_name(f"{where}.name"), "use lowercase letters, digits and hyphens (max 41)")
        if specialty in seen:
            raise ConfigError(key_name(f"{where}.specialty"), f"{specialty.value} already has a tier")
        seen.add(specialty)
        transitions = _transitions(f"{where}.transitions", node.items("transitions"))
        node.done()
        tiers.append(Tier(name=name, specialty=specialty, transitions=transitions))
    return tuple(tiers)


def _lifecycle(root: _Node, lock: ObjectLockConfig) -> LifecycleConfig:
    node = root.node("lifecycle")
    transition_days = node.int("noncurrentTransitionDays", 30, minimum=1)
    storage_class = node.enum("noncurrentStorageClass", StorageClass, StorageClass.GLACIER_IR.value)
    if storage_class is StorageClass.STANDARD:
        raise ConfigError(key_name("lifecycle.noncurrentStorageClass"), "cannot transition to STANDARD")
    if transition_days < storage_class.lifecycle_min_age_days:
        raise ConfigError(key_name("lifecycle.noncurrentTransitionDays"),
                          f"AWS moves noncurrent versions to {storage_class.value} only after "
                          f"{storage_class.lifecycle_min_age_days} days (got {transition_days})")
    default_expiry = max(lock.retention_days, transition_days + storage_class.min_storage_days) + 30
    expiration = node.int("noncurrentExpirationDays", default_expiry, minimum=1)
    if expiration <= transition_days:
        raise ConfigError(key_name("lifecycle.noncurrentExpirationDays"),
                          f"must be after noncurrentTransitionDays ({transition_days}), got {expiration}")
    if expiration < lock.retention_days:
        raise ConfigError(key_name("lifecycle.noncurrentExpirationDays"),
                          f"noncurrent versions stay locked for objectLock.retentionDays ({lock.retention_days}); "
                          f"expiring them after {expiration} days would have no effect")
    cfg = LifecycleConfig(transition_days, storage_class, expiration,
                          node.int("abortIncompleteMultipartDays", 7, minimum=1, maximum=365))
    node.done()
    return cfg


def _backups(root: _Node, production: bool, acknowledged: bool) -> BackupConfig:
    node = root.node("backups")
    mode = node.enum("vaultLock", VaultLockMode, VaultLockMode.GOVERNANCE.value)
    min_days = node.int("minRetentionDays", 7, minimum=1)
    max_days = node.int("maxRetentionDays", 3650, minimum=1, maximum=36500)
    if max_days < min_days:
        raise ConfigError(key_name("backups.maxRetentionDays"),
                          f"must be at least minRetentionDays ({min_days}), got {max_days}")
    changeable = node.int("changeableForDays", None)
    if mode is VaultLockMode.COMPLIANCE:
        changeable = MIN_CHANGEABLE_DAYS if changeable is None else changeable
        if changeable < MIN_CHANGEABLE_DAYS:
            raise ConfigError(key_name("backups.changeableForDays"),
                              f"compliance vault lock needs at least {MIN_CHANGEABLE_DAYS} days "
                              f"(a 72-hour cooling-off) before it becomes immutable (got {changeable})")
        if not production and not acknowledged:
            raise ConfigError(key_name("backups.vaultLock"),
                              "a compliance vault lock can never be removed once its cooling-off ends; in a "
                              "stack not marked environment: prod set acknowledgeComplianceLock: true")
    elif changeable is not None:
        raise ConfigError(key_name("backups.changeableForDays"),
                          "only valid with vaultLock: compliance (setting it turns the lock into compliance mode)")
    continuous = node.bool("continuous", True)
    lo, hi = CONTINUOUS_BACKUP_DAYS
    continuous_days = node.int("continuousRetentionDays", hi)
    if not lo <= continuous_days <= hi:
        raise ConfigError(key_name("backups.continuousRetentionDays"),
                          f"AWS Backup keeps continuous backups {lo}-{hi} days (got {continuous_days})")
    if continuous and continuous_days < min_days:
        raise ConfigError(key_name("backups.continuousRetentionDays"),
                          f"the vault lock refuses recovery points kept less than minRetentionDays ({min_days}); "
                          f"got {continuous_days}")
    daily_days = node.int("dailyRetentionDays", max(min_days, 35))
    if not min_days <= daily_days <= max_days:
        raise ConfigError(key_name("backups.dailyRetentionDays"),
                          f"must lie within the vault lock's minRetentionDays..maxRetentionDays "
                          f"({min_days}..{max_days}), got {daily_days}")
    cross_account = node.raw("crossAccountVaultArn", None)
    if cross_account is not None and not (isinstance(cross_account, str) and _BACKUP_VAULT_ARN.fullmatch(cross_account)):
        raise ConfigError(key_name("backups.crossAccountVaultArn"),
                          f"expected a backup vault ARN like arn:aws:backup:us-west-2:210987654321:backup-vault:NAME, "
                          f"got {cross_account!r}")
    air_gapped = node.bool("airGapped", False)
    share_with = tuple(_account_or_org(where, v) for where, v in node.items("airGappedShareWith", []))
    if share_with and not air_gapped:
        raise ConfigError(key_name("backups.airGappedShareWith"), "shares the air-gapped vault: set airGapped: true")
    if production and cross_account is None:
        raise ConfigError(key_name("backups.crossAccountVaultArn"),
                          "production copies backups to a vault in another account (ransomware inside this "
                          "account cannot reach it); set the recovery account's vault ARN")
    cfg = BackupConfig(mode, min_days, max_days, changeable, continuous, continuous_days, daily_days,
                       copy_to_dr=node.bool("copyToDr", True), air_gapped=air_gapped,
                       cross_account_vault_arn=cross_account, air_gapped_share_with=share_with)
    node.done()
    return cfg


def _account_or_org(where: str, value: Any) -> str:
    if isinstance(value, str) and (_ACCOUNT.fullmatch(value) or value.startswith("arn:")):
        return value
    raise ConfigError(key_name(where), f"expected a 12-digit account id or an organization/OU ARN, got {value!r}")


def _objectives(root: _Node, replication: ReplicationConfig) -> Objectives:
    """``drkit:objectives``: the recovery objectives the drills measure against (the contract's
    ``Objectives``, exported as the ``objectives`` stack output)."""
    node = root.node("objectives")
    cfg = Objectives(rpoMinutes=node.number("rpoMinutes", 15, minimum=0),
                     rtoMinutes=node.number("rtoMinutes", 240, minimum=0),
                     restoreHours=node.number("restoreHours", 12, minimum=0))
    node.done()
    if cfg.rpoMinutes < RTC_MINUTES:
        raise ConfigError(key_name("objectives.rpoMinutes"),
                          f"S3 replication guarantees (with RTC) 99.99% of objects within {RTC_MINUTES} minutes; "
                          f"an RPO of {cfg.rpoMinutes:g} minutes cannot be met")
    wait = standard_restore_hours(replication.replica_storage_class)
    if wait and cfg.rtoMinutes < wait * 60:
        raise ConfigError(key_name("replication.replicaStorageClass"),
                          f"{replication.replica_storage_class.value} replicas need a restore that takes "
                          f"{replication.replica_storage_class.first_byte}; objectives.rtoMinutes "
                          f"({cfg.rtoMinutes:g}) cannot be met")
    return cfg


def _drill(root: _Node, production: bool, security: "SecurityConfig") -> DrillConfig:
    node = root.node("drill")
    prefix = node.str("prefix", "drills/")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*/", prefix):
        raise ConfigError(key_name("drill.prefix"),
                          f"use one path segment ending in '/', like 'drills/' (got {prefix!r})")
    if prefix in (DICOM_PREFIX, QUARANTINE_PREFIX):
        raise ConfigError(key_name("drill.prefix"), f"{prefix!r} holds production data; drills need their own prefix")
    cfg = DrillConfig(prefix=prefix, pause_minutes=node.int("pauseMinutes", 30, minimum=1, maximum=720),
                      canary_expiration_days=node.int("canaryExpirationDays", 7, minimum=1),
                      attacker=_attacker(node, production, security))
    node.done()
    return cfg


def _attacker(drill: _Node, production: bool, security: "SecurityConfig") -> AttackerConfig:
    """``drkit:drill.attacker``: off in production unless turned on; trusted by the operators."""
    node = drill.node("attacker")
    enabled = node.bool("enabled", not production)
    trusted = _role_arns(node, "trustedPrincipalArns") or security.operator_role_arns
    node.done()
    return AttackerConfig(enabled=enabled, trusted_principal_arns=tuple(trusted))


def _logging(root: _Node) -> LoggingConfig:
    node = root.node("logging")
    locked = node.bool("logBucketObjectLock", False)
    if locked:
        raise ConfigError(key_name("logging.logBucketObjectLock"),
                          "a bucket with Object Lock cannot be a server-access-log destination; set it to false")
    cfg = LoggingConfig(log_bucket_object_lock=False, retention_days=node.int("retentionDays", 365, minimum=1))
    node.done()
    return cfg


def _intelligent_tiering(root: _Node) -> IntelligentTieringConfig | None:
    if root.raw("intelligentTiering", None) is None:
        return None
    node = root.node("intelligentTiering")
    archive = node.int("archiveAccessDays", None, minimum=90, maximum=730)
    deep = node.int("deepArchiveAccessDays", None, minimum=180, maximum=730)
    node.done()
    if archive is None and deep is None:
        raise ConfigError(key_name("intelligentTiering"),
                          "set archiveAccessDays and/or deepArchiveAccessDays, or omit the key")
    if archive is not None and deep is not None and deep <= archive:
        raise ConfigError(key_name("intelligentTiering.deepArchiveAccessDays"),
                          f"must be after archiveAccessDays ({archive}), got {deep}")
    return IntelligentTieringConfig(archive, deep)


def _ingest(root: _Node, production: bool) -> IngestConfig:
    node = root.node("ingest")
    layers = []
    for where, arn in node.items("layerArns", []):
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise ConfigError(key_name(where), f"expected a Lambda layer version ARN, got {arn!r}")
        layers.append(arn)
    vpc = None
    if node.raw("vpc", None) is not None:
        v = node.node("vpc")
        subnets = tuple(_id_list(v, "subnetIds", "subnet-"))
        groups = tuple(_id_list(v, "securityGroupIds", "sg-"))
        endpoint = v.str("s3EndpointId")
        if not endpoint.startswith("vpce-"):
            raise ConfigError(key_name("ingest.vpc.s3EndpointId"), f"expected a vpce-… id, got {endpoint!r}")
        v.done()
        vpc = IngestVpcConfig(subnets, groups, endpoint)
    cfg = IngestConfig(landing_expiration_days=node.int("landingExpirationDays", 3, minimum=1, maximum=30),
                       max_receive_count=node.int("maxReceiveCount", 5, minimum=1, maximum=1000),
                       layer_arns=tuple(layers),
                       timeout_seconds=node.int("timeoutSeconds", 120, minimum=10, maximum=900),
                       memory_mb=node.int("memoryMb", 1024, minimum=128, maximum=10240),
                       reserved_concurrency=node.int("reservedConcurrency", 10, minimum=1, maximum=1000),
                       vpc=vpc)
    node.done()
    return cfg


def _id_list(node: _Node, name: str, prefix: str) -> list[str]:
    values = []
    for where, value in node.items(name):
        if not isinstance(value, str) or not value.startswith(prefix):
            raise ConfigError(key_name(where), f"expected an id starting with {prefix!r}, got {value!r}")
        values.append(value)
    if not values:
        raise ConfigError(key_name(node.at(name)), "needs at least one id")
    return values


def _role_arn(node: _Node, name: str) -> str | None:
    value = node.raw(name, None)
    if value is not None and not (isinstance(value, str) and _ROLE_ARN.fullmatch(value)):
        raise ConfigError(key_name(node.at(name)), f"expected an IAM role ARN (arn:aws:iam::<account>:role/NAME), "
                                                    f"got {value!r}")
    return value


def _role_arns(node: _Node, name: str) -> tuple[str, ...]:
    arns = []
    for where, value in node.items(name, []):
        if not isinstance(value, str) or not _ROLE_ARN.fullmatch(value):
            raise ConfigError(key_name(where), f"expected an IAM role ARN, got {value!r}")
        arns.append(value)
    return tuple(arns)


def _security(root: _Node, production: bool) -> SecurityConfig:
    node = root.node("security")
    deploy = _role_arn(node, "deployRoleArn")
    if production and deploy is None:
        raise ConfigError(key_name("security.deployRoleArn"),
                          "production denies bucket, key and vault configuration changes to everyone but the role "
                          "that runs pulumi up: name that role")
    org = node.raw("organizationId", None)
    if org is not None and not (isinstance(org, str) and _ORG_ID.fullmatch(org)):
        raise ConfigError(key_name("security.organizationId"), f"expected an AWS Organizations id o-…, got {org!r}")
    reports = node.str("backupReportsRole", "create")
    if reports not in ("create", "existing"):
        raise ConfigError(key_name("security.backupReportsRole"),
                          f"'create' (the stack creates Backup Audit Manager's service-linked role) or 'existing' "
                          f"(the account already has it), got {reports!r}")
    cfg = SecurityConfig(
        deploy_role_arn=deploy, break_glass_role_arn=_role_arn(node, "breakGlassRoleArn"),
        key_admin_role_arn=_role_arn(node, "keyAdminRoleArn"), reader_role_arns=_role_arns(node, "readerRoleArns"),
        operator_role_arns=_role_arns(node, "operatorRoleArns"),
        uploader_role_arns=_role_arns(node, "uploaderRoleArns"), organization_id=org, reports_role=reports)
    node.done()
    return cfg


def _alerts(root: _Node, production: bool) -> AlertsConfig:
    node = root.node("alerts")
    subscriptions = []
    for where, item in node.items("subscriptions", []):
        sub = _Node(item, where)
        protocol = sub.enum("protocol", AlertProtocol)
        endpoint = sub.str("endpoint")
        sub.done()
        ok = {AlertProtocol.EMAIL: "@" in endpoint, AlertProtocol.HTTPS: endpoint.startswith("https://"),
              AlertProtocol.SQS: endpoint.startswith("arn:") and ":sqs:" in endpoint,
              AlertProtocol.LAMBDA: endpoint.startswith("arn:") and ":lambda:" in endpoint}[protocol]
        if not ok:
            raise ConfigError(key_name(f"{where}.endpoint"),
                              f"{endpoint!r} is not a valid {protocol.value} endpoint (email address, https:// URL, "
                              "or an SQS queue / Lambda function ARN)")
        subscriptions.append(AlertSubscription(protocol, endpoint))
    node.done()
    if production and not subscriptions:
        raise ConfigError(key_name("alerts.subscriptions"),
                          "production alerts must reach someone: add an email, https (chat webhook), sqs or lambda "
                          "subscription")
    return AlertsConfig(tuple(subscriptions))


def _dicomweb(root: _Node, production: bool) -> DicomWebConfig:
    node = root.node("dicomweb")
    enabled = node.bool("enabled", True)
    promote_dr = node.bool("promoteDr", False)
    raw_auth = node.raw("authorizer", None)
    if raw_auth is None and production and enabled:
        raise ConfigError(key_name("dicomweb.authorizer"),
                          "production must name how DICOMweb callers authenticate (type: jwt with issuer and "
                          "audiences, or type: iam); nothing is served anonymously")
    auth = _Node(raw_auth, node.at("authorizer"))
    kind = auth.raw("type", AuthorizerType.IAM.value)
    if isinstance(kind, str) and kind.lower() in ("none", "anonymous"):
        raise ConfigError(key_name("dicomweb.authorizer.type"),
                          f"{kind!r}: DICOMweb is never anonymous; use jwt (issuer + audiences) or iam")
    kind = auth.enum("type", AuthorizerType, AuthorizerType.IAM.value)
    issuer, audiences = "", []
    if kind is AuthorizerType.JWT:
        issuer = auth.str("issuer")
        if not issuer.startswith("https://"):
            raise ConfigError(key_name("dicomweb.authorizer.issuer"),
                              f"a JWT issuer is an https:// URL (the OpenID provider), got {issuer!r}")
        for where, value in auth.items("audiences"):
            if not isinstance(value, str) or not value:
                raise ConfigError(key_name(where), f"expected a non-empty string, got {_kind(value)} ({value!r})")
            audiences.append(value)
        if not audiences:
            raise ConfigError(key_name("dicomweb.authorizer.audiences"), "a JWT authorizer needs at least one audience")
    else:
        for name in ("issuer", "audiences"):
            if auth.raw(name, None) is not None:
                raise ConfigError(key_name(f"dicomweb.authorizer.{name}"), "only a jwt authorizer takes this key")
    auth.done()
    node.done()
    return DicomWebConfig(enabled, DicomWebAuthorizer(kind, issuer, tuple(audiences)), promote_dr)


def _simple(root: _Node, name: str, build: Callable[[_Node], Any]) -> Any:
    node = root.node(name)
    value = build(node)
    node.done()
    return value


# --------------------------------------------------------------------------- entry points

def from_mapping(data: Mapping[str, Any]) -> PlatformConfig:
    """Validate a config mapping. Keys may be bare (``objectLock``) or namespaced
    (``drkit:objectLock``, as in a stack file); other namespaces (``aws:``, ``pulumi:``) are ignored."""
    if not isinstance(data, Mapping):
        raise ConfigError(NAMESPACE, f"expected a mapping of config keys, got {_kind(data)}")
    own: dict[str, Any] = {}
    for k, v in data.items():
        ns, sep, bare = str(k).rpartition(":")
        if sep and ns != NAMESPACE:
            continue
        own[bare] = v
    root = _Node(own, "")

    primary = _region(root, "primaryRegion")
    dr = _region(root, "drRegion")
    if dr == primary:
        raise ConfigError(key_name("drRegion"), f"must differ from primaryRegion (both are {primary})")
    environment = root.enum("environment", Environment, Environment.DEV.value)
    production = environment is Environment.PROD
    acknowledged = root.bool("acknowledgeComplianceLock", False)
    lock = _object_lock(root)
    if lock.mode is LockMode.COMPLIANCE and not production and not acknowledged:
        raise ConfigError(key_name("objectLock.mode"),
                          "COMPLIANCE retention cannot be shortened or removed by anyone, root included; in a "
                          "stack not marked environment: prod set acknowledgeComplianceLock: true")
    replication = _replication(root)
    security = _security(root, production)
    cfg = PlatformConfig(
        primary_region=primary, dr_region=dr, environment=environment,
        protect=root.bool("protect", production),
        acknowledge_compliance_lock=acknowledged,
        object_lock=lock, replication=replication, tiers=_tiers(root),
        lifecycle=_lifecycle(root, lock),
        backups=_backups(root, production, acknowledged),
        objectives=_objectives(root, replication),
        drill=_drill(root, production, security), logging=_logging(root),
        intelligent_tiering=_intelligent_tiering(root), ingest=_ingest(root, production),
        evidence=_simple(root, "evidence", lambda n: EvidenceConfig(n.int("retentionDays", 2190, minimum=1))),
        monitoring=_simple(root, "monitoring", lambda n: MonitoringConfig(
            n.int("pendingOperationsThreshold", 1000, minimum=1))),
        security=security, alerts=_alerts(root, production),
        dicomweb=_dicomweb(root, production),
    )
    root.done()
    return cfg


def _region(root: _Node, name: str) -> str:
    value = root.str(name)
    if not _REGION.fullmatch(value):
        raise ConfigError(key_name(name), f"{value!r} is not an AWS region name like us-east-1")
    return value


def load() -> PlatformConfig:
    """Read ``drkit:`` from the running Pulumi program's config, once, and validate it."""
    import pulumi

    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for name, plain in TOP_LEVEL_KEYS.items():
        if plain:
            value = config.get(name)
        else:
            try:
                value = config.get_object(name)
            except (json.JSONDecodeError, pulumi.ConfigTypeError) as exc:
                raise ConfigError(key_name(name), "is not valid JSON/YAML structured config") from exc
        if value is not None:
            raw[name] = value
    return from_mapping(raw)
