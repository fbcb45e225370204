"""Offline deploy of a fixture Pulumi project (drills.deploy.engine), checked through plain boto3.

The fixture program declares every resource family the deploy supports, in two regions, so
these tests do not depend on the real program (test_deploy_stacks.py deploys that). One
embedded cloud and one deploy serve the module; a second deploy into the same cloud checks
that a redeploy reuses everything (no drift).
"""

from __future__ import annotations

import json

import pytest

from drills.deploy.engine import DeployResult, deploy
from drills.cloud.server import EmbeddedCloud
from drills.contracts import StackOutputs
from drills.project import find_project
from tests.helpers.projects import write_project

PRIMARY, DR = "us-east-1", "us-west-2"

FIXTURE_PROGRAM = '''\
import json
import pulumi
import pulumi_aws as aws
import pulumi_random as random

cfg = pulumi.Config("fixture")
dr_region = cfg.get("drRegion") or "us-west-2"
primary = aws.Provider("primary", region="us-east-1")
dr = aws.Provider("dr", region=dr_region)
P = pulumi.ResourceOptions(provider=primary)
D = pulumi.ResourceOptions(provider=dr)

def opts(base, *deps):
    return pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=list(deps)))

key = aws.kms.Key("key", multi_region=True, enable_key_rotation=True, description="fixture", opts=P)
replica_key = aws.kms.ReplicaKey("key-replica", primary_key_arn=key.arn, opts=D)
aws.kms.Alias("key-alias", name="alias/fixture", target_key_id=key.key_id, opts=P)

logs = aws.s3.Bucket("logs", opts=P)
logs_policy = aws.s3.BucketPolicy("logs-policy", bucket=logs.id, policy=logs.arn.apply(lambda a: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
    "Action": "s3:PutObject", "Resource": f"{a}/*"}]})), opts=P)

def locked_bucket(name, base, kms):
    b = aws.s3.Bucket(name, object_lock_enabled=True, tags={"drkit-purpose": name}, opts=base)
    v = aws.s3.BucketVersioning(f"{name}-versioning", bucket=b.id, versioning_configuration={"status": "Enabled"}, opts=base)
    aws.s3.BucketObjectLockConfiguration(f"{name}-lock", bucket=b.id,
        rule={"default_retention": {"mode": "COMPLIANCE", "days": 7}}, opts=opts(base, v))
    aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-sse", bucket=b.id, rules=[{
        "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": kms},
        "bucket_key_enabled": True}], opts=base)
    aws.s3.BucketPublicAccessBlock(f"{name}-pab", bucket=b.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=base)
    aws.s3.BucketOwnershipControls(f"{name}-own", bucket=b.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=base)
    return b, v

archive, archive_v = locked_bucket("archive", P, key.arn)
replica, replica_v = locked_bucket("replica", D, replica_key.arn)
aws.s3.BucketLogging("archive-logging", bucket=archive.id, target_bucket=logs.id, target_prefix="archive/", opts=P)
aws.s3.BucketLifecycleConfiguration("archive-lifecycle", bucket=archive.id, rules=[
    {"id": "tier", "status": "Enabled", "filter": {"prefix": "dicom/"},
     "transitions": [{"days": 30, "storage_class": "STANDARD_IA"}, {"days": 90, "storage_class": "GLACIER_IR"}]},
    {"id": "abort", "status": "Enabled", "filter": {}, "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}],
    opts=opts(P, archive_v))
role = aws.iam.Role("replication-role", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]}), opts=P)
doc = aws.iam.get_policy_document_output(statements=[{"actions": ["s3:GetObjectVersionForReplication"],
    "resources": [archive.arn.apply(lambda a: f"{a}/*")]}], opts=pulumi.InvokeOptions(provider=primary))
aws.iam.RolePolicy("replication-policy", role=role.id, policy=doc.json, opts=P)
managed = aws.iam.Policy("extra", policy=doc.json, opts=P)
aws.iam.RolePolicyAttachment("extra-attach", role=role.name, policy_arn=managed.arn, opts=P)
aws.iam.RolePolicyAttachment("aws-managed", role=role.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup", opts=P)
aws.s3.BucketReplicationConfig("archive-replication", bucket=archive.id, role=role.arn, rules=[{
    "id": "all", "priority": 1, "status": "Enabled", "filter": {"prefix": ""},
    "delete_marker_replication": {"status": "Enabled"},
    "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
    "destination": {"bucket": replica.arn, "storage_class": "STANDARD",
                    "encryption_configuration": {"replica_kms_key_id": replica_key.arn},
                    "replication_time": {"status": "Enabled", "time": {"minutes": 15}},
                    "metrics": {"status": "Enabled", "event_threshold": {"minutes": 15}}}}], opts=P)
aws.s3.Inventory("archive-inventory", bucket=archive.id, name="daily", included_object_versions="All",
    schedule={"frequency": "Daily"}, destination={"bucket": {"bucket_arn": logs.arn, "format": "CSV"}}, opts=P)
aws.s3.BucketIntelligentTieringConfiguration("archive-it", bucket=archive.id, name="deep",
    tierings=[{"access_tier": "DEEP_ARCHIVE_ACCESS", "days": 180}], opts=P)

dlq = aws.sqs.Queue("ingest-dlq", message_retention_seconds=1209600, opts=P)
queue = aws.sqs.Queue("ingest", visibility_timeout_seconds=60,
    redrive_policy=dlq.arn.apply(lambda a: json.dumps({"deadLetterTargetArn": a, "maxReceiveCount": 3})), opts=P)
landing = aws.s3.Bucket("landing", opts=P)
aws.sqs.QueuePolicy("ingest-policy", queue_url=queue.id, policy=queue.arn.apply(lambda a: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
    "Action": "sqs:SendMessage", "Resource": a}]})), opts=P)
aws.s3.BucketNotification("landing-events", bucket=landing.id,
    queues=[{"queue_arn": queue.arn, "events": ["s3:ObjectCreated:*"]}], opts=P)
table = aws.dynamodb.Table("index", attributes=[{"name": "StudyInstanceUID", "type": "S"}, {"name": "SeriesSop", "type": "S"}],
    hash_key="StudyInstanceUID", range_key="SeriesSop", billing_mode="PAY_PER_REQUEST",
    point_in_time_recovery={"enabled": True}, server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
    stream_enabled=True, stream_view_type="NEW_AND_OLD_IMAGES",
    replicas=[{"region_name": dr_region, "kms_key_arn": replica_key.arn, "point_in_time_recovery": True}], opts=P)
password = random.RandomPassword("hash-key", length=48, special=False)
secret = aws.secretsmanager.Secret("hash-key", tags={"drkit-purpose": "phi-hash-key"}, opts=P)
aws.secretsmanager.SecretVersion("hash-key-value", secret_id=secret.id, secret_string=password.result, opts=P)
fn_role = aws.iam.Role("ingest-fn-role", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}), opts=P)
fn = aws.lambda_.Function("ingest-fn", role=fn_role.arn, runtime="python3.11", handler="drills.ingest.handler.handler",
    code=pulumi.AssetArchive({"app": pulumi.FileArchive("fn")}), timeout=60,
    environment={"variables": {"DRKIT_ARCHIVE_BUCKET": archive.bucket, "DRKIT_INDEX_TABLE": table.name,
                               "DRKIT_KMS_KEY_ID": key.arn, "DRKIT_HASH_KEY_SECRET": secret.arn}}, opts=P)
aws.lambda_.EventSourceMapping("ingest-esm", event_source_arn=queue.arn, function_name=fn.arn, batch_size=5,
    function_response_types=["ReportBatchItemFailures"], opts=P)
topic = aws.sns.Topic("alerts", kms_master_key_id=key.arn, opts=P)
aws.cloudwatch.MetricAlarm("replication-latency", comparison_operator="GreaterThanThreshold", evaluation_periods=1,
    metric_name="ReplicationLatency", namespace="AWS/S3", period=60, statistic="Maximum", threshold=900,
    dimensions={"SourceBucket": archive.bucket}, alarm_actions=[topic.arn], opts=P)
aws.cloudtrail.Trail("trail", s3_bucket_name=logs.bucket, is_multi_region_trail=True, enable_log_file_validation=True,
    event_selectors=[{"read_write_type": "All", "include_management_events": True,
                      "data_resources": [{"type": "AWS::S3::Object", "values": [archive.arn.apply(lambda a: f"{a}/")]}]}],
    opts=opts(P, logs_policy))
vault = aws.backup.Vault("vault", kms_key_arn=key.arn, opts=P)
dr_vault = aws.backup.Vault("dr-vault", kms_key_arn=replica_key.arn, opts=D)
for name, v, o in (("vault", vault, P), ("dr-vault", dr_vault, D)):
    aws.backup.VaultLockConfiguration(f"{name}-lock", backup_vault_name=v.name, min_retention_days=7,
        max_retention_days=365, changeable_for_days=3, opts=o)
air = aws.backup.LogicallyAirGappedVault("air-gapped", min_retention_days=7, max_retention_days=365, opts=D)
plan = aws.backup.Plan("plan", rules=[{"rule_name": "daily", "target_vault_name": vault.name, "schedule": "cron(0 5 ? * * *)",
    "lifecycle": {"delete_after": 35}, "copy_actions": [{"destination_vault_arn": dr_vault.arn, "lifecycle": {"delete_after": 35}}]}], opts=P)
aws.backup.Selection("plan-archive", name="archive", plan_id=plan.id, iam_role_arn=role.arn, resources=[archive.arn], opts=P)
fw = aws.backup.Framework("framework", name="fixture_framework", controls=[{"name": "BACKUP_RECOVERY_POINT_ENCRYPTED"}], opts=P)
aws.backup.ReportPlan("report", name="fixture_report", report_delivery_channel={"s3_bucket_name": logs.bucket, "formats": ["JSON"]},
    report_setting={"report_template": "CONTROL_COMPLIANCE_REPORT", "framework_arns": [fw.arn], "number_of_frameworks": 1}, opts=P)
aws.backup.VaultNotifications("vault-events", backup_vault_name=vault.name, sns_topic_arn=topic.arn,
    backup_vault_events=["BACKUP_JOB_COMPLETED"], opts=P)
mrap = aws.s3control.MultiRegionAccessPoint("mrap", details={"name": "fixture-mrap",
    "regions": [{"bucket": archive.bucket}, {"bucket": replica.bucket}]}, opts=P)
aws.fis.ExperimentTemplate("pause-replication", description="pause", role_arn=role.arn,
    stop_conditions=[{"source": "none"}],
    actions=[{"name": "pause", "action_id": "aws:s3:bucket-pause-replication",
              "parameters": [{"key": "duration", "value": "PT5M"}, {"key": "region", "value": dr_region}],
              "target": {"key": "Buckets", "value": "archive"}}],
    targets=[{"name": "archive", "resource_type": "aws:s3:bucket", "selection_mode": "ALL", "resource_arns": [archive.arn]}], opts=P)

pulumi.export("schemaVersion", 1)
pulumi.export("primaryRegion", "us-east-1")
pulumi.export("drRegion", dr_region)
pulumi.export("archiveBucket", archive.bucket)
pulumi.export("replicaBucket", replica.bucket)
pulumi.export("landingBucket", landing.bucket)
pulumi.export("indexTable", table.name)
pulumi.export("backupVault", vault.name)
pulumi.export("drBackupVault", dr_vault.name)
pulumi.export("evidenceBucket", logs.bucket)
pulumi.export("multiRegionAccessPoint", mrap.arn)
pulumi.export("objectives", {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12})
'''





