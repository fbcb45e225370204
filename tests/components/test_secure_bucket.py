"""components/secure_bucket.py: every bucket the program makes is private, versioned,
encrypted, owner-enforced, TLS-only and aborts stale multipart uploads."""

from __future__ import annotations

import pytest

from components.secure_bucket import PURPOSE_TAG

BUCKET = "aws:s3/bucket:Bucket"
SECURE_BUCKET = "drkit:secure_bucket:SecureBucket"
# Buckets AWS services deliver into with SSE-S3 only (server access logs).
SSE_S3_PURPOSES = {"archive-access-logs", "replica-access-logs"}


def buckets(d):
    found = d.all(BUCKET)
    assert len(found) == 9, f"{d.stack}: expected 9 buckets, found {[b.name for b in found]}"
    return found


def test_every_bucket_belongs_to_a_secure_bucket(stack) -> None:
    for b in buckets(stack):
        parent = stack.parent(b)
        assert parent is not None and parent.type == SECURE_BUCKET, f"{b.urn}: parent {b.parent}"
        assert parent.name == b.name, f"{b.urn}: named apart from its component {parent.urn}"


def test_versioning_enabled(stack) -> None:
    for b in buckets(stack):
        v = stack.for_bucket("aws:s3/bucketVersioning:BucketVersioning", b)
        assert v.inputs["versioningConfiguration"]["status"] == "Enabled", v.urn
        assert stack.parent(v).name == b.name, v.urn


def test_all_four_public_access_blocks(stack) -> None:
    for b in buckets(stack):
        pab = stack.for_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", b)
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert pab.inputs.get(flag) is True, f"{pab.urn}: {flag}"


def test_bucket_owner_enforced(stack) -> None:
    for b in buckets(stack):
        oc = stack.for_bucket("aws:s3/bucketOwnershipControls:BucketOwnershipControls", b)
        assert oc.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced", oc.urn


def test_default_encryption_is_kms_with_bucket_key_except_log_destinations(stack) -> None:
    for b in buckets(stack):
        sse = stack.for_bucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", b)
        (rule,) = sse.inputs["rules"]
        default = rule["applyServerSideEncryptionByDefault"]
        if b.inputs["tags"][PURPOSE_TAG] in SSE_S3_PURPOSES:
            assert default == {"sseAlgorithm": "AES256"}, sse.urn
        else:
            assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].startswith("arn:aws:kms:"), sse.urn
            assert rule["bucketKeyEnabled"] is True, sse.urn


def test_policy_denies_requests_without_tls(stack) -> None:
    for b in buckets(stack):
        policy = stack.for_bucket("aws:s3/bucketPolicy:BucketPolicy", b)
        deny = [s for s in policy.policy()["Statement"] if s.get("Sid") == "DenyInsecureTransport"]
        assert len(deny) == 1, policy.urn
        (s,) = deny
        assert (s["Effect"], s["Principal"], s["Action"]) == ("Deny", "*", "s3:*"), policy.urn
        assert s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, policy.urn
        arn = f"arn:aws:s3:::{b.name}"
        assert sorted(s["Resource"]) == [arn, f"{arn}/*"], policy.urn


def test_policy_applied_after_public_access_block(stack) -> None:
    for b in buckets(stack):
        policy = stack.for_bucket("aws:s3/bucketPolicy:BucketPolicy", b)
        pab = stack.for_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", b)
        assert pab.urn in policy.dependencies, policy.urn


def test_no_policy_allows_everyone_without_a_condition(stack) -> None:
    for policy in stack.all("aws:s3/bucketPolicy:BucketPolicy"):
        for s in policy.policy()["Statement"]:
            if s["Effect"] == "Allow":
                assert s["Principal"] not in ("*", {"AWS": "*"}) or "Condition" in s, f"{policy.urn}: {s}"


@pytest.mark.parametrize("purpose", ["archive", "replica", "landing", "evidence"])
def test_drkit_written_buckets_refuse_other_keys_but_not_absent_headers(prod, purpose: str) -> None:
    (b,) = [b for b in prod.all(BUCKET) if b.inputs["tags"][PURPOSE_TAG] == purpose]
    policy = prod.for_bucket("aws:s3/bucketPolicy:BucketPolicy", b).policy()
    by_sid = {s.get("Sid"): s for s in policy["Statement"]}
    sse = prod.for_bucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", b)
    key = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    other_key = by_sid["DenyOtherKmsKeys"]
    # No "...IfExists" (true when the header is absent): deny only when the header is present
    # and names something else. The embedded cloud's bucket-policy evaluator tests the effect.
    assert other_key["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key},
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}}, b.urn
    assert by_sid["DenyNonKmsEncryption"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"}}, b.urn
    assert by_sid["DenyKmsWithoutKeyId"]["Condition"] == {
        "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "true"}}, b.urn
    assert not any("IfExists" in op for s in policy["Statement"] for op in s.get("Condition", {})), b.urn
    assert other_key["Action"] == "s3:PutObject" and other_key["Effect"] == "Deny", b.urn


def test_abort_incomplete_multipart_after_seven_days(stack) -> None:
    for b in buckets(stack):
        lc = stack.for_bucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", b)
        rules = [r for r in lc.inputs["rules"] if "abortIncompleteMultipartUpload" in r]
        assert len(rules) == 1, lc.urn
        assert rules[0]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7, lc.urn
        assert rules[0]["status"] == "Enabled" and rules[0]["filter"] == {}, lc.urn


def test_access_logs_go_to_an_unlocked_log_bucket(stack) -> None:
    log_buckets = {b.name: b for b in buckets(stack) if b.inputs["tags"][PURPOSE_TAG].endswith("access-logs")}
    assert len(log_buckets) == 2, stack.stack
    for logging in stack.all("aws:s3/bucketLogging:BucketLogging"):
        target = log_buckets.get(logging.inputs["targetBucket"])
        assert target is not None, f"{logging.urn} logs into {logging.inputs['targetBucket']}"
        assert not target.inputs.get("objectLockEnabled"), target.urn
        source = stack.bucket_named(logging.inputs["bucket"].removesuffix("-id"))
        assert stack.region(source) == stack.region(target), f"{logging.urn}: log bucket in another region"
    logged = {r.inputs["bucket"].removesuffix("-id") for r in stack.all("aws:s3/bucketLogging:BucketLogging")}
    assert logged == {b.name for b in buckets(stack)} - set(log_buckets), stack.stack


def test_buckets_protected_and_retained_only_in_prod(dev, prod) -> None:
    for b in buckets(prod):
        assert b.protect and b.retain_on_delete, b.urn
    for b in buckets(dev):
        assert not b.protect and not b.retain_on_delete, b.urn
