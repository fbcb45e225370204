"""The catalogue: each weakening, how it is applied to a fresh embedded stack, and which drill
(scenario, or verification-ladder rung) must catch it with a finding naming which resource.

``stack`` changes are a config variant deployed with ``drkit up``'s offline deployer (a copy of
the project whose stack file carries them); ``drift`` names a boto3 change from
``drills.weakenings.drift`` applied after deploy, before any data is ingested; ``sim`` holds
``SimSettings`` fields for the embedded cloud (e.g. a slow replication tail); ``overrides`` change
a scenario activity's arguments (``{scenario: {activity: {argument: value}}}``). ``resource``
names the output whose value the catching finding's ``resource`` must contain; ``confirm`` the
rung-9 observations that must hold on it when AWS refuses the drift (then: prevented).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drills.errors import UsageError


@dataclass(frozen=True)
class Weakening:
    name: str
    title: str
    scenarios: tuple[str, ...] = ()          # built-in scenarios that must catch it
    rungs: tuple[int, ...] = ()              # ladder rungs that must catch it
    resource: str = "archiveBucket"          # StackOutputs field (or "archiveKey") the finding names
    codes: tuple[str, ...] = ()              # finding codes that count as catching it
    stack: dict[str, Any] = field(default_factory=dict)
    drift: str | None = None
    sim: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    # rung-9 checks of the weakened resource that must be observed in force (check, value) for a
    # refused drift to count as prevented: the refusal alone is not evidence the stack is intact
    confirm: tuple[tuple[str, str], ...] = ()
    # drift applied once the data set is in (a scheduled key deletion refuses every SSE-KMS
    # write, as S3 does: applied before ingest it would stop the rehearsal, not the drill)
    after_ingest: bool = False

    @property
    def catcher(self) -> str:
        return ", ".join([*self.scenarios, *(f"ladder rung {r}" for r in self.rungs)])


SLOW_TAIL = {"replication_lag": {"tail_fraction": 0.6, "tail_min_seconds": 1800, "tail_max_seconds": 3600,
                                 "max_seconds": 3600}}

CATALOGUE: tuple[Weakening, ...] = (
    Weakening("governance-bypass", "Object Lock GOVERNANCE with an attacker holding s3:BypassGovernanceRetention",
              scenarios=("ransomware",), codes=("attack-delete-versions-succeeded",), resource="archiveBucket",
              overrides={"ransomware": {"attack": {"bypassGovernance": True}}}),
    Weakening("replication-disabled", "the replication rule for dicom/ disabled",
              rungs=(9,), codes=("drift-replication-covers-prefix",), resource="archiveBucket", drift="disable-dicom-replication"),
    Weakening("delete-markers-not-replicated", "delete-marker replication off while failover reads the replica",
              scenarios=("region-failover",), codes=("dr-serves-deleted-objects",), resource="replicaBucket",
              stack={"replication": {"deleteMarkers": False}}),
    Weakening("rtc-off-slow-tail", "Replication Time Control off with a slow replication tail (RPO breach)",
              scenarios=("region-failover",), codes=("acknowledged-writes-not-in-dr",), resource="replicaBucket",
              stack={"replication": {"rtc": False}}, sim=SLOW_TAIL),
    Weakening("replica-versioning-suspended", "versioning suspended on the replica bucket",
              rungs=(1, 9), codes=("drift-versioning",), resource="replicaBucket", drift="suspend-replica-versioning",
              confirm=(("versioning", "Enabled"), ("object-lock", "Enabled"))),
    Weakening("no-dr-backup-copy", "backups not copied to the DR vault (restore under primary-region loss)",
              scenarios=("backup-restore",), codes=("no-recovery-point-in-vault",), resource="drBackupVault", stack={"backups": {"copyToDr": False}}),
    Weakening("vault-lock-removed", "vault lock (governance mode) removed: recovery points deletable",
              scenarios=("ransomware",), codes=("attack-delete-recovery-points-succeeded",), resource="backupVault", drift="remove-vault-locks"),
    Weakening("index-replica-missing", "the index's replica table missing in the DR region",
              rungs=(7, 9), codes=("resource-missing",), resource="indexTable", drift="drop-index-replica"),
    Weakening("pitr-off", "point-in-time recovery off on the index table",
              rungs=(9,), codes=("drift-point-in-time-recovery",), resource="indexTable", drift="pitr-off"),
    Weakening("replica-expires-current", "a lifecycle rule on the replica expiring current versions",
              scenarios=("ransomware",), codes=("lifecycle-expires-current-studies",), resource="replicaBucket", drift="replica-expires-current"),
    Weakening("archive-key-deletion", "the archive key's deletion scheduled",
              scenarios=("ransomware",), codes=("archive-key-not-enabled",), resource="archiveKey", drift="schedule-archive-key-deletion",
              after_ingest=True),
    Weakening("restore-testing-selection-deleted", "the archive's restore-testing selection deleted: its backups "
              "are never restore-tested", scenarios=("backup-restore",), codes=("restore-testing-no-job",),
              resource="archiveBucket", drift="delete-archive-restore-testing-selection"),
)

BY_NAME = {w.name: w for w in CATALOGUE}


def chosen(names: list[str]) -> list[Weakening]:
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise UsageError(f"unknown weakening(s): {', '.join(unknown)} (known: {', '.join(BY_NAME)})",
                         hint="`drkit weaken --list` lists the catalogue")
    return [BY_NAME[n] for n in names] if names else list(CATALOGUE)
