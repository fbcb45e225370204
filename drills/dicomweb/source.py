"""The archive a DICOMweb app serves: one region's archive bucket and study index.

The primary region reads ``archiveBucket`` and the index table there; the DR region reads
``replicaBucket`` and the index's DR replica (same table name, DR region). Reads go by the
version id the index names, so a later version written beside it is never served in its
place. Searches without a Study Instance UID scan the index (one page at a time); with one,
they query its partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

from boto3.dynamodb.types import TypeDeserializer

from drills.aws import DELETE_MARKER, OBJECT_NOT_FOUND, Target, error_code
from drills.contracts import INDEX_PARTITION_KEY, IndexItem, StackOutputs
from drills.errors import UsageError
from drills.ingest.failures import AWS_ERRORS, infra_error
from drills.ingest.pseudonym import Pseudonymizer, replica_secret_id

REGIONS = ("primary", "dr")
NOT_HERE = OBJECT_NOT_FOUND | DELETE_MARKER
_deserialize = TypeDeserializer().deserialize


@dataclass(frozen=True)
class ArchiveSource:
    """Where one DICOMweb app reads (and, when ``writable``, stores)."""

    target: Target
    role: str              # "primary" or "dr"
    region: str
    bucket: str
    table: str
    writable: bool
    claims_table: str | None = None     # SOP Instance UID claims (same name in both regions)
    hash_key_secret_arn: str | None = None      # the stack's hash-key secret (outputs hashKeySecretArn)

    @classmethod
    def from_outputs(cls, outputs: StackOutputs, target: Target, role: str = "primary", *,
                     promote: bool = False) -> "ArchiveSource":
        """The primary region (writable) or the DR region (read-only unless ``promote``)."""
        if role not in REGIONS:
            raise UsageError(f"region must be one of {', '.join(REGIONS)} (got {role!r})")
        if role == "primary":
            return cls(target, role, outputs.primaryRegion, outputs.archiveBucket, outputs.indexTable, True,
                       outputs.claimsTable, outputs.hashKeySecretArn)
        return cls(target, role, outputs.drRegion, outputs.replicaBucket, outputs.indexTable, promote,
                   outputs.claimsTable, outputs.hashKeySecretArn)

    def pseudonymizer(self) -> Pseudonymizer:
        """The identifier hash key, read from this region's copy of the secret: the stack's own
        secret when the outputs name it (its replica in the DR region), else the one tagged
        secret of the region (schemaVersion 1 outputs; refused when several stacks share it)."""
        if self.hash_key_secret_arn:
            return Pseudonymizer.from_secret_id(self.target, self.region,
                                                replica_secret_id(self.hash_key_secret_arn, self.region))
        return Pseudonymizer.from_secret(self.target, self.region)

    # -- index
    def study_items(self, study_uid: str) -> list[IndexItem]:
        """Every index item of one study (Query with a strongly consistent read, so a study just
        stored through STOW-RS is found; in the DR region: of what the replica holds)."""
        ddb = self.target.client("dynamodb", self.region)
        kwargs: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "#pk = :pk", "ConsistentRead": True,
            "ExpressionAttributeNames": {"#pk": INDEX_PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": study_uid}},
        }
        try:
            pages = ddb.get_paginator("query").paginate(**kwargs)
            return [_item(raw) for page in pages for raw in page.get("Items", [])]
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"query the study index {self.table} in {self.region}") from exc

    def all_items(self) -> Iterator[IndexItem]:
        """Every index item (Scan, page by page)."""
        ddb = self.target.client("dynamodb", self.region)
        try:
            for page in ddb.get_paginator("scan").paginate(TableName=self.table):
                for raw in page.get("Items", []):
                    yield _item(raw)
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"scan the study index {self.table} in {self.region}") from exc

    # -- archive
    def head(self, item: IndexItem) -> dict[str, Any] | None:
        """S3's HEAD of the version the index names (with its stored checksum), or None when
        this region's bucket does not hold it (not replicated yet, or gone)."""
        s3 = self.target.client("s3", self.region)
        try:
            return s3.head_object(ChecksumMode="ENABLED", **self._where(item))
        except AWS_ERRORS as exc:
            if error_code(exc) in NOT_HERE:
                return None
            raise infra_error(exc, f"read {item.key} from {self.bucket}") from exc

    def _where(self, item: IndexItem) -> dict[str, Any]:
        where: dict[str, Any] = {"Bucket": self.bucket, "Key": item.key}
        if item.version_id and item.version_id != "null":
            where["VersionId"] = item.version_id
        return where

    def open(self, item: IndexItem) -> BinaryIO:
        """The body stream of the archived version the index names (not read yet)."""
        s3 = self.target.client("s3", self.region)
        try:
            return s3.get_object(**self._where(item))["Body"]
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"read {item.key} from {self.bucket}") from exc


def _item(raw: dict[str, Any]) -> IndexItem:
    return IndexItem.from_item({k: _deserialize(v) for k, v in raw.items()})
