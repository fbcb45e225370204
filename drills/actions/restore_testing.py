"""The stack's own AWS Backup restore-testing plan, honoured: its scheduled jobs observed and judged.

``restore-testing-plan`` finds the stack's restore-testing plan(s) through boto3
(ListRestoreTestingPlans, GetRestoreTestingPlan, ListRestoreTestingSelections,
GetRestoreTestingSelection: a plan whose selections protect the archive bucket or the index
table, or whose ``IncludeVaults`` names the stack's vault), reads its next scheduled run from its
cron ``ScheduleExpression`` in its time zone, and lets time pass until then — the virtual clock is
advanced on the embedded cloud; on AWS the drill waits only with ``waitForSchedule: true`` and
when the run, its start window, the restore objective and the validation window fit the
activity's timeout. Otherwise the result is **not verified**, with the reason (never a pass).

The embedded cloud does not run backup *plans* on their schedule, so there the step first takes
the backup the stack's daily rule would have taken, ``STAND_IN_LEAD`` before the scheduled run,
into the primary vault (``stand_in_backup`` in the output); on AWS the plan tests what the
stack's own backups left in the vault.

Then, per plan: its restore jobs (ListRestoreJobs ``ByRestoreTestingPlanArn``,
``ByCreatedAfter``) until each protected resource has one or ``StartWindowHours`` has passed;
each job waited for (DescribeRestoreJob); its recovery point checked to be within
``SelectionWindowDays`` (and the latest, for ``LATEST_WITHIN_WINDOW``); its restore time
(``CreationDate`` to ``CompletionDate``) measured against ``objectives.restoreHours``; the
bucket / table it created verified against the pre-drill manifest and index with the same checks
as the drill's own restores (``drills.actions.restore.verify_bucket`` / ``verify_table``);
PutRestoreValidationResult SUCCESSFUL, or FAILED with the reason, and read back; then time passes
until ``ValidationWindowHours`` after completion and the restored resource must be gone
(``DeletionStatus`` SUCCESSFUL, HeadBucket / DescribeTable not found).

Findings (each naming the resource): ``restore-testing-plan-missing`` (not verified),
``restore-testing-no-job`` (a protected resource no selection covers, or no job in the start
window), ``restore-testing-job-failed``, ``restore-testing-restore-incomplete``,
``restore-testing-targets-live-resource``, ``restore-testing-not-deleted``.
GetRestoreJobMetadata is not called: the embedded cloud does not emulate it, and
DescribeRestoreJob's ``CreatedResourceArn`` names what the job restored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills import aws_cron
from drills.actions.backup import back_up, backup_role, resource_arns
from drills.actions.restore import _live, verify_bucket, verify_table
from drills.engine.clock import iso, poll
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import action
from drills.probes.common import measure

STAND_IN_LEAD = timedelta(hours=2)       # the stand-in daily backup, before the scheduled run (embedded)
MARGIN = timedelta(hours=1)              # after a window closes, before judging what should have happened
_DONE = ("COMPLETED", "FAILED", "ABORTED")
_TYPES = {"archive": "S3", "index": "DynamoDB"}


def _plan_lines(run: Any, **_: Any) -> list[str]:
    out = run.ctx.outputs
    return [f"backup:ListRestoreTestingPlans/GetRestoreTestingPlan/ListRestoreTestingSelections in {out.primaryRegion}",
            "embedded: advance the virtual clock to the plan's next scheduled run (a stand-in backup of the archive "
            f"and index into {out.backupVault} first); AWS: wait for it only with waitForSchedule",
            "backup:ListRestoreJobs(ByRestoreTestingPlanArn)/DescribeRestoreJob; read the restored bucket and table; "
            "backup:PutRestoreValidationResult; wait out the validation window"]


@action("restore-testing-plan", {"waitForSchedule": {"type": "boolean"}}, plan=_plan_lines)
def restore_testing_plan(run: Any, waitForSchedule: bool = False) -> ProbeResult:
    """Let the stack's restore-testing plan run on its schedule; verify, validate and time its jobs."""
    ctx = run.ctx
    out = ctx.outputs
    if not run.state.get("known_good") or not run.state.get("index_before"):
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no pre-drill manifest or index snapshot to verify "
                           "against: run known-good-manifest and index-snapshot first")
    backup = ctx.client("backup", out.primaryRegion)
    try:
        resources = resource_arns(ctx)
        plans = stack_plans(ctx, backup, resources)
    except (ClientError, BotoCoreError) as exc:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"cannot read the restore-testing plans: {exc}")
    output: dict[str, Any] = {"simulated": ctx.clock.simulated, "plans": []}
    if not plans:
        return ProbeResult(Status.NOT_VERIFIED, output, (Finding(
            "restore-testing-plan-missing", Severity.HIGH, out.backupVault,
            f"no AWS Backup restore-testing plan in {out.primaryRegion} tests the archive or the index, or "
            "includes the stack's vault: its backups are never restore-tested",
            {"region": out.primaryRegion},
            remediation="deploy the stack's RestoreTestingPlan and its selections (pulumi up)"),),
            reason="the target runs no restore-testing plan for this stack")
    findings: list[Finding] = []
    covered = {name for plan in plans for name in plan["protects"]}
    for name in _TYPES:
        if name not in covered:
            findings.append(_no_job(out, name, f"no selection of the stack's restore-testing plan(s) "
                                               f"({', '.join(p['name'] for p in plans)}) protects it", plans))
    statuses: list[Status] = []
    reasons: list[str] = []
    deadline = ctx.clock.now() + timedelta(seconds=run.timeout_s)
    for plan in sorted(plans, key=lambda p: (p["next_run"] is None, p["next_run"] or deadline)):
        status, entry, plan_findings, reason = _run_plan(run, backup, plan, resources, waitForSchedule, deadline)
        output["plans"].append(entry)
        findings += plan_findings
        statuses.append(status)
        if reason:
            reasons.append(reason)
    if any(f.code == "restore-testing-no-job" for f in findings) and Status.FAILED not in statuses:
        statuses.append(Status.FAILED)
        reasons.append("a protected resource was not restore-tested by the plan")
    status = (Status.FAILED if Status.FAILED in statuses else
              Status.NOT_VERIFIED if Status.NOT_VERIFIED in statuses else Status.PASSED)
    return ProbeResult(status, output, tuple(findings), reason="; ".join(reasons))


