"""drills/ingest/clients.py: ingest's clients skip botocore's client-side parameter
validation; a malformed request is still refused, by the service.

botocore Config ``parameter_validation`` ("Whether parameter validation should occur when
serializing requests", https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html);
DynamoDB answers a PutItem without the key attributes with ValidationException
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html#API_PutItem_Errors)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from drills.ingest.clients import ingest_client


def test_the_client_is_cached_and_skips_client_side_validation(ingest_env) -> None:
    client = ingest_client(ingest_env.target, "dynamodb", ingest_env.region)
    assert client is ingest_client(ingest_env.target, "dynamodb", ingest_env.region)
    assert client is not ingest_env.ddb
    request = {"TableName": ingest_env.index_table, "Key": {"StudyInstanceUID": {"S": 5}, "SeriesSop": {"S": "x"}}}
    with pytest.raises(ParamValidationError):           # a default client refuses it before sending
        ingest_env.ddb.get_item(**request)
    client.get_item(**request)       # ingest's client sends it (moto answers it; AWS would refuse the number)


def test_a_malformed_request_is_still_refused_by_the_service(ingest_env) -> None:
    client = ingest_client(ingest_env.target, "dynamodb", ingest_env.region)
    with pytest.raises(ClientError) as info:
        client.put_item(TableName=ingest_env.index_table, Item={"NotTheKey": {"S": "x"}})
    assert info.value.response["Error"]["Code"] == "ValidationException"
