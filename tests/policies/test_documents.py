"""policies/documents.py: reading policy documents statement by statement (IAM evaluation
vocabulary: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html),
and the example SCP/RCP shipped in docs/security/ read with it."""

from __future__ import annotations

import json

import pytest

from policies import documents as docs
from policies.stackview import UNKNOWN
from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "docs" / "security"
SCP_RCP_MAX_CHARS = 5120       # AWS Organizations quota for SCPs and RCPs


def test_document_decodes_strings_and_keeps_unknowns() -> None:
    assert docs.document('{"Statement": []}') == {"Statement": []}
    assert docs.document(UNKNOWN) is UNKNOWN
    assert docs.document("") is None
    with pytest.raises(docs.Malformed):
        docs.document("{not json")


def test_a_single_statement_object_counts_as_a_list() -> None:
    doc = {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Principal": {"AWS": "*"}}}
    (st,) = docs.statements(doc)
    assert docs.is_public(st) and docs.actions(st) == ["s3:GetObject"]


@pytest.mark.parametrize("pattern,action,covered", [
    ("s3:*", "s3:GetObject", True), ("s3:Get*", "s3:GetObjectVersion", True), ("S3:GETOBJECT", "s3:GetObject", True),
    ("s3:Put*", "s3:GetObject", False), ("kms:GenerateDataKey*", "kms:GenerateDataKey", True)])
def test_covers_uses_iam_wildcards_case_insensitively(pattern: str, action: str, covered: bool) -> None:
    assert docs.covers({"Action": pattern}, action) is covered


def test_not_action_covers_everything_else_and_counts_as_a_wildcard() -> None:
    st = {"Effect": "Allow", "NotAction": "iam:*"}
    assert docs.covers(st, "s3:DeleteObject") and not docs.covers(st, "iam:PassRole")
    assert docs.wildcard_actions(st)


def test_principal_exceptions_come_from_negated_principal_arn_conditions() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]}}}
    assert docs.principal_exceptions(deny) == {"arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"}
    assert docs.principal_exceptions({**deny, "Condition": {"ArnEquals": {"aws:PrincipalArn": "x"}}}) is None
    assert docs.denies({"Statement": [deny]}, "s3:GetObject") == [deny]


def test_pinning_conditions() -> None:
    assert docs.is_pinned({"Condition": {"StringEquals": {"AWS:SourceAccount": "1"}}})
    assert not docs.is_pinned({"Condition": {"Bool": {"aws:SecureTransport": "true"}}})


@pytest.mark.parametrize("name", ["scp-drkit-guardrails.json", "rcp-drkit-data-perimeter.json"])
def test_example_organization_policies_are_valid_and_small_enough(name: str) -> None:
    doc = json.loads((EXAMPLES / name).read_text())
    assert len(json.dumps(doc, separators=(",", ":"))) <= SCP_RCP_MAX_CHARS
    statements = docs.statements(doc)
    assert statements and all(s["Effect"] == "Deny" for s in statements), "guardrails only deny"


def test_example_scp_keeps_keys_and_backups_for_break_glass() -> None:
    doc = json.loads((EXAMPLES / "scp-drkit-guardrails.json").read_text())
    for action in ("kms:ScheduleKeyDeletion", "backup:DeleteRecoveryPoint", "cloudtrail:StopLogging",
                   "dynamodb:DeleteTable", "secretsmanager:DeleteSecret", "organizations:LeaveOrganization"):
        assert any(s["Effect"] == "Deny" and docs.covers(s, action) for s in docs.statements(doc)), action
