"""Earlier runs in the same folder: verdicts and measured RTO/RPO over time (report section 10).

A run folder holds one sub-directory per run (``out/runs/<stamp>/journal.json``). Runs are
ordered by their journal's start time, then run id. A sibling whose journal cannot be read
is counted and named, never silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drills.errors import UsageError
from drills.reports.journal import load_journal
from drills.reports.units import to_minutes

DEFAULT_DRILL_INTERVAL_DAYS = 90   # drkit's default cadence (quarterly), used when the stack declares none


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Sibling:
    run_dir: Path
    journal: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.journal.get("start", ""), self.journal["run_id"])


@dataclass
class Folder:
    runs: list[Sibling] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def scan_folder(folder: Path) -> Folder:
    """Every run dir directly under ``folder``, ordered oldest first."""
    result = Folder()
    if not folder.is_dir():
        return result
    for child in sorted(folder.iterdir()):
        if not (child / "journal.json").is_file():
            continue
        try:
            result.runs.append(Sibling(child, load_journal(child)))
        except UsageError:
            result.unreadable.append(child.name)
    result.runs.sort(key=lambda s: s.key)
    return result


def earlier(folder: Folder, journal: dict[str, Any]) -> list[Sibling]:
    """Runs of the folder that precede ``journal``'s run (by start, then run id)."""
    me = (journal.get("start", ""), journal["run_id"])
    return [s for s in folder.runs if s.key < me and s.journal["run_id"] != journal["run_id"]]


def _worst_minutes(journal: dict[str, Any], name: str) -> float | None:
    values = [to_minutes(m.get("value"), m.get("unit", "")) for s in journal.get("scenarios", [])
              for m in s.get("measurements", []) if m.get("name") == name]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def fully_verified(journal: dict[str, Any]) -> bool:
    """Completed, exit 0, every scenario passed and every ladder rung passed (nothing "not verified")."""
    rungs = (journal.get("ladder") or {}).get("rungs") or []
    return (journal.get("status") == "completed" and journal.get("exit_code") == 0
            and bool(journal.get("scenarios"))
            and all(s.get("status") == "passed" for s in journal.get("scenarios", []))
            and bool(rungs) and all(r.get("status") == "passed" for r in rungs))


def summarise(journal: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": journal["run_id"],
        "start": journal.get("start"),
        "end": journal.get("end"),
        "status": journal.get("status"),
        "exit_code": journal.get("exit_code"),
        "simulated": bool(journal.get("target", {}).get("simulated")),
        "target": journal.get("target", {}).get("kind"),
        "rto_minutes": _worst_minutes(journal, "rto"),
        "rpo_minutes": _worst_minutes(journal, "rpo"),
        "fully_verified": fully_verified(journal),
    }


def history_section(journal: dict[str, Any], folder: Folder) -> dict[str, Any]:
    previous = earlier(folder, journal)
    rows = [dict(summarise(s.journal), current=False) for s in previous] + [dict(summarise(journal), current=True)]
    declared = ((journal.get("stack") or {}).get("declared") or {}).get("drill") or {}
    interval = declared.get("intervalDays")
    interval_source = "the stack's drkit:drill.intervalDays"
    if not isinstance(interval, (int, float)) or interval <= 0:
        interval, interval_source = DEFAULT_DRILL_INTERVAL_DAYS, "drkit's default (quarterly); not a regulatory figure"
    now = parse_time(journal.get("end")) or parse_time(journal.get("start"))
    verified = [r for r in rows if r["fully_verified"] and parse_time(r["end"])]
    last = verified[-1] if verified else None
    days_since = next_due = None
    if last and now:
        days_since = round((now - parse_time(last["end"])).total_seconds() / 86400, 1)
        next_due = iso(parse_time(last["end"]) + timedelta(days=interval))
    return {
        "runs": rows,
        "earlier_runs": len(previous),
        "unreadable": list(folder.unreadable),
        "last_fully_verified": last["run_id"] if last else None,
        "days_since_fully_verified": days_since,
        "next_drill_due": next_due,
        "interval_days": interval,
        "interval_source": interval_source,
        "overdue": bool(last is None),
    }
