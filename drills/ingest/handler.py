"""The ingest Lambda: SQS messages carrying S3 ObjectCreated notifications from the
landing bucket. Each landing object is streamed through the ingest core.

Returns a partial-batch response: a message whose record failed for an infrastructure
reason (or that is not a readable notification) is listed in ``batchItemFailures`` so SQS
redelivers it and, after maxReceiveCount, moves it to the DLQ. Quarantine is success.
``s3:TestEvent`` messages are ignored.

``handler`` is the AWS entry point (drills.contracts.LAMBDA_HANDLER); ``handle`` runs the
same code with an explicit Target and environment, as the embedded cloud does in-process.
Importing this module creates no clients; ingestors are built on first use and reused.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from typing import Any, Callable, Mapping
from urllib.parse import unquote_plus

from drills.aws import OBJECT_NOT_FOUND, Target
from drills.contracts import (ENV_ARCHIVE_BUCKET, ENV_CLAIMS_TABLE, ENV_HASH_KEY_SECRET, ENV_INDEX_TABLE,
                              ENV_KMS_KEY_ID, ENV_MAX_INFLATED_MIB)
from drills.errors import ConfigError, DrkitError
from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.failures import AWS_ERRORS, error_code, infra_error
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.reader import DEFAULT_MAX_INFLATED

log = logging.getLogger("drkit.ingest.handler")

_ingestors: dict[tuple, Ingestor] = {}
_ingestors_lock = threading.Lock()
GONE = OBJECT_NOT_FOUND


_aws_target: Target | None = None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point: real AWS, the function's own environment. The Target (and
    its clients) lives as long as the execution environment."""
    global _aws_target
    if _aws_target is None:
        _aws_target = Target()
    return handle(event, context, target=_aws_target, env=os.environ)


def handle(event: Mapping[str, Any], context: Any, *, target: Target, env: Mapping[str, str],
           now: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """Process one SQS batch; return ``{"batchItemFailures": [{"itemIdentifier": id}, …]}``.

    ``now`` is the clock of the timestamps the ingest writes (``quarantinedAt`` ...): wall
    time on AWS, the virtual clock on the embedded cloud."""
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        message_id = str(record.get("messageId", ""))
        try:
            for notification in _notifications(record):
                _ingest_one(notification, record, target, env, now)
        except (DrkitError, KeyError, TypeError, ValueError) as exc:
            log.error(json.dumps({"event": "ingest-failed", "messageId": message_id,
                                  "error": type(exc).__name__, "message": str(exc)}))
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def _notifications(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The S3 event records in one SQS message (unwrapping an SNS envelope if present)."""
    body = json.loads(record["body"])
    if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
        body = json.loads(body["Message"])
    if not isinstance(body, dict):
        raise ValueError("message body is not an S3 event notification")
    if body.get("Event") == "s3:TestEvent":
        return []
    records = body.get("Records")
    if not isinstance(records, list):
        raise ValueError("message body has no S3 event Records")
    return [r for r in records if str(r.get("eventName", "")).startswith("ObjectCreated")]


def _ingest_one(notification: Mapping[str, Any], record: Mapping[str, Any], target: Target, env: Mapping[str, str],
                now: Callable[[], datetime] | None = None) -> None:
    s3_info = notification["s3"]
    bucket = s3_info["bucket"]["name"]
    key = unquote_plus(s3_info["object"]["key"])
    version_id = s3_info["object"].get("versionId")
    region = env.get("AWS_REGION") or notification.get("awsRegion") or record.get("awsRegion")
    if not region:
        raise ConfigError("AWS_REGION", "the ingest function needs a region (environment or event)")
    ingestor = _ingestor(target, region, env, now)
    source = f"s3://{bucket}/{key}"
    args = {"Bucket": bucket, "Key": key} | ({"VersionId": version_id} if version_id else {})
    try:
        response = target.client("s3", region).get_object(**args)
    except AWS_ERRORS as exc:
        if error_code(exc) in GONE:
            # Deleted (or expired) since the notification: nothing left to archive or lose.
            log.warning(json.dumps({"event": "landing-object-gone", "source": source}))
            return
        raise infra_error(exc, f"read landing object {source}") from exc
    with response["Body"] as body:
        result = ingestor.ingest_stream(body, source, size=int(response["ContentLength"]))
    log.info(json.dumps({"event": "ingested", "source": source, "outcome": result.outcome.value,
                         "key": result.key, "versionId": result.version_id,
                         "reason": result.reason.value if result.reason else None}))


def _ingestor(target: Target, region: str, env: Mapping[str, str],
              now: Callable[[], datetime] | None = None) -> Ingestor:
    def required(name: str) -> str:
        value = env.get(name)
        if not value:
            raise ConfigError(name, "missing from the ingest function's environment")
        return value

    bucket, table, secret = required(ENV_ARCHIVE_BUCKET), required(ENV_INDEX_TABLE), required(ENV_HASH_KEY_SECRET)
    kms = env.get(ENV_KMS_KEY_ID) or None
    claims = env.get(ENV_CLAIMS_TABLE) or None
    max_inflated = _max_inflated(env.get(ENV_MAX_INFLATED_MIB))
    cache_key = (target, region, bucket, table, claims, secret, kms, now, max_inflated)
    with _ingestors_lock:
        ingestor = _ingestors.get(cache_key)
        if ingestor is None:
            dest = IngestDestination(target=target, region=region, archive_bucket=bucket, index_table=table,
                                     kms_key_id=kms, claims_table=claims)
            ingestor = Ingestor(dest, Pseudonymizer.from_secret_id(target, region, secret), max_inflated=max_inflated,
                                **({"now": now} if now is not None else {}))
            _ingestors[cache_key] = ingestor
        return ingestor


def _max_inflated(value: str | None) -> int:
    """The bound on inflated deflated data sets: ENV_MAX_INFLATED_MIB (MiB), else the default.
    A deflate bomb in the landing bucket is quarantined, never inflated past it."""
    if not value:
        return DEFAULT_MAX_INFLATED
    try:
        mib = int(value)
    except ValueError:
        mib = 0
    if mib < 1:
        raise ConfigError(ENV_MAX_INFLATED_MIB, f"must be a positive whole number of MiB, not {value!r}")
    return mib * 2**20
