"""Read IAM policy documents: their statements, and each statement's ``Condition`` block
evaluated against a request context.

``statements(policy)`` is the one reader of a policy's ``Statement`` element, which the IAM JSON
policy element reference ("IAM JSON policy elements: Statement") allows to be a single statement
object or an array of them; ``as_list`` reads the elements that take one value or an array
(``Action``, ``Resource``, ``Principal`` values, condition values).

Follows the IAM reference ("Condition operators"): a condition block is the AND of its
operators, an operator is the AND of its keys, a key matches if any listed value matches.
A key absent from the context makes a plain operator false and a negated one (``...Not...``)
true; an ``...IfExists`` operator is true when the key is absent; ``Null`` tests presence.
``ForAnyValue:`` / ``ForAllValues:`` treat single-valued keys as one-element sets.
Operators this module does not know raise ``UnsupportedCondition`` so a caller can fail
closed instead of guessing.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from datetime import datetime
from typing import Any, Callable, Mapping

from drills.times import parse_time


class UnsupportedCondition(ValueError):
    """A condition operator the evaluator does not implement."""


Context = Mapping[str, Any]   # lower-cased key -> str | list[str]


def as_list(value: Any) -> list[Any]:
    """A policy element that holds one value or an array of values, as a list."""
    return value if isinstance(value, list) else [value]


def statements(policy: Any) -> list[Mapping[str, Any]]:
    """The statements of a policy document (``Statement`` as one object or a list of them;
    anything else holds none)."""
    if not isinstance(policy, Mapping):
        return []
    return [s for s in as_list(policy.get("Statement", [])) if isinstance(s, Mapping)]


def _values(raw: Any) -> list[str]:
    items = as_list(raw)
    return ["true" if v is True else "false" if v is False else str(v) for v in items]


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> datetime:
    return parse_time(text)


def _ip_in(network: str, address: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)


# operator -> (match(policy value, request value), negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "ArnEquals": (_like, False),
    "ArnLike": (_like, False),
    "ArnNotEquals": (_like, True),
    "ArnNotLike": (_like, True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
    "NumericEquals": (lambda p, v: _number(v) == _number(p), False),
    "NumericNotEquals": (lambda p, v: _number(v) == _number(p), True),
    "NumericLessThan": (lambda p, v: _number(v) < _number(p), False),
    "NumericLessThanEquals": (lambda p, v: _number(v) <= _number(p), False),
    "NumericGreaterThan": (lambda p, v: _number(v) > _number(p), False),
    "NumericGreaterThanEquals": (lambda p, v: _number(v) >= _number(p), False),
    "DateEquals": (lambda p, v: _date(v) == _date(p), False),
    "DateNotEquals": (lambda p, v: _date(v) == _date(p), True),
    "DateLessThan": (lambda p, v: _date(v) < _date(p), False),
    "DateLessThanEquals": (lambda p, v: _date(v) <= _date(p), False),
    "DateGreaterThan": (lambda p, v: _date(v) > _date(p), False),
    "DateGreaterThanEquals": (lambda p, v: _date(v) >= _date(p), False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
}


def evaluate(condition: Mapping[str, Mapping[str, Any]] | None, context: Context) -> bool:
    """True when the whole condition block holds for ``context`` (keys compared case-insensitively)."""
    if not condition:
        return True
    ctx = {k.lower(): v for k, v in context.items()}
    return all(_operator(op, keys, ctx) for op, keys in condition.items())


def _operator(op: str, keys: Mapping[str, Any], ctx: Mapping[str, Any]) -> bool:
    qualifier, _, name = op.rpartition(":")
    if_exists = name.endswith("IfExists")
    base = name[: -len("IfExists")] if if_exists else name
    if base == "Null":
        return all(any((key.lower() not in ctx) == (want.lower() == "true") for want in _values(expected))
                   for key, expected in keys.items())
    if base not in _OPERATORS:
        raise UnsupportedCondition(op)
    match, negated = _OPERATORS[base]
    for key, expected in keys.items():
        policy_values = _values(expected)
        present = key.lower() in ctx
        if not present:
            if if_exists or negated:
                continue
            return False
        request_values = _values(ctx[key.lower()])
        if qualifier == "ForAllValues":
            hit = all(any(match(p, v) for p in policy_values) for v in request_values)
        else:
            hit = any(match(p, v) for p in policy_values for v in request_values)
        if hit == negated:
            return False
    return True