def stack_plans(ctx: Any, backup: Any, resources: dict[str, str]) -> list[dict[str, Any]]:
    """The restore-testing plans of the stack's primary region that protect its archive or index
    (a selection listing its ARN, or ``*`` for its type) or include its vault."""
    vault_arn = backup.describe_backup_vault(BackupVaultName=ctx.outputs.backupVault)["BackupVaultArn"]
    plans = []
    for page in backup.get_paginator("list_restore_testing_plans").paginate():
        for listed in page.get("RestoreTestingPlans", []):
            name = listed["RestoreTestingPlanName"]
            doc = backup.get_restore_testing_plan(RestoreTestingPlanName=name)["RestoreTestingPlan"]
            selections = []
            for spage in backup.get_paginator("list_restore_testing_selections").paginate(RestoreTestingPlanName=name):
                for s in spage.get("RestoreTestingSelections", []):
                    selections.append(backup.get_restore_testing_selection(
                        RestoreTestingPlanName=name,
                        RestoreTestingSelectionName=s["RestoreTestingSelectionName"])["RestoreTestingSelection"])
            windows: dict[str, int] = {}
            for what, arn in resources.items():
                for s in selections:
                    arns = s.get("ProtectedResourceArns") or []
                    if s.get("ProtectedResourceType") == _TYPES[what] and (arn in arns or "*" in arns):
                        windows[what] = max(windows.get(what, 0), int(s.get("ValidationWindowHours") or 24))
            include = (doc.get("RecoveryPointSelection") or {}).get("IncludeVaults") or []
            if not windows and vault_arn not in include:
                continue
            plans.append({"name": name, "arn": doc["RestoreTestingPlanArn"], "doc": doc,
                          "selections": [s["RestoreTestingSelectionName"] for s in selections],
                          "protects": sorted(windows), "validation_hours": windows,
                          "next_run": _next_run(doc, ctx.clock.now())})
    return plans


