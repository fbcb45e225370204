"""Project-wide test fixtures: fake AWS credentials, never a real account."""

from __future__ import annotations

from pathlib import Path

# Imported here, at collection, while the process has one thread: otherwise the hypothesis
# plugin imports it at the terminal summary, when pytest's assertion rewriting parses its
# modules (ast.parse) beside threads left running by in-process deploys, and CPython 3.11.7's
# AST converter raises "SystemError: AST constructor recursion depth mismatch" (its recursion
# counter is shared by threads; CPython gh-106905) — a red run after every test passed.
import hypothesis  # noqa: F401
import pytest

from tests.helpers.paths import REPO_ROOT


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real AWS account: fake credentials, no profile, no CA bundle."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
