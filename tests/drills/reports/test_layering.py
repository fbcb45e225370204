"""Reports read the journal only: no module of drills.reports imports the engine, the
embedded cloud or the simulation (DESIGN.md layout rules)."""

from __future__ import annotations

import ast
from pathlib import Path

import drills.reports

FORBIDDEN = ("drills.cloud", "drills.engine", "drills.probes", "drills.actions", "drills.ingest")


def test_reports_import_nothing_upstream():
    package = Path(drills.reports.__file__).parent
    offenders = []
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert offenders == []
