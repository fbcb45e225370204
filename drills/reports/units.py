"""Durations in the units a reader compares: every journal figure keeps its own unit; these
helpers only add the equivalent in minutes next to it."""

from __future__ import annotations

_TO_MINUTES = {"seconds": 1 / 60, "s": 1 / 60, "minutes": 1.0, "min": 1.0, "hours": 60.0, "h": 60.0,
               "days": 1440.0}


def to_minutes(value: float | None, unit: str) -> float | None:
    """``value`` in minutes, or None when it is missing or not a duration."""
    factor = _TO_MINUTES.get((unit or "").lower())
    if value is None or factor is None:
        return None
    return value * factor


def is_duration(unit: str) -> bool:
    return (unit or "").lower() in _TO_MINUTES
