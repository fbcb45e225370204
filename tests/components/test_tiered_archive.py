"""components/tiered_archive.py: locked, tiered archive and replica with inventory and logs."""

from __future__ import annotations

import pytest

from components.secure_bucket import PURPOSE_TAG
from components.tiered_archive import INVENTORY_FIELDS
from drills.contracts import SPECIALTY_TAG

BUCKET = "aws:s3/bucket:Bucket"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
INVENTORY = "aws:s3/inventory:Inventory"
TIERED = "drkit:tiered_archive:TieredArchive"
BRIEF_INVENTORY_FIELDS = {"Size", "StorageClass", "ReplicationStatus", "ObjectLockMode", "ObjectLockRetainUntilDate",
                          "ObjectLockLegalHoldStatus", "ChecksumAlgorithm", "ETag", "LastModifiedDate"}


def archive_buckets(d):
    """{purpose: bucket} for the archive and the replica."""
    found = {b.inputs["tags"][PURPOSE_TAG]: b for b in d.all(BUCKET, under=TIERED)
             if b.inputs["tags"][PURPOSE_TAG] in ("archive", "replica")}
    assert set(found) == {"archive", "replica"}, d.stack
    return found


def test_archive_in_primary_and_replica_in_dr(stack) -> None:
    found = archive_buckets(stack)
    assert stack.region(found["archive"]) == stack.config.primary_region, found["archive"].urn
    assert stack.region(found["replica"]) == stack.config.dr_region, found["replica"].urn
    for b in found.values():
        assert stack.ancestor_types(b)[:2] == ["drkit:secure_bucket:SecureBucket", TIERED], b.urn


@pytest.mark.parametrize("name,mode,days", [("dev", "GOVERNANCE", 1), ("prod", "COMPLIANCE", 2555)])
def test_object_lock_mode_and_days_follow_config(deployments, name: str, mode: str, days: int) -> None:
    d = deployments(name)
    for b in archive_buckets(d).values():
        assert b.inputs["objectLockEnabled"] is True, b.urn
        lock = d.for_bucket(LOCK, b)
        assert lock.inputs["rule"]["defaultRetention"] == {"mode": mode, "days": days}, lock.urn
        versioning = d.for_bucket("aws:s3/bucketVersioning:BucketVersioning", b)
        assert versioning.urn in lock.dependencies, lock.urn


def test_replica_encrypted_with_the_dr_key(stack) -> None:
    replica_key = stack.key_arn("data", dr=True)
    primary_key = stack.key_arn("data")
    for purpose, key in (("archive", primary_key), ("replica", replica_key)):
        b = archive_buckets(stack)[purpose]
        sse = stack.for_bucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", b)
        assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == key, sse.urn


def test_tier_rules_filter_on_specialty_tag_with_ordered_transitions(stack) -> None:
    for b in archive_buckets(stack).values():
        rules = {r["id"]: r for r in stack.for_bucket(LIFECYCLE, b).inputs["rules"]}
        for tier in stack.config.tiers:
            rule = rules[f"tier-{tier.name}"]
            assert rule["filter"] == {"tag": {"key": SPECIALTY_TAG, "value": tier.specialty.value}}, b.urn
            days = [t["days"] for t in rule["transitions"]]
            assert days == sorted(days) and len(set(days)) == len(days), f"{b.urn}: {days}"
            assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == \
                [(t.days, t.storage_class.value) for t in tier.transitions], b.urn


