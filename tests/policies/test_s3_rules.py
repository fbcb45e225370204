"""Each S3 bucket rule passes a compliant prod stack and fires on one deliberate break."""

from __future__ import annotations

import json

import pytest

from policies import s3_rules
from policies.rules import POLICIES
from tests.policies.breakages import replication_rules_edit as _replication_rules, rtc_off
from tests.policies.harness import Breakage, Rec, Stack, assert_breakage, fired


def one(stack: Stack, bucket: Rec, suffix: str, field: str = "bucket") -> Rec:
    found = stack.settings(bucket, suffix, field)
    assert found, f"{bucket.name} has no {suffix} in this stack"
    return found[0]


def _remove(role: str, suffix: str):
    def mutate(stack: Stack) -> Rec:
        bucket = stack.bucket(role)
        for rec in stack.settings(bucket, suffix):
            stack.remove(rec)
        return bucket
    return mutate


def _set(role: str, suffix: str, path: str, value):
    def mutate(stack: Stack) -> Rec:
        bucket = stack.bucket(role)
        stack.set(one(stack, bucket, suffix), path, value)
        return bucket
    return mutate


def sse_aes256(stack: Stack) -> Rec:
    bucket = stack.bucket("archive")
    sse = one(stack, bucket, ":BucketServerSideEncryptionConfiguration")
    stack.set(sse, "rules.0.applyServerSideEncryptionByDefault", {"sseAlgorithm": "AES256"})
    return bucket


def sse_aws_managed_key(stack: Stack) -> Rec:
    bucket = stack.bucket("replica")
    sse = one(stack, bucket, ":BucketServerSideEncryptionConfiguration")
    stack.delete(sse, "rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId")
    return bucket


def _edit_policy(role: str, edit):
    def mutate(stack: Stack) -> Rec:
        bucket = stack.bucket(role)
        for rec in stack.settings(bucket, ":BucketPolicy"):
            document = json.loads(rec.inputs["policy"])
            statements = document["Statement"]
            document["Statement"] = [edit(s) if _is_tls_deny(s) else s for s in statements]
            document["Statement"] = [s for s in document["Statement"] if s is not None]
            stack.set(rec, "policy", json.dumps(document))
        return bucket
    return mutate


def _is_tls_deny(statement: dict) -> bool:
    return statement.get("Effect") == "Deny" and "aws:SecureTransport" in json.dumps(statement.get("Condition", {}))


def _objects_only(statement: dict) -> dict:
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return {**statement, "Resource": [r for r in resources if r.endswith("/*")]}


def metrics_missing(stack: Stack) -> Rec:
    return _replication_rules(stack, lambda s, r, p: s.delete(r, f"{p}.destination.metrics"))


def replica_key_missing(stack: Stack) -> Rec:
    return _replication_rules(stack, lambda s, r, p: s.delete(r, f"{p}.destination.encryptionConfiguration"))


def kms_objects_not_selected(stack: Stack) -> Rec:
    return _replication_rules(stack, lambda s, r, p: s.delete(r, f"{p}.sourceSelectionCriteria"))


def replicates_same_region(stack: Stack) -> Rec:
    landing_arn = stack.bucket("landing").outputs["arn"]
    return _replication_rules(stack, lambda s, r, p: s.set(r, f"{p}.destination.bucket", landing_arn))


def logs_to_locked_bucket(stack: Stack) -> Rec:
    bucket = stack.bucket("landing")
    stack.set(one(stack, bucket, ":BucketLogging"), "targetBucket", stack.bucket("evidence").id)
    return bucket


def logs_to_other_region(stack: Stack) -> Rec:
    primary_logs = one(stack, stack.bucket("archive"), ":BucketLogging").inputs["targetBucket"]
    bucket = stack.bucket("replica")
    stack.set(one(stack, bucket, ":BucketLogging"), "targetBucket", primary_logs)
    return bucket


def logs_to_itself(stack: Stack) -> Rec:
    bucket = stack.bucket("archive")
    stack.set(one(stack, bucket, ":BucketLogging"), "targetBucket", bucket.id)
    return bucket


def _abort_rules(stack: Stack, edit) -> Rec:
    bucket = stack.bucket("archive")
    for rec in stack.settings(bucket, ":BucketLifecycleConfiguration"):
        for index, rule in enumerate(rec.inputs["rules"]):
            if "abortIncompleteMultipartUpload" in rule:
                edit(stack, rec, f"rules.{index}")
    return bucket


def no_abort_multipart(stack: Stack) -> Rec:
    return _abort_rules(stack, lambda s, r, p: s.delete(r, f"{p}.abortIncompleteMultipartUpload"))


def abort_rule_prefix_scoped(stack: Stack) -> Rec:
    return _abort_rules(stack, lambda s, r, p: s.set(r, f"{p}.filter", {"prefix": "dicom/"}))


def object_lock_disabled(stack: Stack) -> Rec:
    bucket = stack.bucket("evidence")
    stack.set(bucket, "objectLockEnabled", False)
    return bucket


def governance_lock(stack: Stack) -> Rec:
    bucket = stack.bucket("archive")
    stack.set(one(stack, bucket, ":BucketObjectLockConfiguration"), "rule.defaultRetention.mode", "GOVERNANCE")
    return bucket


ENC, VER, PAB, TLS = ("s3-bucket-kms-encryption", "s3-bucket-versioning", "s3-bucket-public-access-block",
                      "s3-bucket-tls-only")
