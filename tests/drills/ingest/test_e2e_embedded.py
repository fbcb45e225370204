"""End to end on the embedded cloud (moto over HTTP + simulation): ``drkit ingest
--endpoint`` and the landing bucket -> SQS -> ingest handler pipeline."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

import pytest

from drills.cli import main
from drills.cloud.server import EmbeddedCloud
from drills.contracts import (
    ENV_ARCHIVE_BUCKET,
    ENV_HASH_KEY_SECRET,
    ENV_INDEX_TABLE,
    HASH_KEY_SECRET_TAGS,
    INDEX_PARTITION_KEY,
    INDEX_SORT_KEY,
    LAMBDA_HANDLER,
    OUTPUTS_SCHEMA_VERSION,
    archive_key,
)

from .conftest import build_dataset, to_bytes

REGION = "us-east-1"


@pytest.fixture
def cloud():
    cloud = EmbeddedCloud(port=0).start()
    try:
        yield cloud
    finally:
        cloud.stop()


def deploy(cloud: EmbeddedCloud) -> dict[str, str]:
    """What the IngestPipeline, TieredArchive and StudyIndex declare, built with boto3."""
    t, tag = cloud.target, uuid.uuid4().hex[:8]
    s3, sqs, lam, iam, ddb, sm = (t.client(s, REGION) for s in ("s3", "sqs", "lambda", "iam", "dynamodb",
                                                                 "secretsmanager"))
    archive, landing, table = f"archive-{tag}", f"landing-{tag}", f"index-{tag}"
    s3.create_bucket(Bucket=archive, ObjectLockEnabledForBucket=True)
    s3.create_bucket(Bucket=landing)
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": INDEX_PARTITION_KEY, "KeyType": "HASH"},
                                {"AttributeName": INDEX_SORT_KEY, "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": INDEX_PARTITION_KEY, "AttributeType": "S"},
                                           {"AttributeName": INDEX_SORT_KEY, "AttributeType": "S"}])
    secret = sm.create_secret(Name=f"hash-key-{tag}", SecretString="e" * 32,
                              Tags=[{"Key": k, "Value": v} for k, v in HASH_KEY_SECRET_TAGS.items()])["ARN"]
    queue_url = sqs.create_queue(QueueName=f"ingest-{tag}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=landing, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]})
    role = iam.create_role(RoleName=f"ingest-{tag}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive_zip:
        archive_zip.writestr("drills/__init__.py", "")
    lam.create_function(FunctionName=f"ingest-{tag}", Runtime="python3.11", Role=role, Handler=LAMBDA_HANDLER,
                        Code={"ZipFile": code.getvalue()}, Timeout=60,
                        Environment={"Variables": {ENV_ARCHIVE_BUCKET: archive, ENV_INDEX_TABLE: table,
                                                   ENV_HASH_KEY_SECRET: secret}})
    lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=f"ingest-{tag}", BatchSize=10,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    return {"archive": archive, "landing": landing, "table": table}


def outputs_file(path: Path, names: dict[str, str]) -> Path:
    path.write_text(json.dumps({
        "schemaVersion": 1, "primaryRegion": REGION, "drRegion": "us-west-2",
        "archiveBucket": names["archive"], "replicaBucket": "replica", "landingBucket": names["landing"],
        "indexTable": names["table"], "backupVault": "v", "drBackupVault": "dv", "evidenceBucket": "e",
        "multiRegionAccessPoint": "m", "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12},
    }))
    return path


@pytest.mark.slow
def test_cli_and_pipeline_on_the_embedded_cloud(cloud: EmbeddedCloud, tmp_path: Path, malformed, capsys) -> None:
    names = deploy(cloud)
    s3 = cloud.target.client("s3", REGION)
    folder = tmp_path / "inbox"
    folder.mkdir()
    for i in range(4):
        (folder / f"{i}.dcm").write_bytes(to_bytes(build_dataset()))
    (folder / "cut.dcm").write_bytes(malformed["truncated-pixel-data"][1])

    with pytest.raises(SystemExit) as exit_info:
        main(["ingest", "--endpoint", cloud.endpoint, "--outputs", str(outputs_file(tmp_path / "o.json", names)),
              "--json", str(folder)])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    summary = json.loads(out)
    assert summary["target"] == "embedded-simulated"
    assert summary["counts"]["archived"] == 4 and summary["counts"]["quarantined"] == 1
    assert summary["rates"]["label"] == "simulated endpoint" and "simulated endpoint" in err

    # the Lambda path: an object lands, the pipeline runs drkit's handler in-process
    ds = build_dataset(modality="SM")
    data = to_bytes(ds)
    s3.put_object(Bucket=names["landing"], Key="incoming/slide 1.dcm", Body=data)
    drained = cloud.sim["pipeline"].control("drain", {})
    assert drained["succeeded"] >= 1 and drained["failed"] == 0, cloud.sim["pipeline"].status()
    key = archive_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    head = s3.head_object(Bucket=names["archive"], Key=key, ChecksumMode="ENABLED")
    assert s3.get_object(Bucket=names["archive"], Key=key)["Body"].read() == data
    assert head["ChecksumSHA256"]
    tags = s3.get_object_tagging(Bucket=names["archive"], Key=key)["TagSet"]
    assert {"Key": "drkit-specialty", "Value": "pathology"} in tags
    items = cloud.target.client("dynamodb", REGION).scan(TableName=names["table"])["Items"]
    assert len(items) == 5
