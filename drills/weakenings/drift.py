"""Drift an operator or attacker applies to a deployed stack, through boto3 only.

Each function takes a ``drills.aws.Target`` and the stack's ``StackOutputs`` and changes one
resource; it returns what it did (for the catalogue's record) or raises ``DriftRefused`` when
AWS refuses the change (the stack prevents that weakening)."""

from __future__ import annotations

from typing import Any, Callable

from botocore.exceptions import ClientError

from drills.errors import DrkitError, InfraError


class DriftRefused(DrkitError):
    """AWS refused the weakening: the deployed stack prevents it."""

    exit_code = 1

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _refused(exc: ClientError) -> DriftRefused:
    err = exc.response.get("Error", {})
    return DriftRefused(err.get("Code", "ClientError"), err.get("Message", ""))


def disable_dicom_replication(target: Any, out: Any) -> dict[str, Any]:
    s3 = target.client("s3", out.primaryRegion)
    config = s3.get_bucket_replication(Bucket=out.archiveBucket)["ReplicationConfiguration"]
    for rule in config["Rules"]:
        if (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix")) == "dicom/":
            rule["Status"] = "Disabled"
    s3.put_bucket_replication(Bucket=out.archiveBucket, ReplicationConfiguration=config)
    return {"resource": out.archiveBucket, "change": "replication rule for dicom/ disabled"}


def suspend_replica_versioning(target: Any, out: Any) -> dict[str, Any]:
    try:
        target.client("s3", out.drRegion).put_bucket_versioning(
            Bucket=out.replicaBucket, VersioningConfiguration={"Status": "Suspended"})
    except ClientError as exc:
        raise _refused(exc) from exc
    return {"resource": out.replicaBucket, "change": "versioning suspended"}


def remove_vault_locks(target: Any, out: Any) -> dict[str, Any]:
    for region, vault in ((out.primaryRegion, out.backupVault), (out.drRegion, out.drBackupVault)):
        try:
            target.client("backup", region).delete_backup_vault_lock_configuration(BackupVaultName=vault)
        except ClientError as exc:
            raise _refused(exc) from exc
    return {"resource": out.backupVault, "change": "vault lock removed from both vaults (governance mode allows it)"}


def drop_index_replica(target: Any, out: Any) -> dict[str, Any]:
    target.client("dynamodb", out.primaryRegion).update_table(
        TableName=out.indexTable, ReplicaUpdates=[{"Delete": {"RegionName": out.drRegion}}])
    try:
        target.client("dynamodb", out.drRegion).delete_table(TableName=out.indexTable)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    return {"resource": out.indexTable, "change": f"replica table in {out.drRegion} removed"}


def pitr_off(target: Any, out: Any) -> dict[str, Any]:
    target.client("dynamodb", out.primaryRegion).update_continuous_backups(
        TableName=out.indexTable, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    return {"resource": out.indexTable, "change": "point-in-time recovery disabled"}


def replica_expires_current(target: Any, out: Any) -> dict[str, Any]:
    target.client("s3", out.drRegion).put_bucket_lifecycle_configuration(
        Bucket=out.replicaBucket, LifecycleConfiguration={"Rules": [
            {"ID": "weakening-expire-current", "Status": "Enabled", "Filter": {"Prefix": "dicom/"},
             "Expiration": {"Days": 1}}]})
    return {"resource": out.replicaBucket, "change": "lifecycle rule expiring current versions after 1 day"}


def schedule_archive_key_deletion(target: Any, out: Any) -> dict[str, Any]:
    s3 = target.client("s3", out.primaryRegion)
    rules = s3.get_bucket_encryption(Bucket=out.archiveBucket)["ServerSideEncryptionConfiguration"]["Rules"]
    key = rules[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    kms = target.client("kms", out.primaryRegion)
    key_id = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    return {"resource": key_id, "change": "deletion scheduled (30-day window)"}


def delete_archive_restore_testing_selection(target: Any, out: Any) -> dict[str, Any]:
    """Delete the restore-testing selection that protects the archive bucket (the plan stays)."""
    backup = target.client("backup", out.primaryRegion)
    arn = f"arn:aws:s3:::{out.archiveBucket}"
    for page in backup.get_paginator("list_restore_testing_plans").paginate():
        for plan in page.get("RestoreTestingPlans", []):
            name = plan["RestoreTestingPlanName"]
            for listed in backup.list_restore_testing_selections(RestoreTestingPlanName=name)["RestoreTestingSelections"]:
                selection = backup.get_restore_testing_selection(
                    RestoreTestingPlanName=name, RestoreTestingSelectionName=listed["RestoreTestingSelectionName"]
                )["RestoreTestingSelection"]
                if arn in (selection.get("ProtectedResourceArns") or []):
                    try:
                        backup.delete_restore_testing_selection(
                            RestoreTestingPlanName=name, RestoreTestingSelectionName=listed["RestoreTestingSelectionName"])
                    except ClientError as exc:
                        raise _refused(exc) from exc
                    return {"resource": out.archiveBucket,
                            "change": f"restore-testing selection of the archive deleted from plan {name}"}
    raise InfraError("no restore-testing selection protects the archive bucket: the weakening has nothing to delete")


DRIFTS: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    f.__name__.replace("_", "-"): f for f in (disable_dicom_replication, suspend_replica_versioning, remove_vault_locks,
                                               drop_index_replica, pitr_off, replica_expires_current,
                                               schedule_archive_key_deletion, delete_archive_restore_testing_selection)}
