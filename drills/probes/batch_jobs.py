"""S3 Batch Operations from drkit: write a CSV manifest (``Bucket,Key,VersionId``), create a
job through S3 Control, wait for it, and read its completion report — the same calls on AWS
and on the embedded cloud.

Used for byte integrity at scale (``S3ComputeObjectChecksum``: S3 hashes the stored bytes in
any storage class, no restore, no download; the report's values are compared with the
index) and for repair from a reconciliation's findings (``S3ReplicateObject`` = Batch
Replication for missing/FAILED versions, ``S3InitiateRestoreObject`` for cold objects).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote_plus

from botocore.exceptions import BotoCoreError, ClientError

from drills.errors import InfraError, UsageError
from drills.probes.observe import call

MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
REPORT_FORMAT = "Report_CSV_20180820"
REPORT_COLUMNS = ("Bucket", "Key", "VersionId", "TaskStatus", "ErrorCode", "HTTPStatusCode", "ResultMessage")
DONE = ("Complete", "Failed", "Cancelled")


@dataclass(frozen=True)
class TaskResult:
    bucket: str
    key: str
    version_id: str
    status: str                  # succeeded | failed
    error_code: str
    http_status: str
    message: str

    @classmethod
    def from_row(cls, row: list[str]) -> "TaskResult":
        """One completion-report row. The report's ``ReportSchema`` names ErrorCode before
        HTTPStatusCode, while AWS's example rows carry the status code first
        (``...,failed,200,PermanentFailure,...``): whichever of the two is numeric is the status."""
        cells = (row + [""] * len(REPORT_COLUMNS))[:len(REPORT_COLUMNS)]
        bucket, key, version, status, fifth, sixth, message = cells
        if fifth.strip().isdigit() or not sixth.strip().isdigit():
            http, code = fifth, sixth
        else:
            code, http = fifth, sixth
        return cls(bucket, key, version, status, code.strip(), http.strip(), message)

    def result(self) -> dict[str, Any]:
        """The ResultMessage as a JSON object ({} when it is not one)."""
        try:
            value = json.loads(self.message)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def checksum(self, algorithm: str = "SHA256") -> str | None:
        """The base64 full-object checksum a compute-checksum task reported (None when the task
        failed, the message has none, or it names another algorithm or a composite type)."""
        if self.status != "succeeded":
            return None
        found = self.result()
        named = str(found.get("checksumAlgorithm") or algorithm).upper()
        kind = str(found.get("checksumType") or "FULL_OBJECT").upper()
        if named != algorithm.upper() or kind != "FULL_OBJECT":
            return None
        if found.get("checksum_base64"):
            return str(found["checksum_base64"])
        if found.get("checksum_hex"):
            try:
                return base64.b64encode(bytes.fromhex(str(found["checksum_hex"]))).decode()
            except ValueError:
                return None
        return None


def manifest_csv(rows: Iterable[tuple[str, str, str | None]]) -> bytes:
    """A ``S3BatchOperations_CSV_20180820`` manifest: Bucket,Key,VersionId per line, keys URL-encoded."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for bucket, key, version in rows:
        writer.writerow([bucket, quote_plus(key, safe="/"), version or ""])
    return text.getvalue().encode()


def put_manifest(s3: Any, bucket: str, key: str, body: bytes | Path) -> dict[str, str]:
    """Upload a manifest (bytes, or a file streamed from disk); returns the job's
    ``Manifest.Location`` (ARN and ETag)."""
    if isinstance(body, Path):
        with body.open("rb") as handle:
            resp = _call("PutObject (batch manifest)", s3.put_object, Bucket=bucket, Key=key, Body=handle)
    else:
        resp = _call("PutObject (batch manifest)", s3.put_object, Bucket=bucket, Key=key, Body=body)
    return {"ObjectArn": f"arn:aws:s3:::{bucket}/{key}", "ETag": resp["ETag"].strip('"')}


