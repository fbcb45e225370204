"""The catalogue run's own journal, and the signing of every run dir it produced.

``<out>/catalogue/journal.json`` is a run journal (``drills.engine.journal``, schema
``drkit-journal/1``, hash-chained events) whose ``weakenings`` field holds the summary —
catalogue size, tried, applicable, caught, prevented, gaps, the catch rate (caught / applicable)
and the weakening → catching-drill table. Its events: ``run-started``, one ``weakening-result``
per weakening (its table row plus the SHA-256 and chain head of that weakening's own journal, so
the record binds the evidence it summarises), ``catch-rate``, ``run-ended``. A gap is a finding
(``weakening-not-caught``, naming the weakened resource). Its times are the command's wall clock
(``clock: wall``): each weakening ran on its own embedded cloud and virtual clock, in its own
journal. ``target`` is the embedded cloud: every outcome is simulated.

``sign_runs`` then renders report.json and signs every run dir of the out folder (each
weakening's and the catalogue's) in the folder's order, so ``drkit report verify <out>`` checks
signatures, artifact digests, every journal's hash chain and the chain of runs.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from drills.engine.clock import WallClock, iso
from drills.engine.execute import RunJournal

CATALOGUE_DIR = "catalogue"


def write_catalogue_journal(out_dir: Path, run_id: str, stack: str, summary: dict[str, Any],
                            started: datetime) -> Path:
    """Write ``<out_dir>/catalogue/journal.json``; returns its path."""
    clock = WallClock()
    rj = RunJournal(run_id, out_dir / CATALOGUE_DIR, clock)
    rj.start(clock, target={"kind": "embedded", "endpoint": None, "simulated": True},
             scope={"prefix": None, "note": "the weakening catalogue: one fresh embedded stack per weakening, "
                                            "each with its own journal"})
    rj.started_at = started
    doc = rj.journal.document
    doc["start"] = iso(started)
    doc["stack"] = {"name": stack, "outputs": None, "declared": {}}
    doc["weakenings"] = summary
    for row in summary["results"]:
        rj.journal.event("weakening-result", data={**row, **_journal_digest(Path(row["journal"]))})
    counts = {k: summary[k] for k in ("catalogue_size", "tried", "applicable", "caught", "prevented", "gaps",
                                      "catch_rate", "catch_rate_basis")}
    rj.journal.event("catch-rate", data={**counts, "table": summary["table"]})
    code = 0 if summary["gaps"] == 0 else 1
    path = rj.finish("completed", code)
    gaps = [r for r in summary["results"] if r["outcome"] == "gap"]
    doc["findings"] = [{"code": "weakening-not-caught", "severity": "high", "resource": str(r["resource"] or ""),
                        "message": f"weakening {r['weakening']} was not caught by {r['catcher']}",
                        "evidence": {"weakening": r["weakening"], "exit_code": r["exit_code"],
                                     "reason": r.get("reason")},
                        "remediation": "make the named drill detect it, or record it as a known gap"} for r in gaps]
    doc["deviated"] = bool(gaps)
    return rj.journal.write(path.parent)


def _journal_digest(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
        events = json.loads(data.decode("utf-8")).get("events") or []
    except (OSError, ValueError):
        return {"journal_sha256": None, "journal_chain_head": None}
    return {"journal_sha256": hashlib.sha256(data).hexdigest(),
            "journal_chain_head": events[-1].get("hash") if events else None}


def sign_runs(out_dir: Path) -> list[Path]:
    """report.json + signed manifest for every run dir under ``out_dir``, oldest first (the
    order ``drkit report verify`` chains them in). Raises ``DrkitError`` (e.g. an unusable key)."""
    from drills.reports import history
    from drills.reports.render import render_run
    signed = []
    for sibling in history.scan_folder(out_dir).runs:
        render_run(sibling.run_dir, ("json",))
        signed.append(sibling.run_dir)
    return signed
