"""components/replication.py: RTC + metrics, delete markers, replica KMS, least-privilege role,
depends_on versioning, optional failback."""

from __future__ import annotations

from components.secure_bucket import PURPOSE_TAG

CONFIG = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
REPLICATION = "drkit:replication:CrossRegionReplication"


def bucket(d, purpose: str):
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return b


def forward(d):
    return d.for_bucket(CONFIG, bucket(d, "archive"))


def test_forward_rules_cover_studies_quarantine_and_drill_canaries(stack) -> None:
    config = forward(stack)
    assert stack.region(config) == stack.config.primary_region, config.urn
    assert stack.parent(config).type == REPLICATION, config.urn
    rules = config.inputs["rules"]
    assert [(r["id"], r["filter"]["prefix"], r["priority"]) for r in rules] == [
        ("dicom", "dicom/", 1), ("quarantine", "quarantine/", 2), ("drill-canaries", stack.config.drill.prefix, 3)]
    for r in rules:
        assert r["status"] == "Enabled", config.urn


def test_rtc_fifteen_minutes_with_metrics(stack) -> None:
    for r in forward(stack).inputs["rules"]:
        dest = r["destination"]
        assert dest["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}, r["id"]
        assert dest["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}, r["id"]


def test_delete_marker_replication_follows_config(dev, eu) -> None:
    for d, expected in ((dev, "Enabled"), (eu, "Disabled")):
        for r in forward(d).inputs["rules"]:
            assert r["deleteMarkerReplication"] == {"status": expected}, f"{d.stack}: {r['id']}"


def test_sse_kms_objects_replicate_with_the_replica_key_and_modifications_sync(stack) -> None:
    replica_key = stack.key_arn("data", dr=True)
    for r in forward(stack).inputs["rules"]:
        assert r["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"},
                                                "replicaModifications": {"status": "Enabled"}}, r["id"]
        assert r["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": replica_key}
        assert r["destination"]["bucket"] == f"arn:aws:s3:::{bucket(stack, 'replica').name}"


def test_replica_storage_class_follows_config(dev, prod, eu) -> None:
    for d, expected in ((dev, "STANDARD"), (prod, "STANDARD_IA"), (eu, "GLACIER_IR")):
        assert {r["destination"]["storageClass"] for r in forward(d).inputs["rules"]} == {expected}, d.stack


def test_replication_waits_for_versioning_on_both_buckets(stack) -> None:
    config = forward(stack)
    for purpose in ("archive", "replica"):
        versioning = stack.for_bucket("aws:s3/bucketVersioning:BucketVersioning", bucket(stack, purpose))
        assert versioning.urn in config.dependencies, f"{config.urn} does not depend on {versioning.urn}"


def test_role_is_least_privilege(stack) -> None:
    config = forward(stack)
    role = next(r for r in stack.all("aws:iam/role:Role") if r.outputs["arn"] == config.inputs["role"])
    assert role.policy("assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    (policy,) = [p for p in stack.all(ROLE_POLICY) if p.inputs["role"] == f"{role.name}-id"]
    statements = {s["Sid"]: s for s in policy.policy()["Statement"]}
    archive, replica = (f"arn:aws:s3:::{bucket(stack, p).name}" for p in ("archive", "replica"))
    prefixes = ["dicom/", "quarantine/", stack.config.drill.prefix]
    assert statements["ReadSourceVersions"]["Resource"] == [f"{archive}/{p}*" for p in prefixes]
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold", "s3:GetObjectVersionTagging",
            "s3:GetObjectVersionForReplication"} <= set(statements["ReadSourceVersions"]["Action"])
    assert statements["WriteReplicas"]["Resource"] == [f"{replica}/{p}*" for p in prefixes]
    assert set(statements["WriteReplicas"]["Action"]) == {"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"}
    key = stack.key_arn("data")
    replica_key = stack.key_arn("data", dr=True)
    assert statements["DecryptSource"]["Resource"] == key
    assert statements["DecryptSource"]["Action"] == ["kms:Decrypt"]
    assert statements["DecryptSource"]["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{stack.config.primary_region}.amazonaws.com"}
    assert statements["EncryptReplicas"]["Resource"] == replica_key
    assert statements["EncryptReplicas"]["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{stack.config.dr_region}.amazonaws.com"}
    for s in statements.values():
        assert s["Effect"] == "Allow" and s["Resource"] != "*", f"{policy.urn}: {s}"
        assert not any(a.endswith("*") for a in s["Action"]), f"{policy.urn}: {s}"


def test_failback_rules_only_when_configured(dev, prod) -> None:
    assert len(dev.all(CONFIG)) == 1, "dev has no failback"
    back = prod.for_bucket(CONFIG, bucket(prod, "replica"))
    assert prod.region(back) == prod.config.dr_region, back.urn
    key = prod.key_arn("data")
    for r in back.inputs["rules"]:
        assert r["destination"]["bucket"] == f"arn:aws:s3:::{bucket(prod, 'archive').name}", back.urn
        assert r["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": key}, back.urn
        assert r["destination"]["replicationTime"]["time"] == {"minutes": 15}, back.urn
    assert forward(prod).inputs["role"] != back.inputs["role"], "each direction has its own role"


def test_tag_filter_without_delete_markers_and_without_rtc(deploy_config, stack_config) -> None:
    """One custom run: tag-filtered rules use an And filter, no delete markers; without RTC the
    replication metrics stay on because the Monitoring alarms read them."""
    config = stack_config("dev")
    config["drkit:replication"] = {**config["drkit:replication"], "deleteMarkers": False, "rtc": False,
                                   "tags": {"drkit-replicate": "true"}}
    rules = forward(deploy_config(config)).inputs["rules"]
    assert [r["filter"]["and"]["prefix"] for r in rules] == ["dicom/", "quarantine/", "drills/"]
    for r in rules:
        assert r["filter"]["and"]["tags"] == {"drkit-replicate": "true"}, r["id"]
        assert r["deleteMarkerReplication"] == {"status": "Disabled"}, r["id"]
        assert "replicationTime" not in r["destination"], r["id"]
        assert r["destination"]["metrics"] == {"status": "Enabled"}, r["id"]
