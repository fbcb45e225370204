"""Reading IAM, key, bucket, queue, topic, secret and vault policy documents statement by statement.

A document arrives as a JSON string (or already decoded); ``UNKNOWN`` while a preview has not
resolved it. Helpers answer the questions the content rules ask: who a statement names,
which actions it covers (with IAM's ``*``/``?`` wildcards), and whether it is conditioned on a key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any, Iterable, Optional

if __package__:
    from .stackview import UNKNOWN, prop
else:  # run by the Pulumi language host as `python policies/`
    from stackview import UNKNOWN, prop

# Condition keys that pin a grant to named callers or sources (S3's "not public" keys and their kin).
PINNING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:SourceVpc", "aws:SourceVpce",
    "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:userid", "kms:CallerAccount",
    "aws:PrincipalServiceName"))


class Malformed(ValueError):
    """The document is not valid JSON or has no statements list."""


def document(value: Any) -> Any:
    """The decoded document, ``UNKNOWN``, or None when absent; raises Malformed on bad JSON."""
    if value is UNKNOWN:
        return UNKNOWN
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise Malformed(str(exc)) from exc
    if not isinstance(value, Mapping):
        raise Malformed("not a JSON object")
    return value


def statements(doc: Any) -> list[Mapping[str, Any]]:
    """Every statement of a decoded document (a single statement object counts as a list)."""
    if not isinstance(doc, Mapping):
        return []
    raw = prop(doc, "Statement", default=[])
    if isinstance(raw, Mapping):
        raw = [raw]
    return [s for s in (raw if isinstance(raw, Sequence) and not isinstance(raw, str) else []) if isinstance(s, Mapping)]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bool)) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def principals(statement: Mapping[str, Any]) -> set[str]:
    """Every principal a statement names; ``*`` for everyone (``"*"`` or ``{"AWS": "*"}``)."""
    principal = statement.get("Principal")
    if principal == "*":
        return {"*"}
    found: set[str] = set()
    if isinstance(principal, Mapping):
        for values in principal.values():
            found.update(str(v) for v in as_list(values))
    return found


def aws_principals(statement: Mapping[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return {"*"}
    if isinstance(principal, Mapping):
        return {str(v) for v in as_list(principal.get("AWS"))}
    return set()


def service_principals(statement: Mapping[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        return {str(v) for v in as_list(principal.get("Service"))}
    return set()


def is_public(statement: Mapping[str, Any]) -> bool:
    return "*" in principals(statement)


def actions(statement: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in as_list(statement.get("Action"))]


def covers(statement: Mapping[str, Any], action: str) -> bool:
    """Does the statement's Action (or NotAction) apply to ``action``? IAM matches case-insensitively."""
    if "NotAction" in statement:
        return not any(fnmatchcase(action.lower(), str(p).lower()) for p in as_list(statement["NotAction"]))
    return any(fnmatchcase(action.lower(), str(p).lower()) for p in as_list(statement.get("Action")))


def wildcard_actions(statement: Mapping[str, Any]) -> list[str]:
    """``*`` and ``service:*`` patterns (and NotAction, which grants everything else)."""
    if "NotAction" in statement:
        return [f"NotAction {as_list(statement['NotAction'])}"]
    return [a for a in actions(statement) if a == "*" or a.endswith(":*")]


def condition_keys(statement: Mapping[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    """Condition key (lower case) -> [(operator, value)]."""
    found: dict[str, list[tuple[str, Any]]] = {}
    condition = statement.get("Condition")
    if isinstance(condition, Mapping):
        for operator, block in condition.items():
            if isinstance(block, Mapping):
                for key, value in block.items():
                    found.setdefault(str(key).lower(), []).append((str(operator), value))
    return found


def conditioned_on(statement: Mapping[str, Any], *keys: str) -> bool:
    present = condition_keys(statement)
    return any(k.lower() in present for k in keys)


def is_pinned(statement: Mapping[str, Any]) -> bool:
    """Conditioned on a key that fixes the caller or the source (not open to everyone)."""
    return bool(PINNING_KEYS & set(condition_keys(statement)))


def principal_exceptions(statement: Mapping[str, Any]) -> Optional[set[str]]:
    """For a Deny: the principal ARNs exempt through ``ArnNotEquals``/``ArnNotLike``
    ``aws:PrincipalArn``; None when the Deny names no such exception."""
    for operator, value in condition_keys(statement).get("aws:principalarn", []):
        if operator.startswith(("ArnNotEquals", "ArnNotLike", "StringNotEquals", "StringNotLike")):
            return {str(v) for v in as_list(value)}
    return None


def denies(doc: Any, action: str) -> list[Mapping[str, Any]]:
    """Deny statements to everyone that cover ``action``."""
    return [s for s in statements(doc) if s.get("Effect") == "Deny" and is_public(s) and covers(s, action)]


def allows(doc: Any) -> Iterable[Mapping[str, Any]]:
    return (s for s in statements(doc) if s.get("Effect") == "Allow")
