"""drills.dicomweb.source: what the app asks DynamoDB for.

AWS: Query reads eventually consistent unless ``ConsistentRead`` is true
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html#DDB-Query-request-ConsistentRead);
tables (a global table's replica included) support strongly consistent reads, GSIs do not
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeSerializer

from drills.dicomweb.source import ArchiveSource
from tests.helpers.dicomweb import ITEM


class _Recorder:
    """A DynamoDB client whose paginators record their requests and answer one page."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items, self.requests = items, []

    def get_paginator(self, operation: str) -> "_Recorder":
        self.operation = operation
        return self

    def paginate(self, **request: Any) -> list[dict[str, Any]]:
        self.requests.append((self.operation, request))
        return [{"Items": self.items}]


class _Target:
    def __init__(self, client: _Recorder) -> None:
        self._client = client

    def client(self, service: str, region: str) -> _Recorder:
        assert (service, region) == ("dynamodb", "eu-west-1")
        return self._client


def test_a_study_is_read_with_a_strongly_consistent_query() -> None:
    """A study just stored through STOW-RS (or re-indexed) is searchable at once."""
    raw = {k: TypeSerializer().serialize(v) for k, v in ITEM.to_item().items()}
    ddb = _Recorder([raw])
    source = ArchiveSource(_Target(ddb), "dr", "eu-west-1", "replica", "index", writable=False)
    assert source.study_items("1.2") == [ITEM]
    [(operation, request)] = ddb.requests
    assert operation == "query" and request["ConsistentRead"] is True
    assert request["TableName"] == "index" and request["ExpressionAttributeValues"] == {":pk": {"S": "1.2"}}


def test_each_region_hashes_with_the_stack_s_own_secret_when_two_stacks_share_the_account(monkeypatch) -> None:
    """Two stacks' tagged hash-key secrets in one region, each replicated to the DR region
    (AddReplicaRegions; a replica keeps the primary's ARN but for the region,
    https://docs.aws.amazon.com/secretsmanager/latest/userguide/replicate-secrets.html): the
    app hashes a PatientID with the secret its outputs name, in either region (was: the tag
    look-up, refused as ambiguous)."""
    from moto import mock_aws

    from drills.aws import Target
    from drills.contracts import HASH_KEY_SECRET_TAGS, StackOutputs
    from drills.ingest.pseudonym import Pseudonymizer

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        target = Target()
        secrets = target.client("secretsmanager", "eu-west-1")
        arns = {key: secrets.create_secret(Name=f"hash-key-{key[0]}", SecretString=key,
                                           Tags=[{"Key": k, "Value": v} for k, v in HASH_KEY_SECRET_TAGS.items()],
                                           AddReplicaRegions=[{"Region": "eu-central-1"}])["ARN"]
                for key in ("d" * 32, "p" * 32)}
        outputs = StackOutputs.from_mapping({
            "schemaVersion": 2, "primaryRegion": "eu-west-1", "drRegion": "eu-central-1", "archiveBucket": "a",
            "replicaBucket": "r", "landingBucket": "l", "indexTable": "index", "backupVault": "v",
            "drBackupVault": "dv", "evidenceBucket": "e", "multiRegionAccessPoint": "m",
            "hashKeySecretArn": arns["p" * 32], "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12}})
        for role in ("primary", "dr"):
            hasher = ArchiveSource.from_outputs(outputs, target, role).pseudonymizer()
            assert hasher.hash("PID-1") == Pseudonymizer(b"p" * 32).hash("PID-1"), role
