"""The content rules (policies/guard_rules.py) against deliberate weakenings of the REAL prod
stack: the project's ``__main__.py`` run under mocks, then changed in one place the way a
careless edit or an attacker with deploy rights would. Each weakening must make exactly its
rules fire (every other rule of the pack stays quiet) and name the resource it weakened.

Among them the 17 weakenings of issue #15's review (ingest role ``Action "*"``, a key policy
with ``Principal "*"``, an archive policy letting anyone GetObject/DeleteObjectVersion,
deletion protection off, ``dicom/`` dropped from replication, every alarm removed, a 1-day vault
lock minimum, a 7-day key deletion window, a Lambda with a plaintext secret …).
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from pulumi.runtime import MockResourceArgs

from drills.deploy.program import default_create
from policies import guard_rules
from policies.rules import POLICIES
from tests.policies.conftest import stack_from
from tests.policies.harness import Breakage, Rec, Stack, assert_breakage, fired

P = "drkit-prod"


@pytest.fixture
def prod() -> Stack:
    """The real program's prod stack (a fresh copy per test)."""
    return stack_from("program", "prod")


# ---------------------------------------------------------------- editing helpers
def edit_policy(stack: Stack, rec: Rec, change: Callable[[list[dict]], None], field: str = "policy") -> None:
    doc = json.loads(rec.inputs[field])
    change(doc["Statement"])
    stack.set(rec, field, json.dumps(doc))


def drop_sid(sid: str) -> Callable[[list[dict]], None]:
    def change(statements: list[dict]) -> None:
        before = len(statements)
        statements[:] = [s for s in statements if s.get("Sid") != sid]
        assert len(statements) < before, f"no statement {sid!r}"
    return change


def add(stack: Stack, type_: str, name: str, like: Rec, **inputs: Any) -> Rec:
    """Register a new resource the way the mocks would, in ``like``'s region."""
    rid, outputs = default_create(MockResourceArgs(type_, name, inputs))
    rec = Rec(type_, name, inputs, outputs, like.provider, rid)
    stack.records.append(rec)
    return rec


def named(stack: Stack, name: str, suffix: str = "") -> Rec:
    return stack.named(name, suffix)


def bucket(stack: Stack, logical: str) -> Rec:
    return named(stack, logical, ":Bucket")


# ---------------------------------------------------------------- the weakenings
def ingest_action_star(s: Stack) -> Rec:
    rec = named(s, f"{P}-ingest-role-policy", ":RolePolicy")
    edit_policy(s, rec, lambda st: st.append({"Sid": "Everything", "Effect": "Allow", "Action": "*",
                                              "Resource": "*"}))
    return rec


def ingest_key_without_via_service(s: Stack) -> Rec:
    rec = named(s, f"{P}-ingest-role-policy", ":RolePolicy")

    def change(statements: list[dict]) -> None:
        (use,) = [x for x in statements if x.get("Sid") == "UseDataKey"]
        del use["Condition"]
    edit_policy(s, rec, change)
    return rec


def key_policy(s: Stack, purpose: str = "") -> tuple[Rec, Rec]:
    base = f"{P}-keys" + (f"-{purpose}" if purpose else "")
    return named(s, base, "/key:Key"), named(s, f"{base}-policy", ":KeyPolicy")


def key_principal_star(s: Stack) -> Rec:
    key, policy = key_policy(s)
    edit_policy(s, policy, lambda st: st.append({"Sid": "Anyone", "Effect": "Allow", "Principal": "*",
                                                 "Action": "kms:Decrypt", "Resource": "*"}))
    return key


def key_without_destruction_guard(s: Stack) -> Rec:
    key, policy = key_policy(s, "backup")
    edit_policy(s, policy, drop_sid("DenyKeyDestructionExceptBreakGlass"))
    return key


def key_root_kms_star(s: Stack) -> Rec:
    """The stack's original key policy: kms:* delegated to the account root, nothing denied."""
    key, policy = key_policy(s, "audit")
    s.set(policy, "policy", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministersThroughIam", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}))
    return key


def key_deletion_window_7(s: Stack) -> Rec:
    key, _ = key_policy(s)
    s.set(key, "deletionWindowInDays", 7)
    return key


def archive_public_read_delete(s: Stack) -> Rec:
    edit_policy(s, named(s, f"{P}-archive-policy", ":BucketPolicy"), lambda st: st.append({
        "Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:DeleteObjectVersion"],
        "Resource": f"arn:aws:s3:::{P}-archive/*"}))
    return bucket(s, f"{P}-archive")


def archive_reads_unrestricted(s: Stack) -> Rec:
    edit_policy(s, named(s, f"{P}-archive-policy", ":BucketPolicy"), drop_sid("DenyObjectReadsOutsideAllowList"))
    return bucket(s, f"{P}-archive")