LOCK, CRR, LOG, MPU = ("s3-bucket-object-lock", "s3-archive-cross-region-replication", "s3-bucket-access-logging",
                       "s3-bucket-abort-incomplete-multipart")
BREAKAGES = [
    Breakage("no-encryption-config", frozenset({ENC}), _remove("evidence", ":BucketServerSideEncryptionConfiguration")),
    Breakage("sse-aes256", frozenset({ENC}), sse_aes256, mentions="'AES256'"),
    Breakage("sse-aws-managed-key", frozenset({ENC}), sse_aws_managed_key, mentions="customer-managed"),
    Breakage("no-versioning", frozenset({VER}), _remove("archive", ":BucketVersioning")),
    Breakage("versioning-suspended", frozenset({VER}),
             _set("landing", ":BucketVersioning", "versioningConfiguration.status", "Suspended")),
    Breakage("no-public-access-block", frozenset({PAB}), _remove("logs", ":BucketPublicAccessBlock")),
    Breakage("restrict-public-buckets-off", frozenset({PAB}),
             _set("landing", ":BucketPublicAccessBlock", "restrictPublicBuckets", False), mentions="CKV_AWS_56"),
    Breakage("block-public-acls-off", frozenset({PAB}),
             _set("archive", ":BucketPublicAccessBlock", "blockPublicAcls", False), mentions="CKV_AWS_53"),
    Breakage("no-tls-deny", frozenset({TLS}), _edit_policy("archive", lambda s: None)),
    Breakage("tls-deny-objects-only", frozenset({TLS}), _edit_policy("replica", _objects_only)),
    Breakage("no-bucket-policy", frozenset({TLS}), _remove("landing", ":BucketPolicy")),
    Breakage("object-lock-disabled", frozenset({LOCK}), object_lock_disabled, mentions="objectLockEnabled"),
    Breakage("governance-lock-in-prod", frozenset({LOCK}), governance_lock, mentions="COMPLIANCE"),
    Breakage("no-default-retention", frozenset({LOCK}), _remove("replica", ":BucketObjectLockConfiguration")),
    Breakage("no-replication", frozenset({CRR}), _remove("archive", ":BucketReplicationConfig")),
    Breakage("rtc-off", frozenset({CRR}), rtc_off, mentions="replicationTime"),
    Breakage("replication-metrics-missing", frozenset({CRR}), metrics_missing, mentions="metrics"),
    Breakage("replica-kms-key-missing", frozenset({CRR}), replica_key_missing, mentions="replicaKmsKeyId"),
    Breakage("kms-objects-not-replicated", frozenset({CRR}), kms_objects_not_selected,
             mentions="sseKmsEncryptedObjects"),
    Breakage("replicates-within-region", frozenset({CRR}), replicates_same_region, mentions="same region"),
    Breakage("no-access-logging", frozenset({LOG}), _remove("landing", ":BucketLogging")),
    Breakage("logs-to-object-lock-bucket", frozenset({LOG}), logs_to_locked_bucket, mentions="Object Lock"),
    Breakage("logs-to-other-region", frozenset({LOG}), logs_to_other_region, mentions="must be in"),
    Breakage("logs-to-itself", frozenset({LOG}), logs_to_itself, mentions="itself"),
    Breakage("no-abort-multipart", frozenset({MPU}), no_abort_multipart),
    Breakage("abort-multipart-prefix-only", frozenset({MPU}), abort_rule_prefix_scoped),
]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=str)
def test_rule_fires_on_one_break(prod_stack: Stack, breakage: Breakage) -> None:
    assert_breakage(prod_stack, breakage, POLICIES)


def test_every_bucket_rule_has_a_breakage() -> None:
    covered = {name for b in BREAKAGES for name in b.policies}
    assert covered == {p.name for p in s3_rules.POLICIES}


def test_governance_lock_is_fine_outside_production(dev_stack: Stack) -> None:
    governance_lock(dev_stack)
    assert fired(dev_stack, s3_rules.POLICIES) == {}


def test_production_stacks_come_from_policy_config(dev_stack: Stack) -> None:
    bucket = governance_lock(dev_stack)
    found = fired(dev_stack, s3_rules.POLICIES, config={"productionStacks": ["dev"]})
    assert list(found) == [LOCK] and any(f"'{bucket.name}'" in message for message, _ in found[LOCK])


def test_access_log_bucket_may_use_sse_s3(prod_stack: Stack) -> None:
    logs = prod_stack.bucket("logs")
    sse = one(prod_stack, logs, ":BucketServerSideEncryptionConfiguration")
    prod_stack.set(sse, "rules.0.applyServerSideEncryptionByDefault", {"sseAlgorithm": "AES256"})
    assert fired(prod_stack, s3_rules.POLICIES) == {}


def test_unclassified_bucket_gets_the_baseline_rules(prod_stack: Stack) -> None:
    bucket = prod_stack.bucket("inventory")
    prod_stack.set(bucket, "tags", {"drkit-role": "scratch"})
    prod_stack.set(bucket, "tagsAll", {"drkit-role": "scratch"})
    for rec in prod_stack.settings(bucket, ":BucketVersioning"):
        prod_stack.remove(rec)
    found = fired(prod_stack, s3_rules.POLICIES)
    assert list(found) == [VER] and "(unclassified)" in found[VER][0][0]
