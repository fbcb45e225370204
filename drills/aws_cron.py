"""AWS cron expressions (``cron(Minutes Hours Day-of-month Month Day-of-week Year)``).

As EventBridge and AWS Backup document them: six fields; ``*`` any, ``?`` no specific
value (exactly one of day-of-month / day-of-week must be ``?``), ``a-b`` ranges, ``a,b``
lists, ``/n`` increments; months 1-12 or JAN-DEC; days of week 1-7 (1 = Sunday) or
SUN-SAT. ``L``, ``W`` and ``#`` are not emulated (refused with a clear message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                       "NOV", "DEC"), start=1)}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
_CRON = re.compile(r"^cron\((.*)\)$")


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None        # None: "?"
    months: frozenset[int]
    weekdays: frozenset[int] | None    # 1 = Sunday; None: "?"
    years: frozenset[int] | None       # None: any
    zone: ZoneInfo | timezone

    def next_after(self, after: datetime, horizon_days: int = 366 * 5) -> datetime | None:
        """The first matching instant strictly after ``after`` (aware), or None within the horizon."""
        local = after.astimezone(self.zone)
        day = local.date()
        for _ in range(horizon_days):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime.combine(day, time(hour, minute), tzinfo=self.zone)
                        if candidate > local:
                            return candidate.astimezone(timezone.utc)
            day += timedelta(days=1)
        return None

    def _day_matches(self, day) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        if self.days is not None and day.day not in self.days:
            return False
        weekday = (day.weekday() + 1) % 7 + 1          # Python Monday=0 -> AWS Monday=2, Sunday=1
        return self.weekdays is None or weekday in self.weekdays


def parse(expression: str, zone_name: str | None = None) -> Cron:
    """Parse ``cron(...)``; ValueError with a message a person can act on."""
    match = _CRON.match(expression.strip()) if isinstance(expression, str) else None
    if not match:
        raise ValueError(f"ScheduleExpression must be cron(Minutes Hours Day-of-month Month Day-of-week Year), "
                         f"got {expression!r}")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ValueError(f"a cron expression has 6 fields, got {len(fields)} in {expression!r}")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"exactly one of day-of-month and day-of-week must be '?' in {expression!r}")
    try:
        zone: ZoneInfo | timezone = ZoneInfo(zone_name) if zone_name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown ScheduleExpressionTimezone {zone_name!r}") from exc
    return Cron(minutes=_field(minute, 0, 59), hours=_field(hour, 0, 23),
                days=None if dom == "?" else _field(dom, 1, 31), months=_field(month, 1, 12, _MONTHS),
                weekdays=None if dow == "?" else _field(dow, 1, 7, _DAYS),
                years=None if year == "*" else _field(year, 1970, 2199), zone=zone)


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if any(c in part for c in "LW#"):
            raise ValueError(f"cron {part!r}: L, W and # are not emulated")
        base, _, step_text = part.partition("/")
        step = _number(step_text, names) if step_text else 1
        if base in ("*", ""):
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _number(a, names), _number(b, names)
        else:
            start = _number(base, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ValueError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(text: str, names: dict[str, int] | None) -> int:
    key = text.upper()
    if names and key in names:
        return names[key]
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"cron value {text!r} is not a number{' or name' if names else ''}") from None
