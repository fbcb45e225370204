"""Edits that break a compliant stack, shared by the rule tests and the analyzer test."""

from __future__ import annotations

from tests.policies.harness import Rec, Stack


def replication_rules_edit(stack: Stack, edit) -> Rec:
    bucket = stack.bucket("archive")
    for rec in stack.settings(bucket, ":BucketReplicationConfig"):
        for index in range(len(rec.inputs["rules"])):
            edit(stack, rec, f"rules.{index}")
    return bucket


def rtc_off(stack: Stack) -> Rec:
    return replication_rules_edit(stack, lambda s, r, p: s.set(r, f"{p}.destination.replicationTime.status", "Disabled"))


def primary_vault(stack: Stack) -> Rec:
    """The first backup vault that a plan rule targets (the primary vault)."""
    targets = {rule.get("targetVaultName") for plan in stack.of_type("/plan:Plan") for rule in plan.inputs["rules"]}
    for vault in stack.of_type("/vault:Vault"):
        if {vault.outputs.get("name"), vault.id} & targets:
            return vault
    raise AssertionError("no backup plan targets a vault of this stack")


def vault_locks(stack: Stack, vault: Rec) -> list[Rec]:
    return stack.settings(vault, "/vaultLockConfiguration:VaultLockConfiguration", "backupVaultName")


def no_vault_lock(stack: Stack) -> Rec:
    vault = primary_vault(stack)
    for lock in vault_locks(stack, vault):
        stack.remove(lock)
    return vault
