"""Fixtures for the policy-pack tests: the stacks the policies run on."""

from __future__ import annotations

import functools

import pytest

from drills.project import find_project
from drills.deploy.program import run_program
from tests.conftest import REPO_ROOT
from tests.policies.harness import Stack, hand_built_platform

SOURCES = ("hand-built", "program")


@functools.lru_cache(maxsize=None)
def _program(stack: str) -> Stack:
    """The real ``__main__.py`` run under Pulumi mocks (once per stack per session)."""
    result = run_program(find_project(project_dir=REPO_ROOT), stack)
    return Stack(stack, result.resources)


def stack_from(source: str, stack: str) -> Stack:
    if source == "hand-built":
        return hand_built_platform(stack)
    if not (REPO_ROOT / "__main__.py").is_file() or not (REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").is_file():
        pytest.skip(f"the Pulumi program or stacks/Pulumi.{stack}.yaml does not exist yet")
    return _program(stack).copy()


@pytest.fixture(params=SOURCES)
def prod_stack(request: pytest.FixtureRequest) -> Stack:
    """A compliant production stack: hand-built, and the real program's prod stack."""
    return stack_from(request.param, "prod")


@pytest.fixture(params=SOURCES)
def dev_stack(request: pytest.FixtureRequest) -> Stack:
    return stack_from(request.param, "dev")
