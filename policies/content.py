"""Shared ground of the content rules (iam_rules, data_rules, ops_rules): resource types, thresholds,
the rule factory and document helpers.

The content rules read: IAM, key, bucket, queue, topic, secret and vault policy documents
statement by statement, and the properties that keep a PHI archive recoverable and watched.

Each rule is a stack validation (it joins resources: a key and its KeyPolicy, a bucket and its
policy, a topic and its subscriptions) and reports every problem against the resource that
carries it. A document or value still unknown in a preview is skipped; ``pulumi up`` checks
it again on real values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Optional

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

if __package__:
    from . import documents as docs
    from .stackview import (BUCKET_POLICY, BUCKET_TYPES, PRODUCTION_CONFIG, PUBLIC_ACCESS_BLOCK, REPLICATION, UNKNOWN,
                            BucketRole, StackView, count, elements, is_set, label, prop, region_of)
else:  # run by the Pulumi language host as `python policies/`
    import documents as docs
    from stackview import (BUCKET_POLICY, BUCKET_TYPES, PRODUCTION_CONFIG, PUBLIC_ACCESS_BLOCK, REPLICATION, UNKNOWN,
                           BucketRole, StackView, count, elements, is_set, label, prop, region_of)

Finding = tuple[Any, str]           # (resource to blame, problem)
PRODUCTION_ONLY: list[str] = []
"""Names of the rules that apply to production stacks only (filled by ``rule``)."""
R = BucketRole
KEY = frozenset({"aws:kms/key:Key"})
REPLICA_KEY = frozenset({"aws:kms/replicaKey:ReplicaKey"})
KEY_POLICY = frozenset({"aws:kms/keyPolicy:KeyPolicy"})
ROLE = frozenset({"aws:iam/role:Role"})
IDENTITY_POLICIES = frozenset({"aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy",
                               "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"})
ATTACHMENTS = frozenset({"aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                         "aws:iam/policyAttachment:PolicyAttachment"})
SECRET = frozenset({"aws:secretsmanager/secret:Secret"})
SECRET_POLICY = frozenset({"aws:secretsmanager/secretPolicy:SecretPolicy"})
SECRET_VERSION = frozenset({"aws:secretsmanager/secretVersion:SecretVersion"})
QUEUE_POLICY = frozenset({"aws:sqs/queuePolicy:QueuePolicy"})
TOPIC = frozenset({"aws:sns/topic:Topic"})
TOPIC_POLICY = frozenset({"aws:sns/topicPolicy:TopicPolicy"})
SUBSCRIPTION = frozenset({"aws:sns/topicSubscription:TopicSubscription"})
ALARM = frozenset({"aws:cloudwatch/metricAlarm:MetricAlarm"})
EVENT_RULE = frozenset({"aws:cloudwatch/eventRule:EventRule"})
EVENT_TARGET = frozenset({"aws:cloudwatch/eventTarget:EventTarget"})
FUNCTION = frozenset({"aws:lambda/function:Function"})
TABLE = frozenset({"aws:dynamodb/table:Table"})
VAULT = frozenset({"aws:backup/vault:Vault"})
VAULT_POLICY = frozenset({"aws:backup/vaultPolicy:VaultPolicy"})
PLAN = frozenset({"aws:backup/plan:Plan"})
TRAIL = frozenset({"aws:cloudtrail/trail:Trail"})

PHI_ROLES = frozenset({R.ARCHIVE, R.REPLICA, R.LANDING, R.EVIDENCE})
DATA_EVENT_ROLES = frozenset({R.ARCHIVE, R.REPLICA, R.LANDING, R.EVIDENCE, R.TRAIL, R.INVENTORY})
KEY_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom")
KEY_GUARDED = ("kms:ScheduleKeyDeletion", "kms:DisableKey")
CONFIG_ACTIONS = ("s3:PutBucketPolicy", "s3:PutReplicationConfiguration", "s3:PutLifecycleConfiguration",
                  "s3:PutBucketObjectLockConfiguration")
VAULT_GUARDED = ("backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle",
                 "backup:PutBackupVaultAccessPolicy")
# Service principals whose execution-role trust AWS does not document source conditions for.
TRUST_WITHOUT_SOURCE = frozenset({"lambda.amazonaws.com", "edgelambda.amazonaws.com"})
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|CREDENTIAL|API_?KEY|HMAC)", re.I)
# CloudTrail eventNames that must reach a person, by eventSource prefix, and what they threaten.
WATCHED = {
    "kms": (("ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"), KEY | REPLICA_KEY),
    "s3": (("PutBucketPolicy", "DeleteBucketPolicy", "PutBucketReplication", "DeleteBucketReplication",
            "PutBucketLifecycle"), BUCKET_TYPES),
    "cloudtrail": (("StopLogging", "DeleteTrail", "UpdateTrail"), TRAIL),
    "backup": (("DeleteBackupPlan", "DeleteRecoveryPoint", "DeleteBackupSelection"), PLAN),
}
MIN_KEY_DELETION_DAYS = 30
MIN_VAULT_RETENTION_DAYS = 7


def rule(name: str, description: str, check: Callable[[StackView], Iterable[Finding]],
         production_only: bool = False) -> StackValidationPolicy:
    """A stack policy reporting each (resource, problem) ``check`` yields, naming the resource."""

    if production_only:
        PRODUCTION_ONLY.append(name)

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        view = StackView(args.resources, args.get_config())
        if production_only and not view.production:
            args.not_applicable("required on production stacks only")
        for resource, problem in check(view):
            report_violation(f"{label(resource)}: {problem}", resource.urn)

    # Every rule here is stricter in production somewhere, so each takes ``productionStacks``.
    return StackValidationPolicy(name=name, description=description, validate=validate,
                                 config_schema=PRODUCTION_CONFIG)


def policy_doc(resource: Any, field: str = "policy") -> Any:
    try:
        return docs.document(prop(resource.props, field))
    except docs.Malformed:
        return UNKNOWN          # a malformed document is refused by AWS itself; nothing to judge here


def attached_or_unknown(view: StackView, target: Any, types: frozenset[str], field: str, target_types: frozenset[str]) -> Any:
    found = view.attached(target, types, field=field, target_types=target_types)
    if not found and view.unresolved(types, field, target_types):
        return UNKNOWN
    return found


def allow_list(doc: Any, action: str) -> Optional[set[str]]:
    """Principals exempt from the Deny of ``action`` to everyone (None: no such Deny)."""
    lists = [docs.principal_exceptions(s) for s in docs.denies(doc, action)]
    lists = [entry for entry in lists if entry is not None]
    return set.intersection(*lists) if lists else None


def enabled_rules(view: StackView, bucket: Any) -> Any:
    configs = attached_or_unknown(view, bucket, REPLICATION, "bucket", BUCKET_TYPES)
    if configs is UNKNOWN:
        return UNKNOWN
    return [r for c in configs for r in elements(c.props, "rules") if r is UNKNOWN or prop(r, "status") == "Enabled"]
