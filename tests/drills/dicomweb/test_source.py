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
