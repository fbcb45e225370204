"""IAM identity policies of an STS role session, as AWS evaluates them within one account.

A request signed with credentials that moto's STS ``AssumeRole`` issued (``drills.cloud.sim.
callers``) is evaluated against the role's identity policies — its inline policies and the
default version of each attached managed policy, as moto's IAM backend holds them — together with
the bucket's policy for S3 (IAM "Policy evaluation for requests within a single account"):

- an explicit ``Deny`` in any of them refuses the request (bucket-policy denies are refused by
  ``bucket_policy``, which runs first, for every caller);
- otherwise an ``Allow`` in an identity policy *or* in the bucket policy (naming the role or the
  session, not only the account) lets it through;
- otherwise it is refused (implicit deny).

Conditions are evaluated by ``iam_conditions`` against the request context (``aws:PrincipalArn``
= the role ARN, ``aws:userid``, ``aws:PrincipalTag/*``, ``aws:SecureTransport``, ``aws:CurrentTime``
from the virtual clock, S3 request headers). A condition operator the evaluator does not know
fails closed — a Deny applies, an Allow does not — and is counted in ``status()``.

Actions: S3 operations map to IAM actions through ``bucket_policy``'s table (the Service
Authorization Reference: ``DeleteObject`` with a version id is ``s3:DeleteObjectVersion``,
``DeleteBucketReplication`` is ``s3:PutReplicationConfiguration``...); AWS Backup and DynamoDB
operations are ``backup:<Operation>`` / ``dynamodb:<Operation>``, except that a DynamoDB
transaction is authorized item by item ("Using IAM with DynamoDB transactions"): each
``TransactWriteItems`` ``Put`` / ``Update`` / ``Delete`` / ``ConditionCheck`` needs
``dynamodb:PutItem`` / ``UpdateItem`` / ``DeleteItem`` / ``ConditionCheckItem`` and each
``TransactGetItems`` ``Get`` ``dynamodb:GetItem``, on that item's table (the items come from
``dynamodb_items``, the walker ``dynamodb_pitr`` uses too); the context then carries
``dynamodb:EnclosingOperation``. Resources: the object or bucket ARN; the recovery point ARN,
else the vault ARN (``arn:aws:backup:<region>:<account>:backup-vault:<name>``); each table ARN
named by ``TableName`` / ``RequestItems`` (BatchWriteItem and BatchGetItem need their action on
every table they name) / ``TransactItems``; ``*`` when the request names none.
``s3:BypassGovernanceRetention`` (needed, with the header, to override GOVERNANCE retention) is
answered by ``permits()``, which ``object_lock`` asks. The caller and the condition context are
resolved once per request and shared with ``bucket_policy`` (``callers.caller_of``,
``BucketPolicyEnforcement.context``).

Refusals have each service's AccessDenied shape: S3 ``403 AccessDenied`` (XML); DynamoDB
``400 AccessDeniedException`` and AWS Backup ``403 AccessDeniedException`` (JSON), with IAM's
"User: <session ARN> is not authorized to perform: <action> on resource: <ARN> because ..." text.

The account root (the embedded cloud's default keys) and internal requests are not evaluated,
as before. NOT emulated (listed in ``status()``): role trust policies and ``AssumeRole``'s
``DurationSeconds`` limit (moto issues credentials to any caller), session expiry, session
policies, permissions boundaries, SCPs/RCPs, KMS key policies and the KMS permissions S3 SSE-KMS
calls need, Backup vault access policies and DynamoDB resource policies, the extra actions some
operations need (PutObject with lock headers → ``s3:PutObjectRetention``), per-entry
authorization inside DeleteObjects (the bucket's objects are checked as a whole) and per-key
conditions such as ``dynamodb:LeadingKeys`` (tables are checked, keys are not),
and services other than S3, AWS Backup and DynamoDB (role sessions pass there unevaluated,
counted per service).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any, Iterable

from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error
from drills.cloud.sim.bucket_policy import iam_action, s3_resource, statement_matches
from drills.cloud.sim.callers import Caller, caller_of, role_of
from drills.cloud.sim.dynamodb_items import item_actions
from drills.cloud.sim.iam_conditions import UnsupportedCondition, evaluate, statements

EVALUATED_SERVICES = ("s3", "backup", "dynamodb")
BYPASS_ACTION = "s3:BypassGovernanceRetention"
TRANSACTIONS = ("TransactWriteItems", "TransactGetItems")
NOT_EMULATED = (
    "role trust policies and AssumeRole DurationSeconds limits", "session expiry", "session policies",
    "permissions boundaries", "SCPs and RCPs", "KMS key policies and the KMS permissions of SSE-KMS S3 calls",
    "Backup vault access policies", "DynamoDB resource policies",
    "extra actions of some operations (PutObject with lock headers needs s3:PutObjectRetention)",
    "per-entry authorization in DeleteObjects", "per-key DynamoDB conditions (dynamodb:LeadingKeys)",
    "services other than s3, backup and dynamodb",
)


class Decision:
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


class IdentityPolicyEnforcement(Interceptor):
    """Refuse a role session's request its identity policies (and the bucket policy) do not allow."""

    name = "identity_policies"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.decisions: Counter[str] = Counter()
        self.unsupported: Counter[str] = Counter()
        self.unevaluated: Counter[str] = Counter()

    # ------------------------------------------------------------------ interceptor
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.internal or req.operation is None:
            return None
        caller = caller_of(self.sim, req)
        if caller.is_root:
            return None
        if req.service not in EVALUATED_SERVICES:
            with self._lock:
                self.unevaluated[str(req.service)] += 1
            return None
        for action, resource in self.checks(req, caller):
            decision = self.decide(req, caller, action, resource)
            with self._lock:
                self.decisions[f"{req.service}:{decision}"] += 1
            if decision != Decision.ALLOW:
                return self._refuse(req, caller, action, resource, decision)
        return None

    def permits(self, req: AwsRequest, action: str) -> bool:
        """Whether the request's caller may also perform ``action`` on the request's resource
        (an explicit Deny in the bucket policy binds every caller, the root included; past it the
        root may, and a role session needs an Allow and no explicit Deny)."""
        if req.internal:
            return True
        caller = caller_of(self.sim, req)
        if req.service == "s3" and self.sim["bucket_policy"].denying(req, caller, action) is not None:
            return False
        if caller.is_root:
            return True
        resource = s3_resource(req) if req.service == "s3" else self.checks(req, caller)[0][1]
        return self.decide(req, caller, action, resource) == Decision.ALLOW

    # ------------------------------------------------------------------ the request
    def checks(self, req: AwsRequest, caller: Caller) -> list[tuple[str, str]]:
        """The (IAM action, resource ARN) pairs the request is authorized as, each needing an Allow.

        A DynamoDB transaction is authorized item by item, as the item-level operation on the
        item's table (``Put`` as ``dynamodb:PutItem``, ``ConditionCheck`` as
        ``dynamodb:ConditionCheckItem``, ``Get`` as ``dynamodb:GetItem``); other DynamoDB
        operations (BatchWriteItem, BatchGetItem included) as ``dynamodb:<Operation>`` on each
        table they name."""
        region, account = req.region or "us-east-1", caller.account_id
        if req.service == "s3":
            return [(iam_action(req), s3_resource(req) if req.bucket else "*")]
        if req.service == "backup":
            action = f"backup:{req.operation}"
            if req.params.get("recoveryPointArn"):
                return [(action, req.params["recoveryPointArn"])]
            if req.params.get("backupVaultName"):
                return [(action, f"arn:aws:backup:{region}:{account}:backup-vault:{req.params['backupVaultName']}")]
            return [(action, "*")]
        if req.service == "dynamodb":
            def arn(table: str) -> str:
                return table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{table}"

            body = _body(req)
            if req.operation in TRANSACTIONS:
                pairs = {(f"dynamodb:{item.operation}", arn(item.table))
                         for item in item_actions(req.operation, body)}
                return sorted(pairs) or [(f"dynamodb:{req.operation}", "*")]
            action = f"dynamodb:{req.operation}"
            return [(action, arn(table)) for table in sorted(set(_table_names(body)))] or [(action, "*")]
        return [(f"{req.service}:{req.operation}", "*")]

    # ------------------------------------------------------------------ evaluation
    def decide(self, req: AwsRequest, caller: Caller, action: str, resource: str) -> str:
        role = role_of(caller.account_id, caller.role_arn or "")
        if role is None:
            return Decision.IMPLICIT_DENY          # the role was deleted: its sessions hold nothing
        context = self.sim["bucket_policy"].context(req, caller)
        allowed = False
        for statement in (s for document in _documents(role) for s in statements(document)):
            if not statement_matches(statement, action, resource):
                continue
            try:
                holds = evaluate(statement.get("Condition"), context)
            except UnsupportedCondition as exc:
                with self._lock:
                    self.unsupported[str(exc)] += 1
                holds = statement.get("Effect") == "Deny"      # fail closed
            if not holds:
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                allowed = True
        if not allowed and req.service == "s3" and req.bucket:
            allowed = self.sim["bucket_policy"].allows(req, caller, action)
        return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY

    def _refuse(self, req: AwsRequest, caller: Caller, action: str, resource: str, decision: str) -> AwsResponse:
        why = ("with an explicit deny in an identity-based policy" if decision == Decision.EXPLICIT_DENY
               else f"because no identity-based policy allows the {action} action")
        message = f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} {why}"
        if req.service == "s3":
            return aws_error(req, 403, "AccessDenied", message)
        return aws_error(req, 400 if req.service == "dynamodb" else 403, "AccessDeniedException", message)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"evaluated": dict(self.decisions), "unsupportedConditionOperators": dict(self.unsupported),
                    "unevaluatedRoleSessionRequests": dict(self.unevaluated), "notEmulated": list(NOT_EMULATED)}


def _documents(role: Any) -> Iterable[dict[str, Any]]:
    """The role's inline policies and the default version of each attached managed policy."""
    for raw in role.policies.values():
        yield _json(raw)
    for policy in role.managed_policies.values():
        version = next((v for v in policy.versions if v.is_default), None)
        if version is not None:
            yield _json(version.document)


def _json(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    from urllib.parse import unquote

    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))


def _body(req: AwsRequest) -> dict[str, Any]:
    try:
        body = req.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _table_names(body: dict[str, Any]) -> Iterable[str]:
    if isinstance(body.get("TableName"), str):
        yield body["TableName"]
    if isinstance(body.get("RequestItems"), dict):
        yield from body["RequestItems"]
