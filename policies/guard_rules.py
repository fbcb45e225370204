"""Policies that read content: IAM, key, bucket, queue, topic, secret and vault policy documents
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
                            BucketRole,
                            StackView, count, elements, is_set, label, prop, region_of)
else:  # run by the Pulumi language host as `python policies/`
    import documents as docs
    from stackview import (BUCKET_POLICY, BUCKET_TYPES, PRODUCTION_CONFIG, PUBLIC_ACCESS_BLOCK, REPLICATION, UNKNOWN,
                           BucketRole,
                           StackView, count, elements, is_set, label, prop, region_of)

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


def _doc(resource: Any, field: str = "policy") -> Any:
    try:
        return docs.document(prop(resource.props, field))
    except docs.Malformed:
        return UNKNOWN          # a malformed document is refused by AWS itself; nothing to judge here


def _attached(view: StackView, target: Any, types: frozenset[str], field: str, target_types: frozenset[str]) -> Any:
    found = view.attached(target, types, field=field, target_types=target_types)
    if not found and view.unresolved(types, field, target_types):
        return UNKNOWN
    return found


# ---------------------------------------------------------------- IAM identity policies
def check_identity_policies(view: StackView) -> Iterable[Finding]:
    for policy in view.of_type(IDENTITY_POLICIES):
        doc = _doc(policy)
        if doc in (UNKNOWN, None):
            continue
        for st in docs.allows(doc):
            wild = docs.wildcard_actions(st)
            if wild:
                yield policy, (f"statement {st.get('Sid', '(no Sid)')!r} allows {', '.join(repr(w) for w in wild)} "
                               "(name the actions)")
            uses = [a for a in KEY_USE if docs.covers(st, a)]
            if uses and not docs.conditioned_on(st, "kms:ViaService"):
                yield policy, (f"statement {st.get('Sid', '(no Sid)')!r} allows {', '.join(uses)} without a "
                               "kms:ViaService condition (a stolen session could decrypt any ciphertext directly)")


def check_managed_attachments(view: StackView) -> Iterable[Finding]:
    for attachment in view.of_type(ATTACHMENTS):
        arn = prop(attachment.props, "policyArn")
        if isinstance(arn, str) and re.match(r"arn:aws[a-z-]*:iam::aws:policy/", arn):
            yield attachment, (f"attaches the AWS managed policy {arn.rsplit('/', 1)[-1]}, whose grants this "
                               "stack cannot scope (write a custom policy naming this stack's resources)")


def check_trust(view: StackView) -> Iterable[Finding]:
    for role in view.of_type(ROLE):
        doc = _doc(role, "assumeRolePolicy")
        if doc in (UNKNOWN, None):
            continue
        for st in docs.allows(doc):
            if docs.is_public(st):
                yield role, "trust policy lets any principal assume the role"
            services = docs.service_principals(st) - TRUST_WITHOUT_SOURCE
            if services and not docs.conditioned_on(st, "aws:SourceAccount", "aws:SourceArn"):
                yield role, (f"trust policy lets {', '.join(sorted(services))} assume the role without "
                             "aws:SourceAccount or aws:SourceArn (confused deputy)")


# ---------------------------------------------------------------- KMS key policies
def _key_policy(view: StackView, key: Any) -> Any:
    attached = _attached(view, key, KEY_POLICY, "keyId", KEY | REPLICA_KEY)
    if attached is UNKNOWN:
        return UNKNOWN
    if attached:
        return _doc(attached[-1])
    return _doc(key)


def check_key_policies(view: StackView) -> Iterable[Finding]:
    for key in view.of_type(KEY | REPLICA_KEY):
        doc = _key_policy(view, key)
        if doc is UNKNOWN:
            continue
        if doc is None:
            yield key, "has the default key policy (kms:* for the account; nothing guards deletion or disabling)"
            continue
        for st in docs.allows(doc):
            sid = st.get("Sid", "(no Sid)")
            if docs.is_public(st):
                yield key, f"statement {sid!r} allows Principal '*'"
            mfa = docs.conditioned_on(st, "aws:MultiFactorAuthPresent")
            if docs.wildcard_actions(st) and not mfa:
                yield key, f"statement {sid!r} allows {', '.join(docs.wildcard_actions(st))} without MFA"
            uses = [a for a in KEY_USE if docs.covers(st, a)]
            if uses and docs.aws_principals(st) and not mfa and not docs.conditioned_on(st, "kms:ViaService"):
                yield key, f"statement {sid!r} allows {', '.join(uses)} to roles without kms:ViaService"
        for action in KEY_GUARDED:
            if not any(docs.principal_exceptions(s) is not None for s in docs.denies(doc, action)):
                yield key, f"no Deny of {action} to everyone but a named break-glass role"
        if not any(docs.principal_exceptions(s) is not None for s in docs.denies(doc, "kms:CreateGrant")):
            yield key, "no Deny of kms:CreateGrant (outside grants for AWS resources) to everyone but break-glass"
        if view.production and not any(docs.principal_exceptions(s) is not None
                                       for s in docs.denies(doc, "kms:PutKeyPolicy")):
            yield key, "no Deny of kms:PutKeyPolicy to everyone but the deploy and break-glass roles (production)"


def check_key_deletion_window(view: StackView) -> Iterable[Finding]:
    for key in view.of_type(KEY | REPLICA_KEY):
        days = count(prop(key.props, "deletionWindowInDays"))
        if isinstance(days, int) and days < MIN_KEY_DELETION_DAYS:
            yield key, (f"deletionWindowInDays is {days}; production keeps the longest window KMS allows "
                        f"({MIN_KEY_DELETION_DAYS} days) to notice and cancel a scheduled deletion")


# ---------------------------------------------------------------- S3 bucket policies with PHI
def _bucket_doc(view: StackView, bucket: Any) -> Any:
    found = _attached(view, bucket, BUCKET_POLICY, "bucket", BUCKET_TYPES)
    if found is UNKNOWN:
        return UNKNOWN
    if not found:
        return None
    return _doc(found[0])


def _allow_list(doc: Any, action: str) -> Optional[set[str]]:
    """Principals exempt from the Deny of ``action`` to everyone (None: no such Deny)."""
    lists = [docs.principal_exceptions(s) for s in docs.denies(doc, action)]
    lists = [entry for entry in lists if entry is not None]
    return set.intersection(*lists) if lists else None


def _replication_roles(view: StackView) -> set[str]:
    """The roles S3 replication runs as in this stack (the only writers a replica needs): those
    replication configurations name, and roles only S3 may assume."""
    roles = {role for config in view.of_type(REPLICATION) if isinstance(role := prop(config.props, "role"), str)}
    for role in view.of_type(ROLE):
        doc = _doc(role, "assumeRolePolicy")
        trusted = [p for st in docs.allows(doc) for p in docs.principals(st)] if doc not in (UNKNOWN, None) else []
        if trusted and set(trusted) == {"s3.amazonaws.com"} and isinstance(prop(role.props, "arn"), str):
            roles.add(prop(role.props, "arn"))
    return roles


def check_phi_bucket_policies(view: StackView) -> Iterable[Finding]:
    for bucket in view.buckets:
        role = view.role(bucket)
        if role not in PHI_ROLES:
            continue
        doc = _bucket_doc(view, bucket)
        if doc is UNKNOWN:
            continue
        if doc is None:
            yield bucket, "has no bucket policy: object access is whatever IAM allows"
            continue
        for st in docs.allows(doc):
            sid = st.get("Sid", "(no Sid)")
            if docs.is_public(st) and not docs.is_pinned(st):
                yield bucket, (f"statement {sid!r} allows {', '.join(docs.actions(st)) or 'actions'} to "
                               "Principal '*' without a condition naming the caller or source")
            if docs.wildcard_actions(st):
                yield bucket, f"statement {sid!r} allows {', '.join(docs.wildcard_actions(st))}"
        reads, writes = _allow_list(doc, "s3:GetObject"), _allow_list(doc, "s3:DeleteObjectVersion")
        if reads is None:
            yield bucket, "no Deny of s3:GetObject outside a principal allow-list (aws:PrincipalArn)"
        if writes is None or _allow_list(doc, "s3:PutObject") is None:
            yield bucket, "no Deny of object writes and deletes outside a principal allow-list"
        admins = _allow_list(doc, "s3:BypassGovernanceRetention")
        if admins is None or _allow_list(doc, "s3:PutObjectRetention") is None:
            yield bucket, "no Deny of s3:PutObjectRetention / s3:BypassGovernanceRetention except break-glass"
        if role is R.REPLICA and writes is not None and admins is not None:
            extra = writes - admins - _replication_roles(view)
            if extra:
                yield bucket, (f"lets {', '.join(sorted(extra))} write the replica; only the replication role may "
                               "(failback would carry those writes into the archive past ingest validation)")
        if view.production:
            for action in CONFIG_ACTIONS:
                if _allow_list(doc, action) is None:
                    yield bucket, f"no Deny of {action} to everyone but the deploy role (production)"


def check_messaging_policies(view: StackView) -> Iterable[Finding]:
    for policy in view.of_type(QUEUE_POLICY | TOPIC_POLICY | SECRET_POLICY | VAULT_POLICY):
        doc = _doc(policy)
        if doc in (UNKNOWN, None):
            continue
        for st in docs.allows(doc):
            sid = st.get("Sid", "(no Sid)")
            if docs.is_public(st) and not docs.is_pinned(st):
                yield policy, f"statement {sid!r} allows Principal '*' without a source or principal condition"
            if docs.wildcard_actions(st):
                yield policy, f"statement {sid!r} allows {', '.join(docs.wildcard_actions(st))}"


# ---------------------------------------------------------------- secrets
def check_secrets(view: StackView) -> Iterable[Finding]:
    for secret in view.of_type(SECRET):
        policies = _attached(view, secret, SECRET_POLICY, "secretArn", SECRET)
        if policies is UNKNOWN:
            continue
        documents = [_doc(p) for p in policies] + ([_doc(secret)] if is_set(prop(secret.props, "policy")) else [])
        if any(d is UNKNOWN for d in documents):
            continue
        if not any(_allow_list(d, "secretsmanager:GetSecretValue") is not None for d in documents if d):
            yield secret, "no resource policy denies GetSecretValue outside an allow-list of roles"
        versions = _attached(view, secret, SECRET_VERSION, "secretId", SECRET)
        if view.production and versions not in (UNKNOWN, []) and any(
                is_set(prop(v.props, "secretString")) or is_set(prop(v.props, "secretBinary")) for v in versions):
            yield secret, ("its value is set by a SecretVersion, so it lives in Pulumi state (generate it in "
                           "Secrets Manager instead)")


# ---------------------------------------------------------------- Lambda
def check_functions(view: StackView) -> Iterable[Finding]:
    for function in view.of_type(FUNCTION):
        variables = prop(function.props, "environment", "variables")
        if isinstance(variables, Mapping):
            for name in variables:
                value = prop(variables, name)
                if SECRET_NAME.search(str(name)) and isinstance(value, str) and value and \
                        not value.startswith(("arn:", "alias/")):
                    yield function, (f"environment variable {name} holds a plaintext secret; pass a Secrets "
                                     "Manager ARN and read it at run time")
        if prop(function.props, "reservedConcurrentExecutions") in (None, -1):
            yield function, "has no reservedConcurrentExecutions (a flood of untrusted input scales it unbounded)"
        if not is_set(prop(function.props, "kmsKeyArn")):
            yield function, "environment is encrypted with the AWS managed key (set kmsKeyArn)"
        handler = prop(function.props, "handler")
        if view.production and isinstance(handler, str) and handler.startswith("drills.ingest") and \
                not elements(function.props, "layers"):
            yield function, "the ingest package ships no pydicom and no layer provides it (production)"


# ---------------------------------------------------------------- DynamoDB, replication, alarms, alerts
def check_deletion_protection(view: StackView) -> Iterable[Finding]:
    for table in view.of_type(TABLE):
        if prop(table.props, "deletionProtectionEnabled") not in (True, UNKNOWN):
            yield table, "deletionProtectionEnabled is not true (production)"
        for replica in elements(table.props, "replicas"):
            if replica is not UNKNOWN and prop(replica, "deletionProtectionEnabled") not in (True, UNKNOWN):
                yield table, f"replica in {prop(replica, 'regionName', default='?')} has no deletion protection"


def _enabled_rules(view: StackView, bucket: Any) -> Any:
    configs = _attached(view, bucket, REPLICATION, "bucket", BUCKET_TYPES)
    if configs is UNKNOWN:
        return UNKNOWN
    return [r for c in configs for r in elements(c.props, "rules") if r is UNKNOWN or prop(r, "status") == "Enabled"]


def _prefix(r: Any) -> Any:
    for path in (("filter", "prefix"), ("filter", "and", "prefix"), ("prefix",)):
        value = prop(r, *path)
        if value is not None:
            return value
    return ""


def check_replication_covers_studies(view: StackView) -> Iterable[Finding]:
    for bucket in view.buckets:
        if view.role(bucket) is not R.ARCHIVE:
            continue
        rules = _enabled_rules(view, bucket)
        if rules is UNKNOWN or any(r is UNKNOWN or _prefix(r) is UNKNOWN for r in rules):
            continue
        if not any("dicom/".startswith(_prefix(r)) for r in rules):
            yield bucket, "no enabled replication rule covers dicom/ (the studies)"


def check_replication_alarms(view: StackView) -> Iterable[Finding]:
    alarms = view.of_type(ALARM)
    for bucket in view.buckets:
        if view.role(bucket) is not R.ARCHIVE:
            continue
        rules = _enabled_rules(view, bucket)
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


# ---------------------------------------------------------------- backups, trail, protection
def check_vault_policies(view: StackView) -> Iterable[Finding]:
    for vault in view.of_type(VAULT):
        policies = _attached(view, vault, VAULT_POLICY, "backupVaultName", VAULT)
        if policies is UNKNOWN:
            continue
        documents = [_doc(p) for p in policies]
        if any(d is UNKNOWN for d in documents):
            continue
        for action in VAULT_GUARDED:
            if not any(_allow_list(d, action) is not None for d in documents if d):
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


def _trail_covers(trail: Any, arn: str) -> Any:
    for selector in elements(trail.props, "advancedEventSelectors"):
        fields = {prop(f, "field"): f for f in elements(selector, "fieldSelectors") if f is not UNKNOWN}
        if "AWS::S3::Object" not in elements(fields.get("resources.type"), "equals"):
            continue
        prefixes = elements(fields.get("resources.ARN"), "startsWiths") if "resources.ARN" in fields else None
        if prefixes is None:
            return True
        if UNKNOWN in prefixes:
            return UNKNOWN
        if any(isinstance(p, str) and f"{arn}/".startswith(p) for p in prefixes):
            return True
    for selector in elements(trail.props, "eventSelectors"):
        for resource in elements(selector, "dataResources"):
            values = elements(resource, "values")
            if prop(resource, "type") == "AWS::S3::Object" and any(
                    isinstance(v, str) and (f"{arn}/".startswith(v) or v in ("arn:aws:s3", "arn:aws:s3:::"))
                    for v in values):
                return True
    return False


def check_trail_data_events(view: StackView) -> Iterable[Finding]:
    """Reported against the trail (its selectors are what to fix), or the bucket when there is no trail."""
    trails = view.of_type(TRAIL)
    missed = []
    for bucket in view.buckets:
        if view.role(bucket) not in DATA_EVENT_ROLES:
            continue
        arn = prop(bucket.props, "arn")
        if not isinstance(arn, str):
            continue
        covered = [_trail_covers(t, arn) for t in trails]
        if UNKNOWN not in covered and not any(covered):
            missed.append(bucket)
    if not trails:
        yield from ((b, "no CloudTrail trail records its object-level data events (HIPAA 164.312(b))") for b in missed)
    elif missed:
        yield trails[0], ("records no object-level data events for bucket(s) "
                          f"{', '.join(repr(b.name) for b in missed)} (HIPAA 164.312(b))")


PROTECTED_CONTROLS = BUCKET_POLICY | PUBLIC_ACCESS_BLOCK | REPLICATION | TRAIL | PLAN | KEY_POLICY | VAULT_POLICY


def check_controls_protected(view: StackView) -> Iterable[Finding]:
    for resource in view.of_type(PROTECTED_CONTROLS):
        if not getattr(getattr(resource, "opts", None), "protect", False):
            yield resource, "is not protected (production: a `pulumi destroy` or refactor must not remove a control)"


POLICIES = [
    rule("iam-policy-content",
         "IAM policies name their actions (no '*' or 'service:*', no NotAction) and use KMS keys only through "
         "kms:ViaService (CIS AWS 1.16; AWS KMS best practices).", check_identity_policies),
    rule("iam-no-aws-managed-policies",
         "Roles carry custom policies scoped to this stack, not AWS managed policies (CKV_AWS_274 spirit; AWS "
         "Backup's managed roles grant iam:PassRole on every role).", check_managed_attachments),
    rule("iam-trust-confused-deputy",
         "Service-role trust policies carry aws:SourceAccount or aws:SourceArn; none trusts Principal '*' "
         "(AWS IAM confused-deputy guidance; HIPAA 164.312(a)(1)).", check_trust),
    rule("kms-key-policy-guards",
         "Every KMS key has a policy without Principal '*' or unconditioned kms:*, key use only via services, and "
         "explicit Denies of ScheduleKeyDeletion, DisableKey, CreateGrant (and PutKeyPolicy in production) to all "
         "but break-glass (HIPAA 164.312(a)(2)(iv); AWS KMS key policy best practices).", check_key_policies),
    rule("kms-key-deletion-window",
         "Production keys keep the 30-day deletion window (CIS AWS 3.7 spirit; AWS KMS ScheduleKeyDeletion).",
         check_key_deletion_window, production_only=True),
    rule("s3-phi-bucket-policy",
         "Archive, replica, landing and evidence bucket policies: no public or wildcard grants, object reads and "
         "writes limited to an allow-list, retention changes to break-glass, replica writes to replication, and "
         "in production configuration changes to the deploy role (HIPAA 164.312(a)(1); CIS AWS 2.1).",
         check_phi_bucket_policies),
    rule("resource-policy-content",
         "Queue, topic, secret and vault policies grant nothing to Principal '*' without a source condition and "
         "no wildcard actions (CKV_AWS_168, CKV_AWS_169 spirit).", check_messaging_policies),
    rule("secrets-resource-policy",
         "Secrets deny GetSecretValue outside an allow-list; production secret values are not set through "
         "Pulumi (state) (HIPAA 164.312(a)(1)).", check_secrets),
    rule("lambda-hardening",
         "Functions keep no plaintext secrets in their environment, have reserved concurrency and a "
         "customer-managed environment key; production ingest has its pydicom layer (CKV_AWS_45, CKV_AWS_115, "
         "CKV_AWS_173).", check_functions),
    rule("dynamodb-deletion-protection",
         "Production tables and their replicas have deletion protection (AWS Backup ransomware guidance; "
         "CKV_AWS_28 companion).", check_deletion_protection, production_only=True),
    rule("s3-archive-replicates-studies",
         "An enabled replication rule of the archive covers dicom/ (CKV_AWS_144: replication of what matters).",
         check_replication_covers_studies),
    rule("replication-alarms",
         "Every enabled replication rule of the archive has a ReplicationLatency alarm that treats missing "
         "data as breaching, and every replication alarm notifies someone (NIST CSF DE.CM-09; S3 RTC monitoring).",
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
    rule("cloudtrail-phi-data-events",
         "A trail records object-level data events on every archive, replica, landing, evidence, inventory and "
         "trail bucket (HIPAA 164.312(b)).", check_trail_data_events),
    rule("controls-protected",
         "Production protects bucket policies, public-access blocks, replication, the trail, backup plans, key "
         "and vault policies from deletion by Pulumi (CIS AWS 3.x, change control).", check_controls_protected,
         production_only=True),
]

