"""Assemble a plan: projection (stack tiers and everything-in-Standard), restore slices and
flags, as one JSON-safe document. Every cost block names the price table it used."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from components.config import PlatformConfig, from_mapping
from drills.errors import UsageError
from drills.plan import mix as mix_module
from drills.plan import prices as price_module
from drills.plan.mix import Mix
from drills.plan.prices import PriceTable
from drills.plan.projection import PRIMARY, REPLICA, YEAR_DAYS, Scenario, as_dict, composition, project
from drills.plan.restore import Slice, estimate, parse_slice, tier_flags
from drills.plan.units import human_bytes
from drills.project import Project
from drills.storage_classes import StorageClass

DEFAULT_GROWTH = 40 * 10**12          # 40 TB a year: the example, labelled "assumed" in output
DEFAULT_YEARS = 10
DEFAULT_SLICES = ("priors:2y", "specialty:radiology", "all")
PLAN_VERSION = 1


def stack_config(stack: str, project: Project) -> PlatformConfig:
    """The stack's validated config (stacks/Pulumi.<stack>.yaml through components/config.py)."""
    return from_mapping(project.stack_config(stack))


def build(cfg: PlatformConfig, stack: str, *, growth: int | None = None, years: int = DEFAULT_YEARS,
          mix: Mix | None = None, table: PriceTable | None = None, slices: Sequence[str] = DEFAULT_SLICES,
          delete_after_days: int | None = None, restore_from: str = REPLICA, restore_days: int = 7) -> dict[str, Any]:
    if years < 1 or years > 50:
        raise UsageError(f"--years: expected 1-50, got {years}")
    if delete_after_days is not None and delete_after_days < cfg.object_lock.retention_days:
        raise UsageError(f"--delete-after: {delete_after_days} days is shorter than objectLock.retentionDays "
                         f"({cfg.object_lock.retention_days}); locked versions cannot be deleted earlier")
    mix = mix or mix_module.default_mix()
    table = table or price_module.load()
    for region in (cfg.primary_region, cfg.dr_region):
        table.region(region)                       # fail early, naming the region
    growth_assumed = growth is None
    growth = DEFAULT_GROWTH if growth is None else growth
    scenario = Scenario.from_config(cfg, delete_after_days)
    baseline = scenario.all_standard()
    tiered_rows = as_dict(project(scenario, mix, growth, years, table))
    standard_rows = as_dict(project(baseline, mix, growth, years, table))
    last_day = years * YEAR_DAYS - 1
    objective = cfg.objectives.restoreHours
    region = cfg.dr_region if restore_from == REPLICA else cfg.primary_region
    restores = []
    for text in slices:
        sl: Slice = parse_slice(text)
        comp = composition(scenario, mix, growth, last_day, restore_from, sl.max_age_days, sl.specialty)
        tiers = estimate(comp, region, table, objective, restore_days)
        restores.append({
            "slice": text, "label": sl.label, "copy": restore_from, "region": region,
            "asOfYear": years, "bytes": round(sum(b for b, _ in comp.values())),
            "objects": round(sum(o for _, o in comp.values())),
            "byClass": {k: {"bytes": round(b), "objects": round(o)} for k, (b, o) in sorted(comp.items())},
            "tiers": [t.as_dict() for t in tiers],
            "objectiveImpossible": bool(comp) and not any(t.meets for t in tiers),
        })
    flags = tier_flags(scenario.tiers, scenario.replica_class, objective)
    flags += [f"restoring {r['label']} ({human_bytes(r['bytes'])}) cannot meet objectives.restoreHours "
              f"({objective:g} h) with any restore tier" for r in restores if r["objectiveImpossible"]]
    notes = [
        "Not modelled: noncurrent versions (images are written once), GET/LIST traffic of normal use, "
        "volume price tiers, data transfer out of AWS.",
    ]
    if cfg.intelligent_tiering is not None and any(
            c is StorageClass.INTELLIGENT_TIERING for t in scenario.tiers.values() for _, c in t):
        notes.append("INTELLIGENT_TIERING is priced as its Frequent Access tier; its archive access tiers "
                     "(drkit:intelligentTiering) are not modelled - objects there would need a restore.")
    total_tiered = tiered_rows[-1]["cumulative"]
    total_standard = standard_rows[-1]["cumulative"]
    return {
        "planVersion": PLAN_VERSION, "stack": stack,
        "regions": {"primary": cfg.primary_region, "dr": cfg.dr_region},
        "prices": table.describe(cfg.primary_region, cfg.dr_region),
        "assumptions": {
            "growthBytesPerYear": growth, "growthAssumed": growth_assumed, "years": years,
            "deleteAfterDays": delete_after_days, "restoreDays": restore_days,
            "dayConvention": "365-day years, 365/12-day months; transitions on the day an age is reached",
            "model": "drills/plan/projection.py (module docstring)",
        },
        "mix": mix.describe(),
        "stackTiers": {s.value: [{"days": d, "storageClass": c.value} for d, c in t]
                       for s, t in sorted(scenario.tiers.items(), key=lambda kv: kv[0].value)},
        "replicaStorageClass": scenario.replica_class.value if scenario.replica_class else None,
        "backupVaults": list(scenario.backup_vaults),
        "objectives": {"restoreHours": objective, "rtoMinutes": cfg.objectives.rtoMinutes},
        "years": tiered_rows,
        "allStandard": {"years": standard_rows},
        "comparison": {"cumulativeTiered": total_tiered, "cumulativeAllStandard": total_standard,
                       "saving": round(total_standard - total_tiered, 2),
                       "savingShare": round(1 - total_tiered / total_standard, 4) if total_standard else None},
        "restores": restores,
        "flags": flags,
        "notes": notes,
    }


def summary(stack_name: str, project: Project) -> dict[str, Any]:
    """The plan of a stack with default inputs, trimmed for the drill journal (``"plan"``) and
    the report: totals, the last year, restore verdicts and flags. JSON-safe."""
    plan = build(stack_config(stack_name, project), stack_name)
    last = plan["years"][-1]
    return {
        "planVersion": plan["planVersion"], "stack": stack_name, "prices": plan["prices"],
        "assumptions": plan["assumptions"], "mix": {"name": plan["mix"]["name"], "source": plan["mix"]["source"]},
        "years": plan["assumptions"]["years"],
        "finalYear": {"bytes": last["bytes"], "yearTotal": last["yearTotal"],
                      "monthlyRunRate": last["monthlyRunRate"]},
        "comparison": plan["comparison"],
        "objectives": plan["objectives"],
        "restores": [{"slice": r["slice"], "label": r["label"], "bytes": r["bytes"], "objects": r["objects"],
                      "objectiveImpossible": r["objectiveImpossible"],
                      "tiers": [{k: t[k] for k in ("tier", "hours", "cost", "meetsObjective")} for t in r["tiers"]]}
                     for r in plan["restores"]],
        "flags": plan["flags"],
    }


def load_inputs(mix_path: Path | None, prices_path: Path | None) -> tuple[Mix | None, PriceTable]:
    return (mix_module.load(mix_path) if mix_path else None), price_module.load(prices_path)
