"""The ingest Lambda handler on SQS events carrying S3 notifications."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from drills.contracts import ENV_ARCHIVE_BUCKET, ENV_HASH_KEY_SECRET, ENV_INDEX_TABLE, ENV_KMS_KEY_ID, archive_key
from drills.ingest import handler as handler_module
from drills.ingest.handler import handle

from .conftest import build_dataset, to_bytes


def s3_record(bucket: str, key: str, size: int, event: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1", "eventName": event,
        "s3": {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key), "size": size}},
    }


def sqs_message(body: dict[str, Any] | str) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()), "receiptHandle": "rh", "eventSource": "aws:sqs",
        "awsRegion": "eu-west-1", "attributes": {"ApproximateReceiveCount": "1"},
        "body": body if isinstance(body, str) else json.dumps(body),
    }


@pytest.fixture
def function_env(ingest_env) -> dict[str, str]:
    handler_module._ingestors.clear()
    return {
        ENV_ARCHIVE_BUCKET: ingest_env.archive_bucket,
        ENV_INDEX_TABLE: ingest_env.index_table,
        ENV_HASH_KEY_SECRET: ingest_env.secret_arn,
        ENV_KMS_KEY_ID: ingest_env.kms_key_id,
        "AWS_REGION": ingest_env.region,
    }


def land(ingest_env, key: str, data: bytes) -> dict[str, Any]:
    ingest_env.s3.put_object(Bucket=ingest_env.landing_bucket, Key=key, Body=data)
    return s3_record(ingest_env.landing_bucket, key, len(data))


def test_batch_is_archived_and_quarantine_is_success(ingest_env, function_env, malformed) -> None:
    ds = build_dataset()
    good = to_bytes(ds)
    _, bad = malformed["truncated-pixel-data"]
    event = {"Records": [
        sqs_message({"Records": [land(ingest_env, "incoming/site a/ct 1.dcm", good)]}),
        sqs_message({"Records": [land(ingest_env, "incoming/bad.dcm", bad)]}),
        sqs_message({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": ingest_env.landing_bucket}),
    ]}
    assert handle(event, None, target=ingest_env.target, env=function_env) == {"batchItemFailures": []}

    key = archive_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert ingest_env.get(key) == good
    head = ingest_env.s3.head_object(Bucket=ingest_env.archive_bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(ingest_env.kms_key_id)
    assert len(ingest_env.index_items()) == 1
    quarantined = ingest_env.s3.list_objects_v2(Bucket=ingest_env.archive_bucket, Prefix="quarantine/")
    assert len(quarantined["Contents"]) == 2                       # the bytes and their reason
    # redelivery of the same message is a duplicate, not a failure
    again = {"Records": [sqs_message({"Records": [s3_record(ingest_env.landing_bucket, "incoming/site a/ct 1.dcm",
                                                            len(good))]})]}
    assert handle(again, None, target=ingest_env.target, env=function_env) == {"batchItemFailures": []}
    assert len(ingest_env.versions(key)) == 1


def test_infrastructure_failure_is_a_batch_item_failure(ingest_env, function_env) -> None:
    ok = sqs_message({"Records": [land(ingest_env, "incoming/ok.dcm", to_bytes(build_dataset()))]})
    broken_env = dict(function_env, **{ENV_INDEX_TABLE: "no-such-table"})
    failing = sqs_message({"Records": [land(ingest_env, "incoming/x.dcm", to_bytes(build_dataset()))]})
    response = handle({"Records": [failing]}, None, target=ingest_env.target, env=broken_env)
    assert response == {"batchItemFailures": [{"itemIdentifier": failing["messageId"]}]}
    assert handle({"Records": [ok]}, None, target=ingest_env.target, env=function_env) == {"batchItemFailures": []}


def test_unreadable_messages_and_bad_config_fail_only_their_records(ingest_env, function_env) -> None:
    good = sqs_message({"Records": [land(ingest_env, "incoming/ok.dcm", to_bytes(build_dataset()))]})
    garbage = sqs_message("not json")
    no_records = sqs_message({"hello": "world"})
    response = handle({"Records": [good, garbage, no_records]}, None, target=ingest_env.target, env=function_env)
    assert response["batchItemFailures"] == [{"itemIdentifier": garbage["messageId"]},
                                             {"itemIdentifier": no_records["messageId"]}]
    missing_env = {k: v for k, v in function_env.items() if k != ENV_HASH_KEY_SECRET}
    response = handle({"Records": [good]}, None, target=ingest_env.target, env=missing_env)
    assert response["batchItemFailures"] == [{"itemIdentifier": good["messageId"]}]


def test_landing_object_gone_is_not_retried(ingest_env, function_env) -> None:
    message = sqs_message({"Records": [s3_record(ingest_env.landing_bucket, "incoming/gone.dcm", 10)]})
    assert handle({"Records": [message]}, None, target=ingest_env.target, env=function_env) == {"batchItemFailures": []}


def test_sns_envelope_and_non_create_events(ingest_env, function_env) -> None:
    data = to_bytes(build_dataset())
    inner = {"Records": [land(ingest_env, "incoming/sns.dcm", data),
                         s3_record(ingest_env.landing_bucket, "incoming/sns.dcm", 0, event="ObjectRemoved:Delete")]}
    message = sqs_message({"Type": "Notification", "Message": json.dumps(inner)})
    assert handle({"Records": [message]}, None, target=ingest_env.target, env=function_env) == {"batchItemFailures": []}
    assert len(ingest_env.index_items()) == 1


def test_module_import_creates_no_clients() -> None:
    """In a fresh interpreter where building a boto3 client raises, the modules import."""
    program = (
        "import boto3\n"
        "def refuse(*a, **k):\n"
        "    raise SystemExit('a boto3 client was created at import time')\n"
        "boto3.session.Session.client = refuse\n"
        "import drills.ingest.core, drills.ingest.handler, drills.cli.ingest\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 0, done.stderr


def test_a_deflate_bomb_in_the_landing_bucket_is_quarantined_within_the_bound(ingest_env, function_env) -> None:
    from drills.contracts import ENV_MAX_INFLATED_MIB
    from .conftest import deflate_bomb
    bomb = deflate_bomb(6 * 1024 * 1024)
    event = {"Records": [sqs_message({"Records": [land(ingest_env, "incoming/bomb.dcm", bomb)]})]}
    env = dict(function_env, **{ENV_MAX_INFLATED_MIB: "2"})
    assert handle(event, None, target=ingest_env.target, env=env) == {"batchItemFailures": []}
    listed = ingest_env.s3.list_objects_v2(Bucket=ingest_env.archive_bucket, Prefix="quarantine/")["Contents"]
    (reason_key,) = [o["Key"] for o in listed if o["Key"].endswith(".json")]
    assert json.loads(ingest_env.get(reason_key))["reason"] == "inflated-too-large"
    bad = handle(event, None, target=ingest_env.target, env=dict(function_env, **{ENV_MAX_INFLATED_MIB: "lots"}))
    assert len(bad["batchItemFailures"]) == 1
