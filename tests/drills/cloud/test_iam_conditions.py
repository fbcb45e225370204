"""The IAM condition evaluator follows the IAM reference's rules for absent keys."""

from __future__ import annotations

import pytest

from drills.cloud.sim.iam_conditions import UnsupportedCondition, as_list, evaluate, statements

SSE = "s3:x-amz-server-side-encryption"
KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id"


def test_if_exists_is_true_when_the_key_is_absent() -> None:
    # The trap the stack's first policy fell into: a Deny with ...IfExists applies to header-less requests.
    assert evaluate({"StringNotEqualsIfExists": {SSE: "aws:kms"}}, {}) is True
    assert evaluate({"StringNotEqualsIfExists": {SSE: "aws:kms"}}, {SSE: "aws:kms"}) is False


def test_plain_operator_is_false_and_negated_operator_true_when_key_absent() -> None:
    assert evaluate({"StringEquals": {SSE: "aws:kms"}}, {}) is False
    assert evaluate({"StringNotEquals": {SSE: "aws:kms"}}, {}) is True


def test_null_tests_presence() -> None:
    assert evaluate({"Null": {KEY: "true"}}, {}) is True
    assert evaluate({"Null": {KEY: "false"}}, {}) is False
    assert evaluate({"Null": {KEY: "false"}}, {KEY: "arn:k"}) is True


def test_block_is_and_of_operators_and_values_are_or() -> None:
    condition = {"StringNotEquals": {KEY: ["arn:a", "arn:b"]}, "Null": {KEY: "false"}}
    assert evaluate(condition, {}) is False               # absent header: not denied
    assert evaluate(condition, {KEY: "arn:a"}) is False   # expected key
    assert evaluate(condition, {KEY: "arn:c"}) is True    # another key


def test_bool_and_keys_are_case_insensitive() -> None:
    assert evaluate({"Bool": {"aws:SecureTransport": "false"}}, {"AWS:securetransport": "false"}) is True
    assert evaluate({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}) is False


def test_like_arn_numeric_date_and_ip() -> None:
    assert evaluate({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::drkit-*"}}, {"aws:SourceArn": "arn:aws:s3:::drkit-x"})
    assert evaluate({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"})
    assert evaluate({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
                    {"aws:CurrentTime": "2026-11-27T00:00:00Z"})
    assert evaluate({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"})
    assert not evaluate({"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"})


def test_unknown_operator_is_reported_not_guessed() -> None:
    with pytest.raises(UnsupportedCondition):
        evaluate({"BinaryEquals": {"k": "AA=="}}, {"k": "AA=="})


def test_statements_reads_a_single_statement_object_or_an_array() -> None:
    """"The Statement element can contain a single statement or an array of individual
    statements" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_statement.html);
    Action/Resource/Principal values are one string or an array
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html)."""
    one = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert statements({"Version": "2012-10-17", "Statement": one}) == [one]
    assert statements({"Statement": [one, one]}) == [one, one]
    assert statements({"Version": "2012-10-17"}) == [] and statements(None) == []
    assert as_list("s3:GetObject") == ["s3:GetObject"] and as_list(["a", "b"]) == ["a", "b"]
