"""The ransomware drill's attacker identity (drills.actions.attacker): an STS session of the
stack's attacker role, or — where there is none — the drill's own credentials, *not verified*.

AssumeRole: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (RoleSessionName
2-64 characters of ``[\\w+=,.@-]``; DurationSeconds at least 900; AccessDenied when the trust
policy does not admit the caller).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from drills.actions.attacker import SESSION_SECONDS, assume, clients
from drills.actions.ransomware import ransomware_attack
from drills.aws import Target
from drills.engine.model import Status
from drills.errors import RegionFenced

ROLE = "arn:aws:iam::123456789012:role/drkit-dev-drills-attacker"
BYPASS = "arn:aws:iam::123456789012:role/drkit-dev-drills-attacker-bypass"


class _Sts:
    def __init__(self, refuse: str | None = None) -> None:
        self.calls: list[dict] = []
        self.refuse = refuse

    def assume_role(self, **kwargs):
        self.calls.append(kwargs)
        if self.refuse:
            raise ClientError({"Error": {"Code": self.refuse, "Message": "not trusted"}}, "AssumeRole")
        return {"Credentials": {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s", "SessionToken": "t"},
                "AssumedRoleUser": {"Arn": "arn:aws:sts::123456789012:assumed-role/drkit-dev-drills-attacker/x"}}


def _ctx(sts: _Sts, role: str | None = ROLE, bypass: str | None = BYPASS):
    outputs = SimpleNamespace(primaryRegion="us-east-1", attackerRoleArn=role, attackerBypassRoleArn=bypass)
    drill_clients: list[tuple[str, str]] = []

    def client(service: str, region: str):
        drill_clients.append((service, region))
        return sts if service == "sts" else SimpleNamespace(service=service, owner="drill")

    return SimpleNamespace(outputs=outputs, run_id="20260101T000000Z-abcdef", client=client, fenced=set(),
                           target=Target(endpoint="http://127.0.0.1:1"), drill_clients=drill_clients)


def test_the_attacker_role_is_assumed_with_a_session_naming_the_run() -> None:
    sts = _Sts()
    identity = assume(_ctx(sts), "attacker")
    (call,) = sts.calls
    assert call["RoleArn"] == ROLE and call["DurationSeconds"] == SESSION_SECONDS == 900
    assert call["RoleSessionName"] == "drkit-ransomware-20260101T000000Z-abcdef"
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", call["RoleSessionName"])
    assert identity.verified and identity.target.credentials == ("ASIAEXAMPLE", "s", "t")
    assert identity.describe() == {"kind": "assumed-role", "role": "attacker", "roleArn": ROLE, "verified": True,
                                   "sessionArn": "arn:aws:sts::123456789012:assumed-role/drkit-dev-drills-attacker/x"}


def test_the_bypass_role_is_the_other_output() -> None:
    sts = _Sts()
    assert assume(_ctx(sts), "attacker-bypass").role_arn == BYPASS == sts.calls[0]["RoleArn"]


def test_no_declared_role_means_the_drills_own_credentials_and_not_verified() -> None:
    sts = _Sts()
    ctx = _ctx(sts, role=None)
    identity = assume(ctx, "attacker")
    assert not identity.verified and sts.calls == []
    assert "no attackerRoleArn output" in identity.reason and "drill's own credentials" in identity.reason
    assert identity.describe()["kind"] == "drill-credentials" and identity.describe()["verified"] is False
    assert clients(ctx, identity)("s3", "us-east-1").owner == "drill"       # labelled as such, not hidden


def test_a_role_the_drill_may_not_assume_is_not_verified_with_the_error_code() -> None:
    identity = assume(_ctx(_Sts(refuse="AccessDenied")), "attacker")
    assert not identity.verified and "AccessDenied" in identity.reason and "trustedPrincipalArns" in identity.reason


def test_attempt_clients_sign_with_the_session_and_respect_fences() -> None:
    ctx = _ctx(_Sts())
    identity = assume(ctx, "attacker")
    s3 = clients(ctx, identity)("s3", "us-east-1")
    assert s3.meta.region_name == "us-east-1" and ("s3", "us-east-1") not in ctx.drill_clients
    assert s3._request_signer._credentials.access_key == "ASIAEXAMPLE"
    ctx.fenced.add("us-west-2")
    with pytest.raises(RegionFenced):                                # fenced for the attacker too
        clients(ctx, identity)("backup", "us-west-2")


class _Refusing:
    """A boto3 client stand-in whose every call is refused (the drill's own credentials here)."""

    def __getattr__(self, name: str):
        def call(**_: object):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, name)
        return call

    def get_paginator(self, name: str):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, name)

    def list_object_versions(self, **_: object) -> dict:     # the drill lists with its own credentials
        return {"Versions": [{"Key": "drills/a.dcm", "VersionId": "v1"}]}


def test_an_attack_without_the_role_is_not_verified_and_says_whose_credentials_it_used() -> None:
    outputs = SimpleNamespace(primaryRegion="us-east-1", drRegion="us-west-2", archiveBucket="archive",
                              backupVault="vault", drBackupVault="dr-vault", indexTable="index",
                              attackerRoleArn=None, attackerBypassRoleArn=None)
    clock = SimpleNamespace(now=lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))
    ctx = SimpleNamespace(outputs=outputs, run_id="r", fenced=set(), clock=clock,
                          client=lambda service, region: _Refusing(), target=Target(endpoint="http://127.0.0.1:1"))
    notes: list[tuple[str, dict]] = []
    run = SimpleNamespace(ctx=ctx, state={"known_good": [{"key": "drills/a.dcm", "version_id": "v1", "size": 10}]},
                          note=lambda kind, data: notes.append((kind, data)), attempt=lambda *a: None)
    result = ransomware_attack(run)
    assert result.status is Status.NOT_VERIFIED and "no attackerRoleArn output" in result.reason
    assert result.output["identity"]["kind"] == "drill-credentials"
    assert notes == [("attacker-identity", result.output["identity"])]
    assert result.output["attempts"]["delete-versions"] == "denied x1"    # the attempts still ran, labelled
    assert result.output["attempts"]["overwrite"] == "denied x1"
