"""Offline deploy, AWS Backup: vaults with Vault Lock, plans and report plans are created in
moto; what moto 5.2 lacks (selections, logically air-gapped vaults, restore testing, audit
frameworks, vault notifications and access policies) is declared only, with that reason."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drills.aws import error_code
from drills.deploy.common import (DeployContext, Handler, Spec, api_param, as_bool, as_int,                                         outputs, short_hash)


def vault(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=50, style="dash")
    backup = ctx.client("backup", spec.region)
    kwargs: dict[str, Any] = {"BackupVaultName": name}
    if spec.get("kmsKeyArn"):
        kwargs["EncryptionKeyArn"] = spec.get("kmsKeyArn")
    if spec.get("tags"):
        kwargs["BackupVaultTags"] = {str(k): str(v) for k, v in spec.get("tags").items()}
    try:
        arn = backup.create_backup_vault(**kwargs)["BackupVaultArn"]
        reused = False
    except ClientError as exc:
        if error_code(exc) != "AlreadyExistsException":
            raise
        arn = backup.describe_backup_vault(BackupVaultName=name)["BackupVaultArn"]
        reused = True
    ctx.record(spec, name, reused=reused)
    return name, outputs(spec, id=name, name=name, arn=arn, recoveryPoints=0)


def vault_lock(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = str(spec.get("backupVaultName"))
    kwargs: dict[str, Any] = {"BackupVaultName": name}
    for src, dst in (("minRetentionDays", "MinRetentionDays"), ("maxRetentionDays", "MaxRetentionDays"),
                     ("changeableForDays", "ChangeableForDays")):
        if spec.get(src) is not None:
            kwargs[dst] = as_int(spec.get(src))
    backup = ctx.client("backup", spec.region)
    backup.put_backup_vault_lock_configuration(**kwargs)
    arn = backup.describe_backup_vault(BackupVaultName=name)["BackupVaultArn"]
    ctx.record(spec, name, reused=ctx.existed(name))
    return name, outputs(spec, id=name, backupVaultArn=arn)


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"RuleName": rule["ruleName"], "TargetBackupVaultName": rule["targetVaultName"]}
    for src, dst in (("schedule", "ScheduleExpression"), ("scheduleExpressionTimezone", "ScheduleExpressionTimezone")):
        if rule.get(src):
            out[dst] = rule[src]
    for src, dst in (("startWindow", "StartWindowMinutes"), ("completionWindow", "CompletionWindowMinutes")):
        if rule.get(src) is not None:
            out[dst] = as_int(rule[src])
    if rule.get("enableContinuousBackup") is not None:
        out["EnableContinuousBackup"] = as_bool(rule["enableContinuousBackup"])
    if rule.get("lifecycle"):
        out["Lifecycle"] = _lifecycle(rule["lifecycle"])
    if rule.get("recoveryPointTags"):
        out["RecoveryPointTags"] = {str(k): str(v) for k, v in rule["recoveryPointTags"].items()}
    copies = []
    for copy in rule.get("copyActions") or []:
        action: dict[str, Any] = {"DestinationBackupVaultArn": copy["destinationVaultArn"]}
        if copy.get("lifecycle"):
            action["Lifecycle"] = _lifecycle(copy["lifecycle"])
        copies.append(action)
    if copies:
        out["CopyActions"] = copies
    return out


def _lifecycle(lifecycle: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for src, dst in (("coldStorageAfter", "MoveToColdStorageAfterDays"), ("deleteAfter", "DeleteAfterDays")):
        if lifecycle.get(src) is not None:
            out[dst] = as_int(lifecycle[src])
    if lifecycle.get("optInToArchiveForSupportedResources") is not None:
        out["OptInToArchiveForSupportedResources"] = as_bool(lifecycle["optInToArchiveForSupportedResources"])
    return out


def plan(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=50, style="dash")
    backup = ctx.client("backup", spec.region)
    body: dict[str, Any] = {"BackupPlanName": name, "Rules": [_rule(r) for r in spec.get("rules", [])]}
    if spec.get("advancedBackupSettings"):
        body["AdvancedBackupSettings"] = [{"ResourceType": s["resourceType"],
                                           "BackupOptions": {str(k): str(v) for k, v in s["backupOptions"].items()}}
                                          for s in spec.get("advancedBackupSettings")]
    existing = [p for p in backup.list_backup_plans().get("BackupPlansList", []) if p.get("BackupPlanName") == name]
    if existing:     # moto has no UpdateBackupPlan: an existing plan is kept as it is
        resp = backup.get_backup_plan(BackupPlanId=existing[0]["BackupPlanId"])
        if resp["BackupPlan"].get("Rules") and _rule_names(resp) != [r["RuleName"] for r in body["Rules"]]:
            ctx.note(f"{spec.label}: plan {name} exists with other rules; moto cannot update it (redeploy into "
                     "a fresh cloud to apply the change)")
        reused = True
    else:
        kwargs: dict[str, Any] = {"BackupPlan": body}
        if spec.get("tags"):
            kwargs["BackupPlanTags"] = {str(k): str(v) for k, v in spec.get("tags").items()}
        resp = backup.create_backup_plan(**kwargs)
        reused = False
    plan_id = resp["BackupPlanId"]
    ctx.record(spec, plan_id, reused=reused)
    return plan_id, outputs(spec, id=plan_id, name=name, arn=resp["BackupPlanArn"], version=resp.get("VersionId"))


def _rule_names(resp: dict[str, Any]) -> list[str]:
    return [r.get("RuleName") for r in resp["BackupPlan"].get("Rules", [])]


def report_plan(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=256, style="underscore")
    backup = ctx.client("backup", spec.region)
    ignored: list[str] = []
    channel = api_param("backup", "CreateReportPlan", "ReportDeliveryChannel", spec.get("reportDeliveryChannel"), ignored)
    setting = api_param("backup", "CreateReportPlan", "ReportSetting", spec.get("reportSetting"), ignored)
    ctx.note_ignored(spec, ignored)
    try:
        arn = backup.describe_report_plan(ReportPlanName=name)["ReportPlan"]["ReportPlanArn"]
        reused = True
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        kwargs: dict[str, Any] = {"ReportPlanName": name, "ReportDeliveryChannel": channel, "ReportSetting": setting}
        if spec.get("description"):
            kwargs["ReportPlanDescription"] = spec.get("description")
        if spec.get("tags"):
            kwargs["ReportPlanTags"] = {str(k): str(v) for k, v in spec.get("tags").items()}
        arn = backup.create_report_plan(**kwargs)["ReportPlanArn"]
        reused = False
    ctx.record(spec, name, reused=reused)
    return name, outputs(spec, id=name, name=name, arn=arn, deploymentStatus="COMPLETED")


# ----------------------------------------------------------------------------- declared only

_NOT_IN_MOTO = "moto 5.2 does not implement {what}; declared, not emulated"


def _declared(ctx: DeployContext, spec: Spec, what: str, pid: str, **computed: Any) -> tuple[str, dict[str, Any]]:
    ctx.declare(spec, _NOT_IN_MOTO.format(what=what))
    return pid, outputs(spec, id=pid, **computed)


def air_gapped_vault(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=50, style="dash")
    arn = f"arn:aws:backup:{spec.region}:{ctx.account_id}:backup-vault:{name}"
    return _declared(ctx, spec, "logically air-gapped backup vaults", name, name=name, arn=arn)


def selection(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    pid = short_hash(ctx.stack, spec.name, length=32)
    pid = f"{pid[:8]}-{pid[8:12]}-{pid[12:16]}-{pid[16:20]}-{pid[20:]}"
    return _declared(ctx, spec, "backup selections (CreateBackupSelection)", pid)


def restore_testing_plan(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=50, style="underscore")
    arn = f"arn:aws:backup:{spec.region}:{ctx.account_id}:restore-testing-plan:{name}-{short_hash(name, length=6)}"
    return _declared(ctx, spec, "restore testing plans", name, name=name, arn=arn)


def restore_testing_selection(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=50, style="underscore")
    return _declared(ctx, spec, "restore testing selections", f"{spec.get('restoreTestingPlanName')}:{name}", name=name)


def framework(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=256, style="underscore")
    arn = f"arn:aws:backup:{spec.region}:{ctx.account_id}:framework:{name}-{short_hash(ctx.stack, name, length=36)}"
    return _declared(ctx, spec, "Backup Audit Manager frameworks", name, name=name, arn=arn,
                     deploymentStatus="COMPLETED", status="ACTIVE")


def vault_notifications(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = str(spec.get("backupVaultName"))
    return _declared(ctx, spec, "backup vault notifications", name,
                     backupVaultArn=f"arn:aws:backup:{spec.region}:{ctx.account_id}:backup-vault:{name}")


def vault_policy(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = str(spec.get("backupVaultName"))
    return _declared(ctx, spec, "backup vault access policies", name,
                     backupVaultArn=f"arn:aws:backup:{spec.region}:{ctx.account_id}:backup-vault:{name}")


HANDLERS: dict[str, Handler] = {
    "aws:backup/vault:Vault": vault,
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": vault_lock,
    "aws:backup/plan:Plan": plan,
    "aws:backup/reportPlan:ReportPlan": report_plan,
    "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault": air_gapped_vault,
    "aws:backup/selection:Selection": selection,
    "aws:backup/restoreTestingPlan:RestoreTestingPlan": restore_testing_plan,
    "aws:backup/restoreTestingSelection:RestoreTestingSelection": restore_testing_selection,
    "aws:backup/framework:Framework": framework,
    "aws:backup/vaultNotifications:VaultNotifications": vault_notifications,
    "aws:backup/vaultPolicy:VaultPolicy": vault_policy,
}
