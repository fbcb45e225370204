"""Shared by the DICOMweb tests: a typical index item, and a minimal archive (bucket, index
table, hash-key secret) in an embedded cloud with its outputs file."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from drills.contracts import (HASH_KEY_SECRET_TAGS, INDEX_ATTRIBUTE_DEFINITIONS, INDEX_KEY_SCHEMA, IndexItem,
                              StackOutputs)

ITEM = IndexItem(study_instance_uid="1.2", series_instance_uid="1.2.3", sop_instance_uid="1.2.3.4",
                 sop_class_uid="1.2.840.10008.5.1.4.1.1.2", modality="CT", specialty="radiology",
                 study_date="20240101", size=0, checksum_sha256="", version_id="v1", key="dicom/1.2/1.2.3/1.2.3.4.dcm",
                 patient_id_hash="", accession_hash="", transfer_syntax_uid="1.2.840.10008.1.2.1",
                 ingested_at="", content_sha256="", checksum_type="FULL_OBJECT")


@contextmanager
def archive_stack(directory: Path) -> Iterator[tuple[object, Path]]:
    """(the embedded cloud, the outputs file) of an archive bucket, index and hash key."""
    from drills.cloud.server import EmbeddedCloud

    region = "us-east-1"
    with EmbeddedCloud() as cloud:
        target = cloud.target
        bucket, table = f"archive-{uuid.uuid4().hex[:12]}", f"index-{uuid.uuid4().hex[:8]}"
        s3 = target.client("s3", region)
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        target.client("dynamodb", region).create_table(
            TableName=table, KeySchema=INDEX_KEY_SCHEMA, AttributeDefinitions=INDEX_ATTRIBUTE_DEFINITIONS,
            BillingMode="PAY_PER_REQUEST")
        target.client("secretsmanager", region).create_secret(
            Name=f"hash-key-{uuid.uuid4().hex[:8]}", SecretString="k" * 32,
            Tags=[{"Key": k, "Value": v} for k, v in HASH_KEY_SECRET_TAGS.items()])
        outputs = StackOutputs.from_mapping({
            "schemaVersion": 1, "primaryRegion": region, "drRegion": "us-west-2",
            "archiveBucket": bucket, "replicaBucket": "replica", "landingBucket": "landing",
            "indexTable": table, "backupVault": "vault", "drBackupVault": "dr-vault",
            "evidenceBucket": "evidence", "multiRegionAccessPoint": "mrap",
            "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12},
        })
        outputs.write(directory / "outputs.json")
        yield cloud, directory / "outputs.json"
