"""``drkit plan``: capacity, cost and restore-time projection of a stack's tiers.

Prints a year-by-year table (bytes per class, cost, cumulative, vs everything in Standard) and
a restore time/cost table per slice and tier; ``--json`` puts the whole plan on stdout;
``--out DIR`` writes ``plan.json`` and the charts. Exit 0, or 1 when a tier choice makes
``objectives.restoreHours`` impossible (the plan is still printed), 2 for bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from drills.cli.common import emit_json, json_option, say
from drills.plan.builder import DEFAULT_SLICES, DEFAULT_YEARS, build, load_inputs, stack_config
from drills.plan.projection import PRIMARY, REPLICA
from drills.plan.units import human_bytes, parse_growth
from drills.project import find_project


@click.command("plan")
@click.option("--stack", default="dev", show_default=True, help="Stack name (stacks/Pulumi.<stack>.yaml).")
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Pulumi project directory (default: search upward from the working directory).")
@click.option("--growth", default=None, metavar="SIZE/yr",
              help="New data a year, e.g. 40TB/yr (decimal TB; TiB for binary). Default 40TB/yr, labelled assumed.")
@click.option("--years", type=click.IntRange(1, 50), default=DEFAULT_YEARS, show_default=True)
@click.option("--mix", "mix_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Study mix YAML (default: the synthetic enterprise mix with REFERENCE.md study sizes).")
@click.option("--prices", "prices_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Price table JSON/YAML (default: the shipped drills/plan/prices.json).")
@click.option("--slice", "slices", multiple=True, metavar="priors:Ny|specialty:NAME|all",
              help=f"Restore slice (repeatable; default: {', '.join(DEFAULT_SLICES)}).")
@click.option("--restore-from", type=click.Choice([REPLICA, PRIMARY]), default=REPLICA, show_default=True,
              help="Which copy a DR restore reads.")
@click.option("--restore-days", type=click.IntRange(1, 365), default=7, show_default=True,
              help="Days a restored copy is kept (billed at Standard).")
@click.option("--delete-after", "delete_after", type=click.IntRange(1, None), default=None, metavar="DAYS",
              help="Expire studies after DAYS (default: keep everything).")
@json_option(help="The whole plan as JSON on stdout; tables go to stderr.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for plan.json, bytes-per-class.png and cost-per-year.png.")
def plan(stack: str, project_dir: Path | None, growth: str | None, years: int, mix_file: Path | None,
         prices_file: Path | None, slices: tuple[str, ...], restore_from: str, restore_days: int,
         delete_after: int | None, as_json: bool, out: Path | None) -> None:
    """Capacity, cost and restore-time plan of the stack's tiered archive."""
    project = find_project(project_dir=project_dir)
    cfg = stack_config(stack, project)
    mix, table = load_inputs(mix_file, prices_file)
    document = build(cfg, stack, growth=parse_growth(growth) if growth else None, years=years, mix=mix,
                     table=table, slices=slices or DEFAULT_SLICES, delete_after_days=delete_after,
                     restore_from=restore_from, restore_days=restore_days)
    text = render(document)
    if as_json:
        say(text)
        emit_json(document)
    else:
        click.echo(text)
    if out is not None:
        from drills.plan import plots

        out.mkdir(parents=True, exist_ok=True)
        (out / "plan.json").write_text(json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")
        written = plots.write(document, out)
        say(f"wrote {out / 'plan.json'}, " + ", ".join(str(p) for p in written))
    click.get_current_context().exit(1 if document["flags"] else 0)


def _money(value: float, currency: str) -> str:
    return f"{value:,.0f} {currency}"


def render(doc: dict[str, Any]) -> str:
    """The two tables a platform engineer takes to a budget meeting."""
    p, a = doc["prices"], doc["assumptions"]
    cur = p["currency"]
    lines = [
        f"drkit plan: stack {doc['stack']} ({doc['regions']['primary']} -> {doc['regions']['dr']}), "
        f"{a['years']} years, growth {human_bytes(a['growthBytesPerYear'])}/yr"
        + (" (assumed: pass --growth)" if a["growthAssumed"] else ""),
        f"prices: {p['name']} {p['date']} from {p['origin']}",
        *[f"  {region}: {status}" for region, status in p["regions"].items()],
        f"mix: {doc['mix']['name']}",
        "",
    ]
    classes = sorted({c for r in doc["years"] for per in r["bytes"].values() for c in per},
                     key=lambda c: (c == "VAULT", c))
    header = ["year"] + [("backup" if c == "VAULT" else c) for c in classes] + \
             ["objects", f"per month ({cur})", f"year ({cur})", f"cumulative ({cur})", f"all Standard cum. ({cur})"]
    rows = []
    for r, s in zip(doc["years"], doc["allStandard"]["years"]):
        per_class = [human_bytes(sum(per.get(c, 0) for per in r["bytes"].values())) for c in classes]
        objects = sum(v for copy, per in r["objects"].items() if copy != "backup" for v in per.values())
        rows.append([str(r["year"]), *per_class, f"{objects:,.0f}", f"{r['monthlyRunRate']:,.0f}",
                     f"{r['yearTotal']:,.0f}", f"{r['cumulative']:,.0f}", f"{s['cumulative']:,.0f}"])
    lines += ["Year by year (bytes at year end, all copies; cost per price table above)", *_table(header, rows), ""]
    c = doc["comparison"]
    if c["savingShare"] is not None:
        lines.append(f"{a['years']}-year cost: {_money(c['cumulativeTiered'], cur)} with the stack's tiers vs "
                     f"{_money(c['cumulativeAllStandard'], cur)} with everything in Standard "
                     f"({c['savingShare']:.0%} less)")
        lines.append("")
    objective = doc["objectives"]["restoreHours"]
    header = ["slice", "size", "objects", "tier", "hours", f"cost ({cur})", f"meets {objective:g} h"]
    rows = []
    for r in doc["restores"]:
        for i, t in enumerate(r["tiers"]):
            hours = "n/a: " + ",".join(t["unavailableFor"]) if t["hours"] is None else f"{t['hours']:.1f}"
            rows.append([r["label"] if i == 0 else "", human_bytes(r["bytes"]) if i == 0 else "",
                         f"{r['objects']:,}" if i == 0 else "", t["tier"], hours, f"{t['cost']:,.0f}",
                         "yes" if t["meetsObjective"] else "NO"])
    copy = doc["restores"][0]["copy"] if doc["restores"] else REPLICA
    lines += [f"DR restore from the {copy} at the end of year {a['years']} "
              f"(objectives.restoreHours = {objective:g} h; hours are AWS's documented upper bounds)",
              *_table(header, rows)]
    notes = sorted({n for r in doc["restores"] for t in r["tiers"] for n in t["notes"] if "Expedited" in n})
    lines += [f"  note: {n}" for n in notes]
    lines += [""] + [f"note: {n}" for n in doc.get("notes", [])]
    if doc["flags"]:
        lines += ["", "Flags:"] + [f"  ! {f}" for f in doc["flags"]]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = lambda row: "  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(row, widths)))  # noqa: E731
    return [fmt(header), fmt(["-" * w for w in widths]), *[fmt(r) for r in rows]]