def test_radiology_goes_cold_slower_than_pathology(prod) -> None:
    rules = {r["id"]: r for r in prod.for_bucket(LIFECYCLE, archive_buckets(prod)["archive"]).inputs["rules"]}
    radiology = [(t["days"], t["storageClass"]) for t in rules["tier-radiology"]["transitions"]]
    pathology = [(t["days"], t["storageClass"]) for t in rules["tier-pathology"]["transitions"]]
    assert radiology == [(90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")]
    assert pathology[-1][1] == "DEEP_ARCHIVE" and pathology[-1][0] < radiology[-1][0]


def test_noncurrent_versions_transition_then_expire(stack) -> None:
    lc = stack.config.lifecycle
    for b in archive_buckets(stack).values():
        rules = {r["id"]: r for r in stack.for_bucket(LIFECYCLE, b).inputs["rules"]}
        rule = rules["noncurrent-versions"]
        assert rule["noncurrentVersionTransitions"] == [
            {"noncurrentDays": lc.noncurrent_transition_days, "storageClass": lc.noncurrent_storage_class.value}], b.urn
        assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": lc.noncurrent_expiration_days}, b.urn
        assert lc.noncurrent_expiration_days >= stack.config.object_lock.retention_days


def test_drill_canaries_expire_under_their_prefix_only(stack) -> None:
    for b in archive_buckets(stack).values():
        rules = {r["id"]: r for r in stack.for_bucket(LIFECYCLE, b).inputs["rules"]}
        canary = rules["drill-canaries"]
        assert canary["filter"] == {"prefix": stack.config.drill.prefix}, b.urn
        assert canary["expiration"] == {"days": stack.config.drill.canary_expiration_days}, b.urn
        expiring = [r for r in rules.values() if "expiration" in r]
        assert expiring == [canary], f"{b.urn}: only drill canaries may expire on the archive"


def test_daily_inventory_of_all_versions_into_its_own_encrypted_bucket(stack) -> None:
    for purpose, b in archive_buckets(stack).items():
        (inv,) = [i for i in stack.all(INVENTORY) if i.inputs["bucket"] == f"{b.name}-id"]
        assert inv.inputs["includedObjectVersions"] == "All", inv.urn
        assert inv.inputs["schedule"] == {"frequency": "Daily"}, inv.urn
        assert set(inv.inputs["optionalFields"]) >= BRIEF_INVENTORY_FIELDS, inv.urn
        assert set(inv.inputs["optionalFields"]) == set(INVENTORY_FIELDS), inv.urn
        dest = inv.inputs["destination"]["bucket"]
        target = stack.bucket_named(dest["bucketArn"].removeprefix("arn:aws:s3:::"))
        assert target.inputs["tags"][PURPOSE_TAG] == f"{purpose}-inventory", inv.urn
        assert not target.inputs.get("objectLockEnabled"), target.urn
        assert dest["encryption"]["sseKms"]["keyId"].startswith("arn:aws:kms:"), inv.urn
        assert stack.region(inv) == stack.region(b), inv.urn
        policy = stack.for_bucket("aws:s3/bucketPolicy:BucketPolicy", target).policy()
        (delivery,) = [s for s in policy["Statement"] if s.get("Sid") == "S3InventoryDelivery"]
        assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{b.name}", target.urn


def test_archive_access_logs_go_to_an_unlocked_sse_s3_bucket(stack) -> None:
    for purpose, b in archive_buckets(stack).items():
        logging = stack.for_bucket("aws:s3/bucketLogging:BucketLogging", b)
        target = stack.bucket_named(logging.inputs["targetBucket"])
        assert target.inputs["tags"][PURPOSE_TAG] == f"{purpose}-access-logs", logging.urn
        assert not target.inputs.get("objectLockEnabled"), target.urn
        assert stack.all(LOCK) and all(l.inputs["bucket"] != f"{target.name}-id" for l in stack.all(LOCK)), target.urn


def test_only_the_archive_carries_the_drill_target_tag(stack) -> None:
    found = archive_buckets(stack)
    assert found["archive"].inputs["tags"]["drkit-drill-target"] == f"drkit-{stack.stack}"
    tagged = [b for b in stack.all(BUCKET) if "drkit-drill-target" in b.inputs["tags"]]
    assert tagged == [found["archive"]], [b.urn for b in tagged]


def test_intelligent_tiering_archive_configuration_when_configured(dev, prod, eu) -> None:
    kind = "aws:s3/bucketIntelligentTieringConfiguration:BucketIntelligentTieringConfiguration"
    assert dev.all(kind) == [], "dev configures no intelligent tiering"
    configs = prod.all(kind)
    assert len(configs) == 2
    for c in configs:
        assert c.inputs["status"] == "Enabled", c.urn
        assert {(t["accessTier"], t["days"]) for t in c.inputs["tierings"]} == \
            {("ARCHIVE_ACCESS", 90), ("DEEP_ARCHIVE_ACCESS", 180)}, c.urn
    assert [t["accessTier"] for t in eu.all(kind)[0].inputs["tierings"]] == ["DEEP_ARCHIVE_ACCESS"]


def test_eu_stack_uses_its_own_regions(eu) -> None:
    found = archive_buckets(eu)
    assert eu.region(found["archive"]) == "eu-central-1" and eu.region(found["replica"]) == "eu-west-1"
    rules = {r["id"] for r in eu.for_bucket(LIFECYCLE, found["archive"]).inputs["rules"]}
    assert {"tier-slides", "tier-radiology", "tier-ophthalmology"} <= rules
