"""Import rules (DESIGN.md): the engine, probes, actions and scenarios reach AWS or the
embedded cloud only through boto3 and the control protocol — never by importing the
simulation (``drills.cloud`` except its control client)."""

from __future__ import annotations

import ast
from pathlib import Path

DRILLS = Path(__file__).resolve().parents[2] / "drills"
BLACK_BOX = ("engine", "probes", "actions", "scenarios")
ALLOWED_CLOUD = {"drills.cloud.control"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names if node.module == "drills.cloud"]
    return names


def test_drills_observe_and_change_the_cloud_only_through_boto3_and_the_control_protocol() -> None:
    offenders = []
    for package in BLACK_BOX:
        for path in sorted((DRILLS / package).rglob("*.py")):
            for name in _imports(path):
                if (name == "drills.cloud" or name.startswith("drills.cloud.")) and name not in ALLOWED_CLOUD:
                    offenders.append(f"{path.relative_to(DRILLS.parent)} imports {name}")
                if name.startswith("moto"):
                    offenders.append(f"{path.relative_to(DRILLS.parent)} imports {name}")
    assert offenders == []


def test_the_rule_sees_an_offending_import(tmp_path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("from drills.cloud.simulation import Simulation\nimport drills.cloud.sim.outage\n"
                      "from drills.cloud import server\n")
    assert _imports(sample) == ["drills.cloud.simulation", "drills.cloud.sim.outage", "drills.cloud",
                                "drills.cloud.server"]
