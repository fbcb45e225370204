"""drills/probes/batch_jobs.py: manifests and completion-report rows as AWS documents them.

AWS: "Examples: S3 Batch Operations completion reports"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html) gives the
ReportSchema "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage" and
example rows that carry the HTTP status before the error code:
``awsexamplebucket,image_14975,,failed,200,PermanentFailure,"Lambda returned function error: ..."``.
"Specifying a manifest" (batch-ops-create-job.html#specify-batchjob-manifest): CSV
Bucket,Key[,VersionId], object keys URL-encoded.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json

import pytest

from drills.errors import UsageError
from drills.probes.batch_jobs import TaskResult, account_of, manifest_csv

AWS_FAILED_ROW = ('awsexamplebucket,image_14975,,failed,200,PermanentFailure,"Lambda returned function error: '
                  '{""errorMessage"":""2019-04-05T17:35:21.155Z 2845ca0d Task timed out after 3.00 seconds""}"')
DIGEST = hashlib.sha256(b"dicom").digest()


def _row(text: str) -> TaskResult:
    return TaskResult.from_row(next(csv.reader(io.StringIO(text))))


def test_aws_example_failed_row_reads_status_then_error_code() -> None:
    r = _row(AWS_FAILED_ROW)
    assert (r.bucket, r.key, r.version_id, r.status) == ("awsexamplebucket", "image_14975", "", "failed")
    assert (r.http_status, r.error_code) == ("200", "PermanentFailure")
    assert r.message.startswith("Lambda returned function error") and r.checksum() is None


def test_a_row_in_report_schema_order_reads_the_same() -> None:
    r = _row("b,k,v1,failed,NoSuchKey,404,The specified key does not exist.")
    assert (r.http_status, r.error_code) == ("404", "NoSuchKey")


def test_compute_checksum_result_message() -> None:
    message = json.dumps({"checksumAlgorithm": "SHA256", "checksumType": "FULL_OBJECT",
                          "checksum_base64": base64.b64encode(DIGEST).decode(), "checksum_hex": DIGEST.hex()})
    ok = TaskResult("b", "k", "v", "succeeded", "", "200", message)
    assert ok.checksum() == base64.b64encode(DIGEST).decode()
    hex_only = TaskResult("b", "k", "v", "succeeded", "", "200", json.dumps({"checksum_hex": DIGEST.hex()}))
    assert hex_only.checksum() == ok.checksum()


@pytest.mark.parametrize("message", [
    json.dumps({"checksumAlgorithm": "CRC32", "checksum_base64": "AAAAAA=="}),     # another algorithm
    json.dumps({"checksumAlgorithm": "SHA256", "checksumType": "COMPOSITE", "checksum_base64": "x"}),
    "Successful", "", json.dumps(["not", "an", "object"])])
def test_no_usable_sha256_is_no_checksum(message: str) -> None:
    assert TaskResult("b", "k", "v", "succeeded", "", "200", message).checksum() is None


def test_manifest_url_encodes_keys_and_keeps_slashes() -> None:
    body = manifest_csv([("bkt", "dicom/a b+c/1.dcm", "v1"), ("bkt", "dicom/x.dcm", None)]).decode()
    assert body.splitlines() == ["bkt,dicom/a+b%2Bc/1.dcm,v1", "bkt,dicom/x.dcm,"]


def test_account_of_a_role_arn() -> None:
    assert account_of("arn:aws:iam::123456789012:role/drkit-batch") == "123456789012"
    with pytest.raises(UsageError, match="not an IAM role ARN"):
        account_of("drkit-batch")
