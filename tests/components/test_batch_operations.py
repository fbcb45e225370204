"""components/batch_operations.py: the role S3 Batch Operations assumes for drkit's jobs —
trusted only by this account's jobs, allowed only what compute checksum, Batch Replication and
restore need (S3 User Guide, "Granting permissions for Batch Operations",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html)."""

from __future__ import annotations

from components.batch_operations import BATCH_PREFIX, BATCH_SERVICE

COMPONENT = "drkit:batch_operations:BatchOperations"


def role(d):
    (r,) = d.all("aws:iam/role:Role", under=COMPONENT)
    return r


def statements(d):
    r = role(d)
    (policy,) = [p for p in d.all("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == f"{r.name}-id"]
    return {st["Sid"]: st for st in policy.policy()["Statement"]}


def test_only_this_accounts_batch_jobs_assume_the_role(stack) -> None:
    r = role(stack)
    (st,) = r.policy("assumeRolePolicy")["Statement"]
    assert st["Principal"] == {"Service": BATCH_SERVICE} == {"Service": "batchoperations.s3.amazonaws.com"}, r.urn
    assert "aws:SourceAccount" in st["Condition"]["StringEquals"], r.urn
    assert st["Condition"]["ArnLike"]["aws:SourceArn"].endswith(":job/*"), r.urn


def test_outputs_name_the_role(any_stack) -> None:
    assert any_stack.outputs["batchOperationsRoleArn"] == role(any_stack).outputs["arn"]


def test_each_operation_gets_only_its_actions(stack) -> None:
    s = statements(stack)
    archive = stack.outputs["archiveBucket"]
    assert s["BatchReplication"]["Action"] == ["s3:InitiateReplication"]
    assert s["BatchReplication"]["Resource"] == f"arn:aws:s3:::{archive}/*", "Batch Replication only from the archive"
    assert s["RestoreColdObjects"]["Action"] == ["s3:RestoreObject"]
    assert s["ComputeChecksumReadsObjects"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    work = s["ManifestsAndReports"]["Resource"]
    assert work and all(arn.endswith(f"/{BATCH_PREFIX}/*") for arn in work), work
    every = [a for st in s.values() for a in st["Action"]]
    assert not any(a.endswith("*") for a in every), every
    assert not any(a in every for a in ("s3:PutObjectRetention", "s3:DeleteObject", "s3:DeleteObjectVersion",
                                        "s3:BypassGovernanceRetention")), "the role never weakens or deletes"


def test_kms_only_through_s3_in_the_keys_region(stack) -> None:
    s = statements(stack)
    for sid, region in (("ArchiveKeyThroughS3", stack.config.primary_region),
                        ("ReplicaKeyThroughS3", stack.config.dr_region)):
        assert s[sid]["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}, sid


def test_archive_and_replica_allow_lists_name_the_role(stack) -> None:
    arn = role(stack).outputs["arn"]
    for purpose in ("archive", "replica"):
        bucket = stack.outputs[f"{purpose}Bucket"]
        policies = [p for p in stack.all("aws:s3/bucketPolicy:BucketPolicy") if bucket in p.inputs["policy"]]
        reads = [st for p in policies for st in p.policy()["Statement"]
                 if st.get("Sid") == "DenyObjectReadsOutsideAllowList"]
        assert reads, purpose
        assert all(arn in st["Condition"]["ArnNotLike"]["aws:PrincipalArn"] for st in reads), purpose
