"""A rung's findings and counts, gathered while it looks, turned into a ``RungResult``.

Status (drills.engine.model): *failed* when any finding above INFO was made; otherwise *not
verified* when something could not be observed (the reasons are kept); otherwise *passed*.
"""

from __future__ import annotations

from typing import Any, Iterable

from drills.engine.model import Finding, RungResult, Severity, Status

EVIDENCE_CAP = 20   # labels listed per finding; the count is always complete


class RungReport:
    def __init__(self, rung: int, name: str) -> None:
        self.rung = rung
        self.name = name
        self.counts: dict[str, Any] = {}
        self.findings: list[Finding] = []
        self.unverified: list[str] = []

    def find(self, code: str, severity: Severity, resource: str, message: str,
             evidence: dict[str, Any] | None = None, remediation: str = "") -> None:
        self.findings.append(Finding(code=code, severity=severity, resource=resource, message=message,
                                     evidence=evidence or {}, remediation=remediation))

    def find_labels(self, code: str, severity: Severity, resource: str, message: str, labels: Iterable[str],
                    remediation: str = "", **evidence: Any) -> None:
        """A finding about several items: their count and the first EVIDENCE_CAP labels."""
        labels = sorted(labels)
        self.find_counted(code, severity, resource, message, len(labels), labels, remediation, **evidence)

    def find_counted(self, code: str, severity: Severity, resource: str, message: str, count: int,
                     first_labels: list[str], remediation: str = "", **evidence: Any) -> None:
        """Like ``find_labels`` when only the count and the first labels (sorted) are at hand,
        as from a reconciliation query."""
        if count:
            self.find(code, severity, resource, f"{count} {message}",
                      {"count": count, "labels": list(first_labels)[:EVIDENCE_CAP], **evidence}, remediation)

    def not_verified(self, reason: str) -> None:
        self.unverified.append(reason)

    def result(self) -> RungResult:
        failing = [f for f in self.findings if f.severity is not Severity.INFO]
        if failing:
            status = Status.FAILED
        elif self.unverified:
            status = Status.NOT_VERIFIED
        else:
            status = Status.PASSED
        return RungResult(rung=self.rung, name=self.name, status=status, counts=dict(self.counts),
                          findings=tuple(self.findings), reason="; ".join(self.unverified))


def version_label(key: str, version_id: str | None = None) -> str:
    """A version named by its key (UIDs only, no patient data) and version id."""
    return f"{key}@{version_id}" if version_id else key
