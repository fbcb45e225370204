"""components/base.py: name and policy helpers."""

from __future__ import annotations

import pytest

from components.base import allow, deny_insecure_transport, underscore_name


@pytest.mark.parametrize("raw,expected", [
    ("drkit-prod-backups-framework", "drkit_prod_backups_framework"),
    ("9lives", "drkit_9lives"),
    ("a--b..c", "a_b_c"),
])
def test_underscore_name_makes_backup_safe_names(raw: str, expected: str) -> None:
    assert underscore_name(raw) == expected


def test_underscore_name_respects_the_limit() -> None:
    assert len(underscore_name("x" * 80, 50)) == 50


def test_allow_and_deny_statements() -> None:
    s = allow(["s3:GetObject"], "arn:aws:s3:::b/*", sid="Read", condition={"Bool": {"aws:SecureTransport": "true"}})
    assert s == {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*",
                 "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    d = deny_insecure_transport("arn:aws:sqs:us-east-1:1:q", action="sqs:*")
    assert (d["Effect"], d["Principal"], d["Action"]) == ("Deny", "*", "sqs:*")