def create_job(s3control: Any, account: str, operation: dict[str, Any], location: dict[str, str],
               report_bucket: str, report_prefix: str, role_arn: str, description: str = "drkit",
               with_version: bool = True, failed_only: bool = False) -> str:
    """CreateJob (no confirmation step); returns the job id."""
    if not role_arn:
        raise UsageError("an S3 Batch Operations job needs an IAM role ARN (RoleArn)")
    fields = ["Bucket", "Key", "VersionId"] if with_version else ["Bucket", "Key"]
    resp = _call("CreateJob", s3control.create_job, AccountId=account, ConfirmationRequired=False,
                 Operation=operation, Priority=10, RoleArn=role_arn, Description=description,
                 ClientRequestToken=str(uuid.uuid4()),
                 Manifest={"Spec": {"Format": MANIFEST_FORMAT, "Fields": fields}, "Location": location},
                 Report={"Bucket": f"arn:aws:s3:::{report_bucket}", "Format": REPORT_FORMAT, "Enabled": True,
                         "Prefix": report_prefix, "ReportScope": "FailedTasksOnly" if failed_only else "AllTasks"})
    return str(resp["JobId"])


def wait_job(s3control: Any, account: str, job_id: str, advance: Callable[[float], None] | None = None,
             step_seconds: float = 30.0, max_steps: int = 2000) -> dict[str, Any]:
    """DescribeJob until the job is done. ``advance(seconds)`` moves a virtual clock (embedded
    cloud); without it, wall time is slept."""
    for _ in range(max_steps):
        job = _call("DescribeJob", s3control.describe_job, AccountId=account, JobId=job_id)["Job"]
        if job["Status"] in DONE:
            return job
        (advance or time.sleep)(step_seconds)
    raise InfraError(f"S3 Batch Operations job {job_id} not done after {max_steps} checks")


def read_report(s3: Any, report_bucket: str, report_prefix: str, job_id: str) -> list[TaskResult]:
    """Every task row of a job's completion report (its manifest.json, then each results CSV)."""
    return list(iter_report(s3, report_bucket, report_prefix, job_id))


def iter_report(s3: Any, report_bucket: str, report_prefix: str, job_id: str) -> Iterator[TaskResult]:
    """``read_report`` as a stream: each results CSV is read line by line from its GetObject
    body, one row at a time, none kept."""
    base = f"{report_prefix.strip('/') + '/' if report_prefix else ''}job-{job_id}/"
    manifest = json.loads(_get(s3, report_bucket, f"{base}manifest.json"))
    if manifest.get("Format") != REPORT_FORMAT:
        raise InfraError(f"completion report of job {job_id} has format {manifest.get('Format')!r}")
    for result in manifest.get("Results", []):
        what = f"GetObject s3://{result['Bucket']}/{result['Key']}"
        body = _call(what, s3.get_object, Bucket=result["Bucket"], Key=result["Key"])["Body"]
        lines = (line.decode("utf-8") for line in body.iter_lines(keepends=True))
        try:
            for row in csv.reader(lines):
                if row:
                    yield TaskResult.from_row(row)
        except (BotoCoreError, OSError) as exc:
            raise InfraError(f"{what}: {exc}") from exc


def account_of(role_arn: str) -> str:
    """The account id in an IAM role ARN (``arn:aws:iam::<account>:role/...``): the job's AccountId."""
    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[4].isdigit():
        raise UsageError(f"{role_arn!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    return parts[4]


@dataclass
class JobRun:
    """One job from manifest to report: where its files are and how it ended. Its tasks'
    results stay in S3 (``report_rows`` streams them): a job may have tens of millions."""

    operation: str
    region: str
    job_id: str
    status: str
    manifest: str                # s3://bucket/key of the manifest drkit wrote
    report: str                  # s3://bucket/prefix/job-<id>/ of the completion report
    tasks: int
    succeeded: int
    failed: int
    failure: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"operation": self.operation, "region": self.region, "jobId": self.job_id, "status": self.status,
                "manifest": self.manifest, "report": self.report, "tasks": self.tasks,
                "succeeded": self.succeeded, "failed": self.failed, "failure": self.failure}


