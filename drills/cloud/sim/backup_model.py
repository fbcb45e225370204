"""State of the simulated AWS Backup: jobs and recovery points, and their API shapes.

Every document the simulation answers with goes through ``conform``, which keeps only the
members botocore's output shape declares and writes timestamps as epoch seconds (the
rest-json wire format), so boto3 parses it exactly as an AWS answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable


from drills.aws import service_model
from drills.cloud.clock import ScheduledTask

DAY = timedelta(days=1)


# --------------------------------------------------------------------------- shapes

def _service_model():
    return service_model("backup")


def conform(operation: str, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` reduced to ``operation``'s output shape, timestamps as epoch seconds."""
    return _conform(_service_model().operation_model(operation).output_shape, document)


def _conform(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {name: _conform(shape.members[name], v) for name, v in value.items()
                if name in shape.members and v is not None}
    if kind == "list":
        return [_conform(shape.member, v) for v in value]
    if kind == "map":
        return {k: _conform(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return value.timestamp() if isinstance(value, datetime) else value
    return value


def new_id() -> str:
    return str(uuid.uuid4()).upper()


def paginate(items: list[Any], max_results: str | None, next_token: str | None) -> tuple[list[Any], str | None]:
    """One page of ``items``; the token is the offset of the next page."""
    start = int(next_token) if next_token and next_token.isdigit() else 0
    size = int(max_results) if max_results and max_results.isdigit() else 1000
    page = items[start:start + size]
    return page, (str(start + size) if start + size < len(items) else None)


# --------------------------------------------------------------------------- ARNs

def recovery_point_arn(region: str, account: str) -> str:
    return f"arn:aws:backup:{region}:{account}:recovery-point:{new_id()}"


def parse_vault_arn(arn: str) -> tuple[str, str] | None:
    """(region, vault name) of a backup-vault ARN, or None."""
    parts = arn.split(":")
    if len(parts) == 7 and parts[0] == "arn" and parts[2] == "backup" and parts[5] == "backup-vault":
        return parts[3], parts[6]
    return None


def resource_of(arn: str) -> tuple[str, str, str | None] | None:
    """(resource type, name, region or None) of an S3 bucket or DynamoDB table ARN."""
    if arn.startswith("arn:aws:s3:::") and "/" not in arn[13:] and arn[13:]:
        return "S3", arn[13:], None
    parts = arn.split(":")
    if len(parts) == 6 and parts[2] == "dynamodb" and parts[5].startswith("table/") and len(parts[5]) > 6:
        return "DynamoDB", parts[5][6:].split("/")[0], parts[3]
    return None


# --------------------------------------------------------------------------- lifecycle

def check_lifecycle(lifecycle: dict[str, Any] | None) -> str | None:
    """What is wrong with a recovery-point Lifecycle, or None."""
    if not lifecycle:
        return None
    delete = lifecycle.get("DeleteAfterDays")
    cold = lifecycle.get("MoveToColdStorageAfterDays")
    for name, value in (("DeleteAfterDays", delete), ("MoveToColdStorageAfterDays", cold)):
        if value is not None and (not isinstance(value, int) or value < 1):
            return f"{name} must be a positive number of days"
    if delete is not None and cold is not None and delete < cold + 90:
        return ("DeleteAfterDays must be at least 90 days greater than MoveToColdStorageAfterDays "
                "(cold storage keeps a recovery point at least 90 days)")
    return None


def retention_violation(lifecycle: dict[str, Any] | None, min_days: int | None, max_days: int | None) -> str | None:
    """Why a job's retention falls outside a vault lock's minimum/maximum, or None."""
    delete = (lifecycle or {}).get("DeleteAfterDays")
    if min_days is not None and delete is not None and delete < min_days:
        return (f"The retention period of {delete} days is shorter than the vault lock's minimum "
                f"retention of {min_days} days")
    if max_days is not None and (delete is None or delete > max_days):
        kept = "indefinite retention" if delete is None else f"retention of {delete} days"
        return f"The {kept} is longer than the vault lock's maximum retention of {max_days} days"
    return None


# --------------------------------------------------------------------------- records

@dataclass
class RecoveryPoint:
    arn: str
    region: str
    vault_name: str
    vault_arn: str
    resource_arn: str
    resource_type: str
    resource_name: str
    iam_role: str
    created: datetime
    completed: datetime
    size: int
    snapshot: Any                        # S3Snapshot / TableSnapshot (drills.cloud.sim.backup_resources)
    lifecycle: dict[str, Any] = field(default_factory=dict)
    encryption_key_arn: str | None = None
    source_vault_arn: str | None = None
    last_restore: datetime | None = None
    expiry_task: ScheduledTask | None = None

    def delete_at(self) -> datetime | None:
        days = self.lifecycle.get("DeleteAfterDays")
        return self.created + days * DAY if days else None

    def cold_at(self) -> datetime | None:
        days = self.lifecycle.get("MoveToColdStorageAfterDays")
        return self.created + days * DAY if days else None

    def document(self, now: datetime) -> dict[str, Any]:
        cold, delete = self.cold_at(), self.delete_at()
        calculated = {"MoveToColdStorageAt": cold, "DeleteAt": delete} if self.lifecycle else None
        return {
            "RecoveryPointArn": self.arn, "BackupVaultName": self.vault_name, "BackupVaultArn": self.vault_arn,
            "SourceBackupVaultArn": self.source_vault_arn, "ResourceArn": self.resource_arn,
            "ResourceType": self.resource_type, "ResourceName": self.resource_name, "IamRoleArn": self.iam_role,
            "Status": "COMPLETED", "CreationDate": self.created, "CompletionDate": self.completed,
            "BackupSizeInBytes": self.size, "BackupSizeBytes": self.size,
            "Lifecycle": self.lifecycle or None,
            "CalculatedLifecycle": calculated,
            "EncryptionKeyArn": self.encryption_key_arn, "IsEncrypted": True, "IsParent": False,
            "StorageClass": "COLD" if cold is not None and now >= cold else "WARM",
            "LastRestoreTime": self.last_restore, "VaultType": "BACKUP_VAULT",
        }


@dataclass
class Job:
    """A backup, copy or restore job; ``state`` follows the API's vocabulary of each kind."""

    kind: str                            # "backup" | "copy" | "restore"
    job_id: str
    region: str
    created: datetime
    expected: datetime
    state: str
    fields: dict[str, Any] = field(default_factory=dict)
    completed: datetime | None = None
    message: str | None = None
    tasks: list[ScheduledTask] = field(default_factory=list)
    on_done: Callable[["Job"], None] | None = None     # called once the job COMPLETED or FAILED

    def duration_minutes(self) -> float:
        return (self.expected - self.created).total_seconds() / 60

    def document(self, account: str) -> dict[str, Any]:
        done = self.state in ("COMPLETED", "FAILED", "ABORTED", "PARTIAL", "EXPIRED")
        doc = {**self.fields, "AccountId": account, "CreationDate": self.created, "CompletionDate": self.completed,
               "StatusMessage": self.message, "IsParent": False,
               "PercentDone": "100.0" if done else ("0.0" if self.state in ("CREATED", "PENDING") else "50.0")}
        if self.kind == "backup":
            doc.update(BackupJobId=self.job_id, State=self.state, ExpectedCompletionDate=self.expected,
                       InitiationDate=self.created)
        elif self.kind == "copy":
            doc.update(CopyJobId=self.job_id, State=self.state)
        else:
            doc.update(RestoreJobId=self.job_id, Status=self.state,
                       ExpectedCompletionTimeMinutes=max(1, round(self.duration_minutes())))
        return doc


def select(items: Iterable[Any], **filters: Callable[[Any], bool] | None) -> list[Any]:
    """Items passing every given predicate (None predicates are ignored)."""
    checks = [f for f in filters.values() if f is not None]
    return [i for i in items if all(check(i) for check in checks)]
