"""S3 Block Public Access is enforced (drills.cloud.sim.public_access_block); moto only stores it.

AWS behaviour reproduced, from the S3 User Guide "Blocking public access to your Amazon S3 storage"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html) and
the API reference of PublicAccessBlockConfiguration
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PublicAccessBlockConfiguration.html):
- ``BlockPublicPolicy``: "reject calls to PUT Bucket policy if the specified bucket policy allows
  public access"; ``BlockPublicAcls``: "PUT Bucket ACL and PUT Object ACL calls fail if the
  specified ACL is public", "PUT Object calls fail if the request includes a public ACL";
- the account-level setting (S3 Control PutPublicAccessBlock) applies to every bucket; S3 uses the
  most restrictive combination of the bucket's and the account's settings;
- "The meaning of 'public'": an ACL granting to AllUsers or AuthenticatedUsers is public; a bucket
  policy is non-public only when it grants to fixed values of a principal or of aws:SourceIp (no
  broader than /8), aws:SourceArn, aws:SourceVpc, aws:SourceVpce, aws:SourceOwner,
  aws:SourceAccount, aws:userid, aws:PrincipalOrgID, s3:DataAccessPointArn/Account;
- a refusal is ``403 AccessDenied`` (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from drills.cloud.sim.public_access_block import is_public_policy

ACCOUNT = "123456789012"
ALL_ON = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
ALL_USERS = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'


def _allow(bucket: str, principal: object = "*", condition: dict | None = None) -> dict:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{bucket}/*"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def _bucket(cloud, block: dict | None = ALL_ON) -> tuple[object, str]:
    s3 = cloud.target.client("s3", "us-east-1")
    bucket = f"drkit-pab-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    if block is not None:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
    return s3, bucket


def _refused(fn) -> str:
    with pytest.raises(ClientError) as exc:
        fn()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return exc.value.response["Error"]["Code"]


# -- "The meaning of 'public'" (pure)
@pytest.mark.parametrize("principal, condition, public", [
    ("*", None, True),
    ({"AWS": "*"}, None, True),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, None, False),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/reader"}, None, False),
    ({"Service": "logging.s3.amazonaws.com"}, None, False),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"}, None, True),                       # wildcard in a principal
    ("*", {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::source-bucket"}}, False),
    ("*", {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}, False),
    ("*", {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, False),
    ("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, False),
    # listed on the API reference's PublicAccessBlockConfiguration page ("A fixed value of
    # s3:x-amz-server-side-encryption-aws-kms-key-id")
    ("*", {"StringEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id":
                            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}, False),
    ("*", {"StringLike": {"aws:SourceVpc": "vpc-*"}}, True),                       # the guide's public example
    ("*", {"StringEquals": {"aws:SourceVpc": "vpc-91237329"}}, False),             # ... made non-public
    ("*", {"StringNotEquals": {"aws:SourceVpc": "vpc-91237329"}}, True),           # everyone else allowed
    ("*", {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, True),        # absent key passes
    ("*", {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, False),
    ("*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}, True),                     # broader than /8
    ("*", {"IpAddress": {"aws:SourceIp": "2001:db8::/16"}}, True),                 # broader than /32
    ("*", {"StringEquals": {"aws:userid": "AROAEXAMPLE:*"}}, True),
    ("*", {"StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}}, True),   # a policy variable
    ("*", {"StringEquals": {"s3:x-amz-acl": "private"}}, True),                    # not a listed key
])
def test_the_meaning_of_public_for_bucket_policies(principal, condition, public) -> None:
    assert is_public_policy(_allow("b", principal, condition)) is public


def test_a_policy_is_public_when_any_allow_is_and_deny_statements_never_are() -> None:
    deny_all = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    fixed = _allow("b", {"AWS": f"arn:aws:iam::{ACCOUNT}:root"})["Statement"][0]
    assert not is_public_policy({"Statement": [deny_all, fixed]})
    assert is_public_policy({"Statement": [deny_all, fixed, _allow("b")["Statement"][0]]})
    assert is_public_policy({"Statement": [{**{k: v for k, v in fixed.items() if k != "Principal"}, "NotPrincipal": fixed["Principal"]}]})


# -- BlockPublicPolicy
def test_a_public_bucket_policy_is_refused_with_access_denied(cloud) -> None:
    s3, bucket = _bucket(cloud)
    assert _refused(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_allow(bucket)))) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchBucketPolicy"       # nothing was stored
    assert cloud.sim["public_access_block"].status()["denied"] == {"BlockPublicPolicy": 1}


@pytest.mark.parametrize("principal, condition", [
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, None),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/reader"}, None),
    ("*", {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::source-bucket"}}),
])
def test_a_non_public_bucket_policy_is_accepted(cloud, principal, condition) -> None:
    s3, bucket = _bucket(cloud)
    policy = json.dumps(_allow(bucket, principal, condition))
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)


def test_without_the_setting_a_public_policy_is_accepted(cloud) -> None:
    for settings in ({**ALL_ON, "BlockPublicPolicy": False}, None):
        s3, bucket = _bucket(cloud, settings)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_allow(bucket)))
        assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == _allow(bucket)


def test_the_account_level_setting_applies_to_every_bucket(cloud) -> None:
    s3, bucket = _bucket(cloud, None)
    control = cloud.target.client("s3control", "us-east-1")
    control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration={
        "BlockPublicPolicy": True, "BlockPublicAcls": True})
    try:
        assert _refused(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_allow(bucket)))) == "AccessDenied"
        assert _refused(lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read")) == "AccessDenied"
    finally:
        control.delete_public_access_block(AccountId=ACCOUNT)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_allow(bucket)))      # off again: accepted


def test_an_existing_public_policy_is_kept_when_the_setting_is_turned_on(cloud) -> None:
    s3, bucket = _bucket(cloud, None)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_allow(bucket)))
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=ALL_ON)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == _allow(bucket)


# -- BlockPublicAcls
@pytest.mark.parametrize("acl", ["public-read", "public-read-write", "authenticated-read"])
def test_public_canned_acls_are_refused(cloud, acl: str) -> None:
    s3, bucket = _bucket(cloud)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    assert _refused(lambda: s3.put_bucket_acl(Bucket=bucket, ACL=acl)) == "AccessDenied"
    assert _refused(lambda: s3.put_object_acl(Bucket=bucket, Key="a", ACL=acl)) == "AccessDenied"
    assert _refused(lambda: s3.put_object(Bucket=bucket, Key="b", Body=b"x", ACL=acl)) == "AccessDenied"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1                 # "b" was not written


def test_grants_to_public_groups_are_refused_in_headers_and_bodies(cloud) -> None:
    s3, bucket = _bucket(cloud)
    assert _refused(lambda: s3.put_bucket_acl(Bucket=bucket, GrantRead=ALL_USERS)) == "AccessDenied"
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    body = {"Owner": owner, "Grants": [{"Permission": "READ", "Grantee": {
        "Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}}]}
    assert _refused(lambda: s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=body)) == "AccessDenied"
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert not any("groups/global" in (g["Grantee"].get("URI") or "") for g in grants)


def test_private_acls_and_acls_without_the_setting_are_accepted(cloud) -> None:
    s3, bucket = _bucket(cloud)
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", ACL="bucket-owner-full-control")
    s3, bucket = _bucket(cloud, {**ALL_ON, "BlockPublicAcls": False})
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert any("AllUsers" in (g["Grantee"].get("URI") or "") for g in s3.get_bucket_acl(Bucket=bucket)["Grants"])


def test_status_lists_what_is_not_emulated(cloud) -> None:
    status = cloud.sim["public_access_block"].status()
    assert set(status["enforced"]) == {"BlockPublicPolicy", "BlockPublicAcls"}
    assert any("IgnorePublicAcls" in n for n in status["notEmulated"])
    assert any("RestrictPublicBuckets" in n for n in status["notEmulated"])


def test_the_account_level_configuration_reads_back_and_deletes(cloud) -> None:
    """S3 Control GetPublicAccessBlock answers NoSuchPublicAccessBlockConfiguration when none is set
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_GetPublicAccessBlock.html).
    Another account's configuration answering AccessDenied is this emulator's choice (the only
    caller it has is its own account's), not a documented AWS answer."""
    control = cloud.target.client("s3control", "us-east-1")
    control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    got = control.get_public_access_block(AccountId=ACCOUNT)["PublicAccessBlockConfiguration"]
    assert got == {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
                   "RestrictPublicBuckets": False}
    control.delete_public_access_block(AccountId=ACCOUNT)
    with pytest.raises(ClientError) as exc:
        control.get_public_access_block(AccountId=ACCOUNT)
    assert exc.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
    assert _refused(lambda: control.get_public_access_block(AccountId="111122223333")) == "AccessDenied"
