"""One clock: what moto stamps comes from the simulation's virtual clock (drills.cloud.moto_fixes).

Each test first moves the virtual clock days ahead of wall time, so a wall-clock stamp
cannot pass for a virtual one.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

AHEAD = timedelta(days=3)


def near(a: datetime, b: datetime, seconds: float = 2.0) -> bool:
    return abs((a - b).total_seconds()) <= seconds


@pytest.fixture
def ahead(cloud):
    cloud.clock.advance(AHEAD)
    assert cloud.clock.now() - datetime.now(timezone.utc) > AHEAD - timedelta(minutes=1)
    return cloud


def test_new_object_last_modified_is_virtual_time(ahead, s3, bucket_name) -> None:
    """S3 sets an object's LastModified to the time its upload completed (S3 API reference,
    PutObject / HeadObject ``Last-Modified``): on the embedded cloud, virtual time.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html"""
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    now = ahead.clock.now()
    assert near(s3.head_object(Bucket=bucket, Key="k")["LastModified"], now)
    assert near(s3.list_objects_v2(Bucket=bucket)["Contents"][0]["LastModified"], now)
    created = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}[bucket]
    assert near(created, now)


def test_delete_marker_carries_the_time_it_was_made(ahead, s3, bucket_name) -> None:
    """A delete marker is a version of its own, with its own LastModified (S3 user guide,
    Working with delete markers).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeleteMarker.html"""
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    ahead.clock.advance(timedelta(hours=5))
    s3.delete_object(Bucket=bucket, Key="k")
    marker = s3.list_object_versions(Bucket=bucket)["DeleteMarkers"][0]
    assert near(marker["LastModified"], ahead.clock.now())


def test_lifecycle_delete_marker_is_stamped_when_lifecycle_expires_the_object(ahead, s3, bucket_name) -> None:
    """Lifecycle expiration of a current version adds a delete marker at the time it acts,
    not at the object's creation time (S3 user guide, Expiring objects).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html"""
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "exp", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 2}}]})
    created = s3.put_object(Bucket=bucket, Key="k", Body=b"x") and s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    ahead.clock.advance(timedelta(days=4))
    marker = s3.list_object_versions(Bucket=bucket)["DeleteMarkers"][0]
    assert marker["LastModified"] >= created + timedelta(days=2)
    assert marker["LastModified"] <= ahead.clock.now()


def test_vault_lock_date_is_virtual_now_plus_changeable_for_days(ahead, client) -> None:
    """"LockDate ... the date and time when AWS Backup Vault Lock configuration cannot be
    changed or deleted" = time of PutBackupVaultLockConfiguration + ChangeableForDays
    (AWS Backup API reference, DescribeBackupVault / PutBackupVaultLockConfiguration).
    https://docs.aws.amazon.com/aws-backup/latest/devguide/API_PutBackupVaultLockConfiguration.html"""
    backup = client("backup", "us-east-1")
    backup.create_backup_vault(BackupVaultName="v")
    backup.put_backup_vault_lock_configuration(BackupVaultName="v", MinRetentionDays=7, ChangeableForDays=3)
    lock_date = backup.describe_backup_vault(BackupVaultName="v")["LockDate"]
    assert near(lock_date, ahead.clock.now() + timedelta(days=3))


def test_sns_message_timestamp_is_virtual(ahead, client) -> None:
    """SNS stamps each notification with the time it was published (SNS developer guide,
    HTTP/S notification JSON format, ``Timestamp``); delivered to an SQS subscriber.
    https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html"""
    import json

    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name="t")["TopicArn"]
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(TopicArn=topic, Message="hello")
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    stamp = datetime.fromisoformat(body["Timestamp"].replace("Z", "+00:00"))
    assert near(stamp, ahead.clock.now())


def test_the_clock_is_released_when_the_cloud_stops(cloud_factory) -> None:
    from moto.core.utils import utcnow
    from moto.s3 import models

    cloud = cloud_factory()
    cloud.clock.advance(AHEAD)
    assert models.utcnow() - utcnow() > AHEAD - timedelta(minutes=1)
    cloud.stop()
    assert abs((models.utcnow() - utcnow()).total_seconds()) < 5


def test_dynamodb_table_creation_time_is_virtual(ahead, client) -> None:
    """CreationDateTime is when the table was created (DynamoDB API reference, TableDescription).
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html"""
    ddb = client("dynamodb")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    assert near(ddb.describe_table(TableName="t")["Table"]["CreationDateTime"], ahead.clock.now())
