"""The boto3 clients ingest writes through (archive PUTs, index group commits).

They skip botocore's client-side parameter validation (``parameter_validation=False``):
it walks every parameter of every request in Python — a group commit's TransactWriteItems
carries ~1,000 attribute values — and cost about a third of the group's client CPU and a
tenth of a 70 kB PUT's (single-thread stub measurement, docs/BENCHMARKS.md). Ingest builds
these requests itself from checked values (drills.contracts.IndexItem, the reader's UIDs),
and S3 and DynamoDB validate every request on their side anyway: a malformed one still
fails, with the service's ValidationException instead of botocore's ParamValidationError.

For the same reason the DynamoDB client writes the group commit's requests
(GROUP_OPERATIONS) as JSON directly: their parameters are DynamoDB's wire JSON already
(AttributeValue maps of strings, lists, maps and booleans), which botocore's JSON
serializer would copy value by value along the model (~0.1 ms per instance, about nine
tenths of it avoidable). Parameters JSON cannot write as they are — bytes (a ``B``
attribute, which the wire carries base64), Decimals — go through botocore's serializer as
before; so does every other operation.
"""

from __future__ import annotations

import json
from typing import Any

from drills.aws import Target

CLIENT_CONFIG: dict[str, Any] = {"parameter_validation": False}
GROUP_OPERATIONS = frozenset({"TransactWriteItems", "BatchGetItem", "BatchWriteItem"})


class WireJSON:
    """Wraps botocore's JSON serializer: GROUP_OPERATIONS' parameters become the body as
    they are; the rest of the request (method, path, X-Amz-Target, Content-Type) is
    botocore's own."""

    def __init__(self, model_serializer: Any) -> None:
        self.model_serializer = model_serializer

    def serialize_to_request(self, parameters: dict[str, Any], operation_model: Any) -> dict[str, Any]:
        if operation_model.name in GROUP_OPERATIONS:
            try:
                body = json.dumps(parameters).encode("utf-8")
            except (TypeError, ValueError):       # bytes, Decimal, a cycle: the model decides
                pass
            else:
                request = self.model_serializer.serialize_to_request({}, operation_model)
                request["body"] = body
                return request
        return self.model_serializer.serialize_to_request(parameters, operation_model)


def ingest_client(target: Target, service: str, region: str) -> Any:
    """The cached client ingest uses for ``service`` in ``region`` (CLIENT_CONFIG; DynamoDB's
    with WireJSON). Without botocore's ``_serializer`` attribute the client is used as is."""
    client = target.client(service, region, **CLIENT_CONFIG)
    if service == "dynamodb":
        serializer = getattr(client, "_serializer", None)
        if serializer is not None and not isinstance(serializer, WireJSON):
            client._serializer = WireJSON(serializer)
    return client
