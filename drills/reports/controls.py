"""Control crosswalk (report section 9): which journal evidence supports which control.

Each control names the requirement an auditor tests and a rule that selects its evidence
from the journal: activities and measurements (cited by journal event id), ladder rungs,
rows of the configuration in force, attacker attempts. A control with no selected evidence
says so — it is never shown as satisfied. The mapping states what this drill demonstrates;
it is not a legal opinion and does not replace the auditor's own test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from drills.reports.phi import clean_text

Evidence = dict[str, Any]     # {"ref": "event 12", "what": "...", "status": "passed"}


class Journal:
    """Lookups over one journal that the evidence rules share."""

    def __init__(self, journal: dict[str, Any]) -> None:
        self.j = journal
        self.events = journal.get("events", [])

    def event_for(self, type_: str, scenario: str | None = None, **data: Any) -> int | None:
        for event in self.events:
            if event.get("type") != type_:
                continue
            if scenario is not None and event.get("scenario") != scenario:
                continue
            payload = event.get("data") or {}
            if all(payload.get(k) == v for k, v in data.items()):
                return event.get("seq")
        return None

    def activities(self, scenario_pred: Callable[[dict], bool], activity_pred: Callable[[dict], bool] = lambda a: True,
                   parts: tuple[str, ...] = ("steady_state_before", "method", "rollbacks", "steady_state_after")
                   ) -> list[Evidence]:
        found = []
        for scenario in self.j.get("scenarios", []):
            if not scenario_pred(scenario):
                continue
            for part in parts:
                for activity in scenario.get(part) or []:
                    if activity_pred(activity):
                        found.append(_ev(activity.get("event"),
                                         f"{scenario['name']}: {activity.get('type', 'activity')} {activity.get('name')}",
                                         activity.get("status")))
        return found

    def measurements(self, names: tuple[str, ...], scenario_pred: Callable[[dict], bool] = lambda s: True
                     ) -> list[Evidence]:
        found = []
        for scenario in self.j.get("scenarios", []):
            if not scenario_pred(scenario):
                continue
            for m in scenario.get("measurements", []):
                if m.get("name") not in names:
                    continue
                status = "not_verified" if m.get("value") is None else (
                    "passed" if m.get("met") is True else "failed" if m.get("met") is False else "passed")
                seq = self.event_for("measurement", scenario["name"], name=m.get("name"))
                found.append(_ev(seq, f"{scenario['name']}: {m.get('name')} measured against its objective", status))
        return found

    def rungs(self, numbers: tuple[int, ...]) -> list[Evidence]:
        found = []
        for rung in ((self.j.get("ladder") or {}).get("rungs") or []):
            if rung.get("rung") in numbers:
                seq = self.event_for("rung", None, rung=rung.get("rung"))
                found.append({"ref": f"event {seq}" if seq is not None else f"ladder rung {rung.get('rung')}",
                              "event": seq, "what": clean_text(rung.get("name")),
                              "status": rung.get("status")})
        return found

    def config(self, *words: str) -> list[Evidence]:
        found = []
        for row in (self.j.get("config_in_force") or {}).get("resources", []):
            text = f"{row.get('resource', '')} {row.get('property', '')}".lower()
            if any(w in text for w in words):
                found.append({"ref": f"config in force: {clean_text(row.get('property'))}", "event": None,
                              "what": f"{clean_text(row.get('resource'))} — observed {_plain(row.get('observed'))}",
                              "status": "failed" if row.get("drift") else "passed"})
        return found

    def attempts(self) -> list[Evidence]:
        """Attempts made in attack scenarios (a fenced client's refused calls in a failover are not)."""
        found = []
        for scenario in self.j.get("scenarios", []):
            if not _ATTACK(scenario):
                continue
            for attempt in scenario.get("attempts") or []:
                seq = self.event_for("attempt", scenario["name"], action=attempt.get("action"))
                found.append(_ev(seq, f"{scenario['name']}: attempted {attempt.get('action')}, "
                                      f"{attempt.get('outcome')} ({attempt.get('error_code') or 'no error code'})",
                                 "passed" if attempt.get("outcome") == "denied" else "failed"))
        return found

    def run_record(self) -> list[Evidence]:
        events = self.events
        if not events:
            return []
        return [{"ref": f"events 0–{events[-1].get('seq')}", "event": 0,
                 "what": f"hash-chained journal of the run ({len(events)} events) and this signed manifest",
                 "status": "passed"}]

    def locked_mode(self) -> str | None:
        for row in (self.j.get("config_in_force") or {}).get("resources", []):
            prop = str(row.get("property", "")).lower()
            if "lock" in prop and "mode" in prop:
                return str(row.get("observed"))
        return None


def _plain(value: Any) -> str:
    """A configuration value as JSON writes it (true, 30, "COMPLIANCE" without quotes)."""
    return clean_text(value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str))


def _ev(seq: int | None, what: str, status: str | None) -> Evidence:
    return {"ref": f"event {seq}" if seq is not None else "journal (no event id recorded)", "event": seq,
            "what": clean_text(what), "status": status or "not_verified"}


def _has(*words: str) -> Callable[[dict], bool]:
    def pred(scenario: dict) -> bool:
        text = " ".join([scenario.get("name", "")] + [str(t) for t in scenario.get("tags") or []]).lower()
        return any(w in text for w in words)
    return pred


_ANY = lambda s: True  # noqa: E731
_ATTACK = _has("attack", "ransom", "insider", "deletion", "loss", "tamper")


@dataclass(frozen=True)
class Control:
    framework: str
    id: str
    title: str
    evidence: Callable[[Journal], list[Evidence]]
    applies: Callable[[Journal], str | None] = lambda j: None   # reason it does not apply, or None


