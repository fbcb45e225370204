"""Report charts drawn with matplotlib (Agg backend) and embedded as ``data:`` URIs.

Four charts, each from the report structure (never from anything else): replication lag
against the RTC 15-minute threshold, the drill timeline, measured vs objective, and the
trend across runs. A chart with no data is None; the template then says so in words.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from drills.reports.units import is_duration, to_minutes  # noqa: E402

INK, MUTED, OK, BAD, WARN, ACCENT = "#1f2a37", "#6b7280", "#2e7d32", "#c62828", "#b26a00", "#1d4ed8"
plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 8, "axes.edgecolor": MUTED,
                     "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK,
                     "axes.spines.top": False, "axes.spines.right": False})


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _suffix(report: dict[str, Any]) -> str:
    return " (simulated)" if report["target"]["simulated"] else ""


def replication_lag(report: dict[str, Any]) -> str | None:
    series = [(s["name"], s["replication_lag"]) for s in report["scenarios"] if s["replication_lag"]]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7.2, 2.6))
    threshold = series[0][1]["threshold_s"]
    top = max(threshold, max(lag["max_s"] for _, lag in series)) * 1.08
    bins = [top * i / 40 for i in range(41)]
    for index, (name, lag) in enumerate(series):
        ax.hist(lag["samples"], bins=bins, alpha=0.65, label=f"{name} (n={lag['count']})",
                color=[ACCENT, WARN, OK, MUTED][index % 4])
    ax.axvline(threshold, color=BAD, linestyle="--", linewidth=1.2)
    ax.text(threshold, ax.get_ylim()[1] * 0.92, " RTC threshold 15 min", color=BAD, fontsize=7, va="top")
    ax.set_xlabel("replication lag, seconds" + _suffix(report))
    ax.set_ylabel("objects")
    ax.legend(frameon=False, fontsize=7)
    return _png(fig)


def _t(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


def timeline(report: dict[str, Any]) -> str | None:
    start = _t(report["timeline"]["start"])
    rows = []
    for s in report["scenarios"]:
        items = s["phases"] or [{"name": a["name"], "start": a["start"], "end": a["end"]}
                                for a in report["timeline"]["activities"] if a["scenario"] == s["name"]]
        for item in items:
            a, b = _t(item["start"]), _t(item["end"])
            if start and a and b:
                rows.append((f"{s['name']} · {item['name']}", (a - start).total_seconds() / 60,
                             max((b - a).total_seconds() / 60, 0.02), s["status"]))
    if not rows:
        return None
    rows = rows[:28]
    fig, ax = plt.subplots(figsize=(7.2, 0.6 + 0.24 * len(rows)))
    colours = {"passed": OK, "failed": BAD, "not_verified": WARN, "error": BAD}
    for index, (label, left, width, status) in enumerate(reversed(rows)):
        ax.barh(index, width, left=left, height=0.6, color=colours.get(status, MUTED))
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)], fontsize=7)
    ax.set_xlabel("minutes since the run started" + _suffix(report))
    return _png(fig)


def measured_vs_objective(report: dict[str, Any]) -> str | None:
    bars = []
    for s in report["scenarios"]:
        for m in s["measurements"]:
            if m["value"] is None or not m["objective"] or not is_duration(m["unit"]):
                continue
            value, objective = to_minutes(m["value"], m["unit"]), to_minutes(m["objective"], m["unit"])
            bars.append((f"{s['name']} · {m['name']}", 100 * value / objective,
                         f"{value:.4g} of {objective:.4g} min", m["verdict"]))
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(7.2, 0.7 + 0.38 * len(bars)))
    ys = list(range(len(bars)))[::-1]
    ax.barh(ys, [b[1] for b in bars], height=0.55, color=[OK if b[3] == "met" else BAD for b in bars])
    ax.axvline(100, color=INK, linestyle="--", linewidth=1)
    right = max(120.0, max(b[1] for b in bars) * 1.35)
    for y, bar in zip(ys, bars):
        ax.text(bar[1] + right * 0.01, y, f"{bar[1]:.0f} %  ({bar[2]})", va="center", fontsize=7, color=INK)
    ax.set_xlim(0, right)
    ax.set_yticks(ys, [b[0] for b in bars], fontsize=7)
    ax.set_xlabel("measured as % of objective" + _suffix(report) + "   (dashed line: the objective)")
    return _png(fig)


def trend(report: dict[str, Any]) -> str | None:
    runs = report["history"]["runs"]
    if len(runs) < 2:
        return None
    fig, ax = plt.subplots(figsize=(7.2, 2.6))
    xs = list(range(len(runs)))
    objectives = {o["key"]: o["value"] for o in report["objectives"]["stack"]}
    for key, label, colour, objective in (("rto_minutes", "RTO", ACCENT, objectives.get("rtoMinutes")),
                                          ("rpo_minutes", "RPO", WARN, objectives.get("rpoMinutes"))):
        points = [(x, r[key]) for x, r in zip(xs, runs) if r[key] is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{label} measured",
                    color=colour)
        if objective:
            ax.axhline(objective, color=colour, linestyle="--", linewidth=0.9, alpha=0.7,
                       label=f"{label} objective ({objective:g} min)")
    labels = [(r["start"] or "")[:10] + ("*" if r["simulated"] else "") + "\n"
              + ("fully verified" if r["fully_verified"] else "not fully verified") for r in runs]
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("minutes")
    ax.set_xlabel("run start (* simulated on the embedded cloud)")
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def render_all(report: dict[str, Any]) -> dict[str, str | None]:
    return {"lag": replication_lag(report), "timeline": timeline(report),
            "objectives": measured_vs_objective(report), "trend": trend(report)}
