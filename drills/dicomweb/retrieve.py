"""WADO-RS reads from the archive, each checked against the SHA-256 the archive stored.

``stream_instances`` yields a multipart/related body part by part, chunk by chunk straight
from S3 (memory stays at a couple of chunks whatever the study size). The last chunk of
each part is held back until the part's SHA-256 matched the index's ContentSHA256: on a
mismatch the stream stops with IntegrityError before that chunk and before the closing
boundary, so the client sees an aborted transfer, never a complete corrupt instance.

``verified_copy`` reads one whole instance into a spooled file (memory up to SPOOL bytes,
then disk) and checks it before anything of it is answered (metadata, bulk data, frames).

``available`` sorts the instances of a request before any byte is sent: those this region's
bucket does not hold (not replicated yet) and those whose stored S3 checksum disagrees with
the index are withheld and reported in a Warning header.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import tempfile
from dataclasses import dataclass, field
from typing import IO, Iterator

from drills.contracts import IndexItem
from drills.dicomweb import multipart
from drills.dicomweb.source import ArchiveSource
from drills.errors import InfraError

CHUNK = 1024 * 1024
SPOOL = 16 * 1024 * 1024
log = logging.getLogger("drkit.dicomweb")


class IntegrityError(InfraError):
    """An archived instance's bytes do not hash to the SHA-256 the archive stored."""


@dataclass
class Availability:
    ready: list[IndexItem] = field(default_factory=list)
    absent: list[IndexItem] = field(default_factory=list)       # not in this region's bucket
    corrupt: list[IndexItem] = field(default_factory=list)      # stored checksum disagrees / none to check
    failed_on_read: int = 0                                      # bytes read did not match (metadata path)

    def warnings(self, region: str) -> list[str]:
        out = []
        if self.absent:
            out.append(f"{len(self.absent)} instance(s) are not in the {region} archive (not replicated yet?) "
                       "and were not returned")
        if self.corrupt or self.failed_on_read:
            failed = len(self.corrupt) + self.failed_on_read
            out.append(f"{failed} instance(s) failed the archive's SHA-256 integrity check "
                       "and were not returned")
        return out


def available(source: ArchiveSource, items: list[IndexItem]) -> Availability:
    result = Availability()
    for item in items:
        head = source.head(item)
        if head is None:
            result.absent.append(item)
        elif not item.content_sha256 or _s3_disagrees(head, item):
            log.warning("integrity: %s withheld (stored checksum missing or different from the index)", item.key)
            result.corrupt.append(item)
        else:
            result.ready.append(item)
    return result


def _s3_disagrees(head: dict, item: IndexItem) -> bool:
    """S3's full-object SHA-256 (single PUT) differs from the index's ContentSHA256."""
    stored = head.get("ChecksumSHA256")
    if not stored or "-" in stored or head.get("ChecksumType") == "COMPOSITE":
        return False           # a composite checksum is checked on the bytes instead
    return stored != item.content_sha256


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def part_type(item: IndexItem) -> str:
    ts = item.transfer_syntax_uid
    return f"application/dicom; transfer-syntax={ts}" if ts else "application/dicom"


def stream_instances(source: ArchiveSource, items: list[IndexItem], boundary: str,
                     base: str) -> Iterator[bytes]:
    """The multipart/related body of ``items`` (see the module docstring)."""
    for item in items:
        location = (f"{base}/studies/{item.study_instance_uid}/series/{item.series_instance_uid}"
                    f"/instances/{item.sop_instance_uid}")
        yield multipart.part_head(boundary, part_type(item), location)
        yield from _checked_body(source, item)
        yield multipart.part_tail()
    yield multipart.closing(boundary)


def _checked_body(source: ArchiveSource, item: IndexItem) -> Iterator[bytes]:
    body = source.open(item)
    digest = hashlib.sha256()
    held: bytes | None = None
    try:
        for chunk in multipart.iter_chunks(body, CHUNK):
            digest.update(chunk)
            if held is not None:
                yield held
            held = chunk
    finally:
        body.close()
    if _b64(digest.digest()) != item.content_sha256:
        log.error("integrity: %s (version %s) does not match its stored SHA-256; transfer aborted",
                  item.key, item.version_id)
        raise IntegrityError(f"{item.key}: bytes do not match the archive's SHA-256; transfer aborted")
    if held is not None:
        yield held


def verified_copy(source: ArchiveSource, item: IndexItem) -> IO[bytes]:
    """A seekable, checked copy of one instance (caller closes it)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL)
    digest = hashlib.sha256()
    body = source.open(item)
    try:
        for chunk in multipart.iter_chunks(body, CHUNK):
            digest.update(chunk)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    finally:
        body.close()
    if not item.content_sha256 or _b64(digest.digest()) != item.content_sha256:
        spool.close()
        log.error("integrity: %s (version %s) does not match its stored SHA-256", item.key, item.version_id)
        raise IntegrityError(f"{item.key}: bytes do not match the archive's SHA-256")
    spool.seek(0)
    return spool
