"""Read a run's ``journal.json`` (schema ``drkit-journal/1``, JOURNAL.md) and check its hash chain.

The journal is the reports' only input. Loading validates the shape the reports rely on
and raises ``UsageError`` (exit 2) naming what is wrong; the hash chain is checked
separately so that a broken chain can be *reported* rather than refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.errors import UsageError
from drills.reports.canonical import ZERO_HASH, canonical, sha256_hex

JOURNAL_SCHEMA = "drkit-journal/1"
JOURNAL_FILE = "journal.json"

_REQUIRED = {"schema": str, "run_id": str, "target": dict, "status": str, "scenarios": list, "events": list,
             "start": str}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def load_journal(run_dir: Path) -> dict[str, Any]:
    """The decoded journal of ``run_dir``; UsageError naming the problem if it is not one."""
    path = Path(run_dir) / JOURNAL_FILE
    if not Path(run_dir).is_dir():
        raise UsageError(f"{run_dir}: not a directory (expected a run dir holding {JOURNAL_FILE})")
    if not path.is_file():
        raise UsageError(f"{run_dir}: no {JOURNAL_FILE} here — is this a drkit run dir?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not strict JSON ({exc})") from exc
    return validate_journal(data, source=str(path))


def validate_journal(data: Any, *, source: str = JOURNAL_FILE) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a JSON object")
    if data.get("schema") != JOURNAL_SCHEMA:
        raise UsageError(f"{source}: schema {data.get('schema')!r} is not {JOURNAL_SCHEMA!r}")
    for key, kind in _REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise UsageError(f"{source}: field {key!r} missing or not a {kind.__name__}")
    for index, scenario in enumerate(data["scenarios"]):
        if not isinstance(scenario, dict) or not isinstance(scenario.get("name"), str):
            raise UsageError(f"{source}: scenarios[{index}] needs a string 'name'")
    for index, event in enumerate(data["events"]):
        if not isinstance(event, dict) or not isinstance(event.get("seq"), int):
            raise UsageError(f"{source}: events[{index}] needs an integer 'seq'")
    return data


def event_hash(event: dict[str, Any]) -> str:
    """SHA-256 of the event's canonical JSON without its own ``hash``."""
    return sha256_hex(canonical({k: v for k, v in event.items() if k != "hash"}))


@dataclass(frozen=True)
class ChainCheck:
    """Result of checking the journal's event hash chain."""

    events: int
    head: str                 # hash of the last event ("" if there are none)
    first_bad: int | None     # seq of the first event whose hash or link does not hold
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.first_bad is None and self.events > 0


def check_chain(events: list[dict[str, Any]]) -> ChainCheck:
    """Recompute every event's hash and link; name the first event that does not hold."""
    previous = ZERO_HASH
    for position, event in enumerate(events):
        seq = event.get("seq")
        if seq != position:
            return ChainCheck(len(events), "", seq if isinstance(seq, int) else position,
                              f"event at position {position} has seq {seq!r} (an event was removed or reordered)")
        if event.get("prev") != previous:
            return ChainCheck(len(events), "", seq, f"event {seq}: 'prev' does not match the hash of event {seq - 1}"
                              if seq else "event 0: 'prev' is not 64 zeros")
        computed = event_hash(event)
        if event.get("hash") != computed:
            return ChainCheck(len(events), "", seq, f"event {seq} ({event.get('type')}): content does not match its hash")
        previous = computed
    if not events:
        return ChainCheck(0, "", None, "the journal has no events")
    return ChainCheck(len(events), previous, None)