def _next_run(doc: dict[str, Any], after: datetime) -> datetime | None:
    try:
        cron = aws_cron.parse(doc.get("ScheduleExpression") or "", doc.get("ScheduleExpressionTimezone"))
    except ValueError:
        return None
    return cron.next_after(after)


def _run_plan(run: Any, backup: Any, plan: dict[str, Any], resources: dict[str, str], wait: bool,
              deadline: datetime) -> tuple[Status, dict[str, Any], list[Finding], str | None]:
    ctx = run.ctx
    out = ctx.outputs
    doc = plan["doc"]
    choice = doc.get("RecoveryPointSelection") or {}
    start_window = timedelta(hours=int(doc.get("StartWindowHours") or 24))
    objective = timedelta(hours=float(out.objectives.restoreHours))
    entry: dict[str, Any] = {
        "plan": plan["name"], "schedule": doc.get("ScheduleExpression"),
        "timezone": doc.get("ScheduleExpressionTimezone"), "start_window_hours": start_window.total_seconds() / 3600,
        "algorithm": choice.get("Algorithm"), "selection_window_days": choice.get("SelectionWindowDays"),
        "selections": plan["selections"], "protects": plan["protects"],
        "last_execution": _iso(doc.get("LastExecutionTime")), "jobs": [], "stand_in_backup": None}
    now = ctx.clock.now()
    next_run = plan["next_run"]
    if next_run is None:
        return Status.NOT_VERIFIED, entry, [], f"{plan['name']}: its schedule {doc.get('ScheduleExpression')!r} " \
                                               "has no next run drkit can compute"
    stand_in = ctx.target.simulated
    if stand_in and next_run - now < STAND_IN_LEAD + MARGIN:
        next_run = _next_run(doc, next_run) or next_run        # too close to back up first: the run after
    entry["next_run"] = iso(next_run)
    validation = timedelta(hours=max(plan["validation_hours"].values(), default=24))
    needed_until = next_run + start_window + objective + validation + 2 * MARGIN
    if not ctx.target.simulated and not wait:
        entry["recent_jobs"] = _recent(backup, plan, now)
        return Status.NOT_VERIFIED, entry, [], (
            f"{plan['name']}: on AWS the plan runs next at {iso(next_run)}; the drill did not wait for it "
            "(waitForSchedule: true waits, with a timeout covering the run, its start window and validation window)")
    if needed_until > deadline:
        return Status.NOT_VERIFIED, entry, [], (
            f"{plan['name']}: its next run ({iso(next_run)}) and the windows after it end at {iso(needed_until)}, "
            f"beyond this activity's timeout ({iso(deadline)})")
    if stand_in:
        ctx.clock.wait((next_run - STAND_IN_LEAD - ctx.clock.now()).total_seconds())
        entry["stand_in_backup"] = _stand_in_backup(run, resources, plan["protects"])
    ctx.clock.wait((next_run - ctx.clock.now()).total_seconds() + 60)
    expected = {resources[name]: name for name in plan["protects"]}
    jobs: dict[str, dict[str, Any]] = {}

    def appeared() -> bool:
        for job in _list_jobs(backup, plan["arn"], next_run - timedelta(minutes=1)):
            if job.get("SourceResourceArn") in expected:
                jobs.setdefault(expected[job["SourceResourceArn"]], job)
        return set(jobs) == set(plan["protects"])

    poll(ctx.clock, appeared, timeout_s=(next_run + start_window - ctx.clock.now()).total_seconds(),
         interval_s=300.0)
    findings: list[Finding] = []
    for name in plan["protects"]:
        if name not in jobs:
            findings.append(_no_job(out, name, f"the plan {plan['name']} started no restore job for it within its "
                                               f"{start_window.total_seconds() / 3600:g} h start window after "
                                               f"{iso(next_run)}", [plan]))
    for name, listed in sorted(jobs.items()):
        entry["jobs"].append(_judge_job(run, backup, plan, name, listed, objective, findings))
    _await_deletion(run, plan, entry["jobs"], findings)
    if findings:
        return Status.FAILED, entry, findings, f"{plan['name']}: " + "; ".join(sorted({f.code for f in findings}))
    return Status.PASSED, entry, findings, None


