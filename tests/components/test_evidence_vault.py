"""components/evidence_vault.py: Object-Locked (COMPLIANCE in prod), KMS, private, TLS-only."""

from __future__ import annotations

import pytest

from components.secure_bucket import PURPOSE_TAG


def evidence(d):
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == "evidence"]
    return b


@pytest.mark.parametrize("name,mode,days", [("dev", "GOVERNANCE", 1), ("prod", "COMPLIANCE", 2190)])
def test_evidence_bucket_is_locked(deployments, name: str, mode: str, days: int) -> None:
    d = deployments(name)
    b = evidence(d)
    assert b.inputs["objectLockEnabled"] is True, b.urn
    lock = d.for_bucket("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", b)
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": mode, "days": days}, lock.urn
    assert "drkit:evidence_vault:EvidenceVault" in d.ancestor_types(b), b.urn


def test_evidence_bucket_kms_private_tls_only(stack) -> None:
    b = evidence(stack)
    sse = stack.for_bucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", b)
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": stack.key_arn("audit")}, sse.urn
    pab = stack.for_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", b)
    assert all(pab.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                       "restrictPublicBuckets")), pab.urn
    sids = {s["Sid"] for s in stack.for_bucket("aws:s3/bucketPolicy:BucketPolicy", b).policy()["Statement"]}
    assert {"DenyInsecureTransport", "BackupAuditReports"} <= sids, b.urn


def test_backup_reports_role_is_named_directly(stack) -> None:
    """S3 judges "Principal: *" policies public unless fixed to documented keys
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status):
    the grant names Backup Audit Manager's service-linked role, created by the stack."""
    policy = stack.for_bucket("aws:s3/bucketPolicy:BucketPolicy", evidence(stack)).policy()
    (s,) = [s for s in policy["Statement"] if s["Sid"] == "BackupAuditReports"]
    (slr,) = stack.all("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert slr.inputs["awsServiceName"] == "reports.backup.amazonaws.com", slr.urn
    assert s["Principal"] == {"AWS": slr.outputs["arn"]} and "Condition" in s, s
    assert s["Resource"].endswith("/backup-audit/*") and s["Action"] == "s3:PutObject"
    assert not [st for st in policy["Statement"] if st["Effect"] == "Allow" and st["Principal"] in ("*", {"AWS": "*"})]


def test_evidence_objects_only_for_the_allow_list(prod) -> None:
    policy = prod.for_bucket("aws:s3/bucketPolicy:BucketPolicy", evidence(prod)).policy()
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    readers = by_sid["DenyObjectReadsOutsideAllowList"]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert set(prod.config.security.reader_role_arns) <= set(readers)
    writers = by_sid["DenyObjectWritesOutsideAllowList"]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert not set(prod.config.security.reader_role_arns) & set(writers), "readers cannot write evidence"