def archive_configuration_open(s: Stack) -> Rec:
    edit_policy(s, named(s, f"{P}-archive-policy", ":BucketPolicy"),
                drop_sid("DenyConfigurationChangesExceptDeployRole"))
    return bucket(s, f"{P}-archive")


def replica_writable_by_ingest(s: Stack) -> Rec:
    ingest = named(s, f"{P}-ingest-role", "/role:Role").outputs["arn"]

    def change(statements: list[dict]) -> None:
        (writes,) = [x for x in statements if x.get("Sid") == "DenyObjectWritesOutsideAllowList"]
        writes["Condition"]["ArnNotLike"]["aws:PrincipalArn"].append(ingest)
    edit_policy(s, named(s, f"{P}-replica-policy", ":BucketPolicy"), change)
    return bucket(s, f"{P}-replica")


def deletion_protection_off(s: Stack) -> Rec:
    table = named(s, f"{P}-index", ":Table")
    s.set(table, "deletionProtectionEnabled", False)
    return table


def dicom_dropped_from_replication(s: Stack) -> Rec:
    config = named(s, f"{P}-replication-config", ":BucketReplicationConfig")
    s.set(config, "rules", [r for r in config.inputs["rules"] if r["filter"].get("prefix") != "dicom/"])
    return bucket(s, f"{P}-archive")


def every_alarm_removed(s: Stack) -> Rec:
    for alarm in s.of_type(":MetricAlarm"):
        if alarm.inputs.get("namespace") == "AWS/S3":
            s.remove(alarm)
    return bucket(s, f"{P}-archive")


def latency_missing_data_not_breaching(s: Stack) -> Rec:
    alarm = named(s, f"{P}-monitoring-dicom-latency", ":MetricAlarm")
    s.set(alarm, "treatMissingData", "notBreaching")
    return alarm


def latency_alarm_in_the_source_region(s: Stack) -> Rec:
    """S3 publishes ReplicationLatency in the destination bucket's region: an alarm in the source's
    never gets data (https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html)."""
    alarm = named(s, f"{P}-monitoring-dicom-latency", ":MetricAlarm")
    (source_region,) = {r.outputs["region"] for r in s.records
                        if r.type == "pulumi:providers:aws" and r.name == f"{P}-primary"}
    s.set(alarm, "region", source_region)
    return alarm


def vault_lock_minimum_one_day(s: Stack) -> Rec:
    s.set(named(s, f"{P}-backups-vault-lock", ":VaultLockConfiguration"), "minRetentionDays", 1)
    return named(s, f"{P}-backups-vault", "/vault:Vault")


def lambda_plaintext_secret(s: Stack) -> Rec:
    function = named(s, f"{P}-ingest-function", ":Function")
    s.set(function, "environment.variables.DRKIT_HMAC_SECRET", "c2VjcmV0LWhtYWMta2V5")
    return function


def lambda_without_reserved_concurrency(s: Stack) -> Rec:
    function = named(s, f"{P}-ingest-function", ":Function")
    s.delete(function, "reservedConcurrentExecutions")
    return function


def no_subscriptions(s: Stack) -> Rec:
    for sub in s.of_type(":TopicSubscription"):
        s.remove(sub)
    return named(s, f"{P}-alerts-topic", ":Topic")


def no_key_deletion_alert(s: Stack) -> Rec:
    s.remove(named(s, f"{P}-alerts-kms-changes", ":EventRule"))
    return named(s, f"{P}-keys", "/key:Key")


def backup_role_managed_policy(s: Stack) -> Rec:
    role = named(s, f"{P}-backups-role", "/role:Role")
    return add(s, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{P}-backups-role-managed", role,
               role=role.outputs["name"],
               policyArn="arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup")


def trust_without_source_account(s: Stack) -> Rec:
    role = named(s, f"{P}-backups-role", "/role:Role")

    def change(statements: list[dict]) -> None:
        del statements[0]["Condition"]
    edit_policy(s, role, change, field="assumeRolePolicy")
    return role


def attacker_trusted_by_the_whole_account(s: Stack) -> Rec:
    role = named(s, f"{P}-drills-attacker-bypass", "/role:Role")

    def change(statements: list[dict]) -> None:
        del statements[0]["Condition"]["ArnEquals"]          # any principal of the account may assume it
    edit_policy(s, role, change, field="assumeRolePolicy")
    return role


def attacker_with_twelve_hour_sessions(s: Stack) -> Rec:
    role = named(s, f"{P}-drills-attacker", "/role:Role")
    s.set(role, "maxSessionDuration", 43200)
    return role


