"""Resilience reports: journal → report.json / report.html / report.pdf, signed manifest, verify.

The engine calls ``build_run_reports(run_dir)`` at the end of ``drkit run``; ``drkit report``
and ``drkit report verify`` are the commands (``drills/cli/report.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

FORMATS = ("json", "html", "pdf")


def build_run_reports(run_dir: Path, formats: Iterable[str] = FORMATS, key: Path | None = None) -> list[Path]:
    """Render ``run_dir``'s journal in ``formats`` and sign the run dir; the paths written.

    ``key``: an Ed25519 PEM private key file; default ``$DRKIT_SIGNING_KEY``, else the run
    folder's own key (generated on first use; public half in ``<folder>/signing-key.pub``).
    Raises ``UsageError`` (exit 2) for a missing or invalid journal or key.
    """
    from drills.reports.render import render_run
    return render_run(Path(run_dir), formats, key).paths


__all__ = ["FORMATS", "build_run_reports"]