def _stand_in_backup(run: Any, resources: dict[str, str], names: list[str]) -> dict[str, Any]:
    """The embedded cloud runs no backup plan: the daily backup the stack's plan would have taken."""
    ctx = run.ctx
    role = backup_role(ctx)
    done: dict[str, Any] = {"reason": "the embedded cloud does not run backup plans on their schedule: the stack's "
                                      "daily backup, taken by the drill before the scheduled restore test",
                            "at": iso(ctx.clock.now()), "vault": ctx.outputs.backupVault}
    for name in names:
        if role is None:
            done[name] = "no backup role"
            continue
        try:
            done[name] = back_up(ctx, run, resources[name], role).get("State")
        except (ClientError, BotoCoreError) as exc:
            done[name] = f"refused: {_code(exc)}"
    return done


def _judge_job(run: Any, backup: Any, plan: dict[str, Any], name: str, listed: dict[str, Any],
               objective: timedelta, findings: list[Finding]) -> dict[str, Any]:
    ctx = run.ctx
    out = ctx.outputs
    subject = out.archiveBucket if name == "archive" else out.indexTable
    job_id = listed["RestoreJobId"]
    box: dict[str, Any] = {}

    def finished() -> bool:
        box.update(backup.describe_restore_job(RestoreJobId=job_id))
        return box.get("Status") in _DONE

    poll(ctx.clock, finished, timeout_s=max(objective.total_seconds() * 2, 3600.0), interval_s=60.0)
    entry: dict[str, Any] = {"resource": name, "restore_job": job_id, "status": box.get("Status"),
                             "created": _iso(box.get("CreationDate")), "completed": _iso(box.get("CompletionDate")),
                             "created_by_plan": (box.get("CreatedBy") or {}).get("RestoreTestingPlanArn") == plan["arn"],
                             **_point_checks(backup, plan, box)}
    evidence = {"plan": plan["name"], "restore_job": job_id, "resource": name}
    if box.get("Status") != "COMPLETED":
        findings.append(Finding("restore-testing-job-failed", Severity.HIGH, subject,
                                f"the restore-testing plan's job for the {name} ended {box.get('Status')}",
                                {**evidence, "message": (box.get("StatusMessage") or "")[:200]}))
        return entry
    seconds = (box["CompletionDate"] - box["CreationDate"]).total_seconds()
    entry["restore_s"] = seconds
    measure(run, "restore_time", seconds, objective.total_seconds(), resource=name, source="restore-testing-plan",
            plan=plan["name"])
    created = _resource_name(str(box.get("CreatedResourceArn") or ""))
    entry["created_resource"] = created
    if created is None:
        checked: dict[str, Any] = {"error": "the job names no created resource"}
        bad = True
    elif created in _live(ctx):
        findings.append(Finding("restore-testing-targets-live-resource", Severity.CRITICAL, created,
                                f"the restore-testing plan restored the {name} into a live resource", evidence))
        checked, bad = {"error": "restored into a live resource"}, True
    else:
        try:
            checked = verify_bucket(run, box_region(box, out), created) if name == "archive" else \
                verify_table(run, box_region(box, out), created)
            bad = any(checked.get(k) for k in ("missing_keys", "size_mismatch", "hash_mismatch", "index_missing"))
        except (ClientError, BotoCoreError) as exc:
            checked, bad = {"error": f"cannot read the restored {name}: {_code(exc)}"}, True
    entry["verified"] = checked
    if bad:
        findings.append(Finding("restore-testing-restore-incomplete", Severity.CRITICAL, subject,
                                f"the restore-testing plan's restore of the {name} does not match the pre-drill "
                                "manifest", {**evidence, **{k: v for k, v in checked.items() if k != "error"}}))
    verdict = "FAILED" if bad else "SUCCESSFUL"
    message = (f"drkit {ctx.run_id}: " + ", ".join(f"{k} {v}" for k, v in sorted(checked.items())))[:1000]
    try:
        backup.put_restore_validation_result(RestoreJobId=job_id, ValidationStatus=verdict,
                                             ValidationStatusMessage=message)
        entry["validation"] = backup.describe_restore_job(RestoreJobId=job_id).get("ValidationStatus")
    except (ClientError, BotoCoreError) as exc:
        entry["validation"] = f"refused: {_code(exc)}"
    entry["validation_posted"] = verdict
    if entry["validation"] != verdict:
        findings.append(Finding("restore-testing-validation-not-recorded", Severity.MEDIUM, subject,
                                f"the validation result for the {name}'s restore-testing job was not recorded",
                                {**evidence, "validation": str(entry["validation"])}))
    return entry


