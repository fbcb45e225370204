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


def _model_serializer():
    import botocore.session
    from botocore.serialize import create_serializer

    model = botocore.session.get_session().get_service_model("dynamodb")
    return model, create_serializer("json", include_validation=False)


GROUP_REQUESTS = {
    "TransactWriteItems": {"TransactItems": [
        {"Put": {"TableName": "claims", "Item": {"SOPInstanceUID": {"S": "1.2.3"}, "Study": {"S": "1.2"}},
                 "ConditionExpression": "attribute_not_exists(#u)", "ExpressionAttributeNames": {"#u": "SOPInstanceUID"},
                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Put": {"TableName": "index", "Item": {"Size": {"N": "70000"}, "Tags": {"L": [{"S": "a"}, {"BOOL": True}]},
                                                "Conflicts": {"M": {"x": {"NULL": True}}}, "Set": {"SS": ["a", "b"]}},
                 "ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": "Study"}}}]},
    "BatchGetItem": {"RequestItems": {"index": {"Keys": [{"Study": {"S": "1"}, "SeriesSop": {"S": "2/3"}}],
                                                "ConsistentRead": True}}},
    "BatchWriteItem": {"RequestItems": {"index": [{"PutRequest": {"Item": {"Study": {"S": "1"}}}},
                                                  {"DeleteRequest": {"Key": {"Study": {"S": "2"}}}}]}},
}


@pytest.mark.parametrize("operation", sorted(GROUP_REQUESTS))
def test_wire_json_sends_what_botocores_serializer_sends(operation: str) -> None:
    """The group commit's requests written as JSON directly are the request botocore's JSON
    serializer builds from the model (same method, path, headers; same body once parsed)."""
    import json

    from drills.ingest.clients import WireJSON

    model, serializer = _model_serializer()
    operation_model = model.operation_model(operation)
    expected = serializer.serialize_to_request(GROUP_REQUESTS[operation], operation_model)
    got = WireJSON(serializer).serialize_to_request(GROUP_REQUESTS[operation], operation_model)
    assert json.loads(got.pop("body")) == json.loads(expected.pop("body"))
    assert got == expected and got["headers"]["X-Amz-Target"] == f"DynamoDB_20120810.{operation}"


def test_wire_json_leaves_binary_values_and_other_operations_to_botocore() -> None:
    """A ``B`` attribute travels base64 on the wire (DynamoDB AttributeValue: "B — An attribute of
    type Binary ... base64-encoded", https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html):
    botocore's serializer encodes it, so such a request is not written directly; nor is any
    operation outside the group commit."""
    import json

    from drills.ingest.clients import WireJSON

    model, serializer = _model_serializer()
    calls: list[str] = []

    class Counting:
        def serialize_to_request(self, parameters, operation_model):
            calls.append(operation_model.name if parameters else "")
            return serializer.serialize_to_request(parameters, operation_model)

    wire = WireJSON(Counting())
    binary = {"RequestItems": {"index": [{"PutRequest": {"Item": {"Blob": {"B": b"\x00\x01"}}}}]}}
    body = json.loads(wire.serialize_to_request(binary, model.operation_model("BatchWriteItem"))["body"])
    assert body["RequestItems"]["index"][0]["PutRequest"]["Item"]["Blob"] == {"B": "AAE="}
    wire.serialize_to_request({"TableName": "t", "Key": {"k": {"S": "v"}}}, model.operation_model("GetItem"))
    wire.serialize_to_request(GROUP_REQUESTS["BatchGetItem"], model.operation_model("BatchGetItem"))
    assert calls == ["BatchWriteItem", "GetItem", ""]     # the last: only the request's frame from botocore


def test_the_ingest_dynamodb_client_writes_group_requests_directly_and_they_work(ingest_env) -> None:
    from drills.ingest.clients import WireJSON

    client = ingest_client(ingest_env.target, "dynamodb", ingest_env.region)
    assert isinstance(client._serializer, WireJSON)
    assert not isinstance(client._serializer.model_serializer, WireJSON)     # wrapped once, however often asked
    assert ingest_client(ingest_env.target, "dynamodb", ingest_env.region)._serializer is client._serializer
    key = {"StudyInstanceUID": {"S": "1.2"}, "SeriesSop": {"S": "3/4"}}
    client.batch_write_item(RequestItems={ingest_env.index_table: [{"PutRequest": {"Item": dict(key, Size={"N": "7"})}}]})
    got = client.batch_get_item(RequestItems={ingest_env.index_table: {"Keys": [key], "ConsistentRead": True}})
    assert got["Responses"][ingest_env.index_table] == [dict(key, Size={"N": "7"})]
