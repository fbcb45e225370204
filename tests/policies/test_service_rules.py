"""Backup, DynamoDB, KMS, SQS, SNS and CloudTrail rules: quiet on a compliant prod stack,
firing on one deliberate break, naming the resource."""

from __future__ import annotations

import pytest

from policies import service_rules
from policies.rules import POLICIES
from tests.policies.breakages import no_vault_lock, primary_vault, vault_locks
from tests.policies.harness import Breakage, Rec, Stack, assert_breakage, fired


def _lock_edit(path: str):
    def mutate(stack: Stack) -> Rec:
        vault = primary_vault(stack)
        for lock in vault_locks(stack, vault):
            stack.delete(lock, path)
        return vault
    return mutate


def _plan_rules(stack: Stack, pick, edit) -> Rec:
    """Apply ``edit(stack, plan, path, rule)`` to every plan rule ``pick(rule)`` selects."""
    touched = None
    for plan in stack.of_type("/plan:Plan"):
        for index, rule in enumerate(plan.inputs["rules"]):
            if pick(rule):
                edit(stack, plan, f"rules.{index}", rule)
                touched = touched or plan
    if touched is None:
        pytest.skip("no backup plan rule of that kind in this stack")
    return touched


def retention_below_lock(stack: Stack) -> Rec:
    vault = primary_vault(stack)
    low = vault_locks(stack, vault)[0].inputs["minRetentionDays"]
    assert low > 1, "the lock's minimum must leave room to go below it"
    names = {vault.outputs.get("name"), vault.id}
    return _plan_rules(stack, lambda r: r.get("targetVaultName") in names and not r.get("enableContinuousBackup"),
                       lambda s, p, path, r: s.set(p, f"{path}.lifecycle.deleteAfter", low - 1))


def continuous_beyond_35_days(stack: Stack) -> Rec:
    return _plan_rules(stack, lambda r: r.get("enableContinuousBackup"),
                       lambda s, p, path, r: s.set(p, f"{path}.lifecycle.deleteAfter", 36))


def no_cross_region_copy(stack: Stack) -> Rec:
    return _plan_rules(stack, lambda r: "copyActions" in r, lambda s, p, path, r: s.delete(p, f"{path}.copyActions"))


def copy_within_region(stack: Stack) -> Rec:
    arn = primary_vault(stack).outputs["arn"]

    def retarget(s: Stack, plan: Rec, path: str, rule: dict) -> None:
        for index in range(len(rule["copyActions"])):
            s.set(plan, f"{path}.copyActions.{index}.destinationVaultArn", arn)

    return _plan_rules(stack, lambda r: "copyActions" in r, retarget)


def vault_default_key(stack: Stack) -> Rec:
    vault = primary_vault(stack)
    stack.delete(vault, "kmsKeyArn")
    return vault


def _first(suffix: str, *edits: tuple):
    """Mutate the first resource of type ``…suffix``: edits are (path, value) or (path,) to delete."""
    def mutate(stack: Stack) -> Rec:
        found = stack.of_type(suffix)
        assert found, f"no {suffix} in this stack"
        for edit in edits:
            stack.set(found[0], *edit) if len(edit) == 2 else stack.delete(found[0], edit[0])
        return found[0]
    return mutate


def replica_pitr_off(stack: Stack) -> Rec:
    for table in stack.of_type("/table:Table"):
        if table.inputs.get("replicas"):
            stack.set(table, "replicas.0.pointInTimeRecovery", False)
            return table
    return _first("/tableReplica:TableReplica", ("pointInTimeRecovery", False))(stack)


VAULT, RETAIN, COPY, VKMS = ("backup-vault-lock", "backup-plan-retention", "backup-plan-cross-region-copy",
                             "backup-vault-kms")
DDB, KMS, SQS, SNS, TRAIL = ("dynamodb-pitr-and-kms", "kms-key-rotation", "sqs-queue-encryption", "sns-topic-kms",
                             "cloudtrail-integrity")