def _sec_17a4(j: Journal) -> str | None:
    mode = j.locked_mode()
    if mode is None:
        return "no Object Lock mode was read from the deployed resources in this run"
    if mode.upper() != "COMPLIANCE":
        return f"the archive's Object Lock mode in force is {clean_text(mode)}, not COMPLIANCE"
    return None


CONTROLS: tuple[Control, ...] = (
    Control("HIPAA", "164.308(a)(7)(ii)(A)", "Data backup plan — retrievable exact copies of ePHI",
            lambda j: j.rungs((1, 3, 4, 5, 6)) + j.config("replication", "backup", "copy")),
    Control("HIPAA", "164.308(a)(7)(ii)(B)", "Disaster recovery plan — restore any loss of data",
            lambda j: j.measurements(("rto", "restore_time")) + j.activities(_has("failover", "restore"),
                                                                            parts=("method",))),
    Control("HIPAA", "164.308(a)(7)(ii)(C)", "Emergency mode operation plan",
            lambda j: j.activities(_has("failover"), parts=("method",))),
    Control("HIPAA", "164.308(a)(7)(ii)(D)", "Testing and revision procedures",
            lambda j: j.run_record() + j.measurements(("rto", "rpo", "restore_time"))),
    Control("HIPAA", "164.308(a)(7)(ii)(E)", "Applications and data criticality analysis",
            lambda j: ([{"ref": "journal scope", "event": None, "status": "passed",
                         "what": "in-scope studies by specialty and modality, with declared objectives"}]
                       if (j.j.get("scope") or {}).get("by_specialty") else [])),
    Control("HIPAA", "164.312(b)", "Audit controls — record and examine activity",
            lambda j: j.run_record() + j.config("logging", "cloudtrail", "trail")),
    Control("HIPAA", "164.312(c)(1)", "Integrity — protect ePHI from improper alteration or destruction",
            lambda j: j.rungs((8,)) + j.config("lock") + j.attempts()),
    Control("HIPAA", "164.312(c)(2)", "Mechanism to authenticate ePHI (not altered or destroyed)",
            lambda j: j.rungs((5, 6))),
    Control("NIST SP 800-53", "CP-4", "Contingency plan testing",
            lambda j: j.activities(_ANY, parts=("method",)) + j.measurements(("rto", "rpo", "restore_time"))),
    Control("NIST SP 800-53", "CP-9", "System backup",
            lambda j: j.config("backup", "vault", "replication", "pitr") + j.rungs((1, 5))),
    Control("NIST SP 800-53", "CP-10", "System recovery and reconstitution",
            lambda j: j.measurements(("rto", "restore_time")) + j.activities(_ANY, parts=("rollbacks", "steady_state_after"))),
    Control("NIST CSF 2.0", "RC.RP", "Incident recovery plan execution (RC.RP-03 backup integrity, RC.RP-05 restored assets)",
            lambda j: j.rungs((5, 6, 7)) + j.activities(_ANY, parts=("steady_state_after",))),
    Control("SOC 2", "A1.3", "Recovery plan procedures are tested",
            lambda j: j.measurements(("rto", "rpo", "restore_time")) + j.rungs(tuple(range(1, 10)))),
    Control("SOC 2", "CC7.5", "Recovery from identified security incidents",
            lambda j: j.attempts() + j.activities(_ATTACK, parts=("method", "rollbacks"))),
    Control("ISO 22301", "8.5", "Exercise programme — exercises, post-exercise reports",
            lambda j: j.run_record() + j.activities(_ANY, parts=("method",))),
    Control("SEC", "17a-4(f)", "Non-rewriteable, non-erasable records (COMPLIANCE-mode Object Lock)",
            lambda j: j.config("lock") + j.rungs((8,)), applies=_sec_17a4),
    Control("AWS Backup Audit Manager", "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
            "Recovery points kept at least the minimum retention", lambda j: j.config("retention")),
    Control("AWS Backup Audit Manager", "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
            "Resources protected by a vault lock", lambda j: j.config("vault lock", "vaultlock", "vault_lock")),
    Control("AWS Backup Audit Manager", "BACKUP_RECOVERY_POINT_ENCRYPTED", "Recovery points encrypted",
            lambda j: j.config("kms", "encrypt")),
    Control("AWS Backup Audit Manager", "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
            "Backups copied to another region", lambda j: j.config("copytodr", "copy to dr", "cross-region", "copy")),
    Control("AWS Backup Audit Manager", "BACKUP_LAST_RECOVERY_POINT_CREATED", "A recent recovery point exists",
            lambda j: j.activities(_ANY, lambda a: "recovery" in str(a.get("name", "")).lower())
            + j.config("recovery point")),
    Control("AWS Backup Audit Manager", "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
            "Backup plan frequency and retention", lambda j: j.config("backup plan", "frequency", "schedule")),
)


def _status(evidence: list[Evidence]) -> str:
    if not evidence:
        return "no supporting evidence in this run"
    statuses = {e["status"] for e in evidence}
    if statuses & {"failed", "error"}:
        return "evidence shows a gap"
    if "not_verified" in statuses:
        return "partly evidenced — some items not verified"
    return "evidenced"


def crosswalk(journal: dict[str, Any]) -> list[dict[str, Any]]:
    j = Journal(journal)
    rows = []
    for control in CONTROLS:
        reason = control.applies(j)
        evidence = control.evidence(j)
        status = f"not applicable: {reason}" if reason else _status(evidence)
        rows.append({"framework": control.framework, "id": control.id, "title": control.title,
                     "status": status, "evidence": evidence})
    return rows
