"""The one strict JSON encoder for every machine output (``--json``, reports written to
disk, deploy outputs, the control API, the journal).

Strict: NaN and infinities are refused (``allow_nan=False``) and nothing is silently
stringified — ``default`` converts exactly the types listed below and raises TypeError
for anything else, so an unexpected object is a bug found, not a ``"<object at 0x…>"``
in an audit artifact.

- dataclass instances -> their fields (``dataclasses.asdict``)
- Enum members -> their value
- datetime / date -> ISO-8601 (aware datetimes keep their offset)
- timedelta -> seconds (float)
- pathlib paths -> their text
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import PurePath
from typing import Any


def default(obj: Any) -> Any:
    """``json.dumps``' ``default``: the explicit conversions above, TypeError otherwise."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, PurePath):
        return str(obj)
    raise TypeError(f"drkit's JSON encoder does not convert {type(obj).__module__}.{type(obj).__qualname__}")


def dumps(document: Any, *, indent: int | None = 2) -> str:
    """Readable, stable JSON text (sorted keys), no trailing newline."""
    return json.dumps(document, indent=indent, sort_keys=True, allow_nan=False, default=default)


def canonical(document: Any) -> bytes:
    """Canonical UTF-8 bytes (sorted keys, no whitespace): the same document, the same bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=default).encode("utf-8")


def dump_text(document: Any) -> str:
    """``dumps`` with a final newline: the form written to files and stdout."""
    return dumps(document) + "\n"