BREAKAGES = [
    Breakage("no-vault-lock", frozenset({VAULT}), no_vault_lock),
    Breakage("vault-lock-governance-in-prod", frozenset({VAULT}), _lock_edit("changeableForDays"),
             mentions="changeableForDays"),
    Breakage("vault-lock-without-minimum", frozenset({VAULT}), _lock_edit("minRetentionDays"),
             mentions="minRetentionDays"),
    Breakage("retention-below-vault-lock", frozenset({RETAIN}), retention_below_lock, mentions="minRetentionDays"),
    Breakage("continuous-backup-beyond-35-days", frozenset({RETAIN}), continuous_beyond_35_days, mentions="35"),
    Breakage("no-cross-region-copy", frozenset({COPY}), no_cross_region_copy),
    Breakage("copy-within-region", frozenset({COPY}), copy_within_region),
    Breakage("vault-aws-managed-key", frozenset({VKMS}), vault_default_key),
    Breakage("pitr-off", frozenset({DDB}), _first("/table:Table", ("pointInTimeRecovery.enabled", False)),
             mentions="pointInTimeRecovery"),
    Breakage("replica-pitr-off", frozenset({DDB}), replica_pitr_off, mentions="pointInTimeRecovery"),
    Breakage("table-without-cmk", frozenset({DDB}), _first("/table:Table", ("serverSideEncryption",)),
             mentions="kmsKeyArn"),
    Breakage("key-rotation-off", frozenset({KMS}), _first("/key:Key", ("enableKeyRotation", False))),
    Breakage("queue-unencrypted", frozenset({SQS}),
             _first("/queue:Queue", ("kmsMasterKeyId",), ("sqsManagedSseEnabled",))),
    Breakage("topic-unencrypted", frozenset({SNS}), _first("/topic:Topic", ("kmsMasterKeyId",))),
    Breakage("trail-without-log-validation", frozenset({TRAIL}),
             _first("/trail:Trail", ("enableLogFileValidation", False)), mentions="CKV_AWS_36"),
    Breakage("trail-single-region", frozenset({TRAIL}), _first("/trail:Trail", ("isMultiRegionTrail", False)),
             mentions="CKV_AWS_67"),
    Breakage("trail-without-s3-data-events", frozenset({TRAIL}),
             _first("/trail:Trail", ("eventSelectors",), ("advancedEventSelectors",)), mentions="object-level"),
]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=str)
def test_rule_fires_on_one_break(prod_stack: Stack, breakage: Breakage) -> None:
    assert_breakage(prod_stack, breakage, POLICIES)


def test_every_service_rule_has_a_breakage() -> None:
    covered = {name for b in BREAKAGES for name in b.policies}
    assert covered == {p.name for p in service_rules.POLICIES}


def test_vault_lock_may_stay_governance_outside_production(dev_stack: Stack) -> None:
    _lock_edit("changeableForDays")(dev_stack)
    assert fired(dev_stack, service_rules.POLICIES) == {}


def test_cross_region_copy_is_not_applicable_outside_production(dev_stack: Stack) -> None:
    policy = next(p for p in service_rules.POLICIES if p.name == COPY)
    assert dev_stack.violations(policy) == [("not-applicable", "cross-region backup copies are required on "
                                                               "production stacks only")]


def test_changeable_days_below_aws_minimum_fires_everywhere(dev_stack: Stack) -> None:
    vault = primary_vault(dev_stack)
    for lock in vault_locks(dev_stack, vault):
        dev_stack.set(lock, "changeableForDays", 2)
    found = fired(dev_stack, service_rules.POLICIES)
    assert list(found) == [VAULT] and f"'{vault.name}'" in found[VAULT][0][0]


def test_asymmetric_keys_need_no_rotation(prod_stack: Stack) -> None:
    key = prod_stack.of_type("/key:Key")[0]
    prod_stack.set(key, "customerMasterKeySpec", "RSA_2048")
    prod_stack.set(key, "keyUsage", "SIGN_VERIFY")
    prod_stack.set(key, "enableKeyRotation", False)
    assert fired(prod_stack, service_rules.POLICIES) == {}


def test_sqs_managed_encryption_is_enough(prod_stack: Stack) -> None:
    queue = prod_stack.of_type("/queue:Queue")[0]
    prod_stack.delete(queue, "kmsMasterKeyId")
    prod_stack.set(queue, "sqsManagedSseEnabled", True)
    assert fired(prod_stack, service_rules.POLICIES) == {}
