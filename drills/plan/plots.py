"""Plan charts (matplotlib, Agg backend: files only, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from drills.storage_classes import CLASS_ORDER


def write(plan: dict[str, Any], out: Path) -> list[Path]:
    """``bytes-per-class.png`` (stacked area, end of each year) and ``cost-per-year.png``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    rows: Sequence[dict[str, Any]] = plan["years"]
    years = [r["year"] for r in rows]
    bands: dict[str, list[float]] = {}
    labels = [c for c in CLASS_ORDER] + ["VAULT"]
    for label in labels:
        series = [sum(per.get(label, 0) for per in r["bytes"].values()) / 1e12 for r in rows]
        if any(series):
            bands["AWS Backup vaults" if label == "VAULT" else label] = series
    paths = []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.stackplot(years, *bands.values(), labels=list(bands))
    ax.set_xlabel("year")
    ax.set_ylabel("TB (all copies)")
    ax.set_title(f"{plan['stack']}: bytes per storage class at year end")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    paths.append(out / "bytes-per-class.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.4
    tiered = [r["yearTotal"] for r in rows]
    standard = [r["yearTotal"] for r in plan["allStandard"]["years"]]
    ax.bar([y - width / 2 for y in years], tiered, width, label="stack tiers")
    ax.bar([y + width / 2 for y in years], standard, width, label="everything in Standard")
    ax.set_xlabel("year")
    ax.set_ylabel(plan["prices"]["currency"])
    ax.set_title(f"{plan['stack']}: cost per year (prices: {plan['prices']['name']} {plan['prices']['date']})")
    ax.legend(fontsize="small")
    fig.tight_layout()
    paths.append(out / "cost-per-year.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths
