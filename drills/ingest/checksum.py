"""SHA-256 of an input computed the way S3 reports it, in one bounded-memory pass.

A single PutObject carries a full-object SHA-256. A multipart upload with SHA-256 gets a
COMPOSITE checksum from S3: the SHA-256 of the concatenated part digests, shown as
``<base64>-<part count>`` (S3 offers FULL_OBJECT multipart checksums only for CRC types).
``Digest`` keeps both, so ingest can check what S3 reports and the index can keep the
full-object digest for later byte-level verification.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import BinaryIO

READ_CHUNK = 1024 * 1024

FULL_OBJECT = "FULL_OBJECT"
COMPOSITE = "COMPOSITE"


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class Digest:
    """SHA-256 digests of one input. ``part_size`` is set when it goes up in parts."""

    size: int
    sha256: bytes
    part_size: int | None = None
    part_digests: tuple[bytes, ...] = ()

    @property
    def hex(self) -> str:
        return self.sha256.hex()

    @property
    def full_b64(self) -> str:
        """Full-object SHA-256, base64 (``x-amz-checksum-sha256`` of a single PUT)."""
        return b64(self.sha256)

    @property
    def checksum_type(self) -> str:
        return COMPOSITE if self.part_size else FULL_OBJECT

    @property
    def composite_b64(self) -> str | None:
        """``<base64 of sha256(part digests)>-<parts>`` as S3 reports a multipart SHA-256."""
        if not self.part_size:
            return None
        return f"{b64(hashlib.sha256(b''.join(self.part_digests)).digest())}-{len(self.part_digests)}"

    @property
    def expected(self) -> str:
        """What S3 should report for this input uploaded the way ingest uploads it."""
        return self.composite_b64 or self.full_b64

    def matches(self, reported: str | None) -> bool:
        """Does an S3-reported SHA-256 (full or composite, with or without ``-N``) match?"""
        if not reported:
            return False
        base, _, parts = reported.partition("-")
        if base == self.full_b64 and not parts:
            return True
        composite = self.composite_b64
        if composite is None:
            return False
        c_base, _, c_parts = composite.partition("-")
        return base == c_base and parts in ("", c_parts)


def digest_stream(fp: BinaryIO, size: int, part_size: int | None = None) -> Digest:
    """Hash ``fp[0:size]`` in READ_CHUNK reads; per-part digests too when ``part_size``."""
    whole = hashlib.sha256()
    part = hashlib.sha256() if part_size else None
    parts: list[bytes] = []
    in_part = 0
    done = 0
    fp.seek(0)
    while done < size:
        chunk = fp.read(min(READ_CHUNK, size - done))
        if not chunk:
            raise OSError(f"input ended after {done} of {size} bytes")
        done += len(chunk)
        whole.update(chunk)
        while part is not None and chunk:
            take = chunk[: part_size - in_part]
            part.update(take)
            in_part += len(take)
            chunk = chunk[len(take):]
            if in_part == part_size:
                parts.append(part.digest())
                part, in_part = hashlib.sha256(), 0
    if part is not None and (in_part or not parts):
        parts.append(part.digest())
    return Digest(size=size, sha256=whole.digest(), part_size=part_size, part_digests=tuple(parts))
