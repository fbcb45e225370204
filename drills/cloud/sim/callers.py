"""Who signed a request: the account root (the embedded cloud's default keys) or an STS
assumed-role session that moto's ``AssumeRole`` issued.

The access key id is the request's SigV4 credential (``AwsRequest.access_key``, read by the
middleware with the credential scope). A key moto's STS backend issued for ``AssumeRole`` is a
role session; every other key (the default ``testing`` keys, IAM user keys) counts as the
account root, as it always has on the embedded cloud.

Request-context keys of a role session follow the IAM reference ("AWS global condition context
keys"): ``aws:PrincipalArn`` is the *role's* ARN (not the session's), ``aws:userid`` is
``ROLE-ID:session-name``, ``aws:PrincipalTag/<key>`` the role's tags, ``aws:PrincipalType``
``AssumedRole``; ``aws:PrincipalIsAWSService`` is ``false`` for every signed request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from drills.cloud.interceptors import AwsRequest
from drills.cloud.sim.iam_conditions import as_list


@dataclass(frozen=True)
class Caller:
    """The principal of one request."""

    account_id: str
    role_arn: str | None = None          # None: the account root
    session_arn: str | None = None       # arn:aws:sts::<account>:assumed-role/<name>/<session>
    role_id: str | None = None
    session_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        return self.role_arn is None

    @property
    def principal_arn(self) -> str:
        return self.role_arn or f"arn:aws:iam::{self.account_id}:root"

    @property
    def arn(self) -> str:
        """What an AccessDenied message names: the session ARN, or the root ARN."""
        return self.session_arn or self.principal_arn

    def context(self) -> dict[str, str]:
        ctx = {"aws:PrincipalArn": self.principal_arn, "aws:PrincipalAccount": self.account_id,
               "aws:PrincipalIsAWSService": "false",
               "aws:PrincipalType": "Account" if self.is_root else "AssumedRole"}
        if not self.is_root:
            ctx["aws:userid"] = f"{self.role_id}:{self.session_name}"
            for key, value in self.tags.items():
                ctx[f"aws:PrincipalTag/{key}"] = value
        return ctx

    def named_by(self, principal: Any) -> bool:
        """Whether a policy ``Principal``/``NotPrincipal`` value names this caller *itself*:
        ``*``, its role ARN or session ARN (root: the account id or root ARN)."""
        if principal == "*":
            return True
        if not isinstance(principal, Mapping):
            return False
        values = as_list(principal.get("AWS", []))
        mine = {"*", self.role_arn, self.session_arn} if not self.is_root else \
            {"*", self.account_id, self.principal_arn}
        return any(str(v) in mine for v in values)

    def in_account_named_by(self, principal: Any) -> bool:
        """Whether the value names this caller's account (id or root ARN): for a role session,
        a Deny applies; an Allow only delegates to the account's IAM policies."""
        if not isinstance(principal, Mapping):
            return False
        values = as_list(principal.get("AWS", []))
        return any(str(v) in (self.account_id, f"arn:aws:iam::{self.account_id}:root") for v in values)


def caller_of(sim: Any, req: AwsRequest) -> Caller:
    """The request's caller; the root unless the key belongs to a moto STS role session.
    Resolved once per request: kept on the request for every behaviour that asks."""
    caller = req.memo.get("caller")
    if caller is None:
        caller = req.memo["caller"] = _resolve(sim, req.access_key)
    return caller


def _resolve(sim: Any, key: str | None) -> Caller:
    root = Caller(account_id=sim.account_id)
    if not key or not key.startswith("ASIA"):        # moto's temporary keys, like AWS's, start ASIA
        return root
    from moto.sts.models import sts_backends

    for account_id in list(sts_backends.keys()):
        session = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(key)
        if session is not None:
            break
    else:
        return root
    role = role_of(session.account_id, session.role_arn)
    raw = (role.tags or []) if role is not None else []
    tags = {t["Key"]: t["Value"] for t in (raw.values() if isinstance(raw, dict) else raw)}
    return Caller(account_id=session.account_id, role_arn=session.role_arn, session_arn=session.arn,
                  role_id=role.id if role is not None else "UNKNOWN", session_name=session.session_name, tags=tags)


def role_of(account_id: str, role_arn: str) -> Any:
    """moto's IAM role for ``role_arn`` (None when it does not exist: deleted after AssumeRole)."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    try:
        return iam_backends[account_id]["aws"].get_role_by_arn(role_arn)
    except NotFoundException:
        return None