def secret_without_policy(s: Stack) -> Rec:
    s.remove(named(s, f"{P}-ingest-hash-key-policy", ":SecretPolicy"))
    return named(s, f"{P}-ingest-hash-key", ":Secret")


def secret_value_in_state(s: Stack) -> Rec:
    secret = named(s, f"{P}-ingest-hash-key", ":Secret")
    add(s, "aws:secretsmanager/secretVersion:SecretVersion", f"{P}-ingest-hash-key-version", secret,
        secretId=secret.outputs["arn"], secretString="not-a-secret-anymore")
    return secret


def trail_bucket_unlocked(s: Stack) -> Rec:
    logs = bucket(s, f"{P}-monitoring-trail-logs")
    s.set(logs, "objectLockEnabled", False)
    for lock in s.settings(logs, ":BucketObjectLockConfiguration"):
        s.remove(lock)
    return logs


def landing_not_in_data_events(s: Stack) -> Rec:
    trail = named(s, f"{P}-monitoring-trail", ":Trail")
    landing = bucket(s, f"{P}-ingest-landing").outputs["arn"]
    for selector in trail.inputs["advancedEventSelectors"]:
        for field in selector["fieldSelectors"]:
            if field["field"] == "resources.ARN":
                field["startsWiths"] = [p for p in field["startsWiths"] if p != f"{landing}/"]
    trail.outputs["advancedEventSelectors"] = trail.inputs["advancedEventSelectors"]
    return trail


def vault_without_access_policy(s: Stack) -> Rec:
    s.remove(named(s, f"{P}-backups-vault-policy", ":VaultPolicy"))
    return named(s, f"{P}-backups-vault", "/vault:Vault")


def bucket_policy_unprotected(s: Stack) -> Rec:
    policy = named(s, f"{P}-archive-policy", ":BucketPolicy")
    policy.protect = False
    return policy


def queue_policy_open(s: Stack) -> Rec:
    policy = named(s, f"{P}-ingest-queue-policy", ":QueuePolicy")
    edit_policy(s, policy, lambda st: st.append({"Sid": "Anyone", "Effect": "Allow", "Principal": "*",
                                                 "Action": "sqs:*", "Resource": "*"}))
    return policy


