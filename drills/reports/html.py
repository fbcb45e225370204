"""Report structure → one self-contained ``report.html`` (jinja2).

Self-contained: the stylesheet is inlined, charts are PNG ``data:`` URIs, and nothing is
fetched from anywhere. The same HTML, with print CSS, is what WeasyPrint turns into the PDF.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup, escape

from drills.reports import charts as chart_module

MAX_LIST = 20


def show(value: Any) -> str:
    """A journal value as a person reads it: thousands separators, at most 2 decimals, '—' for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer():
            return f"{int(value):,}"
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {show(v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        items = [show(v) for v in value[:MAX_LIST]]
        if len(value) > MAX_LIST:
            items.append(f"… {len(value) - MAX_LIST} more")
        return ", ".join(items) or "—"
    return str(value)


def brief(detail: Any) -> str:
    """A measurement's detail in one cell: scalars as they are, long lists as a count."""
    if not isinstance(detail, dict):
        return show(detail)
    parts = []
    for key, value in detail.items():
        if isinstance(value, list) and (len(value) > 5 or any(isinstance(v, (dict, list)) for v in value)):
            parts.append(f"{key}: {len(value)} item(s)")
        elif isinstance(value, dict):
            parts.append(f"{key}: {len(value)} field(s)")
        else:
            parts.append(f"{key}: {show(value)}")
    return "; ".join(parts) or "—"


def human_bytes(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return ""


def stamp(text: Any) -> Markup:
    """An ISO-8601 UTC time on two lines (date, then time) so narrow table columns stay legible."""
    text = str(text or "—")
    if "T" not in text:
        return Markup(escape(text))
    date, time = text.split("T", 1)
    return Markup(f"{escape(date)}<br>{escape(time)}")


def comparison(op: str) -> str:
    return {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "==": "="}.get(op, op)


def css_class(text: Any) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in str(text).lower())


def control_class(status: str) -> str:
    if status.startswith("not applicable"):
        return "na"
    return {"evidenced": "evidenced", "evidence shows a gap": "gap",
            "no supporting evidence in this run": "none"}.get(status, "partly")


def kv_table(data: dict[str, Any]) -> Markup:
    rows = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = list(dict.fromkeys(k for v in value for k in v))
            head = "".join(f"<th>{escape(c)}</th>" for c in columns)
            body = "".join("<tr>" + "".join(f"<td>{escape(show(v.get(c)))}</td>" for c in columns) + "</tr>"
                           for v in value[:MAX_LIST])
            cell = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        else:
            cell = str(escape(show(value)))
        rows.append(f"<tr><th>{escape(key)}</th><td>{cell}</td></tr>")
    return Markup("<table class=\"kv\">" + "".join(rows) + "</table>")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("drills.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(show=show, brief=brief, cmp=comparison, stamp=stamp, human=human_bytes, cls=css_class, control_cls=control_class, kvtable=kv_table)
    return env


def render_html(report: dict[str, Any], charts: dict[str, str | None] | None = None) -> str:
    """The report as one HTML document. ``charts`` defaults to drawing them now."""
    css = resources.files("drills.reports").joinpath("templates/report.css").read_text(encoding="utf-8")
    template = _environment().get_template("report.html.j2")
    return template.render(r=report, css=Markup(css), charts=charts if charts is not None
                           else chart_module.render_all(report), schema_keys=sorted(report))
