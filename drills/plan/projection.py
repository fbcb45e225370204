"""Year-by-year bytes, objects and cost per storage class for a stack's archive.

Model (every assumption is here and in the plan's JSON):

* Time runs in days; a year is 365 days and a month 365/12 days (storage is billed per
  GB-month, so a day costs price × 12/365). Day 0 is the first day of ingest.
* Ingest is constant: ``growth / 365`` bytes a day, split over the mix's modalities by byte
  share and, within a modality, over its object groups. Each day's intake is a cohort that
  ages one day per day.
* A cohort's storage class follows its *timeline*: the primary copy starts in STANDARD, the
  replica in ``replication.replicaStorageClass``; the specialty's tier transitions apply on the
  day the cohort reaches their age when they move it to a colder class (S3's waterfall) and the
  objects are at least 128 KB (lifecycle's default minimum object size — smaller objects stay
  where they are). S3 runs transitions at the midnight after that age: up to a day later
  than modelled.
* A class left (by transition or deletion) before its minimum storage duration is charged for
  the remaining days at its storage price (AWS's prorated early-deletion charge).
* Standard-IA, One Zone-IA and Glacier IR bill each object as at least 128 KB; Glacier
  Flexible Retrieval and Deep Archive add 32 KB per object at their rate and 8 KB at
  Standard's.
* Deletion (``delete_after_days``, optional): on a versioned bucket an expiration only adds a
  delete marker; the version goes ``lifecycle.noncurrentExpirationDays`` later, so a cohort
  is removed at ``delete_after_days + noncurrentExpirationDays``. Without it nothing is deleted.
* AWS Backup (S3) keeps one copy of every object in a class it backs up (not Glacier Flexible
  Retrieval or Deep Archive), incremental thereafter (images do not change); an object that
  leaves those classes stays in the vault for the longest backup retention. One copy per vault:
  the primary vault, the DR vault with ``copyToDr``, the air-gapped vault with ``airGapped``.
* Requests: one PUT per object (primary, and the replica's at its class price), one transition
  request per object per transition; replication transfer (+ RTC) per byte replicated; backup
  copy transfer per byte copied out of region. GETs and LISTs of normal use are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from components.config import PlatformConfig, Tier
from drills.contracts import Specialty
from drills.plan.mix import Mix
from drills.plan.prices import PriceTable, RegionPrices
from drills.storage_classes import FACTS, StorageClass, colder, transition_allowed_by_size

YEAR_DAYS = 365
MONTH_DAYS = YEAR_DAYS / 12

PRIMARY, REPLICA, BACKUP = "primary", "replica", "backup"


@dataclass(frozen=True)
class Phase:
    """A span of ages (days) a cohort spends in one class; ``end`` None: it stays there."""

    storage_class: StorageClass
    start: int
    end: int | None
    leaves_by: str | None = None      # "transition" | "deletion"

    def days_present(self, age_limit: int) -> int:
        """How many whole ages in [start, end) are below ``age_limit`` (ages 0..age_limit-1)."""
        hi = age_limit if self.end is None else min(self.end, age_limit)
        return max(0, hi - self.start)


def timeline(initial: StorageClass, transitions: Iterable[tuple[int, StorageClass]], size: int,
             delete_at: int | None = None) -> tuple[Phase, ...]:
    """Where an object of ``size`` bytes lives at each age under lifecycle transitions."""
    phases: list[Phase] = []
    current, since = initial, 0
    for days, target in sorted(transitions, key=lambda t: t[0]):
        if delete_at is not None and days >= delete_at:
            break
        if colder(target, current) and transition_allowed_by_size(size, target):
            phases.append(Phase(current, since, days, "transition"))
            current, since = target, days
    phases.append(Phase(current, since, delete_at, "deletion" if delete_at is not None else None))
    return tuple(phases)


@dataclass(frozen=True)
class Stream:
    """Daily intake of one object group of one modality, in one copy of the archive."""

    copy: str
    region: str
    modality: str
    specialty: Specialty
    size: int
    bytes_per_day: float
    phases: tuple[Phase, ...]

    @property
    def objects_per_day(self) -> float:
        return self.bytes_per_day / self.size

    def cohorts_in(self, phase: Phase, day: int) -> int:
        """Cohorts (days of intake) in ``phase`` on ``day``: ages 0..day."""
        return phase.days_present(day + 1)

    def arrivals(self, age: int, first: int, last: int) -> int:
        """Cohorts reaching ``age`` on a day in [first, last]."""
        return max(0, last - max(first, age) + 1)


@dataclass(frozen=True)
class Scenario:
    """What the projection needs from a stack (or a hand-made case in tests)."""

    primary_region: str
    dr_region: str
    tiers: dict[Specialty, tuple[tuple[int, StorageClass], ...]]
    replica_class: StorageClass | None        # None: no replica
    rtc: bool
    backup_vaults: tuple[str, ...]            # regions of the vaults holding a copy
    backup_retention_days: int
    delete_at: int | None = None

    @classmethod
    def from_config(cls, cfg: PlatformConfig, delete_after_days: int | None = None) -> "Scenario":
        vaults = [cfg.primary_region]
        if cfg.backups.copy_to_dr:
            vaults.append(cfg.dr_region)
        if cfg.backups.air_gapped:
            vaults.append(cfg.dr_region)
        retention = max(cfg.backups.daily_retention_days,
                        cfg.backups.continuous_retention_days if cfg.backups.continuous else 0)
        delete_at = None
        if delete_after_days is not None:
            delete_at = delete_after_days + cfg.lifecycle.noncurrent_expiration_days
        return cls(cfg.primary_region, cfg.dr_region, _tier_map(cfg.tiers), cfg.replication.replica_storage_class,
                   cfg.replication.rtc, tuple(vaults), retention, delete_at)

    def all_standard(self) -> "Scenario":
        """The comparison: no tiers, replica in STANDARD, same backups and deletion."""
        return Scenario(self.primary_region, self.dr_region, {}, StorageClass.STANDARD if self.replica_class else None,
                        self.rtc, self.backup_vaults, self.backup_retention_days, self.delete_at)


def _tier_map(tiers: Sequence[Tier]) -> dict[Specialty, tuple[tuple[int, StorageClass], ...]]:
    return {t.specialty: tuple((x.days, x.storage_class) for x in t.transitions) for t in tiers}


def streams(scenario: Scenario, mix: Mix, growth_bytes_per_year: float) -> list[Stream]:
    daily = growth_bytes_per_year / YEAR_DAYS
    shares = mix.byte_shares()
    out: list[Stream] = []
    for m in mix.modalities:
        tier = scenario.tiers.get(m.specialty, ())
        for g in m.objects:
            rate = daily * shares[m.name] * (g.count * g.size) / m.study_bytes
            if rate <= 0:
                continue
            out.append(Stream(PRIMARY, scenario.primary_region, m.name, m.specialty, g.size, rate,
                              timeline(StorageClass.STANDARD, tier, g.size, scenario.delete_at)))
            if scenario.replica_class is not None:
                out.append(Stream(REPLICA, scenario.dr_region, m.name, m.specialty, g.size, rate,
                                  timeline(scenario.replica_class, tier, g.size, scenario.delete_at)))
    return out


def backup_window(primary: Stream, retention_days: int) -> int | None:
    """Age until which a primary cohort has a copy in a backup vault (None: through the horizon)."""
    for phase in primary.phases:
        if not FACTS[phase.storage_class].aws_backup:
            return phase.start + retention_days
        if phase.leaves_by == "deletion":
            return phase.end + retention_days if phase.end is not None else None
    return None


# --------------------------------------------------------------------------- costs

@dataclass
class YearResult:
    year: int
    bytes: dict[str, dict[str, float]] = field(default_factory=dict)      # copy -> class -> bytes (year end)
    objects: dict[str, dict[str, float]] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)                  # category -> USD for the year
    monthly_run_rate: float = 0.0                                         # storage+backup per month at year end

    @property
    def total(self) -> float:
        return sum(self.cost.values())


def _billed_bytes(cls: StorageClass, size: int) -> tuple[float, float]:
    """Bytes billed per object at the class's rate and at Standard's rate."""
    f = FACTS[cls]
    return max(size, f.min_billable_bytes) + f.overhead_class_bytes, float(f.overhead_standard_bytes)


def _storage_price_per_byte_day(prices: RegionPrices, cls: StorageClass, table: PriceTable) -> float:
    return prices.storage[cls.value] / table.bytes_per_gb / MONTH_DAYS


def _phase_byte_day_price(s: Stream, phase: Phase, prices: RegionPrices, table: PriceTable) -> float:
    """USD per cohort per day in ``phase``."""
    billed, std = _billed_bytes(phase.storage_class, s.size)
    per_obj = (billed * _storage_price_per_byte_day(prices, phase.storage_class, table)
               + std * _storage_price_per_byte_day(prices, StorageClass.STANDARD, table))
    return per_obj * s.objects_per_day


def _sum_cohorts(phase: Phase, first: int, last: int) -> int:
    """Σ over days first..last of the cohorts in ``phase`` (max(0, min(end, t+1) - start)), closed form."""
    start, end = phase.start, phase.end
    lo, hi = first + 1, last + 1                  # u = t + 1
    total = 0
    a, b = max(lo, start + 1), hi if end is None else min(hi, end)
    if b >= a:                                    # growing: u - start
        total += (a + b) * (b - a + 1) // 2 - start * (b - a + 1)
    if end is not None and hi >= max(lo, end + 1):  # full: end - start
        total += (end - start) * (hi - max(lo, end + 1) + 1)
    return total


def project(scenario: Scenario, mix: Mix, growth_bytes_per_year: float, years: int,
            table: PriceTable) -> list[YearResult]:
    """Year-by-year results for ``years`` years."""
    all_streams = streams(scenario, mix, growth_bytes_per_year)
    primaries = [s for s in all_streams if s.copy == PRIMARY]
    results = []
    for y in range(years):
        first, last = y * YEAR_DAYS, (y + 1) * YEAR_DAYS - 1
        r = YearResult(year=y + 1)
        cost: dict[str, float] = {}

        def add(category: str, usd: float) -> None:
            cost[category] = cost.get(category, 0.0) + usd

        run_rate = 0.0
        for s in all_streams:
            prices = table.region(s.region)
            add(f"requests:{s.copy}", (last - first + 1) * s.objects_per_day / 1000
                * prices.put[s.phases[0].storage_class.value])
            if s.copy == REPLICA:
                add("replication-transfer", (last - first + 1) * s.bytes_per_day / table.bytes_per_gb
                    * (prices.replication_transfer_per_gb + (prices.rtc_per_gb if scenario.rtc else 0.0)))
            for phase in s.phases:
                cls = phase.storage_class.value
                cohorts_now = s.cohorts_in(phase, last)
                r.bytes.setdefault(s.copy, {}).setdefault(cls, 0.0)
                r.objects.setdefault(s.copy, {}).setdefault(cls, 0.0)
                r.bytes[s.copy][cls] += cohorts_now * s.bytes_per_day
                r.objects[s.copy][cls] += cohorts_now * s.objects_per_day
                day_price = _phase_byte_day_price(s, phase, prices, table)
                add(f"storage:{s.copy}", _sum_cohorts(phase, first, last) * day_price)
                run_rate += cohorts_now * day_price * MONTH_DAYS
                if phase.start > 0:
                    add("transitions", s.arrivals(phase.start, first, last) * s.objects_per_day / 1000
                        * prices.transition[cls])
                if phase.end is not None:
                    short = FACTS[phase.storage_class].min_storage_days - (phase.end - phase.start)
                    if short > 0:
                        add("early-deletion", s.arrivals(phase.end, first, last) * short * day_price)
        for s in primaries:
            window = backup_window(s, scenario.backup_retention_days)
            span = Phase(StorageClass.STANDARD, 0, window)
            cohorts = _sum_cohorts(span, first, last)
            now = s.cohorts_in(span, last)
            for region in scenario.backup_vaults:
                prices = table.region(region)
                per_day = s.bytes_per_day / table.bytes_per_gb * prices.backup_storage_per_gb_month / MONTH_DAYS
                add("backup-storage", cohorts * per_day)
                run_rate += now * per_day * MONTH_DAYS
                if region != scenario.primary_region:
                    add("backup-copy-transfer", (last - first + 1) * s.bytes_per_day / table.bytes_per_gb
                        * table.region(scenario.primary_region).backup_copy_transfer_per_gb)
            r.bytes.setdefault(BACKUP, {}).setdefault("VAULT", 0.0)
            r.objects.setdefault(BACKUP, {}).setdefault("VAULT", 0.0)
            r.bytes[BACKUP]["VAULT"] += now * s.bytes_per_day * len(scenario.backup_vaults)
            r.objects[BACKUP]["VAULT"] += now * s.objects_per_day * len(scenario.backup_vaults)
        r.cost = cost
        r.monthly_run_rate = run_rate
        results.append(r)
    return results


def composition(scenario: Scenario, mix: Mix, growth_bytes_per_year: float, day: int, copy: str,
                max_age: int | None = None, specialty: Specialty | None = None) -> dict[str, tuple[float, float]]:
    """Bytes and objects per class, on ``day``, of the cohorts younger than ``max_age`` days
    (all if None) of one copy, optionally one specialty: the slice a restore would need."""
    out: dict[str, tuple[float, float]] = {}
    limit = day + 1 if max_age is None else min(day + 1, max_age)
    for s in streams(scenario, mix, growth_bytes_per_year):
        if s.copy != copy or (specialty is not None and s.specialty is not specialty):
            continue
        for phase in s.phases:
            n = phase.days_present(limit)
            if n:
                b, o = out.get(phase.storage_class.value, (0.0, 0.0))
                out[phase.storage_class.value] = (b + n * s.bytes_per_day, o + n * s.objects_per_day)
    return out


def as_dict(results: Sequence[YearResult]) -> list[dict[str, Any]]:
    cumulative = 0.0
    rows = []
    for r in results:
        cumulative += r.total
        rows.append({"year": r.year,
                     "bytes": {c: {k: round(v) for k, v in per.items()} for c, per in r.bytes.items()},
                     "objects": {c: {k: round(v) for k, v in per.items()} for c, per in r.objects.items()},
                     "cost": {k: round(v, 2) for k, v in sorted(r.cost.items())},
                     "yearTotal": round(r.total, 2), "cumulative": round(cumulative, 2),
                     "monthlyRunRate": round(r.monthly_run_rate, 2)})
    return rows