WEAKENINGS = [
    Breakage("ingest-role-action-star", frozenset({"iam-policy-content"}), ingest_action_star, mentions="'*'"),
    Breakage("ingest-key-without-via-service", frozenset({"iam-policy-content"}), ingest_key_without_via_service,
             mentions="kms:ViaService"),
    Breakage("key-policy-principal-star", frozenset({"kms-key-policy-guards"}), key_principal_star,
             mentions="Principal '*'"),
    Breakage("key-policy-without-deletion-guard", frozenset({"kms-key-policy-guards"}), key_without_destruction_guard,
             mentions="ScheduleKeyDeletion"),
    Breakage("key-policy-root-kms-star", frozenset({"kms-key-policy-guards"}), key_root_kms_star, mentions="kms:*"),
    Breakage("key-deletion-window-7-days", frozenset({"kms-key-deletion-window"}), key_deletion_window_7,
             mentions="7"),
    Breakage("archive-anyone-get-and-delete-versions", frozenset({"s3-phi-bucket-policy"}),
             archive_public_read_delete, mentions="s3:DeleteObjectVersion"),
    Breakage("archive-reads-not-an-allow-list", frozenset({"s3-phi-bucket-policy"}), archive_reads_unrestricted,
             mentions="allow-list"),
    Breakage("archive-configuration-open", frozenset({"s3-phi-bucket-policy"}), archive_configuration_open,
             mentions="s3:PutBucketPolicy"),
    Breakage("replica-writable-by-ingest", frozenset({"s3-phi-bucket-policy"}), replica_writable_by_ingest,
             mentions="only the replication role"),
    Breakage("deletion-protection-off", frozenset({"dynamodb-deletion-protection"}), deletion_protection_off),
    Breakage("dicom-dropped-from-replication", frozenset({"s3-archive-replicates-studies"}),
             dicom_dropped_from_replication, mentions="dicom/"),
    Breakage("every-alarm-removed", frozenset({"replication-alarms"}), every_alarm_removed,
             mentions="ReplicationLatency"),
    Breakage("alarm-ignores-missing-data", frozenset({"replication-alarms"}), latency_missing_data_not_breaching,
             mentions="notBreaching"),
    Breakage("latency-alarm-in-source-region", frozenset({"replication-alarms"}),
             latency_alarm_in_the_source_region, mentions="destination bucket's region"),
    Breakage("vault-lock-minimum-1-day", frozenset({"backup-vault-retention-floor"}), vault_lock_minimum_one_day,
             mentions="minRetentionDays is 1"),
    Breakage("lambda-plaintext-secret", frozenset({"lambda-hardening"}), lambda_plaintext_secret,
             mentions="DRKIT_HMAC_SECRET"),
    Breakage("lambda-unbounded-concurrency", frozenset({"lambda-hardening"}), lambda_without_reserved_concurrency,
             mentions="reservedConcurrentExecutions"),
    Breakage("alerts-without-subscribers", frozenset({"alerts-reach-people"}), no_subscriptions),
    Breakage("no-alert-on-key-deletion", frozenset({"control-plane-alerts"}), no_key_deletion_alert,
             mentions="ScheduleKeyDeletion"),
    Breakage("backup-role-with-managed-policy", frozenset({"iam-no-aws-managed-policies"}),
             backup_role_managed_policy, mentions="AWSBackupServiceRolePolicyForBackup"),
    Breakage("trust-without-source-account", frozenset({"iam-trust-confused-deputy"}), trust_without_source_account,
             mentions="backup.amazonaws.com"),
    Breakage("attacker-trusted-by-the-whole-account", frozenset({"iam-destructive-role-trust"}),
             attacker_trusted_by_the_whole_account, mentions="s3:BypassGovernanceRetention"),
    Breakage("attacker-with-12-hour-sessions", frozenset({"iam-destructive-role-trust"}),
             attacker_with_twelve_hour_sessions, mentions="maxSessionDuration is 43200"),
    Breakage("secret-without-resource-policy", frozenset({"secrets-resource-policy"}), secret_without_policy),
    Breakage("secret-value-in-state", frozenset({"secrets-resource-policy"}), secret_value_in_state,
             mentions="Pulumi state"),
    Breakage("trail-bucket-without-object-lock", frozenset({"s3-bucket-object-lock"}), trail_bucket_unlocked),
    Breakage("landing-missing-from-data-events", frozenset({"cloudtrail-phi-data-events"}),
             landing_not_in_data_events, mentions=f"'{P}-ingest-landing'"),
    Breakage("vault-without-access-policy", frozenset({"backup-vault-access-policy"}), vault_without_access_policy,
             mentions="DeleteRecoveryPoint"),
    Breakage("bucket-policy-not-protected", frozenset({"controls-protected"}), bucket_policy_unprotected),
    Breakage("queue-policy-open-to-anyone", frozenset({"resource-policy-content"}), queue_policy_open,
             mentions="sqs:*"),
]


@pytest.mark.parametrize("weakening", WEAKENINGS, ids=str)
def test_weakened_prod_stack_is_caught(prod: Stack, weakening: Breakage) -> None:
    assert_breakage(prod, weakening, POLICIES)


def test_real_prod_and_dev_stacks_pass_the_content_rules() -> None:
    for stack in ("prod", "dev"):
        assert fired(stack_from("program", stack), guard_rules.POLICIES) == {}, stack


def test_every_content_rule_is_exercised_by_a_weakening() -> None:
    covered = {name for w in WEAKENINGS for name in w.policies}
    assert covered >= {p.name for p in guard_rules.POLICIES}


def test_issue_weakenings_are_all_here() -> None:
    """The review's 17 weakenings, by the id each has here."""
    issue = {"ingest-role-action-star", "key-policy-principal-star", "archive-anyone-get-and-delete-versions",
             "deletion-protection-off", "dicom-dropped-from-replication", "every-alarm-removed",
             "vault-lock-minimum-1-day", "key-deletion-window-7-days", "lambda-plaintext-secret",
             "alerts-without-subscribers", "alarm-ignores-missing-data", "key-policy-without-deletion-guard",
             "replica-writable-by-ingest", "backup-role-with-managed-policy", "secret-without-resource-policy",
             "trail-bucket-without-object-lock", "landing-missing-from-data-events"}
    assert len(issue) == 17 and issue <= {w.id for w in WEAKENINGS}


def test_production_only_rules_stay_quiet_on_dev() -> None:
    dev = stack_from("program", "dev")
    key_deletion_window_7_dev = named(dev, "drkit-dev-keys", "/key:Key")
    dev.set(key_deletion_window_7_dev, "deletionWindowInDays", 7)
    dev.set(named(dev, "drkit-dev-index", ":Table"), "deletionProtectionEnabled", False)
    assert fired(dev, guard_rules.POLICIES) == {}


def test_preview_with_unknown_documents_reports_nothing(prod: Stack) -> None:
    """In a preview bucket ARNs (and the policies interpolating them) are unknown: skipped, not failed."""
    assert fired(prod.as_preview(), guard_rules.POLICIES) == {}