def _await_deletion(run: Any, plan: dict[str, Any], jobs: list[dict[str, Any]], findings: list[Finding]) -> None:
    """After ``ValidationWindowHours`` AWS Backup deletes what the plan restored: it must be gone."""
    ctx = run.ctx
    out = ctx.outputs
    done = [j for j in jobs if j.get("created_resource") and j.get("completed")
            and j["created_resource"] not in _live(ctx)]
    if not done:
        return
    backup = ctx.client("backup", out.primaryRegion)
    due = max(_parse(j["completed"]) + timedelta(hours=plan["validation_hours"].get(j["resource"], 24))
              for j in done) + MARGIN
    ctx.clock.wait((due - ctx.clock.now()).total_seconds())
    for job in done:
        try:
            doc = backup.describe_restore_job(RestoreJobId=job["restore_job"])
        except (ClientError, BotoCoreError) as exc:
            doc = {"DeletionStatusMessage": f"DescribeRestoreJob refused: {_code(exc)}"}
        gone = _gone(ctx, job["resource"], job["created_resource"])
        job["deletion"] = {"status": doc.get("DeletionStatus"), "resource_gone": gone}
        if doc.get("DeletionStatus") != "SUCCESSFUL" or gone is not True:
            findings.append(Finding(
                "restore-testing-not-deleted", Severity.MEDIUM, job["created_resource"],
                f"the {job['resource']} restored by the restore-testing plan still exists (or its deletion did not "
                f"succeed) {plan['validation_hours'].get(job['resource'], 24)} h after the job completed",
                {"plan": plan["name"], "deletion_status": doc.get("DeletionStatus"), "resource_gone": gone,
                 "message": (doc.get("DeletionStatusMessage") or "")[:200]}))


def _gone(ctx: Any, name: str, created: str) -> bool | None:
    region = ctx.outputs.primaryRegion
    try:
        if name == "archive":
            ctx.client("s3", region).head_bucket(Bucket=created)
        else:
            ctx.client("dynamodb", region).describe_table(TableName=created)
    except ClientError as exc:
        return _code(exc) in ("404", "NoSuchBucket", "ResourceNotFoundException")
    except BotoCoreError:
        return None
    return False


