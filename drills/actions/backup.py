"""On-demand AWS Backup: back up the archive bucket and the index table into the primary vault
now (``StartBackupJob`` with the stack's own backup role, read from its backup selection), wait
for the jobs, and copy each recovery point to the DR vault (``StartCopyJob``). The recovery
points are recorded in the scenario state for later steps (attacks, restores).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.engine.clock import poll
from drills.engine.model import ProbeResult, Status
from drills.engine.registry import action

_DONE = ("COMPLETED", "FAILED", "ABORTED", "EXPIRED", "PARTIAL")


def backup_role(ctx: Any) -> str | None:
    """The IAM role AWS Backup assumes for the stack: the role named after the stack's backup
    component that trusts backup.amazonaws.com, else the role of its backup selections."""
    stem = ctx.outputs.backupVault.split("-vault")[0]
    try:
        iam = ctx.client("iam", ctx.outputs.primaryRegion)
        for page in iam.get_paginator("list_roles").paginate():
            for role in page.get("Roles", []):
                trust = json.dumps(role.get("AssumeRolePolicyDocument", ""))
                if role["RoleName"].startswith(stem) and "backup.amazonaws.com" in trust:
                    return role["Arn"]
    except (ClientError, BotoCoreError):
        pass
    backup = ctx.client("backup", ctx.outputs.primaryRegion)
    try:
        for plan in backup.list_backup_plans().get("BackupPlansList", []):
            for sel in backup.list_backup_selections(BackupPlanId=plan["BackupPlanId"]).get("BackupSelectionsList", []):
                if sel.get("IamRoleArn"):
                    return sel["IamRoleArn"]
    except (ClientError, BotoCoreError):
        pass
    return None


def resource_arns(ctx: Any) -> dict[str, str]:
    out = ctx.outputs
    table = ctx.client("dynamodb", out.primaryRegion).describe_table(TableName=out.indexTable)["Table"]["TableArn"]
    return {"archive": f"arn:aws:s3:::{out.archiveBucket}", "index": table}


def plan_copies_to(ctx: Any, vault_arn: str) -> bool:
    """Does one of the stack's backup plans copy to ``vault_arn`` (a CopyAction)?"""
    backup = ctx.client("backup", ctx.outputs.primaryRegion)
    for plan in backup.list_backup_plans().get("BackupPlansList", []):
        rules = backup.get_backup_plan(BackupPlanId=plan["BackupPlanId"])["BackupPlan"].get("Rules", [])
        if any(a.get("DestinationBackupVaultArn") == vault_arn for r in rules for a in r.get("CopyActions", [])):
            return True
    return False


@action("backup-now", {"copyToDr": {"enum": [True, False, "plan"]}},
        plan=lambda run, **_: [f"backup:StartBackupJob of {run.ctx.outputs.archiveBucket} and "
                               f"{run.ctx.outputs.indexTable} into {run.ctx.outputs.backupVault}, "
                               f"StartCopyJob to {run.ctx.outputs.drBackupVault}"])
def backup_now(run: Any, copyToDr: bool | str = "plan") -> ProbeResult:
    """Back up the archive and the index now; copy the recovery points to the DR vault
    (``plan``: only when the stack's backup plan copies there, as its own jobs would)."""
    ctx = run.ctx
    out = ctx.outputs
    backup = ctx.client("backup", out.primaryRegion)
    try:
        role = backup_role(ctx)
        if role is None:
            return ProbeResult(Status.FAILED, {}, reason="the stack has no backup selection with an IAM role")
        points: dict[str, dict[str, Any]] = {}
        lifecycle = _lifecycle(backup.describe_backup_vault(BackupVaultName=out.backupVault))
        for name, arn in resource_arns(ctx).items():
            done = back_up(ctx, run, arn, role, lifecycle)
            if done.get("State") != "COMPLETED":
                return ProbeResult(Status.FAILED, {"resource": name, "state": done.get("State")},
                                   reason=f"backup of the {name} ended {done.get('State')}: {done.get('StatusMessage')}")
            points[name] = {"primary": done["RecoveryPointArn"], "started": ctx.clock.now()}
        dr_vault = ctx.client("backup", out.drRegion).describe_backup_vault(BackupVaultName=out.drBackupVault)
        if copyToDr == "plan":
            copyToDr = plan_copies_to(ctx, dr_vault["BackupVaultArn"])
        if copyToDr:
            for name, point in points.items():
                job = backup.start_copy_job(RecoveryPointArn=point["primary"], SourceBackupVaultName=out.backupVault,
                                            DestinationBackupVaultArn=dr_vault["BackupVaultArn"], IamRoleArn=role,
                                            Lifecycle=_lifecycle(dr_vault))
                done = _wait(ctx, run, lambda j=job["CopyJobId"]: backup.describe_copy_job(CopyJobId=j)["CopyJob"])
                if done.get("State") != "COMPLETED":
                    return ProbeResult(Status.FAILED, {"resource": name, "state": done.get("State")},
                                       reason=f"copy of the {name} backup ended {done.get('State')}")
                point["dr"] = done.get("DestinationRecoveryPointArn")
    except (ClientError, BotoCoreError) as exc:
        return ProbeResult(Status.FAILED, {}, reason=f"on-demand backup refused: {exc}")
    run.state["recovery_points"] = points
    return ProbeResult(Status.PASSED, {"recovery_points": len(points), "copied_to_dr": bool(copyToDr),
                                       "role": role.rsplit("/", 1)[-1]})


def back_up(ctx: Any, run: Any, resource_arn: str, role: str, lifecycle: dict[str, int] | None = None) -> dict[str, Any]:
    """One on-demand backup of ``resource_arn`` into the stack's primary vault, waited for: the
    final DescribeBackupJob document (``State``, ``RecoveryPointArn``)."""
    backup = ctx.client("backup", ctx.outputs.primaryRegion)
    if lifecycle is None:
        lifecycle = _lifecycle(backup.describe_backup_vault(BackupVaultName=ctx.outputs.backupVault))
    job = backup.start_backup_job(BackupVaultName=ctx.outputs.backupVault, ResourceArn=resource_arn, IamRoleArn=role,
                                  Lifecycle=lifecycle)
    return _wait(ctx, run, lambda: backup.describe_backup_job(BackupJobId=job["BackupJobId"]))


def _lifecycle(vault: dict[str, Any]) -> dict[str, int]:
    """The shortest retention the vault's lock accepts (drill backups should not linger): its
    minimum, else 7 days, never above its maximum."""
    days = int(vault.get("MinRetentionDays") or 7)
    if vault.get("MaxRetentionDays"):
        days = min(days, int(vault["MaxRetentionDays"]))
    return {"DeleteAfterDays": max(days, 1)}


def _wait(ctx: Any, run: Any, describe: Any) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def finished() -> bool:
        box.update(describe())
        return box.get("State") in _DONE

    poll(ctx.clock, finished, timeout_s=run.timeout_s, interval_s=60.0)
    return box