@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):
    """(cloud, first DeployResult, second DeployResult into the same cloud)."""
    project = find_project(project_dir=write_project(tmp_path_factory.mktemp("fixture"), FIXTURE_PROGRAM))
    with EmbeddedCloud() as cloud:
        first = deploy(project, "dev", cloud.target, cloud.sim)
        second = deploy(project, "dev", cloud.target, cloud.sim)
        yield cloud, first, second


@pytest.fixture(scope="module")
def out(deployed) -> StackOutputs:
    return deployed[1].outputs


def client(deployed, service: str, region: str = PRIMARY):
    return deployed[0].target.client(service, region)


def created(result: DeployResult, type_suffix: str) -> list:
    return [r for r in result.created if r.type.endswith(type_suffix)]


def test_outputs_validate_and_name_real_resources(deployed, out) -> None:
    assert out.primaryRegion == PRIMARY and out.drRegion == DR
    assert out.archiveBucket.startswith("archive-") and len(out.archiveBucket) == len("archive-") + 7
    names = {b["Name"] for b in client(deployed, "s3").list_buckets()["Buckets"]}
    assert {out.archiveBucket, out.replicaBucket, out.landingBucket, out.evidenceBucket} <= names
    assert out.objectives.rpoMinutes == 15


def test_bucket_security_settings_are_stored(deployed, out) -> None:
    s3 = client(deployed, "s3")
    bucket = out.archiveBucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("COMPLIANCE", 7)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert ":key/mrk-" in rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    assert rule["BucketKeyEnabled"] is True
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(pab.values()) and len(pab) == 4
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert {"Key": "drkit-purpose", "Value": "archive"} in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    replica = client(deployed, "s3", DR)
    assert replica.get_bucket_location(Bucket=out.replicaBucket)["LocationConstraint"] == DR


