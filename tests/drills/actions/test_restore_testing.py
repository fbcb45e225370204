"""``restore-testing-plan`` where the target does not (or not yet) run the plan: never a pass.

Over boto3-shaped stubs (the end-to-end path on the embedded cloud is in test_loss_drills.py).
AWS Backup restore testing: https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html —
a plan runs on its cron ``ScheduleExpression`` and starts its jobs within ``StartWindowHours``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import drills.actions.restore_testing as rt
from drills.actions.restore_testing import restore_testing_plan
from drills.engine.model import Status
from tests.drills.engine.conftest import FakeClock, outputs

VAULT = "arn:aws:backup:us-east-1:123456789012:backup-vault:drkit-test-backupvault"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/drkit-test-indextable"
PLAN = {"RestoreTestingPlanName": "p", "RestoreTestingPlanArn": "arn:aws:backup:us-east-1:1:restore-testing-plan:p",
        "ScheduleExpression": "cron(0 6 ? * 1 *)", "StartWindowHours": 24,
        "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": [VAULT],
                                   "RecoveryPointTypes": ["SNAPSHOT"], "SelectionWindowDays": 7}}
SELECTIONS = {"archive": {"RestoreTestingSelectionName": "archive", "ProtectedResourceType": "S3",
                          "ProtectedResourceArns": ["arn:aws:s3:::drkit-test-archivebucket"],
                          "ValidationWindowHours": 24},
              "index": {"RestoreTestingSelectionName": "index", "ProtectedResourceType": "DynamoDB",
                        "ProtectedResourceArns": [TABLE], "ValidationWindowHours": 24}}


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self.pages


class FakeBackup:
    def __init__(self, plans: list[dict[str, Any]], selections: dict[str, dict[str, Any]]) -> None:
        self.plans, self.selections = plans, selections
        self.calls: list[str] = []

    def describe_backup_vault(self, **_: Any) -> dict[str, Any]:
        return {"BackupVaultArn": VAULT}

    def get_paginator(self, name: str) -> _Pages:
        self.calls.append(name)
        return _Pages({"list_restore_testing_plans": [{"RestoreTestingPlans": self.plans}],
                       "list_restore_testing_selections": [{"RestoreTestingSelections": list(self.selections.values())}],
                       "list_restore_jobs": [{"RestoreJobs": []}]}[name])

    def get_restore_testing_plan(self, **_: Any) -> dict[str, Any]:
        return {"RestoreTestingPlan": PLAN}

    def get_restore_testing_selection(self, RestoreTestingSelectionName: str, **_: Any) -> dict[str, Any]:
        return {"RestoreTestingSelection": self.selections[RestoreTestingSelectionName]}

    def __getattr__(self, name: str) -> Any:            # anything else would change the cloud
        raise AssertionError(f"unexpected call {name}")


def _run(backup: FakeBackup, *, simulated: bool, timeout: float = 600.0) -> Any:
    clock = FakeClock()
    clock.simulated = simulated
    dynamodb = SimpleNamespace(describe_table=lambda **_: {"Table": {"TableArn": TABLE}})
    ctx = SimpleNamespace(outputs=outputs(), clock=clock, target=SimpleNamespace(simulated=simulated),
                          run_id="20260101T000000Z-abcdef",
                          client=lambda service, region: backup if service == "backup" else dynamodb)
    return SimpleNamespace(ctx=ctx, state={"known_good": [{"key": "k"}], "index_before": {("s", "k"): {}}},
                           timeout_s=timeout, measure=lambda m: None)


def test_no_plan_for_the_stack_is_not_verified_with_a_finding_naming_the_vault() -> None:
    result = restore_testing_plan(_run(FakeBackup([], {}), simulated=True))
    assert result.status is Status.NOT_VERIFIED
    (finding,) = result.findings
    assert finding.code == "restore-testing-plan-missing" and finding.resource == "drkit-test-backupvault"


def test_on_aws_without_waiting_for_the_schedule_the_plan_is_not_verified() -> None:
    backup = FakeBackup([PLAN], SELECTIONS)
    result = restore_testing_plan(_run(backup, simulated=False), waitForSchedule=False)
    assert result.status is Status.NOT_VERIFIED and not result.findings
    assert "did not wait" in result.reason and "waitForSchedule" in result.reason
    (plan,) = result.output["plans"]
    assert plan["next_run"] == "2026-01-04T06:00:00.000Z"          # the first Sunday 06:00 UTC after 1 Jan 2026
    assert plan["protects"] == ["archive", "index"] and plan["jobs"] == []


def test_a_schedule_beyond_the_activity_timeout_is_not_verified_not_waited_for() -> None:
    run = _run(FakeBackup([PLAN], SELECTIONS), simulated=False, timeout=3600.0)
    result = restore_testing_plan(run, waitForSchedule=True)
    assert result.status is Status.NOT_VERIFIED and "beyond this activity's timeout" in result.reason
    assert run.ctx.clock.waited == []


def test_a_protected_resource_without_a_selection_is_a_finding_naming_it() -> None:
    backup = FakeBackup([PLAN], {"index": SELECTIONS["index"]})
    result = restore_testing_plan(_run(backup, simulated=False), waitForSchedule=False)
    assert result.status is Status.FAILED
    (finding,) = result.findings
    assert finding.code == "restore-testing-no-job" and finding.resource == "drkit-test-archivebucket"
    assert finding.evidence["plan"] == "p"


def test_without_the_pre_drill_manifest_nothing_is_verified() -> None:
    run = _run(FakeBackup([PLAN], SELECTIONS), simulated=True)
    run.state = {}
    assert restore_testing_plan(run).status is Status.NOT_VERIFIED


def test_a_restore_that_does_not_match_the_manifest_is_validated_failed_with_a_finding(monkeypatch) -> None:
    """PutRestoreValidationResult FAILED with the reason
    (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html)."""
    created = datetime(2026, 1, 4, 6, tzinfo=timezone.utc)
    job = {"RestoreJobId": "j1", "Status": "COMPLETED", "CreationDate": created,
           "CompletionDate": created + timedelta(minutes=12), "RecoveryPointCreationDate": created - timedelta(hours=2),
           "CreatedResourceArn": "arn:aws:s3:::awsbackup-restore-test-abc", "BackupVaultArn": VAULT,
           "CreatedBy": {"RestoreTestingPlanArn": PLAN["RestoreTestingPlanArn"]}}
    posted: dict[str, Any] = {}

    class Backup(FakeBackup):
        def describe_restore_job(self, **_: Any) -> dict[str, Any]:
            return {**job, "ValidationStatus": posted.get("ValidationStatus")}

        def put_restore_validation_result(self, **kwargs: Any) -> None:
            posted.update(kwargs)

    monkeypatch.setattr(rt, "verify_bucket", lambda run, region, bucket: {
        "expected_keys": 5, "restored_keys": 4, "missing_keys": 1, "size_mismatch": 0, "hashed": 1,
        "hash_mismatch": 0})
    measured = []
    run = _run(Backup([PLAN], SELECTIONS), simulated=True)
    run.measure = measured.append
    run.ctx.outputs = outputs()
    plan = {"name": "p", "arn": PLAN["RestoreTestingPlanArn"], "doc": PLAN, "validation_hours": {"archive": 24}}
    findings: list = []
    entry = rt._judge_job(run, run.ctx.client("backup", "us-east-1"), plan, "archive", {"RestoreJobId": "j1"},
                          timedelta(hours=4), findings)
    assert posted["ValidationStatus"] == "FAILED" and "missing_keys 1" in posted["ValidationStatusMessage"]
    assert entry["validation"] == "FAILED" and entry["restore_s"] == 720.0
    (finding,) = findings
    assert finding.code == "restore-testing-restore-incomplete" and finding.resource == "drkit-test-archivebucket"
    assert finding.severity.value == "critical" and finding.evidence["missing_keys"] == 1
    (measurement,) = measured
    assert measurement.name == "restore_time" and measurement.met is True and measurement.simulated
