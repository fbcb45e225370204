"""An STS role session's requests are evaluated against the role's identity policies and the
bucket policy (drills.cloud.sim.identity_policies); the account root is not.

AWS behaviour reproduced:
- Single-account evaluation: an Allow in the identity-based *or* the resource-based policy is
  enough, an explicit Deny in either wins, no Allow is an implicit deny —
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
  and https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
- ``aws:PrincipalArn`` of a role session is the role's ARN —
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
- S3 operations authorize as the actions of the Service Authorization Reference
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html):
  DeleteObject with a version id is ``s3:DeleteObjectVersion``; DeleteBucketReplication is
  ``s3:PutReplicationConfiguration`` (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketReplication.html).
- Bypassing GOVERNANCE retention needs the header *and* the ``s3:BypassGovernanceRetention``
  permission; COMPLIANCE cannot be bypassed —
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass
  and https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectRetention.html
- A refusal is S3's ``403 AccessDenied``, DynamoDB's ``400 AccessDeniedException``, AWS Backup's
  ``403 AccessDeniedException`` — https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html,
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
DAY = timedelta(days=1)


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def session(cloud):
    """``session(*statements, tags=None)`` -> a Target whose calls are signed by a fresh role
    session holding exactly those identity-policy statements."""
    iam, sts = cloud.target.client("iam", "us-east-1"), cloud.target.client("sts", "us-east-1")

    def make(*statements: dict, tags: dict[str, str] | None = None, managed: bool = False):
        name = f"attacker-{uuid.uuid4().hex[:8]}"
        trust = _policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                         "Action": "sts:AssumeRole"})
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust,
                               Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])["Role"]
        if managed:
            arn = iam.create_policy(PolicyName=f"{name}-p", PolicyDocument=_policy(*statements))["Policy"]["Arn"]
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        elif statements:
            iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=_policy(*statements))
        creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="drkit-test")["Credentials"]
        return cloud.target.assumed(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

    return make


def _allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.fixture
def bucket(s3, bucket_name) -> str:
    name = bucket_name("ident")
    s3.create_bucket(Bucket=name)
    return name


def test_an_allowed_action_succeeds_and_an_unlisted_one_is_implicitly_denied(session, bucket) -> None:
    s3 = session(_allow("s3:PutObject", f"arn:aws:s3:::{bucket}/*")).client("s3", "us-east-1")
    s3.put_object(Bucket=bucket, Key="dicom/a.dcm", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="dicom/a.dcm")
    assert _code(err) == "AccessDenied" and err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "no identity-based policy allows the s3:GetObject action" in err.value.response["Error"]["Message"]


def test_an_explicit_deny_wins_over_an_allow(session, bucket) -> None:
    s3 = session(_allow("s3:*"), _deny("s3:DeleteObjectVersion")).client("s3", "us-east-1")
    version = s3.put_object(Bucket=bucket, Key="a", Body=b"x").get("VersionId")
    s3.delete_object(Bucket=bucket, Key="a")                         # s3:DeleteObject: allowed
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=bucket, Key="a", VersionId=version or "null")   # s3:DeleteObjectVersion
    assert _code(err) == "AccessDenied"
    assert "explicit deny in an identity-based policy" in err.value.response["Error"]["Message"]


def test_attached_managed_policies_count_like_inline_ones(session, bucket) -> None:
    s3 = session(_allow("s3:PutObject"), managed=True).client("s3", "us-east-1")
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket_policy(Bucket=bucket)
    assert _code(err) == "AccessDenied"


def test_bucket_configuration_actions_use_the_iam_action_names(session, bucket) -> None:
    s3 = session(_allow("s3:PutReplicationConfiguration", f"arn:aws:s3:::{bucket}")).client("s3", "us-east-1")
    s3.delete_bucket_replication(Bucket=bucket)                      # authorized as s3:PutReplicationConfiguration
    with pytest.raises(ClientError) as err:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert _code(err) == "AccessDenied"


def test_conditions_are_evaluated_against_the_role_session(session, bucket) -> None:
    tagged = session(_allow("s3:PutObject", Condition={"StringEquals": {"aws:PrincipalTag/team": "imaging"}}),
                     tags={"team": "imaging"}).client("s3", "us-east-1")
    tagged.put_object(Bucket=bucket, Key="a", Body=b"x")
    other = session(_allow("s3:PutObject", Condition={"StringEquals": {"aws:PrincipalTag/team": "imaging"}}),
                    tags={"team": "billing"}).client("s3", "us-east-1")
    with pytest.raises(ClientError) as err:
        other.put_object(Bucket=bucket, Key="a", Body=b"x")
    assert _code(err) == "AccessDenied"


def test_an_unknown_condition_operator_fails_closed_and_is_reported(cloud, session, bucket) -> None:
    s3 = session(_allow("s3:PutObject", Condition={"BinaryEquals": {"aws:userid": "QmluYXJ5"}})).client(
        "s3", "us-east-1")
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    status = cloud.control().status()["behaviours"]["identity_policies"]
    assert status["unsupportedConditionOperators"] == {"BinaryEquals": 1}
    assert "permissions boundaries" in status["notEmulated"]


def test_a_bucket_policy_allow_naming_the_role_grants_and_its_deny_naming_the_role_refuses(
        cloud, s3, session, bucket) -> None:
    target = session()                                               # no identity policy at all
    role_arn = target.client("sts", "us-east-1").get_caller_identity()["Arn"]
    role = f"arn:aws:iam::{ACCOUNT}:role/{role_arn.split('/')[1]}"
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(
        {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:root"]},
                       "Bool": {"aws:PrincipalIsAWSService": "false"}}}))
    attacker = target.client("s3", "us-east-1")
    attacker.put_object(Bucket=bucket, Key="a", Body=b"x")           # the bucket policy names the role
    with pytest.raises(ClientError) as err:
        attacker.get_object(Bucket=bucket, Key="a")                  # naming the account only delegates
    assert _code(err) == "AccessDenied"
    s3.delete_object(Bucket=bucket, Key="a")                         # root: on the allow-list
    with pytest.raises(ClientError) as err:
        session(_allow("s3:*")).client("s3", "us-east-1").delete_object(Bucket=bucket, Key="a")
    assert "bucket policy" in err.value.response["Error"]["Message"]


def test_dynamodb_and_backup_refusals_have_their_services_error_shape(client, session) -> None:
    client("dynamodb").create_table(TableName="index", BillingMode="PAY_PER_REQUEST",
                                    AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                    KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    client("backup").create_backup_vault(BackupVaultName="vault")
    target = session(_allow("dynamodb:DescribeTable", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/index"))
    assert target.client("dynamodb", "us-east-1").describe_table(TableName="index")["Table"]["TableName"] == "index"
    with pytest.raises(ClientError) as err:
        target.client("dynamodb", "us-east-1").delete_table(TableName="index")
    assert _code(err) == "AccessDeniedException" and err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert f"dynamodb:DeleteTable on resource: arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/index" in \
        err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        target.client("backup", "us-east-1").delete_backup_vault(BackupVaultName="vault")
    assert _code(err) == "AccessDeniedException" and err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    client("dynamodb").describe_table(TableName="index")             # root unaffected, and nothing was deleted
    client("backup").describe_backup_vault(BackupVaultName="vault")


# ------------------------------------------------------------- s3:BypassGovernanceRetention
def _locked_version(cloud, s3, bucket_name, mode: str) -> tuple[str, str, str]:
    bucket = bucket_name("lock")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    until = (cloud.clock.now() + 10 * DAY).replace(microsecond=0)
    version = s3.put_object(Bucket=bucket, Key="dicom/a.dcm", Body=b"DICM", ObjectLockMode=mode,
                            ObjectLockRetainUntilDate=until)["VersionId"]
    return bucket, "dicom/a.dcm", version


WRITER = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention")


def test_bypass_header_without_the_permission_is_refused_on_governance(cloud, s3, bucket_name, session) -> None:
    bucket, key, version = _locked_version(cloud, s3, bucket_name, "GOVERNANCE")
    attacker = session(_allow(list(WRITER))).client("s3", "us-east-1")
    with pytest.raises(ClientError) as err:
        attacker.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert _code(err) == "AccessDenied"
    with pytest.raises(ClientError) as err:
        attacker.put_object_retention(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True,
                                      Retention={"Mode": "GOVERNANCE", "RetainUntilDate": cloud.clock.now() + DAY})
    assert _code(err) == "AccessDenied"
    assert s3.head_object(Bucket=bucket, Key=key, VersionId=version)["ObjectLockMode"] == "GOVERNANCE"


def test_bypass_header_with_the_permission_deletes_a_governance_version(cloud, s3, bucket_name, session) -> None:
    bucket, key, version = _locked_version(cloud, s3, bucket_name, "GOVERNANCE")
    attacker = session(_allow([*WRITER, "s3:BypassGovernanceRetention"])).client("s3", "us-east-1")
    with pytest.raises(ClientError) as err:                          # the permission alone is not enough
        attacker.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert _code(err) == "AccessDenied"
    attacker.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert not s3.list_object_versions(Bucket=bucket).get("Versions")


def test_a_bucket_policy_deny_of_the_bypass_permission_refuses_it(cloud, s3, bucket_name, session) -> None:
    bucket, key, version = _locked_version(cloud, s3, bucket_name, "GOVERNANCE")
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:BypassGovernanceRetention",
         "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:root"}}}))
    attacker = session(_allow([*WRITER, "s3:BypassGovernanceRetention"])).client("s3", "us-east-1")
    with pytest.raises(ClientError) as err:
        attacker.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert _code(err) == "AccessDenied"
    s3.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)   # root: exempt


def test_compliance_is_refused_even_with_the_bypass_permission(cloud, s3, bucket_name, session) -> None:
    bucket, key, version = _locked_version(cloud, s3, bucket_name, "COMPLIANCE")
    attacker = session(_allow([*WRITER, "s3:BypassGovernanceRetention"])).client("s3", "us-east-1")
    with pytest.raises(ClientError) as err:
        attacker.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert _code(err) == "AccessDenied"
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [version]


def test_the_root_keeps_its_bypass(cloud, s3, bucket_name) -> None:
    bucket, key, version = _locked_version(cloud, s3, bucket_name, "GOVERNANCE")
    s3.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert not s3.list_object_versions(Bucket=bucket).get("Versions")


def test_a_bucket_policy_denying_the_bypass_binds_the_root_too(cloud, s3, bucket_name) -> None:
    """An explicit Deny in a resource-based policy overrides any Allow, for every principal it
    names (reference_policies_evaluation-logic_policy-eval-basics, cited above); the object-lock
    page's hardening advice is exactly such a Deny of s3:BypassGovernanceRetention."""
    bucket, key, version = _locked_version(cloud, s3, bucket_name, "GOVERNANCE")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:BypassGovernanceRetention",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert _code(err) == "AccessDenied"
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [version]


