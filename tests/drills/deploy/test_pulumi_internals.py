"""Canary for the private Pulumi internals the offline deploy uses (drills.deploy.pulumi_internals):
when a Pulumi upgrade moves one, this fails naming it, instead of deploys breaking obscurely."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from drills.deploy import pulumi_internals
from drills.ingest.package import parse_python
from drills.deploy.pulumi_internals import TESTED_PULUMI, check, pulumi_version

REPO_ROOT = Path(__file__).resolve().parents[3]
# pulumi.runtime's submodules hold the SDK's machinery; its public API is re-exported names.
RUNTIME_SUBMODULES = {"settings", "rpc", "mocks", "stack", "sync_await", "known_types", "resource", "rpc_manager"}


def test_every_internal_drkit_uses_is_where_it_was() -> None:
    problems = check()
    assert not problems, "\n".join(problems)


def test_the_installed_pulumi_is_the_tested_minor_version() -> None:
    assert pulumi_version().startswith(TESTED_PULUMI + "."), (
        f"pulumi {pulumi_version()} is installed; drills/deploy/pulumi_internals.py was checked against "
        f"{TESTED_PULUMI}.x: run this canary, then move TESTED_PULUMI and the pin in pyproject.toml together")
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    major, minor = TESTED_PULUMI.split(".")
    assert f'"pulumi>={TESTED_PULUMI},<{major}.{int(minor) + 1}"' in pyproject


def test_the_canary_names_what_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(pulumi_internals._sync, "_sync_await")
    monkeypatch.delattr(pulumi_internals._rpc, "_special_secret_sig")
    problems = check()
    assert len(problems) == 2
    assert "_sync_await is gone" in problems[0] and "update drills/deploy/pulumi_internals.py" in problems[0]
    assert "_special_sig_key/_special_secret_sig" in problems[1]


def _private_pulumi_uses(path: Path) -> list[str]:
    """Private names reached through a pulumi module (``from pulumi.x import _y``,
    ``rpc._special_sig_key`` where ``rpc`` is a pulumi module), imports from the SDK's
    ``pulumi.runtime.*`` submodules, and assignments that patch the ``pulumi`` module."""
    tree = parse_python(path)
    modules: set[str] = set()          # local names bound to pulumi modules
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update((a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("pulumi"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pulumi":
            if node.module.startswith("pulumi.runtime."):
                found.append(f"from {node.module} import ...")
            if node.module == "pulumi.runtime":
                found.extend(f"pulumi.runtime.{a.name}" for a in node.names if a.name in RUNTIME_SUBMODULES)
            modules.update(a.asname or a.name for a in node.names)
            found.extend(f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in modules):
            found.append(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "pulumi"
                for t in node.targets):
            found.append("assignment to a pulumi attribute (patching the SDK)")
    return found


def test_no_other_module_touches_a_pulumi_internal() -> None:
    own = REPO_ROOT / "drills" / "deploy" / "pulumi_internals.py"
    offenders = {str(p.relative_to(REPO_ROOT)): uses
                 for root in ("drills", "components", "__main__.py")
                 for p in ([REPO_ROOT / root] if root.endswith(".py") else sorted((REPO_ROOT / root).rglob("*.py")))
                 if p != own and (uses := _private_pulumi_uses(p))}
    assert offenders == {}