def test_replication_rule_is_stored_with_rtc_and_replica_key(deployed, out) -> None:
    config = client(deployed, "s3").get_bucket_replication(Bucket=out.archiveBucket)["ReplicationConfiguration"]
    assert config["Role"].startswith("arn:aws:iam::") and ":role/replication-role-" in config["Role"]
    rule = config["Rules"][0]
    assert rule["Status"] == "Enabled"
    dest = rule["Destination"]
    assert dest["Bucket"] == f"arn:aws:s3:::{out.replicaBucket}"
    assert dest["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert dest["Metrics"] == {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    assert dest["EncryptionConfiguration"]["ReplicaKmsKeyID"].startswith(f"arn:aws:kms:{DR}:")
    # moto's GetBucketReplication answers DeleteMarkerReplication "Disabled" and drops
    # SourceSelectionCriteria whatever was put; the stored rule (what the replication behaviour
    # reads) keeps them.
    stored = deployed[0].sim.s3_backend().get_bucket(out.archiveBucket).replication["Rule"]
    stored = stored[0] if isinstance(stored, list) else stored
    assert stored["DeleteMarkerReplication"] == {"Status": "Enabled"}
    assert stored["SourceSelectionCriteria"]["SseKmsEncryptedObjects"] == {"Status": "Enabled"}


def test_lifecycle_logging_inventory_and_notification_are_stored(deployed, out) -> None:
    s3 = client(deployed, "s3")
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=out.archiveBucket)["Rules"]}
    assert [t["StorageClass"] for t in rules["tier"]["Transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
    assert rules["tier"]["Transitions"][0]["Days"] == 30
    assert rules["abort"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    logging = s3.get_bucket_logging(Bucket=out.archiveBucket)["LoggingEnabled"]
    assert logging == {"TargetBucket": out.evidenceBucket, "TargetPrefix": "archive/"}
    inventory = s3.get_bucket_inventory_configuration(Bucket=out.archiveBucket, Id="daily")["InventoryConfiguration"]
    assert inventory["IncludedObjectVersions"] == "All"
    queues = s3.get_bucket_notification_configuration(Bucket=out.landingBucket)["QueueConfigurations"]
    assert queues[0]["QueueArn"].startswith(f"arn:aws:sqs:{PRIMARY}:") and queues[0]["Events"] == ["s3:ObjectCreated:*"]


def test_kms_multi_region_key_is_replicated_to_dr(deployed) -> None:
    primary_key = created(deployed[1], "kms/key:Key")[0]
    replica_key = created(deployed[1], "replicaKey:ReplicaKey")[0]
    assert primary_key.physical_id == replica_key.physical_id and primary_key.physical_id.startswith("mrk-")
    meta = client(deployed, "kms", DR).describe_key(KeyId=replica_key.physical_id)["KeyMetadata"]
    assert meta["MultiRegion"] and meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert client(deployed, "kms").get_key_rotation_status(KeyId=primary_key.physical_id)["KeyRotationEnabled"]
    aliases = client(deployed, "kms").list_aliases(KeyId=primary_key.physical_id)["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/fixture"]


def test_table_exists_in_both_regions_and_is_linked(deployed, out) -> None:
    for region in (PRIMARY, DR):
        ddb = client(deployed, "dynamodb", region)
        table = ddb.describe_table(TableName=out.indexTable)["Table"]
        assert [k["AttributeName"] for k in table["KeySchema"]] == ["StudyInstanceUID", "SeriesSop"]
        assert table["StreamSpecification"]["StreamEnabled"] is True
        assert table["SSEDescription"]["Status"] == "ENABLED"
        pitr = ddb.describe_continuous_backups(TableName=out.indexTable)["ContinuousBackupsDescription"]
        assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert [r.region for r in created(deployed[1], "dynamodb/table:Table")] == [PRIMARY, DR]
    replicas = deployed[0].sim.status()["behaviours"].get("dynamodb_replicas", {})
    assert out.indexTable in json.dumps(replicas)


def test_queue_function_mapping_and_secret(deployed, out) -> None:
    sqs = client(deployed, "sqs")
    url = [u for u in sqs.list_queues()["QueueUrls"] if "/ingest-" in u and "dlq" not in u][0]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "60"
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 3 and ":ingest-dlq-" in redrive["deadLetterTargetArn"]
    assert json.loads(attrs["Policy"])["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    lam = client(deployed, "lambda")
    fn = lam.get_function(FunctionName=created(deployed[1], "lambda/function:Function")[0].physical_id)["Configuration"]
    assert fn["Handler"] == "drills.ingest.handler.handler"
    assert fn["Environment"]["Variables"]["DRKIT_ARCHIVE_BUCKET"] == out.archiveBucket
    assert fn["Environment"]["Variables"]["DRKIT_INDEX_TABLE"] == out.indexTable
    mapping = lam.list_event_source_mappings(FunctionName=fn["FunctionArn"])["EventSourceMappings"][0]
    assert mapping["BatchSize"] == 5 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert deployed[0].sim["pipeline"].status()["mappings"][0]["uuid"] == mapping["UUID"]
    secret_arn = fn["Environment"]["Variables"]["DRKIT_HASH_KEY_SECRET"]
    value = client(deployed, "secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    assert len(value) == 48 and value.isalnum()


def test_backup_vaults_locks_and_plan(deployed, out) -> None:
    for region, vault in ((PRIMARY, out.backupVault), (DR, out.drBackupVault)):
        described = client(deployed, "backup", region).describe_backup_vault(BackupVaultName=vault)
        assert described["Locked"] is True
        assert (described["MinRetentionDays"], described["MaxRetentionDays"]) == (7, 365)
    backup = client(deployed, "backup")
    plan_id = created(deployed[1], "backup/plan:Plan")[0].physical_id
    rule = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]["Rules"][0]
    assert rule["TargetBackupVaultName"] == out.backupVault and rule["Lifecycle"]["DeleteAfterDays"] == 35
    assert rule["CopyActions"][0]["DestinationBackupVaultArn"].endswith(f":backup-vault:{out.drBackupVault}")
    assert backup.describe_report_plan(ReportPlanName="fixture_report")["ReportPlan"]["ReportSetting"][
        "ReportTemplate"] == "CONTROL_COMPLIANCE_REPORT"


def test_trail_and_alarm(deployed, out) -> None:
    trail = client(deployed, "cloudtrail").get_trail_status(Name=created(deployed[1], "Trail")[0].physical_id)
    assert trail["IsLogging"] is True
    selectors = client(deployed, "cloudtrail").get_event_selectors(TrailName=created(deployed[1], "Trail")[0].physical_id)
    assert selectors["EventSelectors"][0]["DataResources"][0]["Values"] == [f"arn:aws:s3:::{out.archiveBucket}/"]
    alarm = client(deployed, "cloudwatch").describe_alarms(
        AlarmNames=[created(deployed[1], "MetricAlarm")[0].physical_id])["MetricAlarms"][0]
    assert alarm["Threshold"] == 900 and alarm["Dimensions"] == [{"Name": "SourceBucket", "Value": out.archiveBucket}]
    assert alarm["AlarmActions"][0].startswith(f"arn:aws:sns:{PRIMARY}:")


def test_what_the_cloud_cannot_hold_is_declared_with_a_reason(deployed) -> None:
    declared = {(d.type.split(":")[-1], d.name): d.reason for d in deployed[1].declared_only}
    for kind, name in (("Framework", "framework"), ("Selection", "plan-archive"),
                       ("LogicallyAirGappedVault", "air-gapped"), ("VaultNotifications", "vault-events"),
                       ("BucketIntelligentTieringConfiguration", "archive-it"),
                       ("RolePolicyAttachment", "aws-managed")):
        assert declared.get((kind, name)), f"{kind} {name} should be declared only"
    assert "moto" in declared[("Framework", "framework")]
    assert not {(r.type, r.name) for r in deployed[1].created} & {(d.type, d.name) for d in deployed[1].declared_only}
    assert deployed[1].outputs.multiRegionAccessPoint.endswith(".mrap")
    assert deployed[1].outputs.multiRegionAccessPoint.startswith("arn:aws:s3::123456789012:accesspoint/")


def test_access_point_and_fis_template_are_created_through_their_apis(deployed, out) -> None:
    """CreateMultiRegionAccessPoint / CreateExperimentTemplate, as `pulumi up` would call them."""
    control = client(deployed, "s3control", "us-west-2")
    point = control.get_multi_region_access_point(AccountId="123456789012", Name="fixture-mrap")["AccessPoint"]
    assert out.multiRegionAccessPoint.endswith(point["Alias"])
    assert {r["Bucket"] for r in point["Regions"]} == {out.archiveBucket, out.replicaBucket}
    fis = client(deployed, "fis")
    (summary,) = fis.list_experiment_templates()["experimentTemplates"]
    template = fis.get_experiment_template(id=summary["id"])["experimentTemplate"]
    assert template["actions"]["pause"]["actionId"] == "aws:s3:bucket-pause-replication"
    assert template["targets"]["archive"]["resourceArns"] == [f"arn:aws:s3:::{out.archiveBucket}"]
    assert template["actions"]["pause"]["targets"] == {"Buckets": "archive"}


def test_every_declared_resource_is_accounted_for(deployed) -> None:
    """Created + declared only = every custom resource the program registered (randoms excluded)."""
    result = deployed[1]
    names = {r.name for r in result.created} | {d.name for d in result.declared_only}
    for expected in ("archive", "archive-versioning", "archive-lock", "archive-replication", "index", "ingest-esm",
                     "hash-key-value", "trail", "replication-latency", "vault-lock", "dr-vault-lock", "report"):
        assert expected in names


def test_a_second_deploy_reuses_everything(deployed) -> None:
    cloud, first, second = deployed
    assert second.outputs == first.outputs
    assert [r for r in second.created if not r.reused] == []
    assert sorted((r.type, r.name, r.physical_id) for r in second.created) == \
        sorted((r.type, r.name, r.physical_id) for r in first.created)
    assert [r for r in first.created if r.reused] == []
    keys = cloud.target.client("kms", PRIMARY).list_keys()["Keys"]
    assert len(keys) == 1                                  # the key was found again, not made twice


def test_physical_names_are_deterministic_and_valid(deployed, tmp_path) -> None:
    buckets = [r.physical_id for r in created(deployed[1], "s3/bucket:Bucket")]
    assert all(3 <= len(b) <= 63 and b == b.lower() for b in buckets)
    explicit = [r for r in deployed[1].created if r.type.endswith("kms/alias:Alias")]
    assert explicit[0].physical_id == "alias/fixture"
