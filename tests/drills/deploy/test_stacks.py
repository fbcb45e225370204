"""End to end: the project's real Pulumi program, stacks dev, prod and eu, deployed offline
into one embedded cloud and checked through plain boto3 against what each stack file
declares; then the ingest pipeline of the dev stack runs the real handler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.deploy.engine import deploy
from drills.cloud.server import EmbeddedCloud
from drills.contracts import DICOM_PREFIX, LAMBDA_HANDLER, QUARANTINE_PREFIX
from drills.project import find_project
from tests.helpers.dicom import dicom_bytes, unquote

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
STACKS = ("dev", "prod", "eu")


@pytest.fixture(scope="module")
def world():
    """One cloud holding all three stacks; prod deployed twice (the second must reuse)."""
    project = find_project(project_dir=ROOT)
    if not (ROOT / "__main__.py").is_file():
        pytest.skip("the Pulumi program (__main__.py) is not there yet")
    with EmbeddedCloud() as cloud:
        results = {stack: deploy(project, stack, cloud.target, cloud.sim) for stack in STACKS}
        results["prod-again"] = deploy(project, "prod", cloud.target, cloud.sim)
        yield cloud, project, results


def config(project, stack: str, key: str):
    return project.stack_config(stack)[f"drkit:{key}"]


@pytest.mark.parametrize("stack", STACKS)
def test_buckets_are_locked_encrypted_private_and_replicated(world, stack) -> None:
    cloud, project, results = world
    out = results[stack].outputs
    lock, replication = config(project, stack, "objectLock"), config(project, stack, "replication")
    assert (out.primaryRegion, out.drRegion) == (config(project, stack, "primaryRegion"),
                                                 config(project, stack, "drRegion"))
    for bucket, region in ((out.archiveBucket, out.primaryRegion), (out.replicaBucket, out.drRegion)):
        s3 = cloud.target.client("s3", region)
        location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] or "us-east-1"
        assert location == region, bucket
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled", bucket
        retention = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"][
            "DefaultRetention"]
        assert (retention["Mode"], retention.get("Days")) == (lock["mode"], lock["retentionDays"]), bucket
        sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", bucket
        assert f":kms:{region}:" in sse["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"], bucket
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(pab.values()), bucket
    rules = cloud.target.client("s3", out.primaryRegion).get_bucket_replication(
        Bucket=out.archiveBucket)["ReplicationConfiguration"]["Rules"]
    to_replica = [r for r in rules if r["Destination"]["Bucket"] == f"arn:aws:s3:::{out.replicaBucket}"]
    assert to_replica and all(r["Status"] == "Enabled" for r in to_replica)
    if replication["rtc"]:
        assert all(r["Destination"]["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
                   for r in to_replica)
        assert all(r["Destination"]["Metrics"]["Status"] == "Enabled" for r in to_replica)


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle_moves_every_declared_tier(world, stack) -> None:
    cloud, project, results = world
    out = results[stack].outputs
    rules = cloud.target.client("s3", out.primaryRegion).get_bucket_lifecycle_configuration(
        Bucket=out.archiveBucket)["Rules"]
    stored = {(t["Days"], t["StorageClass"]) for r in rules for t in r.get("Transitions", [])}
    declared = {(t["days"], t["storageClass"]) for tier in config(project, stack, "tiers") for t in tier["transitions"]}
    assert declared <= stored
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)


@pytest.mark.parametrize("stack", STACKS)
def test_vaults_locks_tables_and_keys_in_both_regions(world, stack) -> None:
    cloud, project, results = world
    out, backups = results[stack].outputs, config(project, stack, "backups")
    for region, vault in ((out.primaryRegion, out.backupVault), (out.drRegion, out.drBackupVault)):
        described = cloud.target.client("backup", region).describe_backup_vault(BackupVaultName=vault)
        assert described["Locked"] is True, vault
        assert (described["MinRetentionDays"], described["MaxRetentionDays"]) == (
            backups["minRetentionDays"], backups["maxRetentionDays"]), vault
        assert ("LockDate" in described) == (backups["vaultLock"] == "compliance"), vault
        table = cloud.target.client("dynamodb", region).describe_table(TableName=out.indexTable)["Table"]
        assert table["TableStatus"] == "ACTIVE"
    keys = [r for r in results[stack].created if r.type in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey")]
    assert {r.region for r in keys} == {out.primaryRegion, out.drRegion}
    assert all(r.physical_id.startswith("mrk-") for r in keys)


@pytest.mark.parametrize("stack", STACKS)
def test_landing_bucket_feeds_the_ingest_function(world, stack) -> None:
    cloud, _, results = world
    out = results[stack].outputs
    s3 = cloud.target.client("s3", out.primaryRegion)
    queues = s3.get_bucket_notification_configuration(Bucket=out.landingBucket)["QueueConfigurations"]
    queue_arn = queues[0]["QueueArn"]
    lam = cloud.target.client("lambda", out.primaryRegion)
    mapping = lam.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"][0]
    function = lam.get_function(FunctionName=mapping["FunctionArn"])["Configuration"]
    assert function["Handler"] == LAMBDA_HANDLER
    assert function["Environment"]["Variables"]["DRKIT_ARCHIVE_BUCKET"] == out.archiveBucket
    sqs = cloud.target.client("sqs", out.primaryRegion)
    url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
    redrive = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])[
        "Attributes"]["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) >= 1
    adopted = {m["uuid"] for m in cloud.sim["pipeline"].status()["mappings"]}
    assert mapping["UUID"] in adopted


@pytest.mark.parametrize("stack", STACKS)
def test_declared_only_resources_are_listed_with_reasons(world, stack) -> None:
    _, _, results = world
    result = results[stack]
    kinds = {d.type for d in result.declared_only}
    assert all(d.reason for d in result.declared_only)
    # Multi-Region Access Points and FIS templates are created through their APIs (emulated)
    created = {r.type for r in result.created}
    assert "aws:s3control/multiRegionAccessPoint:MultiRegionAccessPoint" in created - kinds
    assert "aws:s3control/multiRegionAccessPointRoutes:MultiRegionAccessPointRoutes" in created - kinds
    assert "aws:fis/experimentTemplate:ExperimentTemplate" in created - kinds
    assert result.outputs.multiRegionAccessPoint.endswith(".mrap")


def test_prod_twice_in_the_same_cloud_reuses_everything(world) -> None:
    _, _, results = world
    first, second = results["prod"], results["prod-again"]
    assert second.outputs == first.outputs
    assert [(r.type, r.name) for r in second.created if not r.reused] == []
    assert len(second.created) == len(first.created)
    assert first.duration_seconds > 0


def test_the_dev_pipeline_archives_and_quarantines_with_the_real_handler(world) -> None:
    cloud, _, results = world
    out = results["dev"].outputs
    s3 = cloud.target.client("s3", out.primaryRegion)
    data, ds = dicom_bytes()
    s3.put_object(Bucket=out.landingBucket, Key="incoming/ct 1.dcm", Body=data)
    s3.put_object(Bucket=out.landingBucket, Key="incoming/readme.txt", Body=b"plain text, not DICOM")
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=out.archiveBucket).get("Contents", [])}
    assert not any(k.startswith(DICOM_PREFIX) for k in before)
    cloud.clock.advance(10)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=out.archiveBucket).get("Contents", [])}
    assert f"{DICOM_PREFIX}{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm" in keys
    quarantined = [k for k in keys if k.startswith(QUARANTINE_PREFIX)] + [
        o["Key"] for o in s3.list_objects_v2(Bucket=out.landingBucket, Prefix=QUARANTINE_PREFIX).get("Contents", [])]
    assert quarantined, "the non-DICOM object must be quarantined, not dropped"
    status = cloud.sim["pipeline"].status()
    assert status["dlqDepth"] == 0 and status["handlerErrors"] == 0
    assert unquote("incoming/ct+1.dcm") == "incoming/ct 1.dcm"
