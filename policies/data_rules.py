"""Content rules for where PHI lives: bucket, queue, topic, secret and vault policy documents,
Lambda environment and limits, table deletion protection, replication and data-event coverage."""

from __future__ import annotations

import zipfile

from collections.abc import Mapping
from typing import Any, Iterable

if __package__:
    from . import documents as docs
    from .content import (BUCKET_POLICY, BUCKET_TYPES, CONFIG_ACTIONS, DATA_EVENT_ROLES, FUNCTION, Finding,
                          PHI_ROLES, QUEUE_POLICY, R, REPLICATION, ROLE, SECRET,
                          SECRET_NAME, SECRET_POLICY, SECRET_VERSION, StackView, TABLE,
                          TOPIC_POLICY, TRAIL, UNKNOWN, VAULT_POLICY, allow_list, attached_or_unknown, policy_doc,
                          elements, is_set, prop, rule)
else:  # run by the Pulumi language host as `python policies/`
    import documents as docs
    from content import (BUCKET_POLICY, BUCKET_TYPES, CONFIG_ACTIONS, DATA_EVENT_ROLES, FUNCTION, Finding,
                         PHI_ROLES, QUEUE_POLICY, R, REPLICATION, ROLE, SECRET, SECRET_NAME,
                         SECRET_POLICY, SECRET_VERSION, StackView, TABLE, TOPIC_POLICY,
                         TRAIL, UNKNOWN, VAULT_POLICY, allow_list, attached_or_unknown, policy_doc, elements, is_set,
                         prop, rule)


def _bucket_doc(view: StackView, bucket: Any) -> Any:
    found = attached_or_unknown(view, bucket, BUCKET_POLICY, "bucket", BUCKET_TYPES)
    if found is UNKNOWN:
        return UNKNOWN
    if not found:
        return None
    return policy_doc(found[0])


def _replication_roles(view: StackView) -> set[str]:
    """The roles S3 replication runs as in this stack (the only writers a replica needs): those
    replication configurations name, and roles only S3 may assume."""
    roles = {role for config in view.of_type(REPLICATION) if isinstance(role := prop(config.props, "role"), str)}
    for role in view.of_type(ROLE):
        doc = policy_doc(role, "assumeRolePolicy")
        trusted = [p for st in docs.allows(doc) for p in docs.principals(st)] if doc not in (UNKNOWN, None) else []
        if trusted and set(trusted) == {"s3.amazonaws.com"} and isinstance(prop(role.props, "arn"), str):
            roles.add(prop(role.props, "arn"))
    return roles


def enabled_rules(view: StackView, bucket: Any) -> Any:
    configs = attached_or_unknown(view, bucket, REPLICATION, "bucket", BUCKET_TYPES)
    if configs is UNKNOWN:
        return UNKNOWN
    return [r for c in configs for r in elements(c.props, "rules") if r is UNKNOWN or prop(r, "status") == "Enabled"]


def _prefix(r: Any) -> Any:
    for path in (("filter", "prefix"), ("filter", "and", "prefix"), ("prefix",)):
        value = prop(r, *path)
        if value is not None:
            return value
    return ""


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
        reads, writes = allow_list(doc, "s3:GetObject"), allow_list(doc, "s3:DeleteObjectVersion")
        if reads is None:
            yield bucket, "no Deny of s3:GetObject outside a principal allow-list (aws:PrincipalArn)"
        if writes is None or allow_list(doc, "s3:PutObject") is None:
            yield bucket, "no Deny of object writes and deletes outside a principal allow-list"
        admins = allow_list(doc, "s3:BypassGovernanceRetention")
        if admins is None or allow_list(doc, "s3:PutObjectRetention") is None:
            yield bucket, "no Deny of s3:PutObjectRetention / s3:BypassGovernanceRetention except break-glass"
        if role is R.REPLICA and writes is not None and admins is not None:
            extra = writes - admins - _replication_roles(view)
            if extra:
                yield bucket, (f"lets {', '.join(sorted(extra))} write the replica; only the replication role may "
                               "(failback would carry those writes into the archive past ingest validation)")
        if view.production:
            for action in CONFIG_ACTIONS:
                if allow_list(doc, action) is None:
                    yield bucket, f"no Deny of {action} to everyone but the deploy role (production)"


