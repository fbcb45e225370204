"""Keyed identifier hashes and finding their key in Secrets Manager."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from drills.contracts import HASH_KEY_SECRET_TAGS
from drills.errors import UsageError
from drills.ingest.pseudonym import Pseudonymizer, replica_secret_id

from .conftest import HASH_KEY, new_name


def test_hash_is_hmac_sha256_hex_and_keyed() -> None:
    one, other = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    assert one.hash("PID-1") == hmac.new(b"a" * 32, b"PID-1", hashlib.sha256).hexdigest()
    assert one.hash("PID-1") == one.hash("PID-1") != one.hash("PID-2")
    assert one.hash("PID-1") != other.hash("PID-1")
    assert one.hash(None) == one.hash("") == ""


def test_key_never_shows_and_short_keys_are_refused() -> None:
    assert "a" * 32 not in repr(Pseudonymizer(b"a" * 32))
    with pytest.raises(UsageError, match="at least 16 bytes"):
        Pseudonymizer(b"short")


def test_from_secret_finds_the_tagged_secret(ingest_env) -> None:
    sm = ingest_env.target.client("secretsmanager", ingest_env.region)
    sm.create_secret(Name=new_name("unrelated"), SecretString="z" * 32,
                     Tags=[{"Key": "drkit-purpose", "Value": "something-else"}])
    found = Pseudonymizer.from_secret(ingest_env.target, ingest_env.region)
    assert found.hash("x") == Pseudonymizer(HASH_KEY.encode()).hash("x")


def test_from_secret_without_a_tagged_secret_is_a_clear_error(ingest_env) -> None:
    with pytest.raises(UsageError, match="no Secrets Manager secret tagged drkit-purpose=phi-hash-key in us-west-2"):
        Pseudonymizer.from_secret(ingest_env.target, "us-west-2")


def test_two_tagged_secrets_are_ambiguous(ingest_env) -> None:
    sm = ingest_env.target.client("secretsmanager", ingest_env.region)
    sm.create_secret(Name=new_name("second"), SecretString="y" * 32,
                     Tags=[{"Key": k, "Value": v} for k, v in HASH_KEY_SECRET_TAGS.items()])
    with pytest.raises(UsageError, match="2 secrets tagged"):
        Pseudonymizer.from_secret(ingest_env.target, ingest_env.region)


def test_secret_value_forms(ingest_env) -> None:
    sm = ingest_env.target.client("secretsmanager", ingest_env.region)
    as_json = sm.create_secret(Name=new_name("json"), SecretString=json.dumps({"key": "j" * 32}))["ARN"]
    as_binary = sm.create_secret(Name=new_name("bin"), SecretBinary=b"\x01" * 32)["ARN"]
    bad_json = sm.create_secret(Name=new_name("badjson"), SecretString=json.dumps({"nokey": 1}))["ARN"]
    load = lambda arn: Pseudonymizer.from_secret_id(ingest_env.target, ingest_env.region, arn)  # noqa: E731
    assert load(as_json).hash("x") == Pseudonymizer(b"j" * 32).hash("x")
    assert load(as_binary).hash("x") == Pseudonymizer(b"\x01" * 32).hash("x")
    with pytest.raises(UsageError, match='string member "key"'):
        load(bad_json)
    with pytest.raises(UsageError, match="does not exist"):
        load("arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope-AbCdEf")


def test_two_stacks_in_one_region_each_use_the_secret_their_outputs_name(ingest_env) -> None:
    """dev and prod in one account/region: each stack's outputs name its own secret."""
    other_key = "p" * 32
    other = ingest_env.target.client("secretsmanager", ingest_env.region).create_secret(
        Name=new_name("prod-hash-key"), SecretString=other_key,
        Tags=[{"Key": k, "Value": v} for k, v in HASH_KEY_SECRET_TAGS.items()])
    dev = ingest_env.outputs()
    prod = replace(dev, schemaVersion=2, hashKeySecretArn=other["ARN"])
    dev = replace(dev, schemaVersion=2, hashKeySecretArn=ingest_env.secret_arn)
    assert Pseudonymizer.for_stack(ingest_env.target, dev).hash("x") == Pseudonymizer(HASH_KEY.encode()).hash("x")
    assert Pseudonymizer.for_stack(ingest_env.target, prod).hash("x") == Pseudonymizer(other_key.encode()).hash("x")
    with pytest.raises(UsageError, match="2 secrets tagged"):      # a version 1 document: tags, ambiguous
        Pseudonymizer.for_stack(ingest_env.target, replace(dev, schemaVersion=1, hashKeySecretArn=None))


def test_a_replica_secret_is_the_primary_arn_in_its_own_region() -> None:
    """https://docs.aws.amazon.com/secretsmanager/latest/userguide/replicate-secrets.html: the
    replica's ARN equals the primary's except for the region."""
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:drkit-hash-key-AbCdEf"
    assert replica_secret_id(arn, "eu-central-1") == (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:drkit-hash-key-AbCdEf")
    for bad in ("drkit-hash-key", "arn:aws:s3:::bucket", "arn:aws:secretsmanager:eu-west-1"):
        with pytest.raises(UsageError, match="not a Secrets Manager secret ARN"):
            replica_secret_id(bad, "eu-central-1")
