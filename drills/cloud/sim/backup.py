"""AWS Backup jobs, recovery points, copy and restore jobs, and vault-lock enforcement.

moto keeps vaults, plans and vault-lock settings but has no jobs or recovery points, and
deletes a locked vault. This behaviour answers the job and recovery-point operations
itself (responses conform to botocore's output shapes) and guards the vault operations
moto gets wrong. Its semantics, from the AWS Backup documentation:

* ``StartBackupJob`` snapshots the resource at the call (S3: every object version, which
  needs versioning on; DynamoDB: every item), then CREATED -> RUNNING -> COMPLETED over
  simulated minutes that grow with the size. The recovery point appears at completion.
* Vault Lock (moto's stored ``MinRetentionDays`` / ``MaxRetentionDays`` / lock date) "fails
  that backup or copy job" whose retention is outside the range: the job ends FAILED with
  the reason. A locked vault refuses ``DeleteRecoveryPoint`` and shortening a retention
  (``InvalidRequestException``); once the lock date has passed in virtual time the lock
  cannot be changed or removed. A vault is deleted only when empty, and never while in
  compliance mode (``InvalidRequestException``).
* ``StartCopyJob`` puts a copy into a vault of another region after a simulated delay; it
  FAILS if that region is down (``outage`` behaviour) or the vault is missing.
* ``StartRestoreJob`` restores into a new bucket (versioned, the vault's region) or table;
  a version older than the one already in a bucket is skipped.
* Recovery points are deleted when their ``DeleteAfterDays`` pass.

Not simulated: backup plans running on their schedule, continuous (point-in-time) backups,
legal holds, restore testing, logically air-gapped vaults. Every time is virtual and every
duration simulated.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from drills.cloud.clock import SIMULATED
from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error
from drills.cloud.sim.backup_model import (
    Job, RecoveryPoint, check_lifecycle, conform, new_id, paginate, parse_vault_arn, recovery_point_arn,
    resource_of, retention_violation, select,
)
from drills.cloud.sim.backup_resources import (
    BlobStore, ResourceError, S3RestoreOptions, capture_bucket, capture_table, restore_bucket, restore_table,
)
from drills.times import parse_time

if TYPE_CHECKING:
    from drills.cloud.simulation import Simulation

log = logging.getLogger(__name__)

# Simulated job timing; override with SimSettings.extra["backup"][name].
DEFAULTS = {
    "startDelaySeconds": 60.0,          # CREATED/PENDING -> RUNNING
    "backupMinSeconds": 300.0,
    "copyMinSeconds": 600.0,
    "restoreMinSeconds": 600.0,
    "bytesPerSecond": 25 * 1024 * 1024,
    "jitter": 0.1,                      # +/- fraction, drawn with the simulation's seed
}
_VAULT_EMPTY = "Backup vault cannot be deleted because it contains recovery points."


class BackupJobs(Interceptor):
    name = "backup"

    def __init__(self, sim: "Simulation") -> None:
        super().__init__(sim)
        self._options = {**DEFAULTS, **(sim.settings.extra.get(self.name) or {})}
        self._rng = random.Random(f"{sim.settings.seed}:backup")
        self._lock = threading.RLock()
        self._handlers: dict[str, Callable[[AwsRequest], AwsResponse | None]] = {
            "StartBackupJob": self._start_backup_job, "DescribeBackupJob": self._describe_backup_job,
            "ListBackupJobs": self._list_backup_jobs,
            "ListRecoveryPointsByBackupVault": self._list_points_by_vault,
            "ListRecoveryPointsByResource": self._list_points_by_resource,
            "DescribeRecoveryPoint": self._describe_point, "DeleteRecoveryPoint": self._delete_point,
            "UpdateRecoveryPointLifecycle": self._update_lifecycle,
            "GetRecoveryPointRestoreMetadata": self._restore_metadata,
            "StartCopyJob": self._start_copy_job, "DescribeCopyJob": self._describe_copy_job,
            "ListCopyJobs": self._list_copy_jobs,
            "StartRestoreJob": self._start_restore_job, "DescribeRestoreJob": self._describe_restore_job,
            "ListRestoreJobs": self._list_restore_jobs,
            "DeleteBackupVault": self._delete_vault,
            "PutBackupVaultLockConfiguration": self._guard_lock_change,
            "DeleteBackupVaultLockConfiguration": self._guard_lock_change,
        }
        self.reset()

    def reset(self) -> None:
        with self._lock:
            for job in getattr(self, "_jobs", {}).values():
                for task in job.tasks:
                    task.cancel()
            for point in getattr(self, "_points", {}).values():
                if point.expiry_task is not None:
                    point.expiry_task.cancel()
            self._jobs: dict[str, Job] = {}
            self._points: dict[str, RecoveryPoint] = {}
            self._lock_dates: dict[tuple[str, str], datetime | None] = {}
            self._tokens: dict[tuple[str, str], str] = {}
            self._blobs = BlobStore()

    # ------------------------------------------------------------------ hooks
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "backup":
            return None
        handler = self._handlers.get(req.operation or "")
        return handler(req) if handler else None

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "backup" or not resp.ok:
            return resp
        vault = req.params.get("backupVaultName", "")
        if req.operation == "PutBackupVaultLockConfiguration":
            days = req.json().get("ChangeableForDays")
            lock_date = self.sim.clock.now() + timedelta(days=days) if days is not None else None
            with self._lock:
                self._lock_dates[(req.region or "", vault)] = lock_date
        elif req.operation in ("DeleteBackupVaultLockConfiguration", "DeleteBackupVault"):
            with self._lock:
                self._lock_dates.pop((req.region or "", vault), None)
        elif req.operation in ("DescribeBackupVault", "ListBackupVaults"):
            return self._with_point_counts(req.region or "", resp)
        return resp

    def _with_point_counts(self, region: str, resp: AwsResponse) -> AwsResponse:
        """moto does not report NumberOfRecoveryPoints; count ours."""
        doc = resp.json()
        for entry in doc.get("BackupVaultList", [doc]):
            if "BackupVaultName" in entry:
                entry["NumberOfRecoveryPoints"] = len(self._vault_points(region, entry["BackupVaultName"]))
        amended = AwsResponse.json_body(doc, status=resp.status)
        amended.headers.update({k: v for k, v in resp.headers.items() if k.lower() != "content-length"})
        return amended

    # ------------------------------------------------------------------ helpers
    def _ok(self, operation: str, document: dict[str, Any]) -> AwsResponse:
        return AwsResponse.json_body(conform(operation, document))

    @staticmethod
    def _error(req: AwsRequest, code: str, message: str) -> AwsResponse:
        return aws_error(req, 400, code, message)

    def _vault(self, region: str, name: str) -> Any | None:
        return self.sim.backend("backup", region).vaults.get(name)

    def _now(self) -> datetime:
        return self.sim.clock.now()

    def _region_down(self, region: str) -> bool:
        try:
            outage = self.sim["outage"]
        except KeyError:
            return False
        is_down = getattr(outage, "is_down", None)
        return bool(is_down(region)) if callable(is_down) else False

    def _lock_date(self, region: str, name: str, vault: Any) -> datetime | None:
        with self._lock:
            if (region, name) in self._lock_dates:
                return self._lock_dates[(region, name)]
        if vault.lock_date is not None:         # set outside the middleware: moto's (real-time) date
            return datetime.fromtimestamp(float(vault.lock_date), timezone.utc)
        return None

    def _immutable(self, region: str, name: str, vault: Any) -> bool:
        """The vault is locked in compliance mode: its lock date has passed (virtual time)."""
        if not vault.locked:
            return False
        lock_date = self._lock_date(region, name, vault)
        return lock_date is not None and self._now() >= lock_date

    def _duration(self, size: int, minimum: float) -> timedelta:
        with self._lock:
            jitter = 1 + self._rng.uniform(-self._options["jitter"], self._options["jitter"])
        seconds = max(float(minimum), size / float(self._options["bytesPerSecond"])) * jitter
        return timedelta(seconds=seconds)

    def _vault_points(self, region: str, name: str) -> list[RecoveryPoint]:
        with self._lock:
            return [p for p in self._points.values() if p.region == region and p.vault_name == name]

    def _point(self, req: AwsRequest) -> RecoveryPoint | AwsResponse:
        region, name = req.region or "", req.params.get("backupVaultName", "")
        if self._vault(region, name) is None:
            return self._error(req, "ResourceNotFoundException", f"Backup vault {name} not found")
        arn = req.params.get("recoveryPointArn", "")
        with self._lock:
            point = self._points.get(arn)
        if point is None or point.region != region or point.vault_name != name:
            return self._error(req, "ResourceNotFoundException", f"Recovery point {arn} not found")
        return point

    def _job(self, req: AwsRequest, kind: str, key: str) -> Job | AwsResponse:
        job_id = req.params.get(key, "")
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.kind != kind or job.region != req.region:
            return self._error(req, "ResourceNotFoundException", f"Cannot find {kind} job {job_id}")
        return job

    def _schedule(self, job: Job, start_delay: float, run: Callable[[Job], None], label: str) -> None:
        clock = self.sim.clock
        job.tasks.append(clock.schedule_at(job.created + timedelta(seconds=start_delay),
                                           lambda: self._set_running(job), f"{label} starts"))
        job.tasks.append(clock.schedule_at(job.expected, lambda: run(job), f"{label} completes"))

    @staticmethod
    def _set_running(job: Job) -> None:
        if job.state in ("CREATED", "PENDING"):
            job.state = "RUNNING"

    def _finish(self, job: Job, state: str, message: str | None = None) -> None:
        job.state, job.message, job.completed = state, message, self._now()
        log.info("%s job %s %s (virtual %s)", job.kind, job.job_id, state, job.completed.isoformat())

    def _schedule_expiry(self, point: RecoveryPoint) -> None:
        if point.expiry_task is not None:
            point.expiry_task.cancel()
            point.expiry_task = None
        delete_at = point.delete_at()
        if delete_at is not None:
            point.expiry_task = self.sim.clock.schedule_at(delete_at, lambda: self._expire_point(point),
                                                           "backup recovery point expires")

    def _add_point(self, point: RecoveryPoint) -> None:
        self._schedule_expiry(point)
        with self._lock:
            self._points[point.arn] = point

    def _drop_point(self, point: RecoveryPoint) -> None:
        with self._lock:
            self._points.pop(point.arn, None)
        if point.expiry_task is not None:
            point.expiry_task.cancel()

    def _expire_point(self, point: RecoveryPoint) -> None:
        """Lifecycle deletion at DeleteAt: AWS Backup deletes it whatever the vault lock."""
        self._drop_point(point)

    def _idempotent(self, req: AwsRequest, body: dict[str, Any]) -> Job | None:
        token = body.get("IdempotencyToken")
        if not token:
            return None
        with self._lock:
            job_id = self._tokens.get((req.operation or "", token))
            return self._jobs.get(job_id) if job_id else None

    def _remember(self, req: AwsRequest, body: dict[str, Any], job: Job) -> None:
        with self._lock:
            self._jobs[job.job_id] = job
            if body.get("IdempotencyToken"):
                self._tokens[(req.operation or "", body["IdempotencyToken"])] = job.job_id

    # ------------------------------------------------------------------ backup jobs
    def _start_backup_job(self, req: AwsRequest) -> AwsResponse:
        body = req.json()
        region = req.region or ""
        for name in ("BackupVaultName", "ResourceArn", "IamRoleArn"):
            if not body.get(name):
                return self._error(req, "MissingParameterValueException", f"{name} is required")
        previous = self._idempotent(req, body)
        if previous is not None:
            return self._ok("StartBackupJob", {"BackupJobId": previous.job_id, "CreationDate": previous.created,
                                               "RecoveryPointArn": previous.fields["RecoveryPointArn"],
                                               "IsParent": False})
        vault_name, resource_arn = body["BackupVaultName"], body["ResourceArn"]
        vault = self._vault(region, vault_name)
        if vault is None:
            return self._error(req, "ResourceNotFoundException", f"Backup vault {vault_name} not found")
        resource = resource_of(resource_arn)
        if resource is None:
            return self._error(req, "InvalidParameterValueException",
                               f"Resource {resource_arn} is not an S3 bucket or DynamoDB table ARN")
        problem = check_lifecycle(body.get("Lifecycle"))
        if problem:
            return self._error(req, "InvalidParameterValueException", problem)
        resource_type, resource_name, resource_region = resource
        snapshot, failure = self._capture(resource_type, resource_name, resource_region or region, region)
        now = self._now()
        size = snapshot.size if snapshot is not None else 0
        expected = now + timedelta(seconds=self._options["startDelaySeconds"]) + \
            self._duration(size, self._options["backupMinSeconds"])
        job = Job("backup", new_id(), region, now, expected, "CREATED", fields={
            "BackupVaultName": vault_name, "BackupVaultArn": vault.backup_vault_arn,
            "RecoveryPointArn": recovery_point_arn(region, self.sim.account_id), "ResourceArn": resource_arn,
            "ResourceType": resource_type, "ResourceName": resource_name, "IamRoleArn": body["IamRoleArn"],
            "BackupSizeInBytes": size, "BytesTransferred": size, "RecoveryPointLifecycle": body.get("Lifecycle"),
            "EncryptionKeyArn": vault.encryption_key_arn, "IsEncrypted": True,
            "StartBy": now + timedelta(minutes=body.get("StartWindowMinutes") or 480)})
        self._remember(req, body, job)
        self._schedule(job, self._options["startDelaySeconds"],
                       lambda j: self._complete_backup(j, snapshot, failure, body.get("Lifecycle") or {}),
                       f"backup job {resource_type}")
        return self._ok("StartBackupJob", {"BackupJobId": job.job_id, "CreationDate": now, "IsParent": False,
                                           "RecoveryPointArn": job.fields["RecoveryPointArn"]})

    def _capture(self, resource_type: str, name: str, resource_region: str, region: str) -> tuple[Any, str | None]:
        """The resource's snapshot now, or (None, why it cannot be backed up)."""
        try:
            if resource_type == "S3":
                snapshot = capture_bucket(self.sim, name, self._blobs)
                if snapshot.region != region:
                    return None, f"Bucket {name} is in {snapshot.region}; the backup vault is in {region}"
                return snapshot, None
            if resource_region != region:
                return None, f"Table {name} is in {resource_region}; the backup vault is in {region}"
            return capture_table(self.sim, name, resource_region), None
        except ResourceError as exc:
            return None, str(exc)

    def _complete_backup(self, job: Job, snapshot: Any, failure: str | None, lifecycle: dict[str, Any]) -> None:
        region, name = job.region, job.fields["BackupVaultName"]
        vault = self._vault(region, name)
        if failure is None and self._region_down(region):
            failure = f"AWS Backup in {region} is unavailable (simulated region outage)"
        if failure is None and vault is None:
            failure = f"Backup vault {name} no longer exists"
        if failure is None and vault.locked:
            failure = retention_violation(lifecycle, vault.min_retention_days, vault.max_retention_days)
        if failure is not None:
            self._finish(job, "FAILED", failure)
            return
        self._finish(job, "COMPLETED")
        self._add_point(RecoveryPoint(
            arn=job.fields["RecoveryPointArn"], region=region, vault_name=name, vault_arn=vault.backup_vault_arn,
            resource_arn=job.fields["ResourceArn"], resource_type=job.fields["ResourceType"],
            resource_name=job.fields["ResourceName"], iam_role=job.fields["IamRoleArn"], created=job.created,
            completed=job.completed or self._now(), size=job.fields["BackupSizeInBytes"], snapshot=snapshot,
            lifecycle=dict(lifecycle), encryption_key_arn=vault.encryption_key_arn))

    def _describe_backup_job(self, req: AwsRequest) -> AwsResponse:
        job = self._job(req, "backup", "backupJobId")
        if isinstance(job, AwsResponse):
            return job
        return self._ok("DescribeBackupJob", job.document(self.sim.account_id))

    def _list_backup_jobs(self, req: AwsRequest) -> AwsResponse:
        q = _query(req)
        jobs = self._jobs_of("backup", req.region or "", q, state_key="state")
        jobs = select(jobs, vault=_eq(q.get("backupVaultName"), lambda j: j.fields["BackupVaultName"]))
        page, token = paginate(jobs, q.get("maxResults"), q.get("nextToken"))
        return self._ok("ListBackupJobs", {"BackupJobs": [j.document(self.sim.account_id) for j in page],
                                           "NextToken": token})

    def _jobs_of(self, kind: str, region: str, q: dict[str, str], state_key: str) -> list[Job]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.kind == kind and j.region == region]
        return select(sorted(jobs, key=lambda j: j.created),
                      state=_eq(q.get(state_key), lambda j: j.state),
                      resource=_eq(q.get("resourceArn"), lambda j: j.fields.get("ResourceArn")),
                      rtype=_eq(q.get("resourceType"), lambda j: j.fields.get("ResourceType")),
                      after=_time_filter(q.get("createdAfter"), lambda j, t: j.created > t),
                      before=_time_filter(q.get("createdBefore"), lambda j, t: j.created < t))

    # ------------------------------------------------------------------ recovery points
    def _list_points_by_vault(self, req: AwsRequest) -> AwsResponse:
        region, name = req.region or "", req.params.get("backupVaultName", "")
        if self._vault(region, name) is None:
            return self._error(req, "ResourceNotFoundException", f"Backup vault {name} not found")
        q = _query(req)
        points = select(sorted(self._vault_points(region, name), key=lambda p: p.created),
                        resource=_eq(q.get("resourceArn"), lambda p: p.resource_arn),
                        rtype=_eq(q.get("resourceType"), lambda p: p.resource_type))
        page, token = paginate(points, q.get("maxResults"), q.get("nextToken"))
        now = self._now()
        return self._ok("ListRecoveryPointsByBackupVault",
                        {"RecoveryPoints": [p.document(now) for p in page], "NextToken": token})

    def _list_points_by_resource(self, req: AwsRequest) -> AwsResponse:
        arn = req.params.get("resourceArn", "")
        with self._lock:
            points = [p for p in self._points.values() if p.region == req.region and p.resource_arn == arn]
        q = _query(req)
        page, token = paginate(sorted(points, key=lambda p: p.created), q.get("maxResults"), q.get("nextToken"))
        now = self._now()
        return self._ok("ListRecoveryPointsByResource",
                        {"RecoveryPoints": [p.document(now) for p in page], "NextToken": token})

    def _describe_point(self, req: AwsRequest) -> AwsResponse:
        point = self._point(req)
        if isinstance(point, AwsResponse):
            return point
        return self._ok("DescribeRecoveryPoint", point.document(self._now()))

    def _delete_point(self, req: AwsRequest) -> AwsResponse:
        point = self._point(req)
        if isinstance(point, AwsResponse):
            return point
        vault = self._vault(point.region, point.vault_name)
        if vault is not None and vault.locked:
            return self._error(req, "InvalidRequestException",
                               f"Recovery point {point.arn} cannot be deleted: backup vault {point.vault_name} "
                               "is protected by Vault Lock")
        self._drop_point(point)
        return AwsResponse.json_body({})

    def _update_lifecycle(self, req: AwsRequest) -> AwsResponse:
        point = self._point(req)
        if isinstance(point, AwsResponse):
            return point
        lifecycle = req.json().get("Lifecycle") or {}
        problem = check_lifecycle(lifecycle)
        if problem:
            return self._error(req, "InvalidParameterValueException", problem)
        vault = self._vault(point.region, point.vault_name)
        if vault is not None and vault.locked:
            old, new = point.lifecycle.get("DeleteAfterDays"), lifecycle.get("DeleteAfterDays")
            shorter = new is not None and (old is None or new < old)
            problem = retention_violation(lifecycle, vault.min_retention_days, vault.max_retention_days)
            if shorter or problem:
                return self._error(req, "InvalidRequestException",
                                   problem or "Vault Lock prevents shortening the retention of a recovery point")
        point.lifecycle = dict(lifecycle)
        self._schedule_expiry(point)
        return self._ok("UpdateRecoveryPointLifecycle", point.document(self._now()))

    def _restore_metadata(self, req: AwsRequest) -> AwsResponse:
        point = self._point(req)
        if isinstance(point, AwsResponse):
            return point
        if point.resource_type == "S3":
            metadata = {"DestinationBucketName": point.resource_name, "NewBucket": "true", "Encrypted": "false"}
        else:
            metadata = {"targetTableName": point.resource_name}
        return self._ok("GetRecoveryPointRestoreMetadata", {
            "BackupVaultArn": point.vault_arn, "RecoveryPointArn": point.arn, "RestoreMetadata": metadata,
            "ResourceType": point.resource_type})

    # ------------------------------------------------------------------ vaults
    def _delete_vault(self, req: AwsRequest) -> AwsResponse | None:
        region, name = req.region or "", req.params.get("backupVaultName", "")
        vault = self._vault(region, name)
        if vault is None:
            return self._error(req, "ResourceNotFoundException", f"Backup vault {name} not found")
        if self._vault_points(region, name):
            return self._error(req, "InvalidRequestException", _VAULT_EMPTY)
        if self._immutable(region, name, vault):
            return self._error(req, "InvalidRequestException",
                               f"Backup vault {name} is locked in compliance mode and cannot be deleted")
        return None                              # moto deletes it

    def _guard_lock_change(self, req: AwsRequest) -> AwsResponse | None:
        region, name = req.region or "", req.params.get("backupVaultName", "")
        vault = self._vault(region, name)
        if vault is not None and self._immutable(region, name, vault):
            verb = "modified" if req.operation == "PutBackupVaultLockConfiguration" else "deleted"
            return self._error(req, "InvalidRequestException",
                               f"Vault Lock configuration is immutable and cannot be {verb}")
        return None                              # moto stores the change

    # ------------------------------------------------------------------ copy jobs
    def _start_copy_job(self, req: AwsRequest) -> AwsResponse:
        body = req.json()
        region = req.region or ""
        for name in ("RecoveryPointArn", "SourceBackupVaultName", "DestinationBackupVaultArn", "IamRoleArn"):
            if not body.get(name):
                return self._error(req, "MissingParameterValueException", f"{name} is required")
        previous = self._idempotent(req, body)
        if previous is not None:
            return self._ok("StartCopyJob", {"CopyJobId": previous.job_id, "CreationDate": previous.created})
        destination = parse_vault_arn(body["DestinationBackupVaultArn"])
        if destination is None:
            return self._error(req, "InvalidParameterValueException",
                               f"{body['DestinationBackupVaultArn']} is not a backup vault ARN")
        problem = check_lifecycle(body.get("Lifecycle"))
        if problem:
            return self._error(req, "InvalidParameterValueException", problem)
        source_vault = self._vault(region, body["SourceBackupVaultName"])
        with self._lock:
            point = self._points.get(body["RecoveryPointArn"])
        if source_vault is None or point is None or point.region != region \
                or point.vault_name != body["SourceBackupVaultName"]:
            return self._error(req, "ResourceNotFoundException",
                               f"Recovery point {body['RecoveryPointArn']} not found in vault "
                               f"{body['SourceBackupVaultName']}")
        now = self._now()
        expected = now + timedelta(seconds=self._options["startDelaySeconds"]) + \
            self._duration(point.size, self._options["copyMinSeconds"])
        job = Job("copy", new_id(), region, now, expected, "CREATED", fields={
            "SourceBackupVaultArn": source_vault.backup_vault_arn, "SourceRecoveryPointArn": point.arn,
            "DestinationBackupVaultArn": body["DestinationBackupVaultArn"], "ResourceArn": point.resource_arn,
            "ResourceType": point.resource_type, "ResourceName": point.resource_name,
            "BackupSizeInBytes": point.size, "IamRoleArn": body["IamRoleArn"],
            "DestinationRecoveryPointLifecycle": body.get("Lifecycle") or point.lifecycle or None})
        self._remember(req, body, job)
        self._schedule(job, self._options["startDelaySeconds"], lambda j: self._complete_copy(j, destination),
                       "backup copy job")
        return self._ok("StartCopyJob", {"CopyJobId": job.job_id, "CreationDate": now, "IsParent": False})

    def _complete_copy(self, job: Job, destination: tuple[str, str]) -> None:
        dest_region, dest_name = destination
        with self._lock:
            source = self._points.get(job.fields["SourceRecoveryPointArn"])
        lifecycle = job.fields.get("DestinationRecoveryPointLifecycle") or {}
        vault = None
        if source is None:
            failure: str | None = "The source recovery point no longer exists"
        elif self._region_down(dest_region) or self._region_down(job.region):
            down = dest_region if self._region_down(dest_region) else job.region
            failure = f"AWS Backup in {down} is unavailable (simulated region outage)"
        else:
            vault = self._vault(dest_region, dest_name)
            failure = f"Destination backup vault {dest_name} not found in {dest_region}" if vault is None else (
                retention_violation(lifecycle, vault.min_retention_days, vault.max_retention_days)
                if vault.locked else None)
        if failure is not None or vault is None or source is None:
            self._finish(job, "FAILED", failure)
            return
        self._finish(job, "COMPLETED")
        copy = RecoveryPoint(
            arn=recovery_point_arn(dest_region, self.sim.account_id), region=dest_region, vault_name=dest_name,
            vault_arn=vault.backup_vault_arn, resource_arn=source.resource_arn, resource_type=source.resource_type,
            resource_name=source.resource_name, iam_role=job.fields["IamRoleArn"], created=job.completed or self._now(),
            completed=job.completed or self._now(), size=source.size, snapshot=source.snapshot,
            lifecycle=dict(lifecycle), encryption_key_arn=vault.encryption_key_arn,
            source_vault_arn=source.vault_arn)
        job.fields["DestinationRecoveryPointArn"] = copy.arn
        self._add_point(copy)

    def _describe_copy_job(self, req: AwsRequest) -> AwsResponse:
        job = self._job(req, "copy", "copyJobId")
        if isinstance(job, AwsResponse):
            return job
        return self._ok("DescribeCopyJob", {"CopyJob": job.document(self.sim.account_id)})

    def _list_copy_jobs(self, req: AwsRequest) -> AwsResponse:
        q = _query(req)
        jobs = select(self._jobs_of("copy", req.region or "", q, state_key="state"),
                      dest=_eq(q.get("destinationVaultArn"), lambda j: j.fields["DestinationBackupVaultArn"]),
                      source=_eq(q.get("sourceRecoveryPointArn"), lambda j: j.fields["SourceRecoveryPointArn"]))
        page, token = paginate(jobs, q.get("maxResults"), q.get("nextToken"))
        return self._ok("ListCopyJobs", {"CopyJobs": [j.document(self.sim.account_id) for j in page],
                                         "NextToken": token})

    # ------------------------------------------------------------------ restore jobs
    def _start_restore_job(self, req: AwsRequest) -> AwsResponse:
        body = req.json()
        for name in ("RecoveryPointArn", "Metadata", "IamRoleArn"):
            if not body.get(name):
                return self._error(req, "MissingParameterValueException", f"{name} is required")
        previous = self._idempotent(req, body)
        if previous is not None:
            return self._ok("StartRestoreJob", {"RestoreJobId": previous.job_id})
        with self._lock:
            point = self._points.get(body["RecoveryPointArn"])
        if point is None or point.region != req.region:
            return self._error(req, "ResourceNotFoundException", f"Recovery point {body['RecoveryPointArn']} not found")
        metadata = {str(k): str(v) for k, v in body["Metadata"].items()}
        try:
            if point.resource_type == "S3":
                target: Any = S3RestoreOptions.from_metadata(metadata, point.snapshot)
            else:
                target = metadata.get("targetTableName") or ""
                if not target:
                    raise ValueError("Metadata targetTableName is required to restore a DynamoDB recovery point")
        except ValueError as exc:
            return self._error(req, "InvalidParameterValueException", str(exc))
        now = self._now()
        expected = now + timedelta(seconds=self._options["startDelaySeconds"]) + \
            self._duration(point.size, self._options["restoreMinSeconds"])
        job = Job("restore", new_id(), point.region, now, expected, "PENDING", fields={
            "RecoveryPointArn": point.arn, "SourceResourceArn": point.resource_arn, "BackupVaultArn": point.vault_arn,
            "BackupSizeInBytes": point.size, "IamRoleArn": body["IamRoleArn"], "ResourceType": point.resource_type,
            "RecoveryPointCreationDate": point.created})
        self._remember(req, body, job)
        self._schedule(job, self._options["startDelaySeconds"], lambda j: self._complete_restore(j, point, target),
                       f"backup restore job {point.resource_type}")
        return self._ok("StartRestoreJob", {"RestoreJobId": job.job_id})

    def _complete_restore(self, job: Job, point: RecoveryPoint, target: Any) -> None:
        if self._region_down(point.region):
            self._finish(job, "FAILED", f"AWS Backup in {point.region} is unavailable (simulated region outage)")
            return
        try:
            if point.resource_type == "S3":
                created, _count = restore_bucket(self.sim, point.snapshot, point.region, target, self._blobs)
            else:
                created, _count = restore_table(self.sim, point.snapshot, point.region, target)
        except ResourceError as exc:
            self._finish(job, "FAILED", str(exc))
            return
        job.fields["CreatedResourceArn"] = created
        self._finish(job, "COMPLETED")
        point.last_restore = job.completed

    def _describe_restore_job(self, req: AwsRequest) -> AwsResponse:
        job = self._job(req, "restore", "restoreJobId")
        if isinstance(job, AwsResponse):
            return job
        return self._ok("DescribeRestoreJob", job.document(self.sim.account_id))

    def _list_restore_jobs(self, req: AwsRequest) -> AwsResponse:
        q = _query(req)
        jobs = self._jobs_of("restore", req.region or "", q, state_key="status")
        page, token = paginate(jobs, q.get("maxResults"), q.get("nextToken"))
        return self._ok("ListRestoreJobs", {"RestoreJobs": [j.document(self.sim.account_id) for j in page],
                                            "NextToken": token})

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        now = self._now()
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.created)
            points = sorted(self._points.values(), key=lambda p: p.created)
            blobs = len(self._blobs)
        vaults: dict[str, list[dict[str, Any]]] = {}
        for p in points:
            delete_at = p.delete_at()
            vaults.setdefault(f"{p.region}/{p.vault_name}", []).append({
                "recoveryPointArn": p.arn, "resourceArn": p.resource_arn, "resourceType": p.resource_type,
                "created": p.created.isoformat(), "sizeBytes": p.size, "copyOf": p.source_vault_arn,
                "deleteAt": delete_at.isoformat() if delete_at else None})
        return {
            "jobs": [{"kind": j.kind, "id": j.job_id, "region": j.region, "state": j.state,
                      "resourceArn": j.fields.get("ResourceArn") or j.fields.get("SourceResourceArn"),
                      "created": j.created.isoformat(),
                      "completed": j.completed.isoformat() if j.completed else None,
                      "expectedCompletion": j.expected.isoformat(),
                      "durationMinutes": round(j.duration_minutes(), 1), "message": j.message} for j in jobs],
            "recoveryPointsByVault": vaults,
            "storedBlobs": blobs,
            "now": now.isoformat(),
            "label": SIMULATED,
        }


# --------------------------------------------------------------------------- query helpers

def _query(req: AwsRequest) -> dict[str, str]:
    return {k: v[0] for k, v in req.query.items() if v}


def _eq(value: str | None, get: Callable[[Any], Any]) -> Callable[[Any], bool] | None:
    return None if value is None else (lambda item: get(item) == value)


def _time_filter(value: str | None, compare: Callable[[Any, datetime], bool]) -> Callable[[Any], bool] | None:
    if value is None:
        return None
    when = parse_time(value)
    return lambda item: compare(item, when)

