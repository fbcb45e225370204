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


def test_restore_testing_plan_is_created_and_scheduled(world) -> None:
    """The stack's restore testing plan and selections exist in the embedded cloud and the
    simulation has scheduled the plan's next run (drills.cloud.sim.restore_testing)."""
    cloud, _, results = world
    out = results["dev"].outputs
    backup = cloud.target.client("backup", out.primaryRegion)
    plans = backup.list_restore_testing_plans()["RestoreTestingPlans"]
    names = [p["RestoreTestingPlanName"] for p in plans if p["RestoreTestingPlanName"].startswith("drkit_dev_")]
    assert len(names) == 1
    kinds = {s["ProtectedResourceType"] for s in
             backup.list_restore_testing_selections(RestoreTestingPlanName=names[0])["RestoreTestingSelections"]}
    assert kinds == {"S3", "DynamoDB"}
    assert cloud.sim["restore_testing"].status()["plans"][f"{out.primaryRegion}/{names[0]}"]["nextRun"]


def test_prod_security_controls_land_in_the_cloud(world) -> None:
    """The guards of issue #15 as boto3 sees them after `drkit up --stack prod`: guarded key policies
    (PutKeyPolicy), control-plane event rules with the alert topic as target (PutRule/PutTargets),
    alert subscriptions, the hash-key secret's resource policy and a value seeded by Secrets Manager's
    own generator (GetRandomPassword), the ingest function's reserved concurrency, the RAM share.
    AWS docs: https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html,
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutTargets.html,
    https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetRandomPassword.html"""
    cloud, project, results = world
    out = results["prod"].outputs
    region = out.primaryRegion
    s3 = cloud.target.client("s3", region)
    sse = s3.get_bucket_encryption(Bucket=out.archiveBucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    key_id = sse["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    policy = json.loads(cloud.target.client("kms", region).get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    sids = {s["Sid"] for s in policy["Statement"]}
    assert {"DenyKeyDestructionExceptBreakGlass", "DenyGrantsExceptForAwsResources",
            "DenyPolicyChangesExceptDeployAndBreakGlass"} <= sids
    events = cloud.target.client("events", region)
    kms_rules = [r for r in events.list_rules(NamePrefix="drkit-prod-alerts-kms-changes")["Rules"]]
    assert len(kms_rules) == 1 and "ScheduleKeyDeletion" in kms_rules[0]["EventPattern"]
    (target,) = events.list_targets_by_rule(Rule=kms_rules[0]["Name"])["Targets"]
    sns = cloud.target.client("sns", region)
    subs = sns.list_subscriptions_by_topic(TopicArn=target["Arn"])["Subscriptions"]
    assert {s["Protocol"] for s in subs} == {"email", "https"}
    sm = cloud.target.client("secretsmanager", region)
    lam = cloud.target.client("lambda", region)
    function = next(f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith("drkit-prod-ingest"))
    secret_arn = function["Environment"]["Variables"]["DRKIT_HASH_KEY_SECRET"]
    assert len(sm.get_secret_value(SecretId=secret_arn)["SecretString"]) == 64
    resource_policy = json.loads(sm.get_resource_policy(SecretId=secret_arn)["ResourcePolicy"])
    assert "OnlyIngestAndBreakGlassRead" in {s["Sid"] for s in resource_policy["Statement"]}
    concurrency = lam.get_function_concurrency(FunctionName=function["FunctionName"])
    assert concurrency["ReservedConcurrentExecutions"] == project.stack_config("prod")["drkit:ingest"][
        "reservedConcurrency"]
    ram = cloud.target.client("ram", out.drRegion)
    assert [s for s in ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]
            if s["name"].startswith("drkit-prod-backups-air-gapped-share")]
    declared = {d.type: d.reason for d in results["prod"].declared_only}
    assert "aws:ram/resourceAssociation:ResourceAssociation" in declared
    assert "aws:backup/vaultPolicy:VaultPolicy" in declared


@pytest.mark.parametrize("stack", STACKS)
def test_each_region_has_its_dicomweb_service_behind_the_configured_authorizer(world, stack) -> None:
    """HTTP API -> Lambda proxy, one per region, the route behind the stack's authorizer, and
    the function's resource policy admitting that API alone
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html)."""
    cloud, project, results = world
    result, out = results[stack], results[stack].outputs
    auth = config(project, stack, "dicomweb")["authorizer"]["type"]
    made = {(r.type, r.name): r for r in result.created}
    for suffix, region, bucket in (("dicomweb", out.primaryRegion, out.archiveBucket),
                                   ("dicomweb-dr", out.drRegion, out.replicaBucket)):
        api = made[("aws:apigatewayv2/api:Api", f"drkit-{stack}-{suffix}-api")]
        function = made[("aws:lambda/function:Function", f"drkit-{stack}-{suffix}-function")]
        assert api.region == region == function.region, (api, function)
        gateway = cloud.target.client("apigatewayv2", region)
        (route,) = gateway.get_routes(ApiId=api.physical_id)["Items"]
        assert route["RouteKey"] == "$default" and route["AuthorizationType"] == {"jwt": "JWT", "iam": "AWS_IAM"}[auth]
        (stage,) = gateway.get_stages(ApiId=api.physical_id)["Items"]
        assert stage["AccessLogSettings"]["DestinationArn"].startswith(f"arn:aws:logs:{region}:")
        lam = cloud.target.client("lambda", region)
        env = lam.get_function(FunctionName=function.physical_id)["Configuration"]["Environment"]["Variables"]
        assert env["DRKIT_DICOMWEB_BUCKET"] == bucket and env["DRKIT_DICOMWEB_REGION"] == region
        (grant,) = json.loads(lam.get_policy(FunctionName=function.physical_id)["Policy"])["Statement"]
        assert grant["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert f":{api.physical_id}/" in json.dumps(grant["Condition"])
    assert not {d.type for d in result.declared_only} & {
        "aws:apigatewayv2/api:Api", "aws:apigatewayv2/route:Route", "aws:lambda/permission:Permission"}
