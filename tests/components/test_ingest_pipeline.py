"""components/ingest_pipeline.py: landing -> queue (DLQ) -> drills.ingest handler -> archive + index."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pulumi

from components.ingest_pipeline import INITIAL_VALUE_TAG
from components.secure_bucket import PURPOSE_TAG
from drills.contracts import (ENV_ARCHIVE_BUCKET, ENV_CLAIMS_TABLE, ENV_HASH_KEY_SECRET, ENV_INDEX_TABLE,
                              ENV_KMS_KEY_ID, HASH_KEY_SECRET_TAGS, LAMBDA_HANDLER)
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
    (f,) = d.all(FUNCTION, under=INGEST)
    return f


def test_landing_bucket_is_kms_versioned_and_expires_quickly(stack) -> None:
    landing = bucket(stack, "landing")
    assert "drkit:secure_bucket:SecureBucket" in stack.ancestor_types(landing) and INGEST in stack.ancestor_types(landing)
    lc = stack.for_bucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", landing)
    rules = {r["id"]: r for r in lc.inputs["rules"]}
    assert rules["expire-landed"]["expiration"] == {"days": stack.config.ingest.landing_expiration_days}, lc.urn
    assert not landing.inputs.get("objectLockEnabled"), landing.urn


def test_queues_encrypted_with_redrive_to_dlq(stack) -> None:
    q = queues(stack)
    for queue in q.values():
        assert queue.inputs["kmsMasterKeyId"] == stack.key_arn("app"), queue.urn
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


def index_tables(stack):
    """(the index table, the SOP Instance UID claims table)."""
    tables = {t.inputs["hashKey"]: t for t in stack.all("aws:dynamodb/table:Table")}
    return tables["StudyInstanceUID"], tables["SOPInstanceUID"]


def test_function_runs_the_contract_handler_with_contract_environment(stack) -> None:
    f = function(stack)
    assert f.inputs["handler"] == LAMBDA_HANDLER == "drills.ingest.handler.handler", f.urn
    table, claims = index_tables(stack)
    (secret,) = stack.all("aws:secretsmanager/secret:Secret")
    assert f.inputs["environment"]["variables"] == {
        ENV_ARCHIVE_BUCKET: bucket(stack, "archive").name, ENV_INDEX_TABLE: table.outputs["name"],
        ENV_KMS_KEY_ID: stack.key_arn("data"), ENV_HASH_KEY_SECRET: secret.outputs["arn"],
        ENV_CLAIMS_TABLE: claims.outputs["name"]}, f.urn
    assert f.inputs["kmsKeyArn"] == stack.key_arn("app"), f.urn
    assert f.inputs["reservedConcurrentExecutions"] == stack.config.ingest.reserved_concurrency, f.urn
    (logs,) = [g for g in stack.all("aws:cloudwatch/logGroup:LogGroup") if INGEST in stack.ancestor_types(g)]
    assert logs.inputs["kmsKeyId"] == stack.key_arn("app"), logs.urn


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
    table, claims = index_tables(stack)
    assert s["WriteIndex"] == {"Sid": "WriteIndex", "Effect": "Allow", "Resource": table.outputs["arn"],
                               "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                          "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:Scan"]}
    # Scan (Limit=1, once per cold start): is the index empty? (drills.ingest.claims' completeness marker)
    # TransactWriteItems needs the per-item actions on each table it writes (no action of its own)
    assert s["ClaimSopInstanceUids"] == {"Sid": "ClaimSopInstanceUids", "Effect": "Allow",
                                         "Resource": claims.outputs["arn"],
                                         "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
                                                    "dynamodb:Scan"]}
    assert s["LookUpSopInstanceUids"]["Action"] == ["dynamodb:Query"], policy.urn
    assert s["LookUpSopInstanceUids"]["Resource"] == f"{table.outputs['arn']}/index/BySOPInstanceUID", policy.urn
    (secret,) = stack.all("aws:secretsmanager/secret:Secret")
    assert s["ReadHashKey"]["Resource"] == secret.outputs["arn"]
    for st in s.values():
        assert st["Resource"] != "*", f"{policy.urn}: {st}"
    region = stack.config.primary_region
    assert s["UseDataKey"]["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
    assert all(v.endswith(f".{region}.amazonaws.com") for v in s["UseAppKey"]["Condition"]["StringEquals"]
               ["kms:ViaService"])


def test_hash_key_secret_is_kms_tagged_replicated_and_its_value_not_in_state(stack) -> None:
    (secret,) = stack.all("aws:secretsmanager/secret:Secret")
    assert secret.inputs["kmsKeyId"] == stack.key_arn("app"), secret.urn
    assert HASH_KEY_SECRET_TAGS.items() <= secret.inputs["tags"].items(), secret.urn
    assert INITIAL_VALUE_TAG.items() <= secret.inputs["tags"].items(), secret.urn
    assert secret.inputs["replicas"] == [{"region": stack.config.dr_region,
                                          "kmsKeyId": stack.key_arn("app", dr=True)}]
    # The value comes from Secrets Manager's generator, never from a resource in Pulumi state.
    assert not stack.all("random:index/randomPassword:RandomPassword")
    assert not stack.all("aws:secretsmanager/secretVersion:SecretVersion")


def test_hash_key_secret_policy_allows_only_ingest_and_break_glass(stack) -> None:
    """Secrets Manager resource policies: https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_resource-policies.html"""
    (secret,) = stack.all("aws:secretsmanager/secret:Secret")
    (policy,) = stack.all("aws:secretsmanager/secretPolicy:SecretPolicy")
    assert policy.inputs["secretArn"] == secret.outputs["arn"] and policy.inputs["blockPublicPolicy"] is True
    by_sid = {s["Sid"]: s for s in policy.policy()["Statement"]}
    readers = by_sid["OnlyIngestAndBreakGlassRead"]
    assert readers["Effect"] == "Deny" and readers["Action"] == ["secretsmanager:GetSecretValue"]
    allowed = readers["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    # ingest, root, break-glass, and the two DICOMweb services (PatientID matching hashes with this key)
    web = [f.inputs["role"] for f in stack.all(FUNCTION, under="drkit:dicomweb:DicomWeb")]
    assert len(web) == 2 * int(stack.config.dicomweb.enabled)
    assert function(stack).inputs["role"] in allowed and set(web) <= set(allowed) and len(allowed) == 3 + len(web), \
        allowed
    force = by_sid["NoDeletionWithoutRecoveryWindow"]["Condition"]
    assert force == {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "true"}}


def test_dlq_alarm_fires_on_any_message(stack) -> None:
    (alarm,) = stack.all("aws:cloudwatch/metricAlarm:MetricAlarm", under=INGEST)
    assert alarm.inputs["dimensions"] == {"QueueName": queues(stack)["dlq"].outputs["name"]}, alarm.urn
    assert (alarm.inputs["metricName"], alarm.inputs["threshold"], alarm.inputs["comparisonOperator"]) == \
        ("ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold"), alarm.urn
    (topic,) = [t for t in stack.all("aws:sns/topic:Topic") if stack.region(t) == stack.config.primary_region]
    assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]
