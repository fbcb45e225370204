"""Capacity, cost and recovery-time plan of a stack's tiered archive (``drkit plan``).

``mix`` (what studies arrive), ``prices`` (the price table, shipped as data), ``projection``
(year-by-year bytes, objects and cost per storage class), ``restore`` (DR restore slices per
restore tier against ``objectives.restoreHours``), ``builder`` (the whole plan as JSON) and
``plots``. ``summary(stack, project)`` is the trimmed plan the drill journal carries as
``"plan"``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["summary"]


def summary(stack_name: str, project: Any) -> dict[str, Any]:
    """JSON-safe plan summary of ``stack_name`` in ``project`` (a ``drills.project.Project``)."""
    from drills.plan.builder import summary as _summary

    return _summary(stack_name, project)
