"""KMS key state honoured by KMS and S3 SSE-KMS; multi-Region keys (drills.cloud.sim.kms_keys)."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError

from drills.cloud.simulation import SimSettings
from tests.helpers.replication import LAG, make_pair, make_rule

EAST, WEST = "us-east-1", "us-west-2"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


@pytest.fixture
def kms(client):
    return client("kms", EAST)


@pytest.fixture
def sse_bucket(s3, kms, bucket_name):
    """A bucket and a customer key; one object written under that key."""
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"pixels", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    return bucket, key


def test_sse_kms_object_cannot_be_read_while_its_key_is_disabled(s3, kms, sse_bucket):
    """Reading an SSE-KMS object needs kms:Decrypt with a usable key: a disabled key makes
    GetObject fail (KMS.DisabledException); HeadObject needs no key.
    https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"""
    bucket, key = sse_bucket
    kms.disable_key(KeyId=key)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k")
    assert _code(err) == "KMS.DisabledException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "aws:kms"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="new", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert _code(err) == "KMS.DisabledException"
    kms.enable_key(KeyId=key)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"pixels"


def test_scheduling_the_key_deletion_makes_objects_unreadable(s3, kms, sse_bucket):
    """A key pending deletion cannot be used (KMSInvalidStateException); cancelling the
    deletion leaves the key Disabled until it is enabled again.
    https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html"""
    bucket, key = sse_bucket
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k")
    assert _code(err) == "KMS.KMSInvalidStateException"
    with pytest.raises(ClientError) as err:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert _code(err) == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k")
    assert _code(err) == "KMS.DisabledException"


def test_bucket_default_key_disabled_refuses_writes(s3, kms, bucket_name):
    """With default encryption SSE-KMS, a PutObject without encryption headers uses the
    bucket's key, and fails while that key is disabled.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html"""
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]})
    kms.disable_key(KeyId=key)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert _code(err) == "KMS.DisabledException"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_kms_refuses_a_disabled_key(kms):
    """Encrypt with a disabled key -> DisabledException.
    https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html"""
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key)
    for call in (lambda: kms.encrypt(KeyId=key, Plaintext=b"x"), lambda: kms.decrypt(CiphertextBlob=blob),
                 lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256")):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == "DisabledException"


def test_multi_region_replica_decrypts_what_the_primary_encrypted(client):
    """Multi-Region keys share key material: ciphertext from the primary decrypts with the
    replica in another Region, without calling the primary's Region.
    https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html"""
    east, west = client("kms", EAST), client("kms", WEST)
    primary = east.create_key(MultiRegion=True)["KeyMetadata"]
    east.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=WEST)
    blob = east.encrypt(KeyId=primary["KeyId"], Plaintext=b"pixel key")["CiphertextBlob"]
    assert east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"pixel key"
    answer = west.decrypt(CiphertextBlob=blob, KeyId=primary["KeyId"])
    assert answer["Plaintext"] == b"pixel key" and answer["KeyId"].startswith(f"arn:aws:kms:{WEST}:")
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"pixel key"


def test_sse_kms_etag_is_not_the_md5_of_the_data(s3, sse_bucket):
    """"Objects encrypted by SSE-C or SSE-KMS have ETags that are not an MD5 digest of their
    object data." https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html"""
    bucket, _ = sse_bucket
    etag = s3.head_object(Bucket=bucket, Key="k")["ETag"].strip('"')
    assert etag != hashlib.md5(b"pixels").hexdigest() and len(etag) == 32


def test_replication_fails_when_the_source_key_is_pending_deletion(cloud_factory, bucket_name):
    """An SSE-KMS object whose key cannot be used fails replication (FAILED, a KMS reason:
    SrcKmsKeyInvalidState), as permission/KMS problems do.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-failure-codes.html"""
    cloud = cloud_factory(SimSettings(replication_lag={"fixed_seconds": LAG}))
    pair = make_pair(cloud, bucket_name)
    east, west = cloud.target.client("kms", EAST), cloud.target.client("kms", WEST)
    key = east.create_key()["KeyMetadata"]["Arn"]
    replica_key = west.create_key()["KeyMetadata"]["Arn"]
    pair.configure(make_rule(pair.dst, SourceSelectionCriteria={"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                             destination={"EncryptionConfiguration": {"ReplicaKmsKeyID": replica_key}}))
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    east.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    pair.advance(LAG + 1)
    assert pair.status("k") == "FAILED" and pair.replica_versions("k") == []
    reasons = cloud.sim.status()["behaviours"]["replication"]["buckets"][pair.src]["failureReasons"]
    assert reasons == {"SrcKmsKeyInvalidState": 1}
