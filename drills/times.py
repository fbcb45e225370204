"""The one duration grammar and the one timestamp parser of drkit.

``parse_duration`` reads what people and AWS APIs write: a number of seconds, ``90s``,
``15m``, ``2h``, ``3d``, or ISO-8601 (``PT15M``, ``P1DT2H``; FIS takes this form).
``parse_time`` reads ISO-8601 timestamps (``Z`` or an offset; no offset means UTC) and
epoch seconds, as AWS APIs and moto store them, into an aware UTC datetime.
Both raise ValueError with a message naming the bad text; callers that face a person
turn it into a UsageError.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIMPLE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_ISO = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
                  re.IGNORECASE)
_EPOCH = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")

DURATION_HINT = "use a number of seconds or 90s, 15m, 2h, 3d, or ISO-8601 such as PT15M"


def parse_iso_duration(text: Any) -> timedelta:
    """An ISO-8601 duration (``PT10M``, ``P1DT2H``, ``PT0.5S``): days, hours, minutes, seconds."""
    value = text.strip() if isinstance(text, str) else None
    match = _ISO.match(value) if value else None
    if not match or value.upper() in ("P", "PT") or value.upper().endswith("T"):
        raise ValueError(f"invalid ISO-8601 duration {text!r}")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration {text!r} is longer than any date can reach") from None


def parse_duration(text: Any) -> timedelta:
    """A duration in any form the module docstring lists; ValueError otherwise."""
    value = str(text).strip()
    match = _SIMPLE.match(value)
    if match:
        try:
            return timedelta(seconds=float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()])
        except OverflowError:
            raise ValueError(f"duration {text!r} is longer than any date can reach") from None
    try:
        return parse_iso_duration(value)
    except ValueError as exc:
        if "longer than" in str(exc):
            raise
        raise ValueError(f"invalid duration {text!r}") from None


def parse_time(value: Any) -> datetime:
    """An aware UTC datetime from an ISO-8601 text, epoch seconds, or a datetime (a naive
    one is taken as UTC); ValueError otherwise."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(float(value), timezone.utc)
    elif isinstance(value, str) and _EPOCH.match(value):
        parsed = datetime.fromtimestamp(float(value), timezone.utc)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"invalid ISO-8601 timestamp {value!r}") from None
    else:
        raise ValueError(f"invalid timestamp {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_time_or_none(value: Any) -> datetime | None:
    """``parse_time``, with None and ``""`` meaning no time."""
    return None if value is None or value == "" else parse_time(value)


def utc_timestamp(when: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``: the UTC ISO-8601 form drkit writes."""
    return when.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
