"""Pieces of the offline deploy that need no cloud: physical names, input conversion,
policy documents, Lambda zips, and sub-configurations retried after the program ran."""

from __future__ import annotations

import io
import json
import re
import os
import zipfile

import pulumi
import pytest
from botocore.exceptions import ClientError

from drills.aws import Target
from drills.deploy.engine import check_region, policy_document
from drills.deploy.common import DeployContext, Spec, api_param, unwrap
from drills.deploy.messaging import build_zip
from drills.deploy.pulumi_internals import secret_envelope
from drills.errors import InfraError, UsageError


def ctx(stack: str = "dev") -> DeployContext:
    return DeployContext(Target(endpoint="http://127.0.0.1:1"), stack, "proj")


def spec(logical: str, type_: str = "aws:s3/bucket:Bucket", **inputs) -> Spec:
    return Spec(type_, logical, inputs, "us-east-1")


# ----------------------------------------------------------------------------- names

def test_auto_names_are_pulumi_style_and_deterministic() -> None:
    first = ctx().physical_name(spec("archive"), key="bucket", style="bucket")
    assert re.fullmatch(r"archive-[0-9a-f]{7}", first)
    assert ctx().physical_name(spec("archive"), key="bucket", style="bucket") == first
    assert ctx("prod").physical_name(spec("archive"), key="bucket", style="bucket") != first


def test_bucket_names_are_lowercased_and_fit_63_characters() -> None:
    name = ctx().physical_name(spec("My_Archive." + "x" * 80), key="bucket", style="bucket")
    assert len(name) <= 63 and name == name.lower()
    assert re.fullmatch(r"[a-z0-9][a-z0-9.\-]*[a-z0-9]", name)


def test_explicit_names_and_prefixes_are_honoured() -> None:
    c = ctx()
    assert c.physical_name(spec("x", bucket="Exact-Name"), key="bucket") == "Exact-Name"
    assert c.physical_name(spec("x", name="alias/keep")) == "alias/keep"
    prefixed = c.physical_name(spec("x", namePrefix="drkit-"), max_len=64)
    assert prefixed.startswith("drkit-") and len(prefixed) == len("drkit-") + 26


def test_underscore_style_for_backup_names() -> None:
    assert re.fullmatch(r"backups_framework_[0-9a-f]{7}", ctx().physical_name(spec("backups-framework"),
                                                                              style="underscore"))


def test_same_logical_name_under_two_parents_gets_two_names() -> None:
    def names() -> list[str]:
        c = ctx()
        return [c.physical_name(Spec("aws:s3/bucket:Bucket", "logs", {}, region), key="bucket", style="bucket")
                for region in ("us-east-1", "us-west-2")]

    first, second = names()
    assert first != second and first.startswith("logs-") and second.startswith("logs-")
    assert names() == [first, second]


# ----------------------------------------------------------------------------- inputs

def test_api_param_follows_the_botocore_model() -> None:
    ignored: list[str] = []
    conf = api_param("s3", "PutBucketReplication", "ReplicationConfiguration", {
        "role": "arn:aws:iam::1:role/r",
        "rules": [{"id": "r1", "priority": 1.0, "status": "Enabled",
                   "filter": {"and": {"prefix": "dicom/", "tags": {"a": "b"}}},
                   "destination": {"bucket": "arn:aws:s3:::d",
                                   "encryptionConfiguration": {"replicaKmsKeyId": "k"},
                                   "replicationTime": {"status": "Enabled", "time": {"minutes": 15.0}}},
                   "bogus": 1}]}, ignored)
    rule = conf["Rules"][0]
    assert rule["ID"] == "r1" and rule["Priority"] == 1 and isinstance(rule["Priority"], int)
    assert rule["Filter"]["And"] == {"Prefix": "dicom/", "Tags": [{"Key": "a", "Value": "b"}]}
    assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": "k"}
    assert rule["Destination"]["ReplicationTime"]["Time"]["Minutes"] == 15
    assert ignored == ["ReplicationConfiguration.rules[].bogus"]


def test_api_param_maps_plural_list_names() -> None:
    selectors = api_param("cloudtrail", "PutEventSelectors", "AdvancedEventSelectors", [
        {"name": "s3", "fieldSelectors": [{"field": "resources.ARN", "startsWiths": ["arn:aws:s3:::b/"]}]}])
    assert selectors[0]["FieldSelectors"][0]["StartsWith"] == ["arn:aws:s3:::b/"]


