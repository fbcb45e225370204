"""S3 Batch Operations jobs (S3 Control ``CreateJob``, ``DescribeJob``, ``ListJobs``,
``UpdateJobStatus``), executed on the virtual clock over the buckets' real state.

moto has no S3 Batch Operations (REFERENCE.md). Emulated, per the Amazon S3 User Guide
("S3 Batch Operations", "Specifying a manifest", "Completion reports" with the example at
https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html, and
"Compute checksums", batch-ops-compute-checksums.html) and the S3 Control API reference:

* manifest ``S3BatchOperations_CSV_20180820`` (fields Bucket, Key[, VersionId]; keys
  URL-encoded) read from ``Manifest.Location.ObjectArn``; a wrong ``ETag`` fails the job;
* operations ``S3ComputeObjectChecksum`` (any storage class, no restore; SHA256, SHA1, CRC32
  or MD5 of the stored bytes, FULL_OBJECT), ``S3ReplicateObject`` (Batch Replication: the
  version is copied under the bucket's replication configuration by the replication
  behaviour, whatever its status), ``S3InitiateRestoreObject`` (through RestoreObject, so the
  tier's simulated duration applies);
* lifecycle New → Preparing → (Suspended while ``ConfirmationRequired`` until
  ``UpdateJobStatus`` Ready) → Active → Complete (Failed when every task failed), with
  ``ProgressSummary``; the tasks run ``PREPARE_SECONDS`` of virtual time after the job is
  ready, all at that instant (AWS's throughput is not modelled);
* the completion report under ``<Report.Prefix>/job-<id>/``: ``manifest.json`` (Format
  Report_CSV_20180820, ReportCreationDate, Results[{TaskExecutionStatus, Bucket, MD5Checksum,
  Key}], ReportSchema) and ``results/<sha1>.csv`` files, one for succeeded and one for failed
  tasks, ReportSchema "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode,
  ResultMessage" (``ReportScope`` AllTasks or FailedTasksOnly). The rows follow AWS's example
  reports, which carry the HTTP status code before the error code
  (``awsexamplebucket,image_14975,,failed,200,PermanentFailure,"..."``).

Compute checksum: AWS says the report "contains checksum values for every object" without
giving the ResultMessage layout on the pages read; here ResultMessage is a JSON object
``{"checksumAlgorithm", "checksumType", "checksum_base64", "checksum_hex", "etag"}`` — the keys
public parsers of real compute-checksum reports read (not an AWS-documented schema; the
reader in drills/probes/batch_jobs.py also takes a hex-only message). Not emulated:
other operations (answered InvalidRequest), inventory-report manifests, manifest generators,
IAM evaluation of ``RoleArn``, priorities and cancellation. Every time is virtual.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import threading
import uuid
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote_plus
from xml.sax.saxutils import escape

from drills.cloud.clock import SIMULATED
from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor, aws_error
from drills.cloud.sim import key_locks

PREPARE_SECONDS = 30.0           # virtual seconds from creation to the first task
OPERATIONS = ("S3ComputeObjectChecksum", "S3ReplicateObject", "S3InitiateRestoreObject")
REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
_NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"


@dataclass
class Task:
    bucket: str
    key: str
    version_id: str | None
    status: str = "pending"
    error_code: str = ""
    http_status: int = 200
    message: str = ""


@dataclass
class Job:
    job_id: str
    account: str
    region: str
    operation: str
    params: dict[str, str]
    manifest: dict[str, str]
    report: dict[str, str]
    role_arn: str
    priority: int
    description: str
    created: datetime
    status: str = "New"
    tasks: list[Task] = field(default_factory=list)
    terminated: datetime | None = None
    failure: str = ""


class BatchOperations(Interceptor):
    name = "batch_ops"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.jobs: dict[str, Job] = {}
            self.tokens: dict[str, str] = {}

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"jobs": {j.job_id: {"operation": j.operation, "status": j.status, "tasks": len(j.tasks)}
                             for j in self.jobs.values()}, "label": SIMULATED}

    # ------------------------------------------------------------------ API
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3control" or not req.path.startswith("/v20180820/jobs"):
            return None
        try:
            if req.operation == "CreateJob":
                return self._create(req)
            if req.operation == "DescribeJob":
                return _xml("DescribeJobResult", f"<Job>{self._job_xml(self._job(req))}</Job>")
            if req.operation == "ListJobs":
                return self._list(req)
            if req.operation == "UpdateJobStatus":
                return self._update_status(req)
        except _Refused as exc:
            return aws_error(req, exc.status, exc.code, exc.message)
        return aws_error(req, 501, "NotImplemented", f"S3 Control {req.operation or req.path} is not emulated")

    def _job(self, req: AwsRequest) -> Job:
        job_id = req.params.get("JobId") or req.path.rstrip("/").split("/")[3]
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise _Refused(404, "NoSuchJob", f"The specified job {job_id} does not exist")
        return job

    def _create(self, req: AwsRequest) -> AwsResponse:
        root = ET.fromstring(req.body)
        token = _text(root, "ClientRequestToken") or ""
        with self._lock:
            if token and token in self.tokens:                 # idempotent create
                return _xml("CreateJobResult", f"<JobId>{self.tokens[token]}</JobId>")
        op_node = _child(root, "Operation")
        ops = [_strip(c.tag) for c in (op_node if op_node is not None else [])]
        if len(ops) != 1:
            raise _Refused(400, "InvalidRequest", "Operation must name exactly one operation")
        if ops[0] not in OPERATIONS:
            raise _Refused(400, "InvalidRequest", f"operation {ops[0]} is not emulated")
        params = {_strip(c.tag): (c.text or "") for c in _child(op_node, ops[0]) or []}
        if ops[0] == "S3InitiateRestoreObject":
            # API_control_S3InitiateRestoreObjectOperation: GlacierJobTier BULK | STANDARD (no
            # EXPEDITED); ExpirationInDays at least 1.
            if params.get("GlacierJobTier", "BULK") not in ("BULK", "STANDARD"):
                raise _Refused(400, "InvalidRequest", f"GlacierJobTier {params['GlacierJobTier']!r} is not "
                                                      "BULK or STANDARD (Batch Operations has no EXPEDITED)")
            if params.get("ExpirationInDays") and int(params["ExpirationInDays"]) < 1:
                raise _Refused(400, "InvalidRequest", "ExpirationInDays must be 1 or greater")
        spec = _child(_child(root, "Manifest"), "Spec")
        location = _child(_child(root, "Manifest"), "Location")
        manifest = {"Format": _text(spec, "Format") or "",
                    "Fields": ",".join(m.text or "" for m in _children(_child(spec, "Fields"), "member")),
                    "ObjectArn": _text(location, "ObjectArn") or "", "ETag": (_text(location, "ETag") or "").strip('"'),
                    "ObjectVersionId": _text(location, "ObjectVersionId") or ""}
        report_node = _child(root, "Report")
        report = {k: _text(report_node, k) or "" for k in ("Bucket", "Format", "Enabled", "Prefix", "ReportScope")}
        if manifest["Format"] != "S3BatchOperations_CSV_20180820":
            raise _Refused(400, "InvalidRequest", f"manifest format {manifest['Format']!r} is not emulated "
                                                  "(S3BatchOperations_CSV_20180820 is)")
        if not _text(root, "RoleArn"):
            raise _Refused(400, "InvalidRequest", "RoleArn is required")
        job = Job(job_id=str(uuid.uuid4()), account=req.headers.get("x-amz-account-id", self.sim.account_id),
                  region=req.region or "us-east-1", operation=ops[0], params=params, manifest=manifest,
                  report=report, role_arn=_text(root, "RoleArn") or "", priority=int(_text(root, "Priority") or 0),
                  description=_text(root, "Description") or "", created=self.sim.clock.now())
        confirm = (_text(root, "ConfirmationRequired") or "false").lower() == "true"
        with self._lock:
            self.jobs[job.job_id] = job
            if token:
                self.tokens[token] = job.job_id
        self._prepare(job, confirm)
        return _xml("CreateJobResult", f"<JobId>{job.job_id}</JobId>")

    def _list(self, req: AwsRequest) -> AwsResponse:
        wanted = set(req.query.get("jobStatuses", []))
        with self._lock:
            jobs = [j for j in self.jobs.values() if not wanted or j.status in wanted]
        members = "".join(f"<member>{self._summary_xml(j)}</member>" for j in sorted(jobs, key=lambda j: j.created))
        return _xml("ListJobsResult", f"<Jobs>{members}</Jobs>")

    def _update_status(self, req: AwsRequest) -> AwsResponse:
        job = self._job(req)
        wanted = (req.query.get("requestedJobStatus") or [""])[0]
        if job.status != "Suspended" or wanted not in ("Ready", "Cancelled"):
            raise _Refused(400, "JobStatusException", f"cannot move job {job.job_id} from {job.status} to {wanted}")
        if wanted == "Cancelled":
            self._finish(job, "Cancelled")
        else:
            job.status = "Ready"
            self.sim.clock.schedule_in(PREPARE_SECONDS, lambda: self._run(job), f"batch job {job.job_id}")
        return _xml("UpdateJobStatusResult", f"<JobId>{job.job_id}</JobId><Status>{job.status}</Status>")

    # ------------------------------------------------------------------ execution
    def _prepare(self, job: Job, confirm: bool) -> None:
        job.status = "Preparing"
        try:
            job.tasks = self._read_manifest(job)
        except _Refused as exc:
            job.failure = exc.message
            self._finish(job, "Failed")
            return
        if confirm:
            job.status = "Suspended"
            return
        job.status = "Ready"
        self.sim.clock.schedule_in(PREPARE_SECONDS, lambda: self._run(job), f"batch job {job.job_id}")

    def _read_manifest(self, job: Job) -> list[Task]:
        arn = job.manifest["ObjectArn"]
        if not arn.startswith("arn:aws:s3:::") or "/" not in arn:
            raise _Refused(400, "InvalidManifest", f"manifest ObjectArn {arn!r} is not an S3 object ARN")
        bucket, key = arn[len("arn:aws:s3:::"):].split("/", 1)
        with key_locks.held((bucket, key)):
            try:
                stored = self.sim.s3_backend().get_object(bucket, key, version_id=job.manifest["ObjectVersionId"] or None)
            except Exception as exc:         # noqa: BLE001 - moto raises its own MissingKey/MissingBucket types
                raise _Refused(400, "InvalidManifest", f"manifest s3://{bucket}/{key} cannot be read: {exc}") from exc
            if stored is None:
                raise _Refused(400, "InvalidManifest", f"manifest s3://{bucket}/{key} does not exist")
            etag, body = str(stored.etag), stored.value
        if job.manifest["ETag"] and job.manifest["ETag"] != etag.strip('"'):
            raise _Refused(400, "InvalidManifest", "the manifest's ETag does not match the object")
        fields = [f.strip() for f in job.manifest["Fields"].split(",") if f.strip()]
        if fields[:2] != ["Bucket", "Key"] or not set(fields) <= {"Bucket", "Key", "VersionId"}:
            raise _Refused(400, "InvalidManifest", f"manifest fields {fields} are not Bucket, Key[, VersionId]")
        tasks = []
        for row in csv.reader(io.StringIO(body.decode("utf-8"))):
            if not row:
                continue
            values = dict(zip(fields, row))
            tasks.append(Task(values.get("Bucket", ""), unquote_plus(values.get("Key", "")),
                              values.get("VersionId") or None))
        return tasks

    def _run(self, job: Job) -> None:
        job.status = "Active"
        for task in job.tasks:
            self._task(job, task)
        self._finish(job, "Failed" if job.tasks and all(t.status == "failed" for t in job.tasks) else "Complete")

    def _task(self, job: Job, task: Task) -> None:
        s3 = self.sim.internal_client("s3", self._bucket_region(task.bucket))
        version = {"VersionId": task.version_id} if task.version_id else {}
        try:
            if job.operation == "S3ComputeObjectChecksum":
                with key_locks.held((task.bucket, task.key)):
                    stored = self.sim.s3_backend().get_object(task.bucket, task.key, version_id=task.version_id)
                    if stored is None or not hasattr(stored, "value"):
                        raise _TaskFailed(404, "NoSuchKey", "The specified key does not exist.")
                    result = _checksum(stored.value, job.params.get("ChecksumAlgorithm", "SHA256"))
                    result["etag"] = str(getattr(stored, "etag", "")).strip('"')
                task.message = json.dumps(result, separators=(",", ":"))
            elif job.operation == "S3ReplicateObject":
                replication = self.sim["replication"]
                if self.sim.s3_backend().get_object(task.bucket, task.key, version_id=task.version_id) is None:
                    raise _TaskFailed(404, "NoSuchKey", "The specified key does not exist.")
                vid = task.version_id or str(self.sim.s3_backend().get_object(task.bucket, task.key).version_id)
                if not replication.batch_replicate(task.bucket, task.key, vid):
                    raise _TaskFailed(400, "InvalidRequest", "no replication rule covers this object")
                task.message = "Successful"
            elif job.operation == "S3InitiateRestoreObject":
                # The operation's GlacierJobTier is BULK | STANDARD; RestoreObject's Tier is Bulk | Standard.
                tier = (job.params.get("GlacierJobTier") or "BULK").capitalize()
                s3.restore_object(Bucket=task.bucket, Key=task.key, **version, RestoreRequest={
                    "Days": int(job.params.get("ExpirationInDays") or 1), "GlacierJobParameters": {"Tier": tier}})
                task.message = "Successful"
            task.status, task.http_status = "succeeded", 200
        except _TaskFailed as exc:
            task.status, task.http_status, task.error_code, task.message = "failed", exc.status, exc.code, exc.message
        except Exception as exc:             # noqa: BLE001 - a task's AWS error is its result, not a crash
            response = getattr(exc, "response", {}) or {}
            task.status = "failed"
            task.error_code = str(response.get("Error", {}).get("Code", type(exc).__name__))
            task.http_status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            task.message = str(response.get("Error", {}).get("Message", exc))[:500]

    def _bucket_region(self, bucket: str) -> str:
        found = self.sim.s3_backend().buckets.get(bucket)
        return getattr(found, "region_name", None) or "us-east-1"

    def _finish(self, job: Job, status: str) -> None:
        job.status = status
        job.terminated = self.sim.clock.now()
        if job.report.get("Enabled", "").lower() == "true" and job.tasks:
            self._write_report(job)

    def _write_report(self, job: Job) -> None:
        bucket = job.report["Bucket"].rsplit(":", 1)[-1]
        base = f"{job.report['Prefix'].strip('/') + '/' if job.report.get('Prefix') else ''}job-{job.job_id}/"
        s3 = self.sim.internal_client("s3", self._bucket_region(bucket))
        results = []
        scope_failed_only = job.report.get("ReportScope") == "FailedTasksOnly"
        for outcome in ("succeeded", "failed"):
            tasks = [t for t in job.tasks if t.status == outcome]
            if not tasks or (scope_failed_only and outcome == "succeeded"):
                continue
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            for t in tasks:
                # The row order of AWS's example reports: the HTTP status code before the error
                # code (the ReportSchema string names them the other way round).
                writer.writerow([t.bucket, t.key, t.version_id or "", t.status, t.http_status, t.error_code,
                                 t.message])
            body = text.getvalue().encode()
            key = f"{base}results/{hashlib.sha1(body).hexdigest()}.csv"
            s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="AES256")
            results.append({"TaskExecutionStatus": outcome, "Bucket": bucket,
                            "MD5Checksum": hashlib.md5(body).hexdigest(), "Key": key})
        manifest = {"Format": "Report_CSV_20180820",
                    "ReportCreationDate": _iso(self.sim.clock.now()), "Results": results,
                    "ReportSchema": REPORT_SCHEMA}
        s3.put_object(Bucket=bucket, Key=f"{base}manifest.json", Body=json.dumps(manifest, indent=4).encode(),
                      ServerSideEncryption="AES256")

    # ------------------------------------------------------------------ XML
    def _summary_xml(self, job: Job) -> str:
        done = [t for t in job.tasks if t.status != "pending"]
        return (f"<JobId>{job.job_id}</JobId><Description>{escape(job.description)}</Description>"
                f"<Operation>{job.operation}</Operation><Priority>{job.priority}</Priority>"
                f"<Status>{job.status}</Status><CreationTime>{_iso(job.created)}</CreationTime>"
                + (f"<TerminationDate>{_iso(job.terminated)}</TerminationDate>" if job.terminated else "")
                + f"<ProgressSummary>{_progress(job.tasks, done)}</ProgressSummary>")

    def _job_xml(self, job: Job) -> str:
        done = [t for t in job.tasks if t.status != "pending"]
        params = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in job.params.items())
        report = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in job.report.items() if v)
        fields = "".join(f"<member>{escape(f)}</member>" for f in job.manifest["Fields"].split(",") if f)
        failure = (f"<FailureReasons><member><FailureCode>InvalidManifest</FailureCode>"
                   f"<FailureReason>{escape(job.failure)}</FailureReason></member></FailureReasons>"
                   if job.failure else "")
        return (f"<JobId>{job.job_id}</JobId><ConfirmationRequired>false</ConfirmationRequired>"
                f"<Description>{escape(job.description)}</Description>"
                f"<JobArn>arn:aws:s3:{job.region}:{job.account}:job/{job.job_id}</JobArn>"
                f"<Status>{job.status}</Status>"
                f"<Manifest><Spec><Format>{job.manifest['Format']}</Format><Fields>{fields}</Fields></Spec>"
                f"<Location><ObjectArn>{escape(job.manifest['ObjectArn'])}</ObjectArn>"
                f"<ETag>{escape(job.manifest['ETag'])}</ETag></Location></Manifest>"
                f"<Operation><{job.operation}>{params}</{job.operation}></Operation>"
                f"<Priority>{job.priority}</Priority>"
                f"<ProgressSummary>{_progress(job.tasks, done)}</ProgressSummary>"
                f"{failure}<Report>{report}</Report><CreationTime>{_iso(job.created)}</CreationTime>"
                + (f"<TerminationDate>{_iso(job.terminated)}</TerminationDate>" if job.terminated else "")
                + f"<RoleArn>{escape(job.role_arn)}</RoleArn>")


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _TaskFailed(_Refused):
    pass


def _progress(tasks: list[Task], done: list[Task]) -> str:
    ok = sum(t.status == "succeeded" for t in done)
    return (f"<TotalNumberOfTasks>{len(tasks)}</TotalNumberOfTasks><NumberOfTasksSucceeded>{ok}"
            f"</NumberOfTasksSucceeded><NumberOfTasksFailed>{len(done) - ok}</NumberOfTasksFailed>")


def _checksum(data: bytes, algorithm: str) -> dict[str, str]:
    algorithm = algorithm.upper()
    if algorithm == "CRC32":
        raw = zlib.crc32(data).to_bytes(4, "big")
    elif algorithm in ("SHA256", "SHA1", "MD5"):
        raw = hashlib.new(algorithm.lower(), data).digest()
    else:
        raise _TaskFailed(400, "InvalidRequest", f"checksum algorithm {algorithm} is not emulated")
    return {"checksumAlgorithm": algorithm, "checksumType": "FULL_OBJECT",
            "checksum_base64": base64.b64encode(raw).decode(), "checksum_hex": raw.hex()}


def _iso(when: datetime | None) -> str:
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _xml(root: str, inner: str) -> AwsResponse:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{_NS}">{inner}</{root}>'
    return AwsResponse(200, Headers({"Content-Type": "application/xml", "x-amz-request-id": str(uuid.uuid4())}),
                       body.encode())


def _strip(tag: str) -> str:
    return tag.split("}", 1)[-1]


def _child(node: ET.Element | None, name: str) -> ET.Element | None:
    if node is None:
        return None
    for c in node:
        if _strip(c.tag) == name:
            return c
    return None


def _children(node: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in (node if node is not None else []) if _strip(c.tag) == name]


def _text(node: ET.Element | None, name: str) -> str | None:
    found = _child(node, name)
    return found.text if found is not None else None
