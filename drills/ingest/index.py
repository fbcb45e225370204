"""The study index (DynamoDB): one item per archived instance, keyed as drills.contracts says.

Besides the contract's ``INDEX_ATTRIBUTES`` an item carries:
``ContentSHA256`` (full-object SHA-256, base64 — equals ``ChecksumSHA256`` for a single
PUT; for multipart objects ``ChecksumSHA256`` is S3's COMPOSITE value), ``ChecksumType``
(FULL_OBJECT or COMPOSITE), ``PartSize``/``PartCount`` (COMPOSITE only, to recompute it),
and, once an instance was re-sent with different bytes, ``Conflicts`` (a list of maps:
DetectedAt, PreviousVersionId, PreviousChecksumSHA256, PreviousSize, VersionId,
ChecksumSHA256) with ``ConflictCount``. The item always describes the latest version.
"""

from __future__ import annotations

from typing import Any, Mapping

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from drills.aws import Target
from drills.contracts import INDEX_PARTITION_KEY, INDEX_SORT_KEY, index_sort_key
from drills.ingest.failures import AWS_ERRORS, infra_error

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class StudyIndex:
    """Reads and writes index items with the low-level DynamoDB client."""

    def __init__(self, target: Target, region: str, table: str) -> None:
        self.table = table
        self._ddb = target.client("dynamodb", region)

    @staticmethod
    def key(study_uid: str, series_uid: str, sop_uid: str) -> dict[str, Any]:
        return {
            INDEX_PARTITION_KEY: {"S": study_uid},
            INDEX_SORT_KEY: {"S": index_sort_key(series_uid, sop_uid)},
        }

    def get(self, study_uid: str, series_uid: str, sop_uid: str) -> dict[str, Any] | None:
        """The item for one instance (strongly consistent read), or None."""
        try:
            response = self._ddb.get_item(
                TableName=self.table, Key=self.key(study_uid, series_uid, sop_uid), ConsistentRead=True
            )
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"read index item from {self.table}") from exc
        item = response.get("Item")
        return {k: _deserialize(v) for k, v in item.items()} if item else None

    def record(self, attributes: Mapping[str, Any], conflict: Mapping[str, Any] | None = None) -> None:
        """Set ``attributes`` on the instance's item (creating it); append ``conflict``
        to ``Conflicts`` and add one to ``ConflictCount`` atomically when given."""
        keys = {INDEX_PARTITION_KEY, INDEX_SORT_KEY}
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for i, (name, value) in enumerate(sorted(a for a in attributes.items() if a[0] not in keys)):
            names[f"#a{i}"] = name
            values[f":v{i}"] = _serialize(value)
            sets.append(f"#a{i} = :v{i}")
        expression = "SET " + ", ".join(sets)
        if conflict is not None:
            names.update({"#conf": "Conflicts", "#count": "ConflictCount"})
            values.update({":conf": _serialize([dict(conflict)]), ":empty": {"L": []}, ":one": {"N": "1"}})
            expression += ", #conf = list_append(if_not_exists(#conf, :empty), :conf) ADD #count :one"
        key = {
            INDEX_PARTITION_KEY: {"S": attributes[INDEX_PARTITION_KEY]},
            INDEX_SORT_KEY: {"S": attributes[INDEX_SORT_KEY]},
        }
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"write index item to {self.table}") from exc
