"""Content rules for being told and being able to recover: replication alarms, alert
subscriptions, control-plane alerts, vault access policies and retention, protected controls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Iterable, Optional

if __package__:
    from . import documents as docs
    from .content import (ALARM, BUCKET_POLICY, BUCKET_TYPES, EVENT_RULE, EVENT_TARGET, Finding, KEY_POLICY,
                          MIN_VAULT_RETENTION_DAYS, PHI_ROLES, PLAN, PUBLIC_ACCESS_BLOCK,
                          R, REPLICATION, SUBSCRIPTION, StackView, TOPIC, TRAIL, UNKNOWN,
                          VAULT, VAULT_GUARDED, VAULT_POLICY, WATCHED, allow_list, attached_or_unknown, policy_doc,
                          enabled_rules, count, elements, prop, region_of, rule)
else:  # run by the Pulumi language host as `python policies/`
    import documents as docs
    from content import (ALARM, BUCKET_POLICY, BUCKET_TYPES, EVENT_RULE, EVENT_TARGET, Finding, KEY_POLICY,
                         MIN_VAULT_RETENTION_DAYS, PHI_ROLES, PLAN, PUBLIC_ACCESS_BLOCK, R,
                         REPLICATION, SUBSCRIPTION, StackView, TOPIC, TRAIL, UNKNOWN, VAULT,
                         VAULT_GUARDED, VAULT_POLICY, WATCHED, allow_list, attached_or_unknown, policy_doc,
                         enabled_rules, count, elements, prop, region_of, rule)


PROTECTED_CONTROLS = BUCKET_POLICY | PUBLIC_ACCESS_BLOCK | REPLICATION | TRAIL | PLAN | KEY_POLICY | VAULT_POLICY


def check_replication_alarms(view: StackView) -> Iterable[Finding]:
    alarms = view.of_type(ALARM)
    for bucket in view.buckets:
        if view.role(bucket) is not R.ARCHIVE:
            continue
        rules = enabled_rules(view, bucket)
        if rules is UNKNOWN:
            continue
        for r in rules:
            rule_id = prop(r, "id")
            if r is UNKNOWN or rule_id is UNKNOWN:
                continue
            mine = [a for a in alarms if prop(a.props, "namespace") == "AWS/S3"
                    and prop(a.props, "dimensions", "RuleId") == rule_id]
            latency = [a for a in mine if prop(a.props, "metricName") == "ReplicationLatency"]
            if not latency:
                yield bucket, f"no ReplicationLatency alarm watches replication rule {rule_id!r}"
            for a in latency:
                if prop(a.props, "treatMissingData") not in ("breaching", UNKNOWN):
                    yield a, (f"treats missing data as {prop(a.props, 'treatMissingData', default='missing')!r}: "
                              f"deleting rule {rule_id!r} stops the metric and raises nothing")
            for a in mine:
                if not elements(a.props, "alarmActions"):
                    yield a, "has no alarmActions (nobody is told)"
                expected = _metric_region(view, bucket, a)
                if expected and region_of(a) and region_of(a) != expected:
                    yield a, (f"is in {region_of(a)}, but S3 publishes {prop(a.props, 'metricName')} in {expected} "
                              "(latency and pending: the destination bucket's region; failed operations: the "
                              "source's): it never gets data")


def _metric_region(view: StackView, source: object, alarm: object) -> Optional[str]:
    """Where S3 publishes the alarm's replication metric (S3 user guide, "Using S3 Replication
    metrics"); None when that cannot be told (unknown metric, destination or region)."""
    metric = prop(alarm.props, "metricName")
    if metric == "OperationsFailedReplication":
        return region_of(source)
    if metric not in ("ReplicationLatency", "OperationsPendingReplication", "BytesPendingReplication"):
        return None
    name = prop(alarm.props, "dimensions", "DestinationBucket")
    found = [b for b in view.buckets if isinstance(name, str) and name in (prop(b.props, "bucket"), prop(b.props, "id"))]
    return region_of(found[0]) if len(found) == 1 else None


def check_alerts_reach_people(view: StackView) -> Iterable[Finding]:
    subscribed = {prop(s.props, "topic") for s in view.of_type(SUBSCRIPTION)}
    if UNKNOWN in subscribed:
        return
    for topic in view.of_type(TOPIC):
        keys = {prop(topic.props, k) for k in ("arn", "id", "name")}
        if not keys & subscribed:
            yield topic, "has no subscription: its alerts reach nobody (production)"


