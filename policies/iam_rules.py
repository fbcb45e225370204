"""Content rules for identities and keys: IAM identity and trust policies, managed-policy
attachments, KMS key policies and deletion windows."""

from __future__ import annotations

import re
from typing import Any, Iterable

if __package__:
    from . import documents as docs
    from .content import (ATTACHMENTS, Finding, IDENTITY_POLICIES, KEY, KEY_GUARDED, KEY_POLICY, KEY_USE,
                          MIN_KEY_DELETION_DAYS, REPLICA_KEY, ROLE, StackView,
                          TRUST_WITHOUT_SOURCE, UNKNOWN, attached_or_unknown, policy_doc, count, prop, rule)
else:  # run by the Pulumi language host as `python policies/`
    import documents as docs
    from content import (ATTACHMENTS, Finding, IDENTITY_POLICIES, KEY, KEY_GUARDED, KEY_POLICY, KEY_USE,
                         MIN_KEY_DELETION_DAYS, REPLICA_KEY, ROLE, StackView,
                         TRUST_WITHOUT_SOURCE, UNKNOWN, attached_or_unknown, policy_doc, count, prop, rule)


def _key_policy(view: StackView, key: Any) -> Any:
    attached = attached_or_unknown(view, key, KEY_POLICY, "keyId", KEY | REPLICA_KEY)
    if attached is UNKNOWN:
        return UNKNOWN
    if attached:
        return policy_doc(attached[-1])
    return policy_doc(key)


def check_identity_policies(view: StackView) -> Iterable[Finding]:
    for policy in view.of_type(IDENTITY_POLICIES):
        doc = policy_doc(policy)
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
        doc = policy_doc(role, "assumeRolePolicy")
        if doc in (UNKNOWN, None):
            continue
        for st in docs.allows(doc):
            if docs.is_public(st):
                yield role, "trust policy lets any principal assume the role"
            services = docs.service_principals(st) - TRUST_WITHOUT_SOURCE
            if services and not docs.conditioned_on(st, "aws:SourceAccount", "aws:SourceArn"):
                yield role, (f"trust policy lets {', '.join(sorted(services))} assume the role without "
                             "aws:SourceAccount or aws:SourceArn (confused deputy)")


# Rights that destroy or unlock data a ransomware drill's attacker — or a real one — would use.
DESTRUCTIVE_RIGHTS = ("s3:BypassGovernanceRetention", "s3:DeleteObjectVersion", "s3:PutObjectRetention",
                      "s3:PutBucketPolicy", "s3:PutBucketObjectLockConfiguration", "backup:DeleteRecoveryPoint",
                      "backup:DeleteBackupVault", "dynamodb:DeleteTable")
MAX_DESTRUCTIVE_SESSION_SECONDS = 3600
_PINNED_CALLER = ("aws:principalarn", "aws:multifactorauthpresent", "aws:userid")
ROLE_POLICY = frozenset({"aws:iam/rolePolicy:RolePolicy"})


def check_destructive_role_trust(view: StackView) -> Iterable[Finding]:
    """A role that people (not services) assume and that holds destructive rights: its trust must
    name its callers (aws:PrincipalArn, a principal tag, MFA) and its sessions last at most an hour."""
    for role in view.of_type(ROLE):
        trust = policy_doc(role, "assumeRolePolicy")
        if trust in (UNKNOWN, None):
            continue
        people = [st for st in docs.allows(trust) if docs.aws_principals(st)]
        policies = attached_or_unknown(view, role, ROLE_POLICY, "role", ROLE)
        if not people or policies is UNKNOWN:
            continue
        documents = [policy_doc(p) for p in policies]
        granted = sorted({a for d in documents if d not in (UNKNOWN, None) for st in docs.allows(d)
                          for a in DESTRUCTIVE_RIGHTS if docs.covers(st, a)})
        if not granted:
            continue
        for st in people:
            keys = docs.condition_keys(st)
            if not any(k in keys for k in _PINNED_CALLER) and not any(k.startswith("aws:principaltag/") for k in keys):
                yield role, (f"trust lets {', '.join(sorted(docs.aws_principals(st)))} assume a role holding "
                             f"{', '.join(granted)} without naming the callers (aws:PrincipalArn, a principal tag "
                             "or MFA)")
        seconds = count(prop(role.props, "maxSessionDuration"))
        if seconds is None or (isinstance(seconds, int) and seconds > MAX_DESTRUCTIVE_SESSION_SECONDS):
            yield role, (f"maxSessionDuration is {seconds if seconds is not None else 'unset (IAM default 3600)'}"
                         f"; a role holding {', '.join(granted)} keeps sessions to "
                         f"{MAX_DESTRUCTIVE_SESSION_SECONDS} seconds, set explicitly")


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
    rule("iam-destructive-role-trust",
         "A role people assume that holds destructive rights (bypass governance retention, delete versions or "
         "recovery points, drop tables, rewrite bucket policies) names who may assume it (aws:PrincipalArn, a "
         "principal tag or MFA) and sets maxSessionDuration to at most 3600 s (the ransomware drill's attacker "
         "roles; HIPAA 164.308(a)(4), 164.312(a)(1)).", check_destructive_role_trust),
    rule("kms-key-policy-guards",
         "Every KMS key has a policy without Principal '*' or unconditioned kms:*, key use only via services, and "
         "explicit Denies of ScheduleKeyDeletion, DisableKey, CreateGrant (and PutKeyPolicy in production) to all "
         "but break-glass (HIPAA 164.312(a)(2)(iv); AWS KMS key policy best practices).", check_key_policies),
    rule("kms-key-deletion-window",
         "Production keys keep the 30-day deletion window (CIS AWS 3.7 spirit; AWS KMS ScheduleKeyDeletion).",
         check_key_deletion_window, production_only=True),
]