def check_messaging_policies(view: StackView) -> Iterable[Finding]:
    for policy in view.of_type(QUEUE_POLICY | TOPIC_POLICY | SECRET_POLICY | VAULT_POLICY):
        doc = policy_doc(policy)
        if doc in (UNKNOWN, None):
            continue
        for st in docs.allows(doc):
            sid = st.get("Sid", "(no Sid)")
            if docs.is_public(st) and not docs.is_pinned(st):
                yield policy, f"statement {sid!r} allows Principal '*' without a source or principal condition"
            if docs.wildcard_actions(st):
                yield policy, f"statement {sid!r} allows {', '.join(docs.wildcard_actions(st))}"


def check_secrets(view: StackView) -> Iterable[Finding]:
    for secret in view.of_type(SECRET):
        policies = attached_or_unknown(view, secret, SECRET_POLICY, "secretArn", SECRET)
        if policies is UNKNOWN:
            continue
        documents = [policy_doc(p) for p in policies] + ([policy_doc(secret)] if is_set(prop(secret.props, "policy")) else [])
        if any(d is UNKNOWN for d in documents):
            continue
        if not any(allow_list(d, "secretsmanager:GetSecretValue") is not None for d in documents if d):
            yield secret, "no resource policy denies GetSecretValue outside an allow-list of roles"
        versions = attached_or_unknown(view, secret, SECRET_VERSION, "secretId", SECRET)
        if view.production and versions not in (UNKNOWN, []) and any(
                is_set(prop(v.props, "secretString")) or is_set(prop(v.props, "secretBinary")) for v in versions):
            yield secret, ("its value is set by a SecretVersion, so it lives in Pulumi state (generate it in "
                           "Secrets Manager instead)")


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
            ships = _ships_pydicom(prop(function.props, "code"))
            if ships is False:
                yield function, "the ingest package ships no pydicom and no layer provides it (production)"
            elif ships is None:
                yield function, ("the ingest package cannot be inspected for pydicom and no layer provides it "
                                 "(production): ship drills.ingest.package's zip")


def check_deletion_protection(view: StackView) -> Iterable[Finding]:
    for table in view.of_type(TABLE):
        if prop(table.props, "deletionProtectionEnabled") not in (True, UNKNOWN):
            yield table, "deletionProtectionEnabled is not true (production)"
        for replica in elements(table.props, "replicas"):
            if replica is not UNKNOWN and prop(replica, "deletionProtectionEnabled") not in (True, UNKNOWN):
                yield table, f"replica in {prop(replica, 'regionName', default='?')} has no deletion protection"


def check_replication_covers_studies(view: StackView) -> Iterable[Finding]:
    for bucket in view.buckets:
        if view.role(bucket) is not R.ARCHIVE:
            continue
        rules = enabled_rules(view, bucket)
        if rules is UNKNOWN or any(r is UNKNOWN or _prefix(r) is UNKNOWN for r in rules):
            continue
        if not any("dicom/".startswith(_prefix(r)) for r in rules):
            yield bucket, "no enabled replication rule covers dicom/ (the studies)"


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


POLICIES = [
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
    rule("cloudtrail-phi-data-events",
         "A trail records object-level data events on every archive, replica, landing, evidence, inventory and "
         "trail bucket (HIPAA 164.312(b)).", check_trail_data_events),
]


def _ships_pydicom(code: object) -> bool | None:
    """Does the function's code archive (a zip file on disk, as drills.ingest.package builds it)
    contain pydicom? None when the archive cannot be read here."""
    path = getattr(code, "path", None)
    if not isinstance(path, str) or not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        return any(name.startswith("pydicom/") for name in archive.namelist())
