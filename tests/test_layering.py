"""The import rules that keep drkit's data flow visible (DESIGN.md, "one folder per stage of
the data flow, each importing only downward"), checked on the source with ``ast``.

Every ``import``/``from … import`` counts, at module level or inside a function. A rule is
(the packages it governs, the module prefixes they must not import, the exceptions).
The drill engine, probes, actions and reports talk to the embedded cloud through boto3 and
the control protocol client (``drills.cloud.control``) only.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from drills.ingest.package import parse_python

REPO_ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("drills", "components", "policies", "bench", "__main__.py")
SIMULATION = ("drills.cloud.sim", "drills.cloud.simulation")


@dataclass(frozen=True)
class Rule:
    """Modules under ``within`` (and not under ``except_within``) never import ``forbidden``
    (a module or anything below it), unless the import is under ``allowed``."""

    name: str
    within: tuple[str, ...]
    forbidden: tuple[str, ...]
    except_within: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()


RULES: tuple[Rule, ...] = (
    Rule("components never import the emulator, the deployer or the CLI",
         within=("components",), forbidden=("drills.cloud", "drills.deploy", "drills.cli")),
    Rule("ingest never imports the CLI, the emulator, the deployer or the synthetic data source",
         within=("drills.ingest",), forbidden=("drills.cli", "drills.cloud", "drills.deploy", "drills.synth")),
    # bench.list_versions measures the emulator itself (its listing index on and off).
    Rule("only the emulator and the deployer import the simulation",
         within=("",), except_within=("drills.cloud", "drills.deploy", "bench.list_versions"), forbidden=SIMULATION),
    Rule("drills see the embedded cloud through boto3 and the control protocol client only",
         within=("drills.engine", "drills.probes", "drills.actions", "drills.reports"),
         forbidden=("drills.cloud", "drills.deploy", "drills.cli"), allowed=("drills.cloud.control",)),
    Rule("shared ground (errors, contracts, aws, times, jsonio) imports no stage of the data flow",
         within=("drills.errors", "drills.contracts", "drills.aws", "drills.times", "drills.jsonio"),
         forbidden=("drills.cloud", "drills.deploy", "drills.cli", "drills.ingest", "drills.synth",
                    "drills.engine", "drills.probes", "drills.actions", "drills.reports", "components")),
)


def _under(module: str, prefix: str) -> bool:
    return prefix == "" or module == prefix or module.startswith(prefix + ".")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``path``; ``from a import b`` yields
    ``a.b`` too, so ``from drills.cloud import sim`` is seen as importing ``drills.cloud.sim``."""
    tree = parse_python(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*")
    return found


def violations(root: Path, rules: tuple[Rule, ...] = RULES) -> list[str]:
    """Every broken rule under ``root``: ``path:line: module imports X (rule)``."""
    files: list[Path] = []
    for entry in SCANNED:
        target = root / entry
        files.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target] if target.is_file() else [])
    found: list[str] = []
    for path in files:
        module = module_name(root, path)
        for rule in rules:
            if not any(_under(module, w) for w in rule.within) or any(_under(module, e) for e in rule.except_within):
                continue
            for line, imported in imports_of(path, module):
                if any(_under(imported, f) for f in rule.forbidden) and not any(
                        _under(imported, a) for a in rule.allowed):
                    found.append(f"{path.relative_to(root)}:{line}: {module} imports {imported} ({rule.name})")
    return sorted(set(found))


def test_the_tree_keeps_its_layering() -> None:
    assert violations(REPO_ROOT) == []


def _plant(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


@pytest.mark.parametrize(("relative", "source", "expected"), [
    ("components/bucket.py", "import drills.cloud.server\n", "drills.cloud.server (components never"),
    ("components/bucket.py", "def f():\n    from drills.deploy import engine\n", "drills.deploy (components never"),
    ("drills/ingest/batch.py", "from drills.cli.common import say\n", "drills.cli.common (ingest never"),
    ("drills/ingest/gateway.py", "from drills.synth.dataset import SOP_CLASSES\n", "drills.synth.dataset (ingest"),
    ("drills/cli/demo.py", "from drills.cloud.simulation import SimSettings\n", "(only the emulator"),
    ("drills/cli/demo.py", "from drills.cloud import sim\n", "drills.cloud.sim (only the emulator"),
    ("drills/probes/replica.py", "from drills.cloud.server import EmbeddedCloud\n", "(drills see the embedded"),
    ("drills/engine/runner.py", "from ..cloud import middleware\n", "drills.cloud.middleware (drills see"),
    ("drills/contracts.py", "from drills.ingest.core import Ingestor\n", "(shared ground"),
])
def test_the_checker_finds_a_planted_violation(tmp_path: Path, relative: str, source: str, expected: str) -> None:
    _plant(tmp_path, relative, source)
    found = violations(tmp_path)
    assert len(found) >= 1 and any(expected in v for v in found), found
    assert all(v.startswith(relative) for v in found)


@pytest.mark.parametrize(("relative", "source"), [
    ("drills/probes/replica.py", "from drills.cloud.control import HttpControl\n"),
    ("drills/deploy/common.py", "from drills.cloud.simulation import Simulation\n"),
    ("drills/cloud/server.py", "from drills.cloud.sim import outage\n"),
    ("drills/ingest/core.py", "from drills.contracts import IndexItem\nfrom drills.aws import Target\n"),
    ("components/outputs.py", "from drills.contracts import StackOutputs\n"),
])
def test_the_checker_accepts_what_the_rules_allow(tmp_path: Path, relative: str, source: str) -> None:
    _plant(tmp_path, relative, source)
    assert violations(tmp_path) == []


def test_no_test_module_imports_another_test_module() -> None:
    """Shared test code lives in conftest.py files or tests/helpers/, never in a test module
    another one imports (a test module imported twice collects its tests twice)."""
    offenders = []
    for path in sorted((REPO_ROOT / "tests").rglob("*.py")):
        module = module_name(REPO_ROOT, path)
        for line, imported in imports_of(path, module):
            if imported.rpartition(".")[2].startswith("test_") and imported.startswith("tests."):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{line}: imports {imported}")
    assert offenders == []
