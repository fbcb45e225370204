"""The drill result model: what probes return, what the runner records, what the journal
holds and what reports render. Shared by engine, probes, actions and reports — the one
place these shapes are declared.

Vocabulary (Chaos Toolkit's): a scenario has a steady-state hypothesis (probes with
tolerances), a method (actions and probes) and rollbacks. Probes observe; actions change.

Status semantics (honest results):
- ``passed``: observed, and within tolerance.
- ``failed``: observed, and not within tolerance (a deviation; the run exits 1).
- ``not_verified``: could not be observed (no API, timeout, target lacks the feature):
  never folded into a pass; the run exits 1 unless the probe is marked optional.
- ``error``: the activity itself broke (infrastructure/tool error; exit 3 if nothing else
  deviated).
- ``skipped``: not run (dry-run, or an earlier abort), with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_VERIFIED = "not_verified"
    ERROR = "error"
    SKIPPED = "skipped"


class Severity(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """Something a drill or a rung found that a person must act on.

    ``resource`` names the AWS resource (bucket, table, vault, rule id, key ARN) — never
    patient data; ``evidence`` holds counts and opaque labels (hashed ids or UIDs)."""

    code: str                 # stable machine code, e.g. "replica-missing-instances"
    severity: Severity
    resource: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


@dataclass(frozen=True)
class Measurement:
    """A measured figure compared with its objective (RTO, RPO, restore time, detection…).

    ``simulated`` is True when the value comes from the embedded cloud's virtual clock:
    every rendering must label it so. ``met`` is None when there is no objective."""

    name: str                 # "rto", "rpo", "restore_time", "detection_time", ...
    value: float | None       # None: could not be measured (then status not_verified)
    unit: str                 # "seconds", "minutes", "count", "bytes"
    objective: float | None = None
    comparison: str = "<="    # value <comparison> objective means met
    met: bool | None = None
    simulated: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProbeResult:
    """What a probe returns: status, counts and findings. ``output`` is JSON-safe data."""

    status: Status
    output: dict[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    reason: str = ""          # why not_verified / error / skipped

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "output": self.output,
                "findings": [f.to_json() for f in self.findings], "reason": self.reason}


@dataclass(frozen=True)
class RungResult:
    """One rung of the verification ladder (``drills.probes.ladder``)."""

    rung: int                 # 1..9 as numbered in DESIGN/issue #10
    name: str                 # "inventory-parity", "replication-state", ...
    status: Status
    counts: dict[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"rung": self.rung, "name": self.name, "status": self.status.value, "counts": self.counts,
                "findings": [f.to_json() for f in self.findings], "reason": self.reason}


def worst(statuses: list[Status]) -> Status:
    """The overall status of several: error > failed > not_verified > passed > skipped."""
    order = [Status.ERROR, Status.FAILED, Status.NOT_VERIFIED, Status.PASSED, Status.SKIPPED]
    for status in order:
        if status in statuses:
            return status
    return Status.SKIPPED


EXIT_OK, EXIT_DEVIATED, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 3
