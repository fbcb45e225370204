"""The result of one ``drkit ingest`` run: counts, rates, problems and the exit code.

Every entry the walk met is in the summary: an outcome per input, or a ``skipped`` entry
with its reason (drills.ingest.sources). Exit code: 0 when every input is accounted for —
archived, duplicate, conflict (a new version, reported), quarantined (data quality,
reported with its reason) or skipped on purpose (hidden, excluded, …); 2 when an input
could not be read, an entry was refused (FIFO, broken symlink, …) or a DICOMDIR references
files that are missing; 3 when the cloud failed (those inputs were not stored). Rates measured against the embedded cloud are labelled
"simulated endpoint": they describe moto on this machine, not AWS.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from drills.ingest.core import IngestResult, Outcome
from drills.ingest.paths import printable
from drills.ingest.sources import Skipped


@dataclass(frozen=True)
class Failure:
    source: str
    kind: str            # "input" (exit 2), "infrastructure" or "internal" (a drkit bug; exit 3)
    message: str


@dataclass
class IngestSummary:
    """Collects results from worker threads; ``to_dict`` is the ``--json`` document."""

    simulated: bool
    destination: dict[str, Any] = field(default_factory=dict)
    results: list[IngestResult] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: int = 0                 # not attempted after an infrastructure failure
    left_out: list[Skipped] = field(default_factory=list)   # entries met but not inputs, with reasons
    elapsed_seconds: float = 0.0
    uploads: dict[str, int] = field(default_factory=dict)   # incomplete multipart uploads found before the run
    warnings: list[str] = field(default_factory=list)        # e.g. nothing to ingest, an unreadable DICOMDIR
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, result: IngestResult) -> None:
        with self._lock:
            self.results.append(result)

    def fail(self, source: str, kind: str, message: str) -> None:
        with self._lock:
            self.failures.append(Failure(source, kind, message))

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(r.outcome.value for r in self.results)
        return {o.value: counted.get(o.value, 0) for o in Outcome} | {"failed": len(self.failures)}

    @property
    def by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason.value for r in self.results if r.reason).items()))

    @property
    def repairs(self) -> list[dict[str, str]]:
        """What this run repaired of an earlier run's crash (index items, quarantine reasons)."""
        return [{"source": printable(r.source), "repair": r.repair} for r in self.results if r.repair]

    @property
    def excluded(self) -> int:
        return sum(1 for s in self.left_out if s.reason == "matches --exclude")

    @property
    def refused(self) -> list[Skipped]:
        return [s for s in self.left_out if s.refused]

    @property
    def exit_code(self) -> int:
        if any(f.kind in ("infrastructure", "internal") for f in self.failures):
            return 3
        if self.failures or self.missing or self.refused:
            return 2
        return 0

    def rates(self) -> dict[str, Any]:
        total_bytes = sum(r.size for r in self.results)
        seconds = max(self.elapsed_seconds, 1e-9)
        return {
            "elapsedSeconds": round(self.elapsed_seconds, 3),
            "instancesPerSecond": round(len(self.results) / seconds, 1),
            "megabytesPerSecond": round(total_bytes / 1e6 / seconds, 2),
            "label": "simulated endpoint" if self.simulated else "measured against AWS",
        }

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        """The summary; ``full`` adds every per-input result (for ``--out``)."""
        problems = [r.to_dict() for r in self.results if r.outcome in (Outcome.CONFLICT, Outcome.QUARANTINED)]
        document: dict[str, Any] = {
            "command": "ingest",
            "target": "embedded-simulated" if self.simulated else "aws",
            "destination": self.destination,
            "inputs": len(self.results) + len(self.failures) + self.skipped,
            "entriesMet": len(self.results) + len(self.failures) + self.skipped + len(self.left_out),
            "counts": self.counts,
            "quarantinedByReason": self.by_reason,
            "bytes": sum(r.size for r in self.results),
            "headerBytesRead": sum(r.header_bytes_read for r in self.results),
            "rates": self.rates(),
            "problems": problems,
            "failures": [vars(f) for f in self.failures],
            "missingFromDicomdir": list(self.missing),
            "notAttempted": self.skipped,
            "excluded": self.excluded,
            "skipped": [s.to_dict() for s in self.left_out if not s.refused],
            "refused": [s.to_dict() for s in self.refused],
            "exitCode": self.exit_code,
            "incompleteUploads": self.uploads,
            "warnings": list(self.warnings),
            "repairs": self.repairs,
        }
        if full:
            document["results"] = [r.to_dict() for r in self.results]
        return document

    def lines(self) -> list[str]:
        """Human summary lines (stderr)."""
        c = self.counts
        rates = self.rates()
        out = [
            f"archived {c['archived']}, duplicate {c['duplicate']}, conflict {c['conflict']}, "
            f"quarantined {c['quarantined']}, failed {c['failed']}"
            + (f", not attempted {self.skipped}" if self.skipped else "")
            + (f", skipped {len(self.left_out) - len(self.refused)}" if len(self.left_out) > len(self.refused) else "")
            + (f", refused {len(self.refused)}" if self.refused else ""),
            f"{rates['instancesPerSecond']} instances/s, {rates['megabytesPerSecond']} MB/s "
            f"over {rates['elapsedSeconds']} s ({rates['label']})",
        ]
        if self.repairs:
            out.append(f"repaired {len(self.repairs)} item(s) an earlier run left incomplete: "
                       + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r['repair'] for r in self.repairs).items())))
        reasons = Counter(s.reason for s in self.left_out if not s.refused)
        if reasons:
            out.append("skipped: " + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())))
        if self.by_reason:
            out.append("quarantined by reason: " + ", ".join(f"{k} {v}" for k, v in self.by_reason.items()))
        return out
