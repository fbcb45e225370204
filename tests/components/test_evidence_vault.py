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
    (key,) = stack.all("aws:kms/key:Key")
    sse = stack.for_bucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", b)
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]}, sse.urn
    pab = stack.for_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", b)
    assert all(pab.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                       "restrictPublicBuckets")), pab.urn
    sids = {s["Sid"] for s in stack.for_bucket("aws:s3/bucketPolicy:BucketPolicy", b).policy()["Statement"]}
    assert {"DenyInsecureTransport", "BackupAuditReports"} <= sids, b.urn


def test_backup_reports_allowed_only_for_the_service_linked_role(stack) -> None:
    policy = stack.for_bucket("aws:s3/bucketPolicy:BucketPolicy", evidence(stack)).policy()
    (s,) = [s for s in policy["Statement"] if s["Sid"] == "BackupAuditReports"]
    assert s["Condition"]["ArnEquals"]["aws:PrincipalArn"].endswith(
        "role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports")
    assert s["Resource"].endswith("/backup-audit/*") and s["Action"] == "s3:PutObject"