def test_secret_envelopes_are_unwrapped() -> None:
    wrapped = {"secretString": secret_envelope("s3cr3t"), "list": [secret_envelope(1)]}
    assert unwrap(wrapped) == {"secretString": "s3cr3t", "list": [1]}


def test_policy_document_renders_like_the_provider() -> None:
    doc = policy_document({"statements": [
        {"sid": "A", "actions": ["s3:PutObject"], "resources": ["arn:aws:s3:::b/*"],
         "principals": [{"type": "Service", "identifiers": ["logging.s3.amazonaws.com"]}],
         "conditions": [{"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["1"]}]},
        {"effect": "Deny", "actions": ["s3:*"], "resources": ["a", "b"], "principals": [{"type": "*",
                                                                                        "identifiers": ["*"]}]}]})
    first, second = doc["Statement"]
    assert doc["Version"] == "2012-10-17"
    assert first == {"Sid": "A", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*",
                     "Principal": {"Service": "logging.s3.amazonaws.com"},
                     "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}
    assert second["Principal"] == "*" and second["Resource"] == ["a", "b"] and second["Effect"] == "Deny"


def test_regions_are_checked_against_botocore() -> None:
    assert check_region("eu-central-1", "x") == "eu-central-1"
    with pytest.raises(UsageError, match="drkit:primaryRegion: 'mars-north-1'"):
        check_region("mars-north-1", "drkit:primaryRegion")


# ----------------------------------------------------------------------------- lambda zips

def test_build_zip_from_asset_archive(tmp_path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n")
    (tmp_path / "pkg" / "__pycache__" / "mod.pyc").write_bytes(b"junk")
    archive = pulumi.AssetArchive({"pkg": pulumi.FileArchive("pkg"),
                                   "extra.txt": pulumi.StringAsset("hello")})
    with zipfile.ZipFile(io.BytesIO(build_zip(archive, tmp_path))) as zf:
        assert sorted(zf.namelist()) == ["extra.txt", "pkg/mod.py"]
        assert zf.read("extra.txt") == b"hello"
    with pytest.raises(InfraError, match="RemoteArchive"):
        build_zip(pulumi.RemoteArchive("https://example.com/x.zip"), tmp_path)


def test_build_zip_is_deterministic_and_passes_a_zip_through(tmp_path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "b.py").write_text("B = 1\n")
    (tmp_path / "pkg" / "a.py").write_text("A = 1\n")
    archive = pulumi.AssetArchive({"z.txt": pulumi.StringAsset("z"), "pkg": pulumi.FileArchive("pkg")})
    first = build_zip(archive, tmp_path)
    os.utime(tmp_path / "pkg" / "a.py", (1_000_000_000, 1_000_000_000))     # a new mtime changes nothing
    assert build_zip(archive, tmp_path) == first
    infos = zipfile.ZipFile(io.BytesIO(first)).infolist()
    assert [i.filename for i in infos] == ["pkg/a.py", "pkg/b.py", "z.txt"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    (tmp_path / "code.zip").write_bytes(first)
    assert build_zip(pulumi.FileArchive("code.zip"), tmp_path) == first       # uploaded as built


# ----------------------------------------------------------------------------- deferred sub-configurations

def refusal(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "not yet"}}, "PutBucketReplication")


def test_a_refused_prerequisite_is_retried_after_the_program() -> None:
    c, calls = ctx(), []

    def action() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise refusal("InvalidRequest")

    c.attempt(spec("repl"), action, retry_codes=("InvalidRequest",))
    assert len(calls) == 1
    c.finish()
    assert len(calls) == 2 and c.declared == []


def test_still_refused_at_the_end_is_declared_or_fails() -> None:
    c = ctx()

    def never() -> None:
        raise refusal("InvalidTargetBucketForLogging")

    c.attempt(spec("logging"), never, retry_codes=("InvalidTargetBucketForLogging",), fallback="moto refused")
    c.finish()
    assert c.declared[0].name == "logging" and "InvalidTargetBucketForLogging" in c.declared[0].reason
    c.attempt(spec("repl"), never, retry_codes=("InvalidTargetBucketForLogging",))
    with pytest.raises(InfraError, match="'repl': the embedded cloud refused it"):
        c.finish()


def test_other_errors_are_not_deferred() -> None:
    with pytest.raises(ClientError):
        ctx().attempt(spec("x"), lambda: (_ for _ in ()).throw(refusal("AccessDenied")),
                      retry_codes=("InvalidRequest",))


def test_policy_json_is_valid_json() -> None:
    assert json.loads(json.dumps(policy_document({})))["Statement"] == []
