"""Sizes and rates as people write them: ``40TB/yr``, ``512KiB``, ``1.5 GB``.

Decimal units (KB, MB, GB, TB, PB = powers of 1000) and binary units (KiB … PiB = powers of
1024), as the IEC defines them. Billing GB are the price table's business, not this module's.
"""

from __future__ import annotations

import re

from drills.errors import UsageError

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "PIB": 2**50}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]i?B|B)?\s*$", re.IGNORECASE)
_PER_YEAR = re.compile(r"^(.*?)\s*/\s*(y|yr|year|a)\s*$", re.IGNORECASE)


def parse_size(value: object, what: str = "size") -> int:
    """Bytes from an int or a string like ``512KiB`` / ``0.65 GB``; UsageError otherwise."""
    if isinstance(value, bool):
        raise UsageError(f"{what}: expected a size like 512KiB or 40TB, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UsageError(f"{what}: must not be negative (got {value})")
        return value
    if isinstance(value, float) and value >= 0 and value == value:
        return int(round(value))
    match = _SIZE.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise UsageError(f"{what}: expected a size like 512KiB, 0.65GB or 40TB, got {value!r}")
    return int(round(float(match.group(1)) * _UNITS[(match.group(2) or "").upper()]))


def parse_growth(value: str) -> int:
    """Bytes per year from ``40TB/yr`` (``/y``, ``/year``); a bare size means per year too."""
    match = _PER_YEAR.match(value or "")
    size = parse_size(match.group(1) if match else value, "--growth")
    if size <= 0:
        raise UsageError(f"--growth: must be more than nothing per year (got {value!r})")
    return size


def human_bytes(n: float) -> str:
    """Decimal units, three significant figures: ``40.0 TB``."""
    for unit, factor in (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if abs(n) >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n:.0f} B"
