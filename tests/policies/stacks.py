"""The stacks the policies run on: hand-built, or the real program under Pulumi mocks."""

from __future__ import annotations

import functools

import pytest

from drills.deploy.program import run_program
from drills.project import find_project
from tests.helpers.paths import REPO_ROOT
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
