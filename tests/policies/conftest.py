"""Fixtures for the policy-pack tests: the stacks the policies run on."""

from __future__ import annotations

import pytest

from tests.policies.harness import Stack
from tests.policies.stacks import SOURCES, stack_from

@pytest.fixture(params=SOURCES)
def prod_stack(request: pytest.FixtureRequest) -> Stack:
    """A compliant production stack: hand-built, and the real program's prod stack."""
    return stack_from(request.param, "prod")


@pytest.fixture(params=SOURCES)
def dev_stack(request: pytest.FixtureRequest) -> Stack:
    return stack_from(request.param, "dev")
