"""Canonical JSON and digests: the one definition every hash in a run dir uses.

Canonical JSON (the journal contract, JOURNAL.md): ``sort_keys``, no whitespace, UTF-8,
no NaN. Digests are lowercase hex SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

ZERO_HASH = "0" * 64


def canonical(obj: Any) -> bytes:
    """The bytes that are hashed: sorted keys, compact separators, UTF-8, NaN refused."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pretty(obj: Any) -> str:
    """Strict, human-readable JSON for files people open (digests use ``canonical``)."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
