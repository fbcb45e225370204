"""components/ingest_pipeline.py: landing -> queue (DLQ) -> drills.ingest handler -> archive + index."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pulumi

from components.secure_bucket import PURPOSE_TAG
from drills.contracts import (ENV_ARCHIVE_BUCKET, ENV_HASH_KEY_SECRET, ENV_INDEX_TABLE, ENV_KMS_KEY_ID,
                              HASH_KEY_SECRET_TAGS, LAMBDA_HANDLER)
from drills.ingest import package

FUNCTION = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
INGEST = "drkit:ingest_pipeline:IngestPipeline"


def bucket(d, purpose: str):
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return b


def queues(d):
    found = {q.name.rsplit("-", 1)[-1]: q for q in d.all(QUEUE)}
    assert set(found) == {"queue", "dlq"}, d.stack
    return found


def function(d):
    (f,) = d.all(FUNCTION)
    return f


def test_landing_bucket_is_kms_versioned_and_expires_quickly(stack) -> None:
    landing = bucket(stack, "landing")
    assert "drkit:secure_bucket:SecureBucket" in stack.ancestor_types(landing) and INGEST in stack.ancestor_types(landing)
    lc = stack.for_bucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", landing)
    rules = {r["id"]: r for r in lc.inputs["rules"]}
    assert rules["expire-landed"]["expiration"] == {"days": stack.config.ingest.landing_expiration_days}, lc.urn
    assert not landing.inputs.get("objectLockEnabled"), landing.urn


def test_queues_encrypted_with_redrive_to_dlq(stack) -> None:
    (key,) = stack.all("aws:kms/key:Key")
    q = queues(stack)
    for queue in q.values():
        assert queue.inputs["kmsMasterKeyId"] == key.outputs["arn"], queue.urn
    redrive = json.loads(q["queue"].inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": q["dlq"].outputs["arn"],
                       "maxReceiveCount": stack.config.ingest.max_receive_count}
    assert q["queue"].inputs["visibilityTimeoutSeconds"] >= function(stack).inputs["timeout"] * 6


def test_queue_accepts_notifications_from_the_landing_bucket_only(stack) -> None:
    (policy,) = stack.all("aws:sqs/queuePolicy:QueuePolicy")
    by_sid = {s["Sid"]: s for s in policy.policy()["Statement"]}
    allow = by_sid["LandingBucketNotifications"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{bucket(stack, 'landing').name}"
    assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny"


def test_object_created_events_go_to_the_queue(stack) -> None:
    n = stack.for_bucket("aws:s3/bucketNotification:BucketNotification", bucket(stack, "landing"))
    (entry,) = n.inputs["queues"]
    assert entry == {"queueArn": queues(stack)["queue"].outputs["arn"], "events": ["s3:ObjectCreated:*"]}, n.urn
    (policy,) = stack.all("aws:sqs/queuePolicy:QueuePolicy")
    assert policy.urn in n.dependencies, n.urn


def test_function_runs_the_contract_handler_with_contract_environment(stack) -> None:
    f = function(stack)
    assert f.inputs["handler"] == LAMBDA_HANDLER == "drills.ingest.handler.handler", f.urn
    (key,) = stack.all("aws:kms/key:Key")
    (table,) = stack.all("aws:dynamodb/table:Table")
    (secret,) = stack.all("aws:secretsmanager/secret:Secret")
    assert f.inputs["environment"]["variables"] == {
        ENV_ARCHIVE_BUCKET: bucket(stack, "archive").name, ENV_INDEX_TABLE: table.outputs["name"],
        ENV_KMS_KEY_ID: key.outputs["arn"], ENV_HASH_KEY_SECRET: secret.outputs["arn"]}, f.urn
    assert f.inputs["kmsKeyArn"] == key.outputs["arn"], f.urn


def test_function_code_is_the_handler_package_zip(stack) -> None:
    """The code is drills.ingest.package's zip (the archive's contents are pinned in
    tests/drills/ingest/test_package.py); no layer is needed for pydicom."""
    code = function(stack).inputs["code"]
    assert isinstance(code, pulumi.FileArchive), function(stack).urn
    names = zipfile.ZipFile(code.path).namelist()
    assert "drills/ingest/handler.py" in names and "pydicom/__init__.py" in names
    assert not any(n.startswith(("drills/cloud/", "drills/deploy/", "drills/cli/")) for n in names)
    assert Path(code.path).read_bytes() == package.build()


def test_queue_triggers_the_function(stack) -> None:
    (esm,) = stack.all("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert esm.inputs["eventSourceArn"] == queues(stack)["queue"].outputs["arn"], esm.urn
    assert esm.inputs["functionName"] == function(stack).outputs["arn"], esm.urn
    assert esm.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"], esm.urn


def test_function_role_is_least_privilege(stack) -> None:
    f = function(stack)
    role = next(r for r in stack.all("aws:iam/role:Role") if r.outputs["arn"] == f.inputs["role"])
    (policy,) = [p for p in stack.all("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == f"{role.name}-id"]
    s = {st["Sid"]: st for st in policy.policy()["Statement"]}
    archive = f"arn:aws:s3:::{bucket(stack, 'archive').name}"
    assert s["WriteArchive"]["Resource"] == [f"{archive}/dicom/*", f"{archive}/quarantine/*"], policy.urn
    assert set(s["WriteArchive"]["Action"]) == {"s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload",
                                                 "s3:GetObject", "s3:GetObjectVersion"}
    actions = [a for st in s.values() for a in st["Action"]]
    assert not [a for a in actions if a.startswith(("s3:Delete", "dynamodb:Delete")) or "Bypass" in a], policy.urn
    assert s["ReadLanding"]["Resource"] == f"arn:aws:s3:::{bucket(stack, 'landing').name}/*"
    assert not any(a.startswith("s3:Put") or a.startswith("s3:Delete") for a in s["ReadLanding"]["Action"])
    (table,) = stack.all("aws:dynamodb/table:Table")
    assert s["WriteIndex"] == {"Sid": "WriteIndex", "Effect": "Allow", "Resource": table.outputs["arn"],
                               "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]}
    (secret,) = stack.all("aws:secretsmanager/secret:Secret")
    assert s["ReadHashKey"]["Resource"] == secret.outputs["arn"]
    for st in s.values():
        assert st["Resource"] != "*", f"{policy.urn}: {st}"


def test_hash_key_secret_is_kms_tagged_random_and_replicated(stack) -> None:
    (secret,) = stack.all("aws:secretsmanager/secret:Secret")
    (key,) = stack.all("aws:kms/key:Key")
    (replica_key,) = stack.all("aws:kms/replicaKey:ReplicaKey")
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"], secret.urn
    assert HASH_KEY_SECRET_TAGS.items() <= secret.inputs["tags"].items(), secret.urn
    assert secret.inputs["replicas"] == [{"region": stack.config.dr_region, "kmsKeyId": replica_key.outputs["arn"]}]
    (password,) = stack.all("random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] >= 32 and stack.parent(password).type == INGEST, password.urn
    (version,) = stack.all("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretId"] == f"{secret.name}-id", version.urn
    assert password.urn in version.dependencies, version.urn


def test_dlq_alarm_fires_on_any_message(stack) -> None:
    (alarm,) = stack.all("aws:cloudwatch/metricAlarm:MetricAlarm", under=INGEST)
    assert alarm.inputs["dimensions"] == {"QueueName": queues(stack)["dlq"].outputs["name"]}, alarm.urn
    assert (alarm.inputs["metricName"], alarm.inputs["threshold"], alarm.inputs["comparisonOperator"]) == \
        ("ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold"), alarm.urn
    (topic,) = stack.all("aws:sns/topic:Topic")
    assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]