def _point_checks(backup: Any, plan: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Was the restored recovery point within the selection window (and the latest, for LATEST)?"""
    choice = plan["doc"].get("RecoveryPointSelection") or {}
    created, started = job.get("RecoveryPointCreationDate"), job.get("CreationDate")
    if not isinstance(created, datetime) or not isinstance(started, datetime):
        return {"recovery_point_in_window": None}
    window = timedelta(days=int(choice.get("SelectionWindowDays") or 30))
    result: dict[str, Any] = {"recovery_point_created": iso(created),
                              "recovery_point_in_window": started - window <= created <= started}
    if choice.get("Algorithm") == "LATEST_WITHIN_WINDOW" and job.get("SourceResourceArn"):
        include = choice.get("IncludeVaults") or []
        try:
            points = [p for page in backup.get_paginator("list_recovery_points_by_resource").paginate(
                ResourceArn=job["SourceResourceArn"]) for p in page.get("RecoveryPoints", [])]
        except (ClientError, BotoCoreError):
            return result
        vaults = {arn.rsplit(":", 1)[-1] for arn in include}      # the listing names vaults, in this region
        eligible = [p for p in points if p.get("CreationDate") and started - window <= p["CreationDate"] <= started
                    and ("*" in include or p.get("BackupVaultName") in vaults)]
        latest = max(eligible, key=lambda p: p["CreationDate"], default=None)
        result["latest_in_window"] = latest is not None and latest.get("RecoveryPointArn") == job.get("RecoveryPointArn")
    return result


def _recent(backup: Any, plan: dict[str, Any], now: datetime) -> dict[str, int]:
    """Statuses of the plan's jobs over its selection window (observed, not verified)."""
    days = int((plan["doc"].get("RecoveryPointSelection") or {}).get("SelectionWindowDays") or 30)
    counts: dict[str, int] = {}
    try:
        for job in _list_jobs(backup, plan["arn"], now - timedelta(days=days)):
            key = f"{job.get('Status')}/{job.get('ValidationStatus') or 'not validated'}"
            counts[key] = counts.get(key, 0) + 1
    except (ClientError, BotoCoreError) as exc:
        return {f"unreadable: {_code(exc)}": 0}
    return counts


def _list_jobs(backup: Any, plan_arn: str, after: datetime) -> list[dict[str, Any]]:
    return [j for page in backup.get_paginator("list_restore_jobs").paginate(
        ByRestoreTestingPlanArn=plan_arn, ByCreatedAfter=after) for j in page.get("RestoreJobs", [])]


def _no_job(out: Any, name: str, why: str, plans: list[dict[str, Any]]) -> Finding:
    subject = out.archiveBucket if name == "archive" else out.indexTable
    return Finding("restore-testing-no-job", Severity.HIGH, subject,
                   f"the {name} was not restore-tested: {why}",
                   {"resource": name, "plan": plans[0]["name"] if len(plans) == 1 else None,
                    "plans": [p["name"] for p in plans]},
                   remediation="restore the plan's RestoreTestingSelection for it (pulumi up) and check that the "
                               "plan's IncludeVaults and SelectionWindowDays reach the vault's recovery points")


def _resource_name(arn: str) -> str | None:
    if arn.startswith("arn:aws:s3:::") and arn[13:] and "/" not in arn[13:]:
        return arn[13:]
    parts = arn.split(":")
    if len(parts) == 6 and parts[2] == "dynamodb" and parts[5].startswith("table/"):
        return parts[5][6:].split("/")[0] or None
    return None


def box_region(job: dict[str, Any], out: Any) -> str:
    """The region a restore job wrote into: its vault's (a restore lands in the vault's region)."""
    arn = str(job.get("BackupVaultArn") or "")
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else out.primaryRegion


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


def _iso(value: Any) -> str | None:
    return iso(value) if isinstance(value, datetime) else None


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))

