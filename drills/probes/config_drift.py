"""Rung 9, configuration in force: read from the deployed resources (never from the stack
files) and compared with what the stack declares (``components.config.PlatformConfig``):

- archive and replica: versioning Enabled; Object Lock on with the declared default mode/days;
- replication on the archive: for each replicated prefix (``dicom/`` first) an enabled rule
  covering it, into the replica, with RTC (15 minutes, metrics) as declared, delete-marker
  replication as declared, the declared replica storage class and tag filter;
- the study index: point-in-time recovery on the primary table and on the DR replica table;
- both backup vaults locked with the declared minimum/maximum retention (and a lock date for
  compliance mode); a backup plan into the vault, continuous as declared, copying to the DR vault.

Every difference is a finding naming the resource; what cannot be read is *not verified*.
"""

from __future__ import annotations

from typing import Any, Callable

from botocore.exceptions import ClientError

from drills.contracts import DICOM_PREFIX, QUARANTINE_PREFIX
from drills.engine.model import RungResult, Severity
from drills.errors import InfraError
from drills.probes.observe import Observation, ResourceMissing, Unobservable, call, error_code, rule_prefix, rule_tags, scope_under
from drills.probes.rung import RungReport

RUNG, NAME = 9, "configuration-in-force"


class _Checks:
    """Collects (check, resource, declared, observed) rows and turns drift into findings."""

    def __init__(self, report: RungReport) -> None:
        self.report = report
        self.rows: list[dict[str, Any]] = []

    def expect(self, check: str, resource: str, declared: Any, observed: Any, severity: Severity,
               remediation: str = "") -> bool:
        ok = declared == observed
        self.rows.append({"check": check, "resource": resource, "declared": declared, "observed": observed, "ok": ok})
        if not ok:
            self.report.find(f"drift-{check}", severity, resource,
                             f"{check} of {resource}: declared {declared!r}, in force {observed!r}",
                             {"declared": declared, "observed": observed},
                             remediation or "re-apply the stack (pulumi up) and find who changed it")
        return ok

    def read(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run one read; unobservable -> not verified, a missing resource -> a finding (both
        return UNSEEN and the other checks go on)."""
        try:
            return fn()
        except Unobservable as exc:
            self.report.not_verified(f"{what}: {exc}")
            return UNSEEN
        except ResourceMissing as exc:
            if not any(f.resource == exc.resource and f.code == "resource-missing" for f in self.report.findings):
                self.report.find("resource-missing", Severity.CRITICAL, exc.resource, exc.message)
            return UNSEEN


UNSEEN = object()


def _bucket(checks: _Checks, obs: Observation, region: str, bucket: str, declared: Any) -> None:
    s3 = obs.client("s3", region)
    versioning = checks.read(f"versioning of {bucket}", lambda: call(
        f"GetBucketVersioning {bucket}", s3.get_bucket_versioning, resource=bucket, Bucket=bucket))
    if versioning is not UNSEEN:
        checks.expect("versioning", bucket, "Enabled", versioning.get("Status", "Disabled"), Severity.CRITICAL)

    def lock() -> dict[str, Any]:
        try:
            return call(f"GetObjectLockConfiguration {bucket}", s3.get_object_lock_configuration,
                        resource=bucket, Bucket=bucket).get("ObjectLockConfiguration", {})
        except ClientError as exc:
            if error_code(exc) == "ObjectLockConfigurationNotFoundError":
                return {}
            raise InfraError(f"GetObjectLockConfiguration {bucket}: {exc}") from exc

    config = checks.read(f"Object Lock of {bucket}", lock)
    if config is not UNSEEN:
        retention = (config.get("Rule") or {}).get("DefaultRetention") or {}
        days = retention.get("Days") or (retention.get("Years") or 0) * 365 or None
        checks.expect("object-lock", bucket, "Enabled", config.get("ObjectLockEnabled", "Disabled"), Severity.CRITICAL)
        checks.expect("object-lock-default-retention", bucket,
                      {"mode": declared.object_lock.mode.value, "days": declared.object_lock.retention_days},
                      {"mode": retention.get("Mode"), "days": days}, Severity.CRITICAL)


def _replication(checks: _Checks, obs: Observation, declared: Any) -> None:
    o = obs.outputs
    rules = checks.read(f"replication of {o.archiveBucket}", obs.replication_rules)
    if rules is UNSEEN:
        return
    if rules is None:
        checks.expect("replication", o.archiveBucket, "configured", "none", Severity.CRITICAL)
        return
    settings = declared.replication
    prefixes = [obs.scope] + [p for p in (QUARANTINE_PREFIX, declared.drill.prefix) if p != obs.scope]
    for prefix in prefixes:
        severity = Severity.CRITICAL if prefix in (obs.scope, DICOM_PREFIX) else Severity.MEDIUM
        covering = sorted((r for r in rules if r.get("Status") == "Enabled" and scope_under(rule_prefix(r), prefix)),
                          key=lambda r: -int(r.get("Priority", 0)))
        where = f"{o.archiveBucket} replication ({prefix})"
        if not checks.expect("replication-covers-prefix", where, True, bool(covering), severity,
                             remediation=f"add an enabled rule for {prefix} into {o.replicaBucket}"):
            continue
        rule = covering[0]
        resource = f"{o.archiveBucket} replication rule {rule.get('ID', '?')!r}"
        dest = rule.get("Destination", {})
        rtc = dest.get("ReplicationTime", {})
        metrics = dest.get("Metrics", {})
        checks.expect("replication-destination", resource, f"arn:aws:s3:::{o.replicaBucket}", dest.get("Bucket"),
                      severity)
        observed_rtc = {"enabled": rtc.get("Status") == "Enabled",
                        "minutes": (rtc.get("Time") or {}).get("Minutes") if rtc.get("Status") == "Enabled" else None,
                        "metricsThreshold": (metrics.get("EventThreshold") or {}).get("Minutes")
                        if metrics.get("Status") == "Enabled" else None}
        declared_rtc = {"enabled": settings.rtc, "minutes": settings.rtc_minutes if settings.rtc else None,
                        "metricsThreshold": settings.rtc_minutes if settings.rtc else None}
        checks.expect("replication-time-control", resource, declared_rtc, observed_rtc, Severity.HIGH)
        checks.expect("replication-delete-markers", resource, "Enabled" if settings.delete_markers else "Disabled",
                      (rule.get("DeleteMarkerReplication") or {}).get("Status", "Disabled"), Severity.HIGH)
        checks.expect("replication-storage-class", resource, settings.replica_storage_class.value,
                      dest.get("StorageClass", "STANDARD"), Severity.MEDIUM)
        checks.expect("replication-tag-filter", resource, dict(settings.tags), rule_tags(rule), Severity.HIGH)


def _pitr(checks: _Checks, obs: Observation) -> None:
    o = obs.outputs
    for region in (o.primaryRegion, o.drRegion):
        ddb = obs.client("dynamodb", region)
        resource = f"{o.indexTable} ({region})"

        def read() -> dict[str, Any]:
            try:
                return call(f"DescribeContinuousBackups {resource}", ddb.describe_continuous_backups,
                            resource=resource, TableName=o.indexTable)["ContinuousBackupsDescription"]
            except ClientError as exc:
                raise InfraError(f"DescribeContinuousBackups {resource}: {exc}") from exc

        described = checks.read(f"point-in-time recovery of {resource}", read)
        if described is not UNSEEN:
            status = (described.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
            checks.expect("point-in-time-recovery", resource, "ENABLED", status, Severity.HIGH)


def _vaults(checks: _Checks, obs: Observation, declared: Any) -> None:
    o, b = obs.outputs, declared.backups
    for region, name in ((o.primaryRegion, o.backupVault), (o.drRegion, o.drBackupVault)):
        backup = obs.client("backup", region)
        resource = f"backup vault {name} ({region})"

        def read() -> dict[str, Any] | None:
            try:
                return call(f"DescribeBackupVault {resource}", backup.describe_backup_vault, resource=resource,
                            BackupVaultName=name)
            except ClientError as exc:
                raise InfraError(f"DescribeBackupVault {resource}: {exc}") from exc

        vault = checks.read(f"vault lock of {resource}", read)
        if vault is UNSEEN:
            continue
        checks.expect("vault-lock", resource,
                      {"locked": True, "minRetentionDays": b.min_retention_days, "maxRetentionDays": b.max_retention_days,
                       "mode": b.vault_lock.value},
                      {"locked": bool(vault.get("Locked")), "minRetentionDays": vault.get("MinRetentionDays"),
                       "maxRetentionDays": vault.get("MaxRetentionDays"),
                       "mode": "compliance" if vault.get("LockDate") else "governance"}, Severity.CRITICAL)


def _plan(checks: _Checks, obs: Observation, declared: Any) -> None:
    o, b = obs.outputs, declared.backups
    backup = obs.client("backup", o.primaryRegion)

    def read() -> list[dict[str, Any]]:
        plans, kwargs = [], {}
        while True:
            page = call("ListBackupPlans", backup.list_backup_plans, **kwargs)
            for summary in page.get("BackupPlansList", []):
                plan = call("GetBackupPlan", backup.get_backup_plan, BackupPlanId=summary["BackupPlanId"])
                plans.append(plan.get("BackupPlan", {}))
            if not page.get("NextToken"):
                return plans
            kwargs["NextToken"] = page["NextToken"]

    plans = checks.read("backup plans", read)
    if plans is UNSEEN:
        return
    rules = [r for p in plans for r in p.get("Rules", []) if r.get("TargetBackupVaultName") == o.backupVault]
    resource = f"backup plans into {o.backupVault} ({o.primaryRegion})"
    if not checks.expect("backup-plan", resource, True, bool(rules), Severity.CRITICAL):
        return
    checks.expect("backup-continuous", resource, b.continuous,
                  any(r.get("EnableContinuousBackup") for r in rules), Severity.HIGH)
    dr_suffix = f":backup-vault:{o.drBackupVault}"
    copies = any(a.get("DestinationBackupVaultArn", "").endswith(dr_suffix)
                 and f":{o.drRegion}:" in a.get("DestinationBackupVaultArn", "")
                 for r in rules for a in r.get("CopyActions", []) or [])
    checks.expect("backup-copy-to-dr", resource, b.copy_to_dr, copies, Severity.CRITICAL)


def check(obs: Observation, declared: Any | None) -> RungResult:
    report = RungReport(RUNG, NAME)
    if declared is None:
        report.not_verified("the stack's declared config is not known (give the stack name and project)")
        return report.result()
    checks = _Checks(report)
    o = obs.outputs
    _bucket(checks, obs, o.primaryRegion, o.archiveBucket, declared)
    _bucket(checks, obs, o.drRegion, o.replicaBucket, declared)
    _replication(checks, obs, declared)
    _pitr(checks, obs)
    _vaults(checks, obs, declared)
    _plan(checks, obs, declared)
    report.counts.update(checked=len(checks.rows), drift=sum(1 for r in checks.rows if not r["ok"]),
                         checks=checks.rows)
    return report.result()
