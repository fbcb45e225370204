"""AWS Backup restore testing in virtual time (drills.cloud.sim.restore_testing)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from drills import aws_cron

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/drkit-backup"
WEEKLY = "cron(0 6 ? * 1 *)"          # Sundays 06:00 UTC, as the stack declares


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


@pytest.fixture
def setup(cloud, client, s3, bucket_name):
    """A versioned bucket with two objects, a vault, one completed backup; a plan + selection."""
    backup = client("backup", REGION)
    bucket = bucket_name("archive")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="dicom/1.dcm", Body=b"one")
    s3.put_object(Bucket=bucket, Key="dicom/2.dcm", Body=b"two")
    vault = backup.create_backup_vault(BackupVaultName="vault")["BackupVaultArn"]
    backup.start_backup_job(BackupVaultName="vault", ResourceArn=f"arn:aws:s3:::{bucket}", IamRoleArn=ROLE)
    cloud.clock.advance(timedelta(hours=2))
    plan = backup.create_restore_testing_plan(RestoreTestingPlan={
        "RestoreTestingPlanName": "weekly", "ScheduleExpression": WEEKLY, "StartWindowHours": 24,
        "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": [vault],
                                   "RecoveryPointTypes": ["SNAPSHOT"], "SelectionWindowDays": 7}})
    backup.create_restore_testing_selection(RestoreTestingPlanName="weekly", RestoreTestingSelection={
        "RestoreTestingSelectionName": "archive", "ProtectedResourceType": "S3", "IamRoleArn": ROLE,
        "ProtectedResourceArns": [f"arn:aws:s3:::{bucket}"], "ValidationWindowHours": 24})
    return backup, bucket, plan["RestoreTestingPlanArn"]


def _next_run(cloud) -> datetime:
    return aws_cron.parse(WEEKLY).next_after(cloud.clock.now())


def test_plan_and_selection_are_stored_as_declared(setup):
    """CreateRestoreTestingPlan / Selection store what was given, with AWS's defaults.
    https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateRestoreTestingPlan.html"""
    backup, bucket, arn = setup
    plan = backup.get_restore_testing_plan(RestoreTestingPlanName="weekly")["RestoreTestingPlan"]
    assert plan["RestoreTestingPlanArn"] == arn and plan["ScheduleExpression"] == WEEKLY
    assert plan["RecoveryPointSelection"]["SelectionWindowDays"] == 7
    assert [p["RestoreTestingPlanName"] for p in backup.list_restore_testing_plans()["RestoreTestingPlans"]] == ["weekly"]
    selection = backup.get_restore_testing_selection(RestoreTestingPlanName="weekly",
                                                     RestoreTestingSelectionName="archive")["RestoreTestingSelection"]
    assert selection["ProtectedResourceArns"] == [f"arn:aws:s3:::{bucket}"] and selection["ValidationWindowHours"] == 24
    with pytest.raises(ClientError) as err:
        backup.delete_restore_testing_plan(RestoreTestingPlanName="weekly")
    assert _code(err) == "InvalidRequestException"
    with pytest.raises(ClientError) as err:
        backup.create_restore_testing_plan(RestoreTestingPlan={
            "RestoreTestingPlanName": "weekly", "ScheduleExpression": WEEKLY,
            "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": ["*"],
                                       "RecoveryPointTypes": ["SNAPSHOT"]}})
    assert _code(err) == "AlreadyExistsException"


def test_bad_plans_are_refused(setup):
    backup, _, _ = setup
    for spec, needle in (({"ScheduleExpression": "rate(7 days)"}, "cron("),
                         ({"ScheduleExpression": "cron(0 6 * * 1 *)"}, "'?'"),
                         ({"RecoveryPointSelection": {"Algorithm": "OLDEST", "IncludeVaults": ["*"],
                                                      "RecoveryPointTypes": ["SNAPSHOT"]}}, "Algorithm")):
        document = {"RestoreTestingPlanName": "bad", "ScheduleExpression": WEEKLY,
                    "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": ["*"],
                                               "RecoveryPointTypes": ["SNAPSHOT"]}, **spec}
        with pytest.raises(ClientError) as err:
            backup.create_restore_testing_plan(RestoreTestingPlan=document)
        assert _code(err) == "InvalidParameterValueException" and needle in str(err.value), spec


def test_the_plan_runs_on_schedule_restores_validates_and_cleans_up(cloud, s3, setup):
    """On its cron schedule the plan restores the latest recovery point within the window
    into a new bucket (a restore job CreatedBy the plan); PutRestoreValidationResult
    records the validation; the restored bucket is deleted when the validation window ends.
    https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html
    https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html"""
    backup, bucket, plan_arn = setup
    due = _next_run(cloud)
    cloud.clock.advance_to(due - timedelta(minutes=1))
    assert backup.list_restore_jobs(ByRestoreTestingPlanArn=plan_arn)["RestoreJobs"] == []
    cloud.clock.advance_to(due + timedelta(hours=1))
    (job,) = backup.list_restore_jobs(ByRestoreTestingPlanArn=plan_arn)["RestoreJobs"]
    assert job["CreatedBy"]["RestoreTestingPlanArn"] == plan_arn and job["Status"] == "COMPLETED"
    assert due <= job["CreationDate"] <= due + timedelta(hours=24)           # inside the start window
    restored = job["CreatedResourceArn"].split(":::", 1)[1]
    assert restored.startswith("awsbackup-restore-test-")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=restored)["Contents"])
    assert keys == ["dicom/1.dcm", "dicom/2.dcm"]
    plan = backup.get_restore_testing_plan(RestoreTestingPlanName="weekly")["RestoreTestingPlan"]
    assert plan["LastExecutionTime"] == due

    backup.put_restore_validation_result(RestoreJobId=job["RestoreJobId"], ValidationStatus="SUCCESSFUL",
                                         ValidationStatusMessage="2 objects, checksums match")
    described = backup.describe_restore_job(RestoreJobId=job["RestoreJobId"])
    assert described["ValidationStatus"] == "SUCCESSFUL"
    assert "DeletionStatus" not in described

    cloud.clock.advance(timedelta(hours=24))
    assert backup.describe_restore_job(RestoreJobId=job["RestoreJobId"])["DeletionStatus"] == "SUCCESSFUL"
    assert restored not in {b["Name"] for b in s3.list_buckets()["Buckets"]}

    backup.start_backup_job(BackupVaultName="vault", ResourceArn=f"arn:aws:s3:::{bucket}", IamRoleArn=ROLE)
    cloud.clock.advance_to(_next_run(cloud) + timedelta(hours=1))             # and again the next week
    assert len(backup.list_restore_jobs(ByRestoreTestingPlanArn=plan_arn)["RestoreJobs"]) == 2


def test_no_recovery_point_within_the_window_starts_no_job(cloud, setup):
    """Only recovery points created within SelectionWindowDays are candidates.
    https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingRecoveryPointSelection.html"""
    backup, _, plan_arn = setup
    cloud.clock.advance(timedelta(days=8))                      # the only backup is now 8 days old
    before = len(backup.list_restore_jobs(ByRestoreTestingPlanArn=plan_arn)["RestoreJobs"])
    cloud.clock.advance_to(_next_run(cloud) + timedelta(hours=1))
    assert len(backup.list_restore_jobs(ByRestoreTestingPlanArn=plan_arn)["RestoreJobs"]) == before
    assert cloud.sim["restore_testing"].status()["skipped"][-1]["reason"] == "no recovery point within the window"


def test_validation_result_only_for_restore_testing_jobs(cloud, setup):
    backup, bucket, _ = setup
    point = backup.list_recovery_points_by_backup_vault(BackupVaultName="vault")["RecoveryPoints"][0]
    job_id = backup.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"], IamRoleArn=ROLE,
                                      Metadata={"DestinationBucketName": "manual-restore-x", "NewBucket": "true"})[
        "RestoreJobId"]
    cloud.clock.advance(timedelta(hours=1))
    with pytest.raises(ClientError) as err:
        backup.put_restore_validation_result(RestoreJobId=job_id, ValidationStatus="SUCCESSFUL")
    assert _code(err) == "InvalidRequestException"
