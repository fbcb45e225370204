"""S3 Batch Operations jobs on the embedded cloud (drills.cloud.sim.batch_ops), through the stock
boto3 s3control client.

AWS: "S3 Batch Operations" and "Examples: S3 Batch Operations completion reports"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html): a CSV
manifest Bucket,Key[,VersionId]; per-task results in the completion report with columns
Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage; "Compute
checksum" (batch-ops-compute-checksums.html) reports a checksum for every object.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json

import pytest
from botocore.exceptions import ClientError

from drills.probes.batch_jobs import create_job, manifest_csv, put_manifest, read_report, wait_job

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch"


@pytest.fixture
def s3control(client):
    return client("s3control", "us-east-1")


def _objects(s3, bucket_name):
    bucket, reports = bucket_name(), bucket_name()
    for name in (bucket, reports):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    versions = [s3.put_object(Bucket=bucket, Key=f"dicom/a {n}.dcm", Body=b"x" * n)["VersionId"] for n in (1, 2)]
    return bucket, reports, versions


def test_compute_checksum_reports_every_task_with_its_checksum(cloud, s3, s3control, bucket_name):
    bucket, reports, versions = _objects(s3, bucket_name)
    rows = [(bucket, "dicom/a 1.dcm", versions[0]), (bucket, "dicom/a 2.dcm", versions[1]),
            (bucket, "dicom/none.dcm", "no-such-version")]
    location = put_manifest(s3, reports, "manifests/m.csv", manifest_csv(rows))
    job_id = create_job(s3control, ACCOUNT, {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "SHA256",
                                                                         "ChecksumType": "FULL_OBJECT"}},
                        location, reports, "reports", ROLE)
    assert s3control.describe_job(AccountId=ACCOUNT, JobId=job_id)["Job"]["Status"] == "Ready"
    job = wait_job(s3control, ACCOUNT, job_id, advance=cloud.clock.advance)
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"] == {"TotalNumberOfTasks": 3, "NumberOfTasksSucceeded": 2, "NumberOfTasksFailed": 1}
    results = {(r.key, r.version_id): r for r in read_report(s3, reports, "reports", job_id)}
    ok = results[("dicom/a 2.dcm", versions[1])]
    assert ok.status == "succeeded" and ok.http_status == "200"
    assert ok.checksum() == base64.b64encode(hashlib.sha256(b"xx").digest()).decode()
    failed = results[("dicom/none.dcm", "no-such-version")]
    assert failed.status == "failed" and failed.error_code and failed.checksum() is None
    manifest = json.loads(s3.get_object(Bucket=reports, Key=f"reports/job-{job_id}/manifest.json")["Body"].read())
    assert manifest["Format"] == "Report_CSV_20180820"
    assert manifest["ReportSchema"] == "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
    assert {r["TaskExecutionStatus"] for r in manifest["Results"]} == {"succeeded", "failed"}
    listed = s3control.list_jobs(AccountId=ACCOUNT)["Jobs"]
    assert [j["JobId"] for j in listed] == [job_id] and listed[0]["Operation"] == "S3ComputeObjectChecksum"


def test_a_manifest_whose_etag_does_not_match_fails_the_job(cloud, s3, s3control, bucket_name):
    bucket, reports, versions = _objects(s3, bucket_name)
    location = put_manifest(s3, reports, "m.csv", manifest_csv([(bucket, "dicom/a 1.dcm", versions[0])]))
    job_id = create_job(s3control, ACCOUNT, {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "SHA256"}},
                        {**location, "ETag": "0" * 32}, reports, "r", ROLE)
    job = s3control.describe_job(AccountId=ACCOUNT, JobId=job_id)["Job"]
    assert job["Status"] == "Failed" and "ETag" in job["FailureReasons"][0]["FailureReason"]


def test_confirmation_required_waits_suspended_until_ready(cloud, s3, s3control, bucket_name):
    bucket, reports, versions = _objects(s3, bucket_name)
    location = put_manifest(s3, reports, "m.csv", manifest_csv([(bucket, "dicom/a 1.dcm", versions[0])]))
    job_id = s3control.create_job(
        AccountId=ACCOUNT, ConfirmationRequired=True, Priority=1, RoleArn=ROLE, ClientRequestToken="t-1",
        Operation={"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "CRC32"}},
        Manifest={"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key", "VersionId"]},
                  "Location": location},
        Report={"Bucket": f"arn:aws:s3:::{reports}", "Format": "Report_CSV_20180820", "Enabled": True,
                "Prefix": "r", "ReportScope": "AllTasks"})["JobId"]
    cloud.clock.advance(3600)
    assert s3control.describe_job(AccountId=ACCOUNT, JobId=job_id)["Job"]["Status"] == "Suspended"
    s3control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Ready")
    assert wait_job(s3control, ACCOUNT, job_id, advance=cloud.clock.advance)["Status"] == "Complete"


def test_an_unknown_job_is_no_such_job(s3control):
    with pytest.raises(ClientError) as err:
        s3control.describe_job(AccountId=ACCOUNT, JobId="no-such-job")
    assert err.value.response["Error"]["Code"] == "NoSuchJob"


def test_report_rows_follow_aws_example_order_status_code_before_error_code(cloud, s3, s3control, bucket_name):
    """AWS's example failed-task rows read ``...,failed,200,PermanentFailure,...`` (the HTTP status
    code, then the error code), and succeeded rows ``...,succeeded,200,,...``
    (batch-ops-examples-reports.html); compute checksum puts the checksum in ResultMessage."""
    bucket, reports, versions = _objects(s3, bucket_name)
    rows = [(bucket, "dicom/a 1.dcm", versions[0]), (bucket, "dicom/none.dcm", "no-such-version")]
    location = put_manifest(s3, reports, "m.csv", manifest_csv(rows))
    job_id = create_job(s3control, ACCOUNT, {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "SHA256"}},
                        location, reports, "r", ROLE)
    wait_job(s3control, ACCOUNT, job_id, advance=cloud.clock.advance)
    manifest = json.loads(s3.get_object(Bucket=reports, Key=f"r/job-{job_id}/manifest.json")["Body"].read())
    raw = {r["TaskExecutionStatus"]: s3.get_object(Bucket=r["Bucket"], Key=r["Key"])["Body"].read().decode()
           for r in manifest["Results"]}
    ok = next(csv.reader(io.StringIO(raw["succeeded"])))
    assert ok[3:6] == ["succeeded", "200", ""]
    assert json.loads(ok[6])["checksum_hex"] == hashlib.sha256(b"x").hexdigest()
    failed = next(csv.reader(io.StringIO(raw["failed"])))
    assert failed[3] == "failed" and failed[4].isdigit() and int(failed[4]) >= 400 and failed[5]


def test_restore_jobs_take_bulk_or_standard_only(cloud, s3, s3control, bucket_name):
    """API_control_S3InitiateRestoreObjectOperation: "S3 Batch Operations supports STANDARD and BULK
    retrieval tiers, but not the EXPEDITED retrieval tier"; the job's BULK is RestoreObject's Bulk."""
    bucket, reports, _ = _objects(s3, bucket_name)
    version = s3.put_object(Bucket=bucket, Key="dicom/cold.dcm", Body=b"c", StorageClass="GLACIER")["VersionId"]
    location = put_manifest(s3, reports, "m.csv", manifest_csv([(bucket, "dicom/cold.dcm", version)]))
    with pytest.raises(ClientError) as err:
        s3control.create_job(
            AccountId=ACCOUNT, ConfirmationRequired=False, Priority=1, RoleArn=ROLE, ClientRequestToken="t-exp",
            Operation={"S3InitiateRestoreObject": {"ExpirationInDays": 1, "GlacierJobTier": "EXPEDITED"}},
            Manifest={"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key", "VersionId"]},
                      "Location": location},
            Report={"Bucket": f"arn:aws:s3:::{reports}", "Format": "Report_CSV_20180820", "Enabled": True,
                    "Prefix": "r", "ReportScope": "AllTasks"})
    assert err.value.response["Error"]["Code"] == "InvalidRequest"
    job_id = create_job(s3control, ACCOUNT, {"S3InitiateRestoreObject": {"ExpirationInDays": 1,
                                                                         "GlacierJobTier": "STANDARD"}},
                        location, reports, "r", ROLE)
    assert wait_job(s3control, ACCOUNT, job_id, advance=cloud.clock.advance)["Status"] == "Complete"
    assert 'ongoing-request="true"' in s3.head_object(Bucket=bucket, Key="dicom/cold.dcm", VersionId=version)["Restore"]