# ------------------------------------------------------------- DynamoDB: item by item
def _tables(client, *names: str) -> None:
    for name in names:
        client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])


def _table(name: str) -> str:
    return f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}"


def _item(key: str) -> dict:
    return {"k": {"S": key}}


def test_a_transaction_is_authorized_item_by_item_as_the_item_operations(client, session) -> None:
    """"Permissions for Put, Update, Delete, and Get actions are governed by the permissions used
    for the underlying PutItem, UpdateItem, DeleteItem, and GetItem operations. For the
    ConditionCheck action, you can use the dynamodb:ConditionCheckItem permission" — each on the
    item's table ("Using IAM with DynamoDB transactions",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html)."""
    _tables(client, "index", "claims")
    client("dynamodb").put_item(TableName="claims", Item=_item("old"))
    writer = session(_allow(["dynamodb:PutItem", "dynamodb:ConditionCheckItem"], _table("index")),
                     _allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], _table("claims")))
    writer = writer.client("dynamodb", "us-east-1")
    writer.transact_write_items(TransactItems=[
        {"Put": {"TableName": "index", "Item": _item("a")}},
        {"Put": {"TableName": "claims", "Item": _item("a")}},
        {"ConditionCheck": {"TableName": "index", "Key": _item("x"), "ConditionExpression": "attribute_not_exists(k)"}},
        {"Update": {"TableName": "claims", "Key": _item("u"), "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "1"}}}}])
    assert client("dynamodb").get_item(TableName="index", Key=_item("a")).get("Item") == _item("a")
    with pytest.raises(ClientError) as err:                          # DeleteItem on claims: not allowed
        writer.transact_write_items(TransactItems=[
            {"Put": {"TableName": "index", "Item": _item("b")}},
            {"Delete": {"TableName": "claims", "Key": _item("old")}}])
    assert _code(err) == "AccessDeniedException"
    assert f"dynamodb:DeleteItem on resource: {_table('claims')}" in err.value.response["Error"]["Message"]
    assert "Item" not in client("dynamodb").get_item(TableName="index", Key=_item("b"))       # nothing written
    assert client("dynamodb").get_item(TableName="claims", Key=_item("old"))["Item"] == _item("old")


def test_transact_get_items_needs_get_item_on_every_table_it_reads(client, session) -> None:
    """TransactGetItems' Get is governed by dynamodb:GetItem (transaction-apis-iam, cited above)."""
    _tables(client, "index", "claims")
    client("dynamodb").put_item(TableName="index", Item=_item("a"))
    reader = session(_allow("dynamodb:GetItem", _table("index"))).client("dynamodb", "us-east-1")
    got = reader.transact_get_items(TransactItems=[{"Get": {"TableName": "index", "Key": _item("a")}}])
    assert [r.get("Item") for r in got["Responses"]] == [_item("a")]
    with pytest.raises(ClientError) as err:
        reader.transact_get_items(TransactItems=[{"Get": {"TableName": "index", "Key": _item("a")}},
                                                 {"Get": {"TableName": "claims", "Key": _item("a")}}])
    assert _code(err) == "AccessDeniedException"
    assert f"dynamodb:GetItem on resource: {_table('claims')}" in err.value.response["Error"]["Message"]


def test_an_explicit_deny_of_one_item_operation_refuses_the_whole_transaction(client, session) -> None:
    """A Deny of dynamodb:PutItem binds a transaction's Put too (transaction-apis-iam, Example 3:
    a Deny conditioned on dynamodb:EnclosingOperation blocks transactional writes)."""
    _tables(client, "index")
    writer = session(_allow("dynamodb:*"), _deny("dynamodb:PutItem", _table("index"), Condition={
        "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems", "TransactGetItems"]}})
    ).client("dynamodb", "us-east-1")
    writer.put_item(TableName="index", Item=_item("plain"))         # not inside a transaction: allowed
    with pytest.raises(ClientError) as err:
        writer.transact_write_items(TransactItems=[{"Put": {"TableName": "index", "Item": _item("tx")}}])
    assert _code(err) == "AccessDeniedException"
    assert "explicit deny" in err.value.response["Error"]["Message"]


def test_batch_write_item_needs_its_action_on_every_table_it_names(client, session) -> None:
    """BatchWriteItem is authorized as dynamodb:BatchWriteItem on each table it writes (Service
    Authorization Reference, "Actions defined by Amazon DynamoDB",
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html)."""
    _tables(client, "index", "claims")
    writer = session(_allow("dynamodb:BatchWriteItem", _table("index"))).client("dynamodb", "us-east-1")
    writer.batch_write_item(RequestItems={"index": [{"PutRequest": {"Item": _item("a")}}]})
    with pytest.raises(ClientError) as err:
        writer.batch_write_item(RequestItems={"index": [{"PutRequest": {"Item": _item("b")}}],
                                              "claims": [{"PutRequest": {"Item": _item("b")}}]})
    assert _code(err) == "AccessDeniedException"
    assert f"dynamodb:BatchWriteItem on resource: {_table('claims')}" in err.value.response["Error"]["Message"]
    assert "Item" not in client("dynamodb").get_item(TableName="index", Key=_item("b"))


def test_the_caller_is_resolved_once_per_request(cloud, s3, bucket_name, session, monkeypatch) -> None:
    """bucket_policy, identity_policies and object_lock (s3:BypassGovernanceRetention) all ask who
    signed a governance-bypassing delete; moto's STS is asked once and the answer shared."""
    from moto.sts.models import STSBackend

    bucket, key, version = _locked_version(cloud, s3, bucket_name, "GOVERNANCE")
    attacker = session(_allow([*WRITER, "s3:BypassGovernanceRetention"])).client("s3", "us-east-1")
    lookups: list[str] = []
    original = STSBackend.get_assumed_role_from_access_key

    def counted(self, access_key_id):
        found = original(self, access_key_id)
        if found is not None:
            lookups.append(access_key_id)
        return found

    monkeypatch.setattr(STSBackend, "get_assumed_role_from_access_key", counted)
    attacker.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert not s3.list_object_versions(Bucket=bucket).get("Versions")      # the three behaviours let it through
    assert len(lookups) == 1
