"""The run journal: the audit artifact (``journal.json`` in the run dir, /work JOURNAL.md contract).

Written always — on success, on failure, on Ctrl-C — with a strict JSON encoder
(``allow_nan=False``, no ``default=str``: a value JSON cannot hold is a bug, not a string).
Events are hash-chained: each carries ``prev`` (the SHA-256 of the previous event's canonical
JSON, 64 zeros for the first) and ``hash`` (the SHA-256 of its own canonical JSON without
``hash``). ``verify_chain`` recomputes both and names the first event that does not match.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import threading
from pathlib import Path
from typing import Any

from drills import __version__

SCHEMA = "drkit-journal/1"
GENESIS = "0" * 64
JOURNAL_FILE = "journal.json"


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in event.items() if k != "hash"})).hexdigest()


def dumps(document: Any) -> str:
    """Strict JSON text of a journal (sorted keys, no NaN, nothing coerced)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


class Journal:
    """Collects the run document and its event chain; ``write`` saves it atomically."""

    def __init__(self, run_id: str, now: Any) -> None:
        self._now = now                    # () -> "…Z" (the run's clock, as ISO text)
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.document: dict[str, Any] = {
            "schema": SCHEMA, "run_id": run_id,
            "tool": {"name": "drkit", "version": __version__},
            "platform": {"python": platform.python_version(), "system": platform.system()},
            "target": None, "clock": None, "stack": None, "scope": None,
            "start": None, "end": None, "duration_s": None,
            "status": "aborted", "deviated": False, "exit_code": None,
            "steady_state_before": None, "steady_state_after": None,
            "config_in_force": None, "scenarios": [], "ladder": None, "findings": [], "plan": None,
        }

    def event(self, type_: str, *, scenario: str | None = None, activity: str | None = None,
              data: dict[str, Any] | None = None) -> int:
        """Append an event to the chain; returns its ``seq``."""
        with self._lock:
            prev = self.events[-1]["hash"] if self.events else GENESIS
            event = {"seq": len(self.events), "time": self._now(), "type": type_, "scenario": scenario,
                     "activity": activity, "data": data or {}, "prev": prev}
            canonical(event)               # refuse what strict JSON cannot hold, now
            event["hash"] = event_hash(event)
            self.events.append(event)
            return event["seq"]

    def to_document(self) -> dict[str, Any]:
        with self._lock:
            return {**self.document, "events": list(self.events)}

    def write(self, run_dir: Path) -> Path:
        """Write ``journal.json`` into ``run_dir`` atomically (temp file + rename)."""
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / JOURNAL_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(dumps(self.to_document()), encoding="utf-8")
        os.replace(tmp, path)
        return path


def verify_chain(document: dict[str, Any]) -> list[str]:
    """Problems with the event chain of a journal document; [] when it is intact."""
    problems: list[str] = []
    events = document.get("events")
    if not isinstance(events, list) or not events:
        return ["the journal has no events"]
    prev = GENESIS
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            return [f"event {i} is not an object"]
        if event.get("seq") != i:
            problems.append(f"event {i}: seq is {event.get('seq')!r}")
        if event.get("prev") != prev:
            problems.append(f"event {i}: prev does not match the hash of event {i - 1}")
        try:
            actual = event_hash(event)
        except (TypeError, ValueError) as exc:
            problems.append(f"event {i}: not canonical JSON ({exc})")
            actual = ""
        if event.get("hash") != actual:
            problems.append(f"event {i}: hash does not match its content (edited?)")
        prev = event.get("hash", "")
        if problems:
            break
    return problems


def load(path: Path) -> dict[str, Any]:
    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard JSON constant {constant}")
    return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=refuse)
