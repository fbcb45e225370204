"""The boto3 clients ingest writes through (archive PUTs, index group commits).

They skip botocore's client-side parameter validation (``parameter_validation=False``):
it walks every parameter of every request in Python — a group commit's TransactWriteItems
carries ~1,000 attribute values — and cost about a third of the group's client CPU and a
tenth of a 70 kB PUT's (single-thread stub measurement, docs/BENCHMARKS.md). Ingest builds
these requests itself from checked values (drills.contracts.IndexItem, the reader's UIDs),
and S3 and DynamoDB validate every request on their side anyway: a malformed one still
fails, with the service's ValidationException instead of botocore's ParamValidationError.
"""

from __future__ import annotations

from typing import Any

from drills.aws import Target

CLIENT_CONFIG: dict[str, Any] = {"parameter_validation": False}


def ingest_client(target: Target, service: str, region: str) -> Any:
    """The cached client ingest uses for ``service`` in ``region`` (CLIENT_CONFIG)."""
    return target.client(service, region, **CLIENT_CONFIG)
