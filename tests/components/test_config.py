"""components/config.py: valid configs parse to the documented values; every invalid one fails
with a ConfigError naming its ``drkit:`` key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.config import (AuthorizerType, Environment, LockMode, StorageClass, VaultLockMode, from_mapping, load)
from drills.contracts import Specialty
from drills.errors import ConfigError, UsageError
from drills.project import Project
from drills.deploy.program import run_program

MINIMAL: dict[str, Any] = {"drkit:primaryRegion": "us-east-1", "drkit:drRegion": "us-west-2"}


def with_(**changes: Any) -> dict[str, Any]:
    """MINIMAL plus ``changes`` (bare key names; None deletes a key)."""
    config = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is None:
            config.pop(f"drkit:{key}", None)
        else:
            config[f"drkit:{key}"] = value
    return config


def tiers(*transitions: tuple[int, str], specialty: str = "radiology") -> list[dict[str, Any]]:
    return [{"specialty": specialty, "transitions": [{"days": d, "storageClass": c} for d, c in transitions]}]


# --------------------------------------------------------------------------- valid configs

VALID = {
    "minimal": MINIMAL,
    "compliance-acknowledged-in-staging": with_(environment="staging", acknowledgeComplianceLock=True,
                                                objectLock={"mode": "COMPLIANCE", "retentionDays": 30},
                                                backups={"vaultLock": "compliance", "changeableForDays": 3}),
    "tag-filter-without-delete-markers": with_(replication={"tags": {"drkit-replicate": "yes"}, "deleteMarkers": False}),
    "lowercase-enum-values": with_(objectLock={"mode": "governance", "retentionDays": 2},
                                   replication={"replicaStorageClass": "standard_ia"}),
    "other-namespaces-ignored": {**MINIMAL, "aws:region": "us-east-1", "pulumi:disable-default-providers": ["aws"]},
    "ia-then-glacier-after-30-days": with_(tiers=tiers((30, "STANDARD_IA"), (60, "GLACIER"), (150, "DEEP_ARCHIVE"))),
    "ingest-in-a-vpc-with-organization": with_(
        ingest={"vpc": {"subnetIds": ["subnet-0a"], "securityGroupIds": ["sg-0a"], "s3EndpointId": "vpce-0a"}},
        security={"organizationId": "o-abcdefghij", "readerRoleArns": ["arn:aws:iam::123456789012:role/viewer"]},
        alerts={"subscriptions": [{"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:pager"}]}),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_config_parses(name: str) -> None:
    cfg = from_mapping(VALID[name])
    assert cfg.primary_region == "us-east-1" and cfg.dr_region == "us-west-2", name


def test_minimal_config_takes_the_documented_defaults() -> None:
    cfg = from_mapping(MINIMAL)
    assert cfg.environment is Environment.DEV and not cfg.production and cfg.protect is False
    assert (cfg.object_lock.mode, cfg.object_lock.retention_days) == (LockMode.GOVERNANCE, 30)
    r = cfg.replication
    assert (r.rtc, r.rtc_minutes, r.delete_markers, r.replica_storage_class, r.failback, r.tags) == \
        (True, 15, True, StorageClass.STANDARD, False, ())
    assert [t.specialty for t in cfg.tiers] == [Specialty.RADIOLOGY, Specialty.CARDIOLOGY, Specialty.PATHOLOGY]
    assert [(t.days, t.storage_class.value) for t in cfg.tiers[0].transitions] == \
        [(90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")]
    assert cfg.lifecycle.abort_multipart_days == 7
    assert cfg.lifecycle.noncurrent_expiration_days >= cfg.object_lock.retention_days
    b = cfg.backups
    assert (b.vault_lock, b.changeable_for_days, b.continuous, b.continuous_retention_days, b.copy_to_dr,
            b.air_gapped) == (VaultLockMode.GOVERNANCE, None, True, 35, True, False)
    assert b.min_retention_days <= b.daily_retention_days <= b.max_retention_days
    assert (cfg.objectives.rpoMinutes, cfg.objectives.rtoMinutes, cfg.objectives.restoreHours) == (15, 240, 12)
    assert cfg.drill.prefix == "drills/" and cfg.logging.log_bucket_object_lock is False
    assert cfg.intelligent_tiering is None


# What production requires besides MINIMAL (security.deployRoleArn, alert subscriptions, a
# cross-account backup vault, a pydicom layer): each tested below as missing.
PROD_REQUIRED = dict(
    environment="prod", security={"deployRoleArn": "arn:aws:iam::123456789012:role/deploy"},
    alerts={"subscriptions": [{"protocol": "email", "endpoint": "oncall@example.org"}]},
    ingest={"layerArns": ["arn:aws:lambda:us-east-1:123456789012:layer:pydicom:1"]},
    dicomweb={"authorizer": {"type": "iam"}})
PROD_VAULT = "arn:aws:backup:us-west-2:210987654321:backup-vault:recovery"


def prod_with(**changes: Any) -> dict[str, Any]:
    """A valid production config, with ``changes``."""
    merged = {**PROD_REQUIRED, "backups": {"crossAccountVaultArn": PROD_VAULT}}
    for key, value in changes.items():
        merged[key] = value
    return with_(**merged)


def test_prod_defaults_protect_and_compliance_vault_gets_three_days() -> None:
    cfg = from_mapping(prod_with(backups={"vaultLock": "compliance", "crossAccountVaultArn": PROD_VAULT}))
    assert cfg.production and cfg.protect
    assert cfg.backups.changeable_for_days == 3


def test_every_stack_file_is_valid(project: Project) -> None:
    for stack in ("dev", "prod", "eu"):
        cfg = from_mapping(project.stack_config(stack))
        assert cfg.primary_region != cfg.dr_region, stack
    assert from_mapping(project.stack_config("eu")).primary_region == "eu-central-1"


# --------------------------------------------------------------------------- invalid configs
# name -> (config, key the error must name, a phrase the message must contain)

INVALID: dict[str, tuple[dict[str, Any], str, str]] = {
    "regions-equal": (with_(drRegion="us-east-1"), "drkit:drRegion", "must differ"),
    "region-malformed": (with_(primaryRegion="US East"), "drkit:primaryRegion", "not an AWS region"),
    "primary-region-missing": (with_(primaryRegion=None), "drkit:primaryRegion", "is required"),
    "environment-unknown": (with_(environment="production"), "drkit:environment", "not one of"),
    "retention-zero": (with_(objectLock={"retentionDays": 0}), "drkit:objectLock.retentionDays", "at least 1 day"),
    "retention-negative": (with_(objectLock={"retentionDays": -5}), "drkit:objectLock.retentionDays", "at least 1 day"),
    "retention-string": (with_(objectLock={"retentionDays": "30"}), "drkit:objectLock.retentionDays", "whole number"),
    "lock-mode-unknown": (with_(objectLock={"mode": "LEGAL_HOLD"}), "drkit:objectLock.mode", "COMPLIANCE, GOVERNANCE"),
    "object-lock-not-an-object": (with_(objectLock="COMPLIANCE"), "drkit:objectLock", "expected an object"),
    "object-lock-key-typo": (with_(objectLock={"retentiondays": 3}), "drkit:objectLock.retentiondays", "unknown key"),
    "top-level-key-typo": (with_(objectlock={"mode": "GOVERNANCE"}), "drkit:objectlock", "unknown key"),
    "compliance-lock-not-production": (with_(environment="staging", objectLock={"mode": "COMPLIANCE"}),
                                       "drkit:objectLock.mode", "acknowledgeComplianceLock"),
    "acknowledge-not-boolean": (with_(acknowledgeComplianceLock="true"), "drkit:acknowledgeComplianceLock",
                                "true or false"),
    "rtc-minutes-not-15": (with_(replication={"rtcMinutes": 10}), "drkit:replication.rtcMinutes", "only 15"),
    "rtc-not-boolean": (with_(replication={"rtc": "yes"}), "drkit:replication.rtc", "true or false"),
    "delete-markers-on-tag-filter": (with_(replication={"tags": {"team": "imaging"}, "deleteMarkers": True}),
                                     "drkit:replication.deleteMarkers", "tag-filtered"),
    "replica-storage-class-unknown": (with_(replication={"replicaStorageClass": "COLD"}),
                                      "drkit:replication.replicaStorageClass", "not one of"),
    "deep-archive-replica-breaks-rto": (with_(replication={"replicaStorageClass": "DEEP_ARCHIVE"},
                                             objectives={"rtoMinutes": 60}),
                                        "drkit:replication.replicaStorageClass", "cannot be met"),
    "tiers-not-a-list": (with_(tiers={"radiology": 90}), "drkit:tiers", "expected a list"),
    "tier-specialty-unknown": (with_(tiers=tiers((90, "GLACIER_IR"), specialty="veterinary")),
                               "drkit:tiers[0].specialty", "not one of"),
    "tier-specialty-twice": (with_(tiers=tiers((90, "GLACIER_IR")) + tiers((120, "GLACIER_IR"))),
                             "drkit:tiers[1].specialty", "already has a tier"),
    "tier-without-transitions": (with_(tiers=[{"specialty": "radiology", "transitions": []}]),
                                 "drkit:tiers[0].transitions", "at least one"),
    "transition-days-out-of-order": (with_(tiers=tiers((90, "GLACIER_IR"), (60, "DEEP_ARCHIVE"))),
                                     "drkit:tiers[0].transitions[1].days", "increasing day order"),
    "transition-to-warmer-class": (with_(tiers=tiers((30, "GLACIER_IR"), (200, "STANDARD_IA"))),
                                   "drkit:tiers[0].transitions[1].storageClass", "colder class"),
    "transition-to-standard": (with_(tiers=tiers((30, "STANDARD"))),
                               "drkit:tiers[0].transitions[0].storageClass", "STANDARD"),
    "standard-ia-before-30-days": (with_(tiers=tiers((10, "STANDARD_IA"))),
                                   "drkit:tiers[0].transitions[0].days", "at least 30 days old"),
    "deep-archive-before-glacier-ir-minimum": (with_(tiers=tiers((90, "GLACIER_IR"), (120, "DEEP_ARCHIVE"))),
                                               "drkit:tiers[0].transitions[1].days",
                                               "90-day minimum storage duration"),
    "glacier-before-standard-ia-minimum": (with_(tiers=tiers((30, "STANDARD_IA"), (45, "GLACIER"))),
                                           "drkit:tiers[0].transitions[1].days", "day 60 or later"),
    "transition-storage-class-unknown": (with_(tiers=tiers((30, "ICE"))),
                                         "drkit:tiers[0].transitions[0].storageClass", "not one of"),
    "noncurrent-expiry-before-retention": (with_(objectLock={"retentionDays": 365},
                                                 lifecycle={"noncurrentExpirationDays": 100}),
                                           "drkit:lifecycle.noncurrentExpirationDays", "stay locked"),
    "locked-log-bucket": (with_(logging={"logBucketObjectLock": True}), "drkit:logging.logBucketObjectLock",
                          "cannot be a server-access-log destination"),
    "vault-lock-unknown": (with_(backups={"vaultLock": "legal"}), "drkit:backups.vaultLock", "compliance, governance"),
    "compliance-vault-changeable-under-3": (prod_with(backups={"vaultLock": "compliance", "changeableForDays": 2,
                                                                "crossAccountVaultArn": PROD_VAULT}),
                                            "drkit:backups.changeableForDays", "at least 3 days"),
    "governance-vault-with-changeable-days": (with_(backups={"vaultLock": "governance", "changeableForDays": 3}),
                                              "drkit:backups.changeableForDays", "only valid with vaultLock: compliance"),
    "compliance-vault-not-production": (with_(backups={"vaultLock": "compliance"}), "drkit:backups.vaultLock",
                                        "acknowledgeComplianceLock"),
    "continuous-retention-over-35": (with_(backups={"continuousRetentionDays": 36}),
                                     "drkit:backups.continuousRetentionDays", "1-35 days"),
    "continuous-retention-zero": (with_(backups={"continuousRetentionDays": 0}),
                                  "drkit:backups.continuousRetentionDays", "1-35 days"),
    "continuous-below-vault-minimum": (with_(backups={"minRetentionDays": 14, "continuousRetentionDays": 7}),
                                       "drkit:backups.continuousRetentionDays", "minRetentionDays (14)"),
    "max-retention-below-min": (with_(backups={"minRetentionDays": 30, "maxRetentionDays": 7}),
                                "drkit:backups.maxRetentionDays", "at least minRetentionDays"),
    "daily-retention-outside-lock": (with_(backups={"minRetentionDays": 7, "maxRetentionDays": 30,
                                                    "dailyRetentionDays": 90}),
                                     "drkit:backups.dailyRetentionDays", "7..30"),
    "prod-without-deploy-role": (prod_with(security={}), "drkit:security.deployRoleArn", "name that role"),
    "prod-without-subscriptions": (prod_with(alerts={}), "drkit:alerts.subscriptions", "must reach someone"),
    "prod-without-cross-account-vault": (prod_with(backups={}), "drkit:backups.crossAccountVaultArn",
                                         "another account"),
    "deploy-role-not-a-role-arn": (with_(security={"deployRoleArn": "admin"}), "drkit:security.deployRoleArn",
                                   "IAM role ARN"),
    "reader-not-a-role-arn": (with_(security={"readerRoleArns": ["arn:aws:iam::123456789012:user/bob"]}),
                              "drkit:security.readerRoleArns[0]", "IAM role ARN"),
    "organization-id-malformed": (with_(security={"organizationId": "my-org"}), "drkit:security.organizationId",
                                  "o-"),
    "subscription-endpoint-wrong-protocol": (with_(alerts={"subscriptions": [{"protocol": "https",
                                                                              "endpoint": "http://x.example"}]}),
                                             "drkit:alerts.subscriptions[0].endpoint", "not a valid https"),
    "subscription-protocol-unknown": (with_(alerts={"subscriptions": [{"protocol": "sms", "endpoint": "+1"}]}),
                                      "drkit:alerts.subscriptions[0].protocol", "not one of"),
    "cross-account-vault-malformed": (with_(backups={"crossAccountVaultArn": "vault"}),
                                      "drkit:backups.crossAccountVaultArn", "backup vault ARN"),
    "share-without-air-gap": (with_(backups={"airGappedShareWith": ["210987654321"]}),
                              "drkit:backups.airGappedShareWith", "airGapped: true"),
    "share-with-not-an-account": (with_(backups={"airGapped": True, "airGappedShareWith": ["bob"]}),
                                  "drkit:backups.airGappedShareWith[0]", "12-digit"),
    "reserved-concurrency-zero": (with_(ingest={"reservedConcurrency": 0}), "drkit:ingest.reservedConcurrency",
                                  "at least 1"),
    "vpc-endpoint-malformed": (with_(ingest={"vpc": {"subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"],
                                                     "s3EndpointId": "endpoint"}}),
                               "drkit:ingest.vpc.s3EndpointId", "vpce-"),
    "vpc-without-subnets": (with_(ingest={"vpc": {"subnetIds": [], "securityGroupIds": ["sg-1"],
                                                  "s3EndpointId": "vpce-1"}}),
                            "drkit:ingest.vpc.subnetIds", "at least one"),
    "rpo-below-rtc": (with_(objectives={"rpoMinutes": 5}), "drkit:objectives.rpoMinutes", "cannot be met"),
    "rto-not-a-number": (with_(objectives={"rtoMinutes": "fast"}), "drkit:objectives.rtoMinutes", "expected a number"),
    "drill-prefix-is-production-data": (with_(drill={"prefix": "dicom/"}), "drkit:drill.prefix", "production data"),
    "drill-prefix-without-slash": (with_(drill={"prefix": "drills"}), "drkit:drill.prefix", "ending in '/'"),
    "attacker-trust-not-a-role": (with_(drill={"attacker": {"trustedPrincipalArns": ["arn:aws:iam::123456789012:user/x"]}}),
                                  "drkit:drill.attacker.trustedPrincipalArns[0]", "expected an IAM role ARN"),
    "attacker-enabled-not-bool": (with_(drill={"attacker": {"enabled": "yes"}}), "drkit:drill.attacker.enabled",
                                  "expected true or false"),
    "attacker-unknown-key": (with_(drill={"attacker": {"maxSession": 1}}), "drkit:drill.attacker.maxSession",
                             "unknown key"),
    "intelligent-tiering-empty": (with_(intelligentTiering={"archiveAccessDays": None}), "drkit:intelligentTiering",
                                  "or omit the key"),
    "intelligent-tiering-archive-too-soon": (with_(intelligentTiering={"archiveAccessDays": 30}),
                                             "drkit:intelligentTiering.archiveAccessDays", "at least 90"),
    "intelligent-tiering-deep-before-archive": (with_(intelligentTiering={"archiveAccessDays": 200,
                                                                         "deepArchiveAccessDays": 180}),
                                                "drkit:intelligentTiering.deepArchiveAccessDays", "after archiveAccessDays"),
    "ingest-layer-not-an-arn": (with_(ingest={"layerArns": ["pydicom"]}), "drkit:ingest.layerArns[0]", "layer"),
    "protect-not-boolean": (with_(protect=1), "drkit:protect", "true or false"),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_config_names_its_key(name: str) -> None:
    config, key, phrase = INVALID[name]
    with pytest.raises(ConfigError) as info:
        from_mapping(config)
    assert info.value.key == key, f"{name}: error named {info.value.key!r}: {info.value}"
    assert str(info.value).startswith(f"{key}: "), f"{name}: {info.value}"
    assert phrase in str(info.value), f"{name}: {info.value}"
    assert info.value.exit_code == 2


def test_not_a_mapping_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        from_mapping(["drkit:primaryRegion"])  # type: ignore[arg-type]
    assert info.value.key == "drkit"


# --------------------------------------------------------------------------- from pulumi.Config

@pytest.fixture
def pulumi_config():
    """Set the process-wide Pulumi config for one test, then clear it."""
    def set_config(values: dict[str, str]) -> None:
        pulumi.runtime.set_all_config(values, secret_keys=[])
    yield set_config
    pulumi.runtime.set_all_config({}, secret_keys=[])


def test_load_reads_the_same_config_as_the_stack_file(project: Project, pulumi_config) -> None:
    pulumi_config(project.pulumi_config("prod"))
    assert load() == from_mapping(project.stack_config("prod"))


def test_load_rejects_structured_value_that_is_not_json(pulumi_config) -> None:
    pulumi_config({"drkit:primaryRegion": "us-east-1", "drkit:drRegion": "us-west-2", "drkit:objectLock": "{mode:"})
    with pytest.raises(ConfigError) as info:
        load()
    assert info.value.key == "drkit:objectLock"


def test_invalid_stack_file_fails_the_program(project: Project, tmp_path: Path) -> None:
    """What `pulumi preview` would run: the real __main__.py stops on the ConfigError."""
    text = project.stack_file("dev").read_text().replace("retentionDays: 1\n", "retentionDays: 0\n", 1)
    assert "retentionDays: 0" in text
    (tmp_path / "Pulumi.broken.yaml").write_text(text)
    broken = Project(root=project.root, name=project.name, stack_dir=tmp_path)
    with pytest.raises(ConfigError) as info:
        run_program(broken, "broken")
    assert info.value.key == "drkit:objectLock.retentionDays"
    assert isinstance(info.value, UsageError)


# --------------------------------------------------------------------------- drkit:dicomweb

def test_dicomweb_defaults_on_with_iam_outside_production() -> None:
    cfg = from_mapping(MINIMAL)
    assert cfg.dicomweb.enabled and not cfg.dicomweb.promote_dr
    assert cfg.dicomweb.authorizer.type is AuthorizerType.IAM


def test_dicomweb_jwt_authorizer_keeps_issuer_and_audiences() -> None:
    cfg = from_mapping(with_(dicomweb={"promoteDr": True, "authorizer": {
        "type": "jwt", "issuer": "https://idp.example.org/realms/imaging", "audiences": ["a", "b"]}}))
    auth = cfg.dicomweb.authorizer
    assert (auth.type, auth.issuer, auth.audiences) == (AuthorizerType.JWT, "https://idp.example.org/realms/imaging",
                                                         ("a", "b"))
    assert cfg.dicomweb.promote_dr


@pytest.mark.parametrize("value, key, message", [
    ({"authorizer": {"type": "none"}}, "drkit:dicomweb.authorizer.type", "never anonymous"),
    ({"authorizer": {"type": "oauth"}}, "drkit:dicomweb.authorizer.type", "is not one of"),
    ({"authorizer": {"type": "jwt", "audiences": ["a"]}}, "drkit:dicomweb.authorizer.issuer", "required"),
    ({"authorizer": {"type": "jwt", "issuer": "http://idp", "audiences": ["a"]}},
     "drkit:dicomweb.authorizer.issuer", "https://"),
    ({"authorizer": {"type": "jwt", "issuer": "https://idp"}}, "drkit:dicomweb.authorizer.audiences", "required"),
    ({"authorizer": {"type": "jwt", "issuer": "https://idp", "audiences": []}},
     "drkit:dicomweb.authorizer.audiences", "at least one"),
    ({"authorizer": {"type": "jwt", "issuer": "https://idp", "audiences": [""]}},
     r"drkit:dicomweb.authorizer.audiences\[0\]", "non-empty"),
    ({"authorizer": {"type": "iam", "issuer": "https://idp"}}, "drkit:dicomweb.authorizer.issuer", "only a jwt"),
    ({"enabled": "yes"}, "drkit:dicomweb.enabled", "true or false"),
    ({"authorizer": "iam"}, "drkit:dicomweb.authorizer", "expected an object"),
    ({"authoriser": {"type": "iam"}}, "drkit:dicomweb.authoriser", "unknown key"),
])
def test_bad_dicomweb_value_names_its_key(value, key, message) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        from_mapping(with_(dicomweb=value))
    assert info.value.key == key.replace("\\", "")


def test_production_dicomweb_must_name_its_authorizer() -> None:
    with pytest.raises(ConfigError, match="nothing is served anonymously") as info:
        from_mapping(prod_with(dicomweb=None))
    assert "drkit:dicomweb.authorizer" in str(info.value)
    assert not from_mapping(prod_with(dicomweb={"enabled": False})).dicomweb.enabled


def test_attacker_roles_default_on_outside_production_trusted_by_the_operators() -> None:
    """The ransomware drill's attacker roles (drkit:drill.attacker): deployed by default except in
    production, trusted by the operator roles unless named otherwise."""
    dev = from_mapping(MINIMAL).drill.attacker
    assert dev.enabled and dev.trusted_principal_arns == ()
    prod = from_mapping(prod_with()).drill.attacker
    assert not prod.enabled, "production deploys no standing destructive role unless asked to"
    drills = "arn:aws:iam::123456789012:role/drills"
    operators = from_mapping(prod_with(drill={"attacker": {"enabled": True}},
                                       security={**PROD_REQUIRED["security"], "operatorRoleArns": [drills]}))
    assert operators.drill.attacker.enabled and operators.drill.attacker.trusted_principal_arns == (drills,)
    runner = "arn:aws:iam::123456789012:role/runner"
    named = from_mapping(with_(drill={"attacker": {"trustedPrincipalArns": [runner]}}))
    assert named.drill.attacker.trusted_principal_arns == (runner,)
