"""AWS Backup jobs, recovery points, copies, restores and vault lock (drills.cloud.sim.backup)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError

PRIMARY, DR = "us-east-1", "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/drkit-backup"
ACCOUNT = "123456789012"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def backup(client):
    return client("backup", PRIMARY)


@pytest.fixture
def vault(backup, bucket_name) -> str:
    name = bucket_name("vault")[:40]
    backup.create_backup_vault(BackupVaultName=name)
    return name


@pytest.fixture
def archive(s3, bucket_name) -> dict[str, bytes]:
    """A versioned bucket with three objects; returns {"bucket": name, key: bytes...}."""
    name = bucket_name("archive")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    objects = {"dicom/1.2.3/1.dcm": b"first" * 1000, "dicom/1.2.3/2.dcm": b"second" * 2000,
               "dicom/4.5.6/1.dcm": b"third"}
    s3.put_object(Bucket=name, Key="dicom/1.2.3/1.dcm", Body=b"an older version")
    for key, body in objects.items():
        s3.put_object(Bucket=name, Key=key, Body=body, Metadata={"study": key.split("/")[1]},
                      ContentType="application/dicom", Tagging="drkit-specialty=radiology",
                      ChecksumAlgorithm="SHA256")
    return {"bucket": name, **objects}


def _start(backup, vault: str, bucket: str, **kwargs) -> dict:
    return backup.start_backup_job(BackupVaultName=vault, ResourceArn=f"arn:aws:s3:::{bucket}",
                                   IamRoleArn=ROLE, **kwargs)


def _restore(backup, point_arn: str, bucket: str, *, new_bucket: bool, **kwargs) -> str:
    metadata = {"DestinationBucketName": bucket, "NewBucket": "true" if new_bucket else "false"}
    return backup.start_restore_job(RecoveryPointArn=point_arn, IamRoleArn=ROLE, Metadata=metadata,
                                    **kwargs)["RestoreJobId"]


def _finish_jobs(cloud, hours: float = 2) -> None:
    cloud.clock.advance(timedelta(hours=hours))


def _current_objects(s3, bucket: str) -> dict[str, str]:
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            out[item["Key"]] = _sha(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return out


def test_backup_job_progresses_to_a_recovery_point(cloud, backup, vault, archive):
    bucket = archive["bucket"]
    started = _start(backup, vault, bucket, Lifecycle={"DeleteAfterDays": 35})
    job_id = started["BackupJobId"]
    assert isinstance(started["CreationDate"], datetime)
    assert backup.describe_backup_job(BackupJobId=job_id)["State"] == "CREATED"

    cloud.clock.advance(61)
    job = backup.describe_backup_job(BackupJobId=job_id)
    assert job["State"] == "RUNNING"
    assert backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"] == []

    cloud.clock.advance_to(job["ExpectedCompletionDate"])
    job = backup.describe_backup_job(BackupJobId=job_id)
    assert job["State"] == "COMPLETED" and job["PercentDone"] == "100.0"
    expected_size = sum(len(v) for k, v in archive.items() if k != "bucket") + len(b"an older version")
    assert job["BackupSizeInBytes"] == expected_size
    assert job["ResourceType"] == "S3"

    (point,) = backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]
    assert point["RecoveryPointArn"] == started["RecoveryPointArn"]
    assert point["ResourceArn"] == f"arn:aws:s3:::{bucket}"
    described = backup.describe_recovery_point(BackupVaultName=vault, RecoveryPointArn=point["RecoveryPointArn"])
    assert described["Status"] == "COMPLETED"
    assert described["CalculatedLifecycle"]["DeleteAt"] - described["CreationDate"] == timedelta(days=35)
    assert backup.describe_backup_vault(BackupVaultName=vault)["NumberOfRecoveryPoints"] == 1
    by_resource = backup.list_recovery_points_by_resource(ResourceArn=f"arn:aws:s3:::{bucket}")["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in by_resource] == [point["RecoveryPointArn"]]
    listed = backup.list_backup_jobs(ByState="COMPLETED", ByBackupVaultName=vault)["BackupJobs"]
    assert [j["BackupJobId"] for j in listed] == [job_id]
    status = cloud.sim["backup"].status()
    assert status["label"] == "simulated"
    assert f"{PRIMARY}/{vault}" in status["recoveryPointsByVault"]


def test_restore_gives_the_snapshot_byte_for_byte(cloud, s3, backup, vault, archive, bucket_name):
    bucket = archive["bucket"]
    expected = {k: _sha(v) for k, v in archive.items() if k != "bucket"}
    point_arn = _start(backup, vault, bucket)["RecoveryPointArn"]
    # Changes after the job started are not in the recovery point.
    s3.put_object(Bucket=bucket, Key="dicom/1.2.3/1.dcm", Body=b"overwritten")
    s3.delete_object(Bucket=bucket, Key="dicom/4.5.6/1.dcm")
    s3.put_object(Bucket=bucket, Key="dicom/7.8.9/1.dcm", Body=b"new")
    _finish_jobs(cloud)
    s3.put_object(Bucket=bucket, Key="dicom/1.2.3/2.dcm", Body=b"changed later")

    target = bucket_name("restored")
    restore_id = _restore(backup, point_arn, target, new_bucket=True, ResourceType="S3")
    job = backup.describe_restore_job(RestoreJobId=restore_id)
    assert job["Status"] == "PENDING" and job["ExpectedCompletionTimeMinutes"] >= 10
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=target)                      # nothing before the job runs
    _finish_jobs(cloud)
    job = backup.describe_restore_job(RestoreJobId=restore_id)
    assert job["Status"] == "COMPLETED", job.get("StatusMessage")
    assert job["CreatedResourceArn"] == f"arn:aws:s3:::{target}"

    assert _current_objects(s3, target) == expected
    assert s3.get_bucket_versioning(Bucket=target)["Status"] == "Enabled"
    head = s3.head_object(Bucket=target, Key="dicom/1.2.3/2.dcm", ChecksumMode="ENABLED")
    assert head["Metadata"] == {"study": "1.2.3"}
    assert head["ContentType"] == "application/dicom"
    assert "ChecksumSHA256" in head
    assert s3.get_object_tagging(Bucket=target, Key="dicom/1.2.3/2.dcm")["TagSet"] == [
        {"Key": "drkit-specialty", "Value": "radiology"}]
    versions = s3.list_object_versions(Bucket=target, Prefix="dicom/1.2.3/1.dcm")["Versions"]
    assert len(versions) == 2                               # the older version came back too
    last = backup.describe_recovery_point(BackupVaultName=vault, RecoveryPointArn=point_arn)
    assert "LastRestoreTime" in last


def test_restore_into_an_existing_bucket_skips_older_versions(cloud, s3, backup, vault, archive):
    bucket = archive["bucket"]
    point_arn = _start(backup, vault, bucket)["RecoveryPointArn"]
    _finish_jobs(cloud)
    s3.put_object(Bucket=bucket, Key="dicom/1.2.3/1.dcm", Body=b"newer than the backup")
    s3.delete_object(Bucket=bucket, Key="dicom/4.5.6/1.dcm")
    restore_id = _restore(backup, point_arn, bucket, new_bucket=False)
    _finish_jobs(cloud)
    assert backup.describe_restore_job(RestoreJobId=restore_id)["Status"] == "COMPLETED"
    body = s3.get_object(Bucket=bucket, Key="dicom/1.2.3/1.dcm")["Body"].read()
    assert body == b"newer than the backup"
    assert s3.get_object(Bucket=bucket, Key="dicom/4.5.6/1.dcm")["Body"].read() == archive["dicom/4.5.6/1.dcm"]


def test_new_bucket_restore_fails_if_the_bucket_exists(cloud, backup, vault, archive):
    point_arn = _start(backup, vault, archive["bucket"])["RecoveryPointArn"]
    _finish_jobs(cloud)
    restore_id = _restore(backup, point_arn, archive["bucket"], new_bucket=True)
    _finish_jobs(cloud)
    job = backup.describe_restore_job(RestoreJobId=restore_id)
    assert job["Status"] == "FAILED" and "already exists" in job["StatusMessage"]


def test_backup_of_an_unversioned_bucket_fails(cloud, s3, backup, vault, bucket_name):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    job_id = _start(backup, vault, name)["BackupJobId"]
    _finish_jobs(cloud)
    job = backup.describe_backup_job(BackupJobId=job_id)
    assert job["State"] == "FAILED" and "Versioning" in job["StatusMessage"]
    assert backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"] == []


def _dr_vault(client, name: str) -> str:
    return client("backup", DR).create_backup_vault(BackupVaultName=name)["BackupVaultArn"]


def test_copy_job_to_the_dr_vault_and_restore_there(cloud, client, s3, backup, vault, archive, bucket_name):
    dr_arn = _dr_vault(client, vault)
    point_arn = _start(backup, vault, archive["bucket"], Lifecycle={"DeleteAfterDays": 60})["RecoveryPointArn"]
    _finish_jobs(cloud)
    copy_id = backup.start_copy_job(RecoveryPointArn=point_arn, SourceBackupVaultName=vault,
                                    DestinationBackupVaultArn=dr_arn, IamRoleArn=ROLE)["CopyJobId"]
    assert backup.describe_copy_job(CopyJobId=copy_id)["CopyJob"]["State"] == "CREATED"
    _finish_jobs(cloud)
    copy = backup.describe_copy_job(CopyJobId=copy_id)["CopyJob"]
    assert copy["State"] == "COMPLETED"
    dr = client("backup", DR)
    (point,) = dr.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]
    assert point["RecoveryPointArn"] == copy["DestinationRecoveryPointArn"]
    assert point["RecoveryPointArn"].startswith(f"arn:aws:backup:{DR}:")
    assert point["SourceBackupVaultArn"].endswith(f"backup-vault:{vault}")
    assert point["Lifecycle"] == {"DeleteAfterDays": 60}
    assert [j["CopyJobId"] for j in backup.list_copy_jobs(ByDestinationVaultArn=dr_arn)["CopyJobs"]] == [copy_id]

    target = bucket_name("dr-restored")
    restore_id = _restore(dr, point["RecoveryPointArn"], target, new_bucket=True)
    _finish_jobs(cloud)
    assert dr.describe_restore_job(RestoreJobId=restore_id)["Status"] == "COMPLETED"
    assert s3.get_bucket_location(Bucket=target)["LocationConstraint"] == DR
    expected = {k: _sha(v) for k, v in archive.items() if k != "bucket"}
    assert _current_objects(client("s3", DR), target) == expected


def test_copy_fails_while_the_dr_region_is_down(cloud, client, backup, vault, archive):
    dr_arn = _dr_vault(client, vault)
    point_arn = _start(backup, vault, archive["bucket"])["RecoveryPointArn"]
    _finish_jobs(cloud)
    cloud.sim["outage"].take_down(DR)
    copy_id = backup.start_copy_job(RecoveryPointArn=point_arn, SourceBackupVaultName=vault,
                                    DestinationBackupVaultArn=dr_arn, IamRoleArn=ROLE)["CopyJobId"]
    _finish_jobs(cloud)
    copy = backup.describe_copy_job(CopyJobId=copy_id)["CopyJob"]
    assert copy["State"] == "FAILED" and DR in copy["StatusMessage"]
    assert cloud.sim["backup"].status()["recoveryPointsByVault"].get(f"{DR}/{vault}") is None

    cloud.sim["outage"].bring_up(DR)                      # a new copy after recovery succeeds
    retry = backup.start_copy_job(RecoveryPointArn=point_arn, SourceBackupVaultName=vault,
                                  DestinationBackupVaultArn=dr_arn, IamRoleArn=ROLE)["CopyJobId"]
    _finish_jobs(cloud)
    assert backup.describe_copy_job(CopyJobId=retry)["CopyJob"]["State"] == "COMPLETED"


def test_backup_job_fails_if_its_region_goes_down_while_running(cloud, backup, vault, archive):
    job_id = _start(backup, vault, archive["bucket"])["BackupJobId"]
    cloud.sim["outage"].take_down(PRIMARY)
    _finish_jobs(cloud)
    cloud.sim["outage"].bring_up(PRIMARY)
    job = backup.describe_backup_job(BackupJobId=job_id)
    assert job["State"] == "FAILED" and "outage" in job["StatusMessage"]


def test_copy_to_a_missing_vault_fails(cloud, backup, vault, archive):
    point_arn = _start(backup, vault, archive["bucket"])["RecoveryPointArn"]
    _finish_jobs(cloud)
    copy_id = backup.start_copy_job(RecoveryPointArn=point_arn, SourceBackupVaultName=vault,
                                    DestinationBackupVaultArn=f"arn:aws:backup:{DR}:{ACCOUNT}:backup-vault:nope",
                                    IamRoleArn=ROLE)["CopyJobId"]
    _finish_jobs(cloud)
    assert backup.describe_copy_job(CopyJobId=copy_id)["CopyJob"]["State"] == "FAILED"


def test_compliance_locked_vault_refuses_deletions(cloud, backup, vault, archive):
    backup.put_backup_vault_lock_configuration(BackupVaultName=vault, MinRetentionDays=7, MaxRetentionDays=365,
                                               ChangeableForDays=3)
    point_arn = _start(backup, vault, archive["bucket"], Lifecycle={"DeleteAfterDays": 30})["RecoveryPointArn"]
    _finish_jobs(cloud)
    with pytest.raises(ClientError) as err:
        backup.delete_recovery_point(BackupVaultName=vault, RecoveryPointArn=point_arn)
    assert _code(err) == "InvalidRequestException"
    with pytest.raises(ClientError) as err:
        backup.delete_backup_vault(BackupVaultName=vault)
    assert _code(err) == "InvalidRequestException"
    assert "contains recovery points" in err.value.response["Error"]["Message"]

    cloud.clock.advance(timedelta(days=3))                  # the cooling-off period ends: compliance mode
    with pytest.raises(ClientError) as err:
        backup.delete_backup_vault_lock_configuration(BackupVaultName=vault)
    assert _code(err) == "InvalidRequestException"
    with pytest.raises(ClientError) as err:
        backup.put_backup_vault_lock_configuration(BackupVaultName=vault, MinRetentionDays=1)
    assert _code(err) == "InvalidRequestException"

    cloud.clock.advance(timedelta(days=28))                 # retention over: AWS Backup deletes it
    assert backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"] == []
    with pytest.raises(ClientError) as err:
        backup.delete_backup_vault(BackupVaultName=vault)
    assert _code(err) == "InvalidRequestException"
    assert backup.describe_backup_vault(BackupVaultName=vault)["BackupVaultName"] == vault


def test_lock_can_be_removed_during_the_cooling_off_period(cloud, backup, vault):
    backup.put_backup_vault_lock_configuration(BackupVaultName=vault, MinRetentionDays=7, ChangeableForDays=3)
    cloud.clock.advance(timedelta(days=2))
    backup.delete_backup_vault_lock_configuration(BackupVaultName=vault)
    backup.delete_backup_vault(BackupVaultName=vault)


def test_governance_lock_is_removable(cloud, backup, vault, archive):
    backup.put_backup_vault_lock_configuration(BackupVaultName=vault, MinRetentionDays=1)
    point_arn = _start(backup, vault, archive["bucket"], Lifecycle={"DeleteAfterDays": 30})["RecoveryPointArn"]
    _finish_jobs(cloud)
    with pytest.raises(ClientError) as err:
        backup.delete_recovery_point(BackupVaultName=vault, RecoveryPointArn=point_arn)
    assert _code(err) == "InvalidRequestException"
    cloud.clock.advance(timedelta(days=10))
    backup.delete_backup_vault_lock_configuration(BackupVaultName=vault)
    backup.delete_recovery_point(BackupVaultName=vault, RecoveryPointArn=point_arn)
    backup.delete_backup_vault(BackupVaultName=vault)
    with pytest.raises(ClientError) as err:
        backup.describe_backup_vault(BackupVaultName=vault)
    assert _code(err) == "ResourceNotFoundException"


@pytest.mark.parametrize("lifecycle,state", [
    ({"DeleteAfterDays": 1}, "FAILED"),          # shorter than MinRetentionDays
    ({"DeleteAfterDays": 400}, "FAILED"),        # longer than MaxRetentionDays
    (None, "FAILED"),                            # kept forever: longer than the maximum
    ({"DeleteAfterDays": 30}, "COMPLETED"),
])
def test_retention_outside_the_lock_range_fails_the_job(cloud, backup, vault, archive, lifecycle, state):
    backup.put_backup_vault_lock_configuration(BackupVaultName=vault, MinRetentionDays=7, MaxRetentionDays=365)
    kwargs = {"Lifecycle": lifecycle} if lifecycle else {}
    job_id = _start(backup, vault, archive["bucket"], **kwargs)["BackupJobId"]
    _finish_jobs(cloud)
    job = backup.describe_backup_job(BackupJobId=job_id)
    assert job["State"] == state
    if state == "FAILED":
        assert "retention" in job["StatusMessage"]


def test_locked_vault_allows_longer_not_shorter_retention(cloud, backup, vault, archive):
    backup.put_backup_vault_lock_configuration(BackupVaultName=vault, MinRetentionDays=7, MaxRetentionDays=365)
    point_arn = _start(backup, vault, archive["bucket"], Lifecycle={"DeleteAfterDays": 30})["RecoveryPointArn"]
    _finish_jobs(cloud)
    with pytest.raises(ClientError) as err:
        backup.update_recovery_point_lifecycle(BackupVaultName=vault, RecoveryPointArn=point_arn,
                                               Lifecycle={"DeleteAfterDays": 10})
    assert _code(err) == "InvalidRequestException"
    updated = backup.update_recovery_point_lifecycle(BackupVaultName=vault, RecoveryPointArn=point_arn,
                                                     Lifecycle={"DeleteAfterDays": 90})
    assert updated["Lifecycle"] == {"DeleteAfterDays": 90}
    cloud.clock.advance(timedelta(days=40))                 # past the old DeleteAt, before the new
    assert len(backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]) == 1


def test_unlocked_recovery_point_expires_and_can_be_deleted(cloud, backup, vault, archive):
    _start(backup, vault, archive["bucket"], Lifecycle={"DeleteAfterDays": 2})
    other = _start(backup, vault, archive["bucket"])["RecoveryPointArn"]
    _finish_jobs(cloud)
    assert len(backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]) == 2
    cloud.clock.advance(timedelta(days=2))
    (left,) = backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]
    assert left["RecoveryPointArn"] == other
    backup.delete_recovery_point(BackupVaultName=vault, RecoveryPointArn=other)
    assert backup.describe_backup_vault(BackupVaultName=vault).get("NumberOfRecoveryPoints", 0) == 0


def test_dynamodb_table_backup_and_restore_to_a_new_table(cloud, client, backup, vault, bucket_name):
    ddb = client("dynamodb", PRIMARY)
    table = bucket_name("index")
    arn = ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                           KeySchema=[{"AttributeName": "StudyInstanceUID", "KeyType": "HASH"},
                                      {"AttributeName": "SOPInstanceUID", "KeyType": "RANGE"}],
                           AttributeDefinitions=[{"AttributeName": "StudyInstanceUID", "AttributeType": "S"},
                                                 {"AttributeName": "SOPInstanceUID", "AttributeType": "S"}]
                           )["TableDescription"]["TableArn"]
    items = [{"StudyInstanceUID": {"S": f"1.2.{i // 10}"}, "SOPInstanceUID": {"S": f"1.2.{i}"},
              "Size": {"N": str(i * 100)}} for i in range(40)]
    for item in items:
        ddb.put_item(TableName=table, Item=item)
    point_arn = backup.start_backup_job(BackupVaultName=vault, ResourceArn=arn, IamRoleArn=ROLE)["RecoveryPointArn"]
    ddb.delete_item(TableName=table, Key={"StudyInstanceUID": items[0]["StudyInstanceUID"],
                                          "SOPInstanceUID": items[0]["SOPInstanceUID"]})
    _finish_jobs(cloud)
    by_resource = backup.list_recovery_points_by_resource(ResourceArn=arn)["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in by_resource] == [point_arn]
    metadata = backup.get_recovery_point_restore_metadata(BackupVaultName=vault, RecoveryPointArn=point_arn)
    assert metadata["ResourceType"] == "DynamoDB"

    target = f"{table}-restored"
    restore_id = backup.start_restore_job(RecoveryPointArn=point_arn, IamRoleArn=ROLE, ResourceType="DynamoDB",
                                          Metadata={"targetTableName": target})["RestoreJobId"]
    _finish_jobs(cloud)
    job = backup.describe_restore_job(RestoreJobId=restore_id)
    assert job["Status"] == "COMPLETED", job.get("StatusMessage")
    assert job["CreatedResourceArn"].endswith(f":table/{target}")
    restored = ddb.scan(TableName=target)["Items"]
    key = lambda i: i["SOPInstanceUID"]["S"]  # noqa: E731
    assert sorted(restored, key=key) == sorted(items, key=key)


@pytest.mark.parametrize("call,code", [
    (lambda b, v: b.start_backup_job(BackupVaultName="no-such-vault", ResourceArn="arn:aws:s3:::x",
                                     IamRoleArn=ROLE), "ResourceNotFoundException"),
    (lambda b, v: b.start_backup_job(BackupVaultName=v, ResourceArn="arn:aws:ec2:us-east-1:1:volume/v",
                                     IamRoleArn=ROLE), "InvalidParameterValueException"),
    (lambda b, v: b.start_backup_job(BackupVaultName=v, ResourceArn="arn:aws:s3:::x", IamRoleArn=ROLE,
                                     Lifecycle={"MoveToColdStorageAfterDays": 10, "DeleteAfterDays": 20}),
     "InvalidParameterValueException"),
    (lambda b, v: b.describe_backup_job(BackupJobId="NOPE"), "ResourceNotFoundException"),
    (lambda b, v: b.describe_recovery_point(BackupVaultName=v, RecoveryPointArn=f"arn:aws:backup:{PRIMARY}:"
                                            f"{ACCOUNT}:recovery-point:NOPE"), "ResourceNotFoundException"),
    (lambda b, v: b.start_restore_job(RecoveryPointArn=f"arn:aws:backup:{PRIMARY}:{ACCOUNT}:recovery-point:NOPE",
                                      IamRoleArn=ROLE, Metadata={"DestinationBucketName": "x"}),
     "ResourceNotFoundException"),
    (lambda b, v: b.start_copy_job(RecoveryPointArn=f"arn:aws:backup:{PRIMARY}:{ACCOUNT}:recovery-point:NOPE",
                                   SourceBackupVaultName=v, DestinationBackupVaultArn="not-an-arn", IamRoleArn=ROLE),
     "InvalidParameterValueException"),
])
def test_invalid_requests_get_aws_error_codes(cloud, backup, vault, call, code):
    with pytest.raises(ClientError) as err:
        call(backup, vault)
    assert _code(err) == code


def test_restore_without_destination_bucket_is_refused(cloud, backup, vault, archive):
    point_arn = _start(backup, vault, archive["bucket"])["RecoveryPointArn"]
    _finish_jobs(cloud)
    with pytest.raises(ClientError) as err:
        backup.start_restore_job(RecoveryPointArn=point_arn, IamRoleArn=ROLE, Metadata={"NewBucket": "true"})
    assert _code(err) == "InvalidParameterValueException"


def test_idempotency_token_returns_the_same_job(cloud, backup, vault, archive):
    first = _start(backup, vault, archive["bucket"], IdempotencyToken="once")
    again = _start(backup, vault, archive["bucket"], IdempotencyToken="once")
    assert first["BackupJobId"] == again["BackupJobId"]
    assert len(backup.list_backup_jobs()["BackupJobs"]) == 1


def test_objects_in_glacier_and_deep_archive_are_not_backed_up(cloud, s3, backup, vault, bucket_name):
    """AWS Backup for S3 does not back up objects in S3 Glacier Flexible Retrieval or S3
    Glacier Deep Archive (supported: Standard, Standard-IA, One Zone-IA, Glacier Instant
    Retrieval, Intelligent-Tiering), so a restore does not bring them back.
    https://docs.aws.amazon.com/aws-backup/latest/devguide/s3-backups.html"""
    bucket = bucket_name("archive")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    classes = {"standard.dcm": "STANDARD", "ia.dcm": "STANDARD_IA", "onezone.dcm": "ONEZONE_IA",
               "instant.dcm": "GLACIER_IR", "tiering.dcm": "INTELLIGENT_TIERING",
               "flexible.dcm": "GLACIER", "deep.dcm": "DEEP_ARCHIVE"}
    for key, storage_class in classes.items():
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 100, StorageClass=storage_class)
    point_arn = _start(backup, vault, bucket)["RecoveryPointArn"]
    _finish_jobs(cloud)
    job = backup.list_backup_jobs(ByBackupVaultName=vault)["BackupJobs"][0]
    assert job["BackupSizeInBytes"] == sum(len(k.encode() * 100) for k, c in classes.items()
                                           if c not in ("GLACIER", "DEEP_ARCHIVE"))
    restored = bucket_name("restored")
    _restore(backup, point_arn, restored, new_bucket=True)
    _finish_jobs(cloud)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=restored).get("Contents", [])}
    assert keys == {"standard.dcm", "ia.dcm", "onezone.dcm", "instant.dcm", "tiering.dcm"}
    assert cloud.sim["backup"].status()["notBackedUp"] == {"GLACIER": 1, "DEEP_ARCHIVE": 1}
