"""Resilience reports: journal → report.json / report.html / report.pdf, signed manifest, verify.

The engine calls ``build_run_reports(run_dir)`` at the end of ``drkit run``; ``drkit report``
and ``drkit report verify`` are the commands (``drills/cli/report.py``).

What the reports look for in the journal beyond JOURNAL.md's fields (all optional; when
absent the report says "not recorded" rather than guessing):

- measurements named ``rto``, ``rpo``, ``restore_time`` feed the executive summary; a
  measurement's ``detail.instances_at_risk`` (opaque labels) is listed as the RPO window;
- a ladder rung whose ``counts`` has ``verified`` (rung 5 preferred) gives the data-integrity
  headline "N of <scope.instances> verified";
- evidence is cited by event id: activities by their ``event``; measurements by the
  ``measurement`` event whose ``data.name`` matches; findings by the ``finding`` event whose
  ``data.code`` matches; rungs by a ``rung`` event with ``data.rung``; attempts by an
  ``attempt`` event with ``data.action``;
- an activity's ``actor`` (or ``arguments.role``) is the role that ran it; a scenario's
  ``abort_conditions`` lists its abort conditions; ``stack.declared.drill.intervalDays`` sets
  when the next drill is due (default 90 days).
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