def check_control_plane_alerts(view: StackView) -> Iterable[Finding]:
    targeted = {prop(t.props, "rule") for t in view.of_type(EVENT_TARGET)}
    watched: dict[tuple[str, Optional[str]], set[str]] = {}
    for event_rule in view.of_type(EVENT_RULE):
        if not ({prop(event_rule.props, "name"), prop(event_rule.props, "id")} & targeted):
            continue
        try:
            pattern = docs.document(prop(event_rule.props, "eventPattern"))
        except docs.Malformed:
            continue
        if not isinstance(pattern, Mapping):
            continue
        names = {str(n) for n in docs.as_list(prop(pattern, "detail", "eventName"))}
        for source in docs.as_list(prop(pattern, "source")):
            watched.setdefault((str(source), region_of(event_rule)), set()).update(names)
    for source, (calls, types) in WATCHED.items():
        for resource in view.of_type(types):
            if types == BUCKET_TYPES and view.role(resource) not in PHI_ROLES:
                continue
            seen = watched.get((f"aws.{source}", region_of(resource)), set())
            missing = [c for c in calls if c not in seen]
            if missing:
                yield resource, (f"no EventBridge rule in {region_of(resource) or 'its region'} alerts on "
                                 f"{', '.join(missing)} (production)")


def check_vault_policies(view: StackView) -> Iterable[Finding]:
    for vault in view.of_type(VAULT):
        policies = attached_or_unknown(view, vault, VAULT_POLICY, "backupVaultName", VAULT)
        if policies is UNKNOWN:
            continue
        documents = [policy_doc(p) for p in policies]
        if any(d is UNKNOWN for d in documents):
            continue
        for action in VAULT_GUARDED:
            if not any(allow_list(d, action) is not None for d in documents if d):
                yield vault, f"no vault access policy denies {action} to everyone but named roles"


def check_vault_retention_floor(view: StackView) -> Iterable[Finding]:
    for vault in view.of_type(VAULT):
        locks = view.attached(vault, frozenset({"aws:backup/vaultLockConfiguration:VaultLockConfiguration"}),
                              field="backupVaultName", target_types=VAULT)
        for lock in locks:
            low = count(prop(lock.props, "minRetentionDays"))
            if isinstance(low, int) and low < MIN_VAULT_RETENTION_DAYS:
                yield vault, (f"vault lock minRetentionDays is {low}; production keeps recovery points at least "
                              f"{MIN_VAULT_RETENTION_DAYS} days")


def check_controls_protected(view: StackView) -> Iterable[Finding]:
    for resource in view.of_type(PROTECTED_CONTROLS):
        if not getattr(getattr(resource, "opts", None), "protect", False):
            yield resource, "is not protected (production: a `pulumi destroy` or refactor must not remove a control)"


POLICIES = [
    rule("replication-alarms",
         "Every enabled replication rule of the archive has a ReplicationLatency alarm that treats missing "
         "data as breaching, and every replication alarm notifies someone and is in the region S3 publishes its "
         "metric in (NIST CSF DE.CM-09; S3 RTC monitoring).",
         check_replication_alarms),
    rule("alerts-reach-people",
         "Production alert topics have at least one subscription (NIST CSF DE.AE-06).", check_alerts_reach_people,
         production_only=True),
    rule("control-plane-alerts",
         "Production stacks alert through EventBridge, in each resource's region, on calls that destroy or "
         "weaken keys, bucket policies and replication, the trail and backup plans (CIS AWS 4.x).",
         check_control_plane_alerts, production_only=True),
    rule("backup-vault-access-policy",
         "Backup vaults have access policies denying DeleteRecoveryPoint, UpdateRecoveryPointLifecycle and "
         "PutBackupVaultAccessPolicy to all but named roles (HIPAA 164.308(a)(7); AWS Backup ransomware guidance).",
         check_vault_policies),
    rule("backup-vault-retention-floor",
         "Production vault locks keep recovery points at least 7 days (Backup Audit Manager "
         "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK).", check_vault_retention_floor, production_only=True),
    rule("controls-protected",
         "Production protects bucket policies, public-access blocks, replication, the trail, backup plans, key "
         "and vault policies from deletion by Pulumi (CIS AWS 3.x, change control).", check_controls_protected,
         production_only=True),
]
