"""DR restore-slice estimator: how long and how much to bring a slice of the archive back, per
restore tier, against the stack's ``objectives.restoreHours``.

A slice is ``priors:Ny`` (every study ingested in the last N years), ``specialty:NAME`` or
``all``, read from one copy (the DR replica by default) at the end of the projection.

Time for a tier = the slowest class in the slice (the documented upper bound of that tier for
each archived class; classes that need no restore count 0) + the time to *issue* the restore
requests at S3's documented rate of 1,000 per second per account. A tier missing for a class
(Expedited for Deep Archive) makes that tier impossible for the slice. Cost = retrieval per GB
and per 1,000 requests of each class/tier, plus the temporary restored copy kept
``restore_days`` at Standard's storage price (AWS bills it while it exists).
Bandwidth to copy restored data elsewhere is not modelled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from drills.contracts import Specialty
from drills.errors import UsageError
from drills.plan.prices import INSTANT, PriceTable
from drills.storage_classes import (EXPEDITED_TYPICAL_MAX_OBJECTS, FACTS, RESTORE_REQUESTS_PER_SECOND,
                                    RESTORE_TIERS, StorageClass)

MONTH_DAYS = 365 / 12
_PRIORS = re.compile(r"^priors:(\d+)\s*(y|yr|years?)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Slice:
    label: str
    max_age_days: int | None = None
    specialty: Specialty | None = None


def parse_slice(text: str) -> Slice:
    value = (text or "").strip()
    match = _PRIORS.match(value)
    if match:
        years = int(match.group(1))
        if years < 1:
            raise UsageError(f"--slice {text!r}: priors need at least 1 year")
        return Slice(f"priors of the last {years} year{'s' if years > 1 else ''}", max_age_days=years * 365)
    if value.lower().startswith("specialty:"):
        name = value.split(":", 1)[1].strip().lower()
        try:
            return Slice(f"all {name} studies", specialty=Specialty(name))
        except ValueError:
            raise UsageError(f"--slice {text!r}: unknown specialty (one of: "
                             f"{', '.join(s.value for s in Specialty)})") from None
    if value.lower() == "all":
        return Slice("the whole archive")
    raise UsageError(f"--slice {text!r}: expected priors:Ny, specialty:NAME or all")


@dataclass(frozen=True)
class TierEstimate:
    tier: str
    hours: float | None                 # None: the tier is not available for a class in the slice
    cost: float
    meets: bool
    unavailable: tuple[str, ...]
    notes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"tier": self.tier, "hours": None if self.hours is None else round(self.hours, 3),
                "cost": round(self.cost, 2), "meetsObjective": self.meets,
                "unavailableFor": list(self.unavailable), "notes": list(self.notes)}


def estimate(composition: dict[str, tuple[float, float]], region: str, table: PriceTable,
             objective_hours: float, restore_days: int = 7,
             request_rate: float = RESTORE_REQUESTS_PER_SECOND) -> list[TierEstimate]:
    """One estimate per restore tier for a slice given as class -> (bytes, objects)."""
    prices = table.region(region)
    gb = table.bytes_per_gb
    out = []
    for tier in RESTORE_TIERS:
        slowest, cost, archived_objects = 0.0, 0.0, 0.0
        unavailable, notes = [], []
        for cls_name, (size, count) in sorted(composition.items()):
            cls = StorageClass(cls_name)
            facts = FACTS[cls]
            if facts.restore_hours:
                window = facts.restore_hours.get(tier)
                if window is None:
                    unavailable.append(cls_name)
                    continue
                slowest = max(slowest, window[1])
                archived_objects += count
                price = prices.retrieval[cls_name][tier]
                cost += size / gb * prices.storage[StorageClass.STANDARD.value] * restore_days / MONTH_DAYS
            else:
                price = prices.retrieval[cls_name][INSTANT]
            cost += size / gb * price.per_gb + count / 1000 * price.per_1000
        hours = None if unavailable else slowest + archived_objects / request_rate / 3600
        if tier == "Expedited" and archived_objects > EXPEDITED_TYPICAL_MAX_OBJECTS:
            notes.append(f"Expedited is meant for up to hundreds of objects; {archived_objects:,.0f} need "
                         "provisioned capacity or some requests may be refused")
        if archived_objects:
            notes.append(f"includes {archived_objects / request_rate / 3600:.2f} h to issue "
                         f"{archived_objects:,.0f} restore requests at {request_rate:,.0f}/s")
        out.append(TierEstimate(tier, hours, cost, hours is not None and hours <= objective_hours,
                                tuple(unavailable), tuple(notes)))
    return out


def tier_flags(tiers: dict[Specialty, tuple[tuple[int, StorageClass], ...]], replica_class: StorageClass | None,
               objective_hours: float) -> list[str]:
    """Tier choices under which ``objectives.restoreHours`` cannot be met even by the fastest tier."""
    flags = []
    for specialty, transitions in sorted(tiers.items(), key=lambda kv: kv[0].value):
        for days, cls in transitions:
            flag = _too_slow(cls, objective_hours)
            if flag:
                flags.append(f"{specialty.value}: {cls.value} from day {days}: {flag} - studies older than "
                             f"{days} days cannot be restored within objectives.restoreHours ({objective_hours:g} h)")
    if replica_class is not None:
        flag = _too_slow(replica_class, objective_hours)
        if flag:
            flags.append(f"replication.replicaStorageClass {replica_class.value}: {flag} - no replica can be "
                         f"restored within objectives.restoreHours ({objective_hours:g} h)")
    return flags


def _too_slow(cls: StorageClass, objective_hours: float) -> str | None:
    windows = FACTS[cls].restore_hours
    if not windows:
        return None
    tier, (_, high) = min(windows.items(), key=lambda kv: kv[1][1])
    if high <= objective_hours:
        return None
    return f"its fastest restore ({tier}) takes up to {high:g} h"