def run_job(s3: Any, s3control: Any, role_arn: str, operation: dict[str, Any],
            rows: list[tuple[str, str, str | None]] | Path, work_bucket: str, prefix: str,
            wait: Callable[[float], None], region: str, description: str = "drkit") -> JobRun:
    """Write ``rows`` (or upload the manifest file ``rows``) as the manifest
    ``<prefix>/manifest.csv`` in ``work_bucket``, create the job (reports under
    ``<prefix>/reports``) and wait on ``wait`` (the drill's clock); the completion report is
    left in S3 for ``report_rows``."""
    account = account_of(role_arn)
    prefix = prefix.strip("/")
    manifest_key = f"{prefix}/manifest.csv"
    location = put_manifest(s3, work_bucket, manifest_key, rows if isinstance(rows, Path) else manifest_csv(rows))
    job_id = create_job(s3control, account, operation, location, work_bucket, f"{prefix}/reports", role_arn,
                        description=description[:256])
    job = wait_job(s3control, account, job_id, advance=wait)
    progress = job.get("ProgressSummary", {}) or {}
    reasons = "; ".join(f"{r.get('FailureCode', '')}: {r.get('FailureReason', '')}"
                        for r in job.get("FailureReasons", []) or [])
    return JobRun(operation=next(iter(operation)), region=region, job_id=job_id, status=str(job["Status"]),
                  manifest=f"s3://{work_bucket}/{manifest_key}",
                  report=f"s3://{work_bucket}/{prefix}/reports/job-{job_id}/",
                  tasks=int(progress.get("TotalNumberOfTasks", 0)),
                  succeeded=int(progress.get("NumberOfTasksSucceeded", 0)),
                  failed=int(progress.get("NumberOfTasksFailed", 0)), failure=reasons)


def report_rows(s3: Any, job: JobRun) -> Iterator[TaskResult]:
    """The task rows of ``job``'s completion report, streamed from S3 (none when it had no tasks)."""
    if not job.tasks:
        return iter(())
    bucket, _, rest = job.report.removeprefix("s3://").partition("/")
    return iter_report(s3, bucket, rest.rstrip("/").rsplit("/", 1)[0], job.job_id)


def _get(s3: Any, bucket: str, key: str) -> bytes:
    return _call(f"GetObject s3://{bucket}/{key}", s3.get_object, Bucket=bucket, Key=key)["Body"].read()


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(what, fn, **kwargs)
    except ClientError as exc:
        raise InfraError(f"{what}: {exc}") from exc


@dataclass
class ChecksumComparison:
    matched: int
    mismatched: list[str]        # key@version whose computed SHA-256 differs from the expected one
    failed: list[str]            # key@version whose task failed (not verified)
    unreported: list[str]        # expected but absent from the report (not verified)


def compare_checksums(results: list[TaskResult], expected: dict[tuple[str, str], str]) -> ChecksumComparison:
    """A compute-checksum job's report against the expected base64 SHA-256 (the index's)."""
    seen: set[tuple[str, str]] = set()
    matched, mismatched, failed = 0, [], []
    for r in results:
        kv = (r.key, r.version_id)
        if kv not in expected:
            continue
        seen.add(kv)
        label = f"{r.key}@{r.version_id}"
        if r.status != "succeeded" or r.checksum() is None:
            failed.append(label)
        elif r.checksum() == expected[kv]:
            matched += 1
        else:
            mismatched.append(label)
    unreported = [f"{k}@{v}" for k, v in expected if (k, v) not in seen]
    return ChecksumComparison(matched, sorted(mismatched), sorted(failed), sorted(unreported))
