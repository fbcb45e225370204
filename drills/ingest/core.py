"""Ingest one DICOM instance into the archive and the study index, idempotently.

For every input the result is ARCHIVED, DUPLICATE, CONFLICT or QUARANTINED, and the bytes
are in the archive bucket; only an infrastructure failure raises (InfraError): the input
was not stored, or — when only the index write failed — the message names the key and
version that were stored without their index item.

- ARCHIVED: written to ``archive_key(study, series, sop)`` with an S3 SHA-256 checksum,
  the stack's KMS key when given, and the specialty/modality tags; indexed.
- DUPLICATE: the current version of that key already holds these bytes (S3's checksum,
  else the index's ContentSHA256 for that version, else the bytes themselves decide) or the
  same data set in another encoding (drills.ingest.identity: another file meta, transfer
  syntax — as a gateway re-sends it); nothing is written, the bytes first received stay, a
  missing or stale index item is repaired.
- CONFLICT: same key, different bytes. The new bytes become a new version (the bucket is
  versioned, the old version stays); the index item moves to the new version and gains a
  ``Conflicts`` entry (see drills.ingest.index). Never a silent overwrite. Also CONFLICT: a
  new key whose SOP Instance UID another study or series already claims (SOP Instance UIDs
  are globally unique; the claims table, else the index's SOP Instance UID GSI, finds the
  claim): archived under its
  own key, the index item's Conflicts entry has Kind ``SOPInstanceUIDReused`` and OtherKey.
- QUARANTINED: the bytes go to ``quarantine_key(sha256)`` with a JSON reason beside them.

Instances are identified by (Study, Series, SOP Instance UID) — the archive key. Writes for
one key are serialized within a process; two processes racing on one key can each write a
version (nothing is lost, both versions stay), and the index then names the last writer.

Requests per new instance: with a claims table (``IngestDestination.claims_table``, the
stack output ``claimsTable``) one conditional PutObject and a share of a group-committed
index write that also checks and claims the SOP Instance UID (drills.ingest.index: one
BatchGetItem and one TransactWriteItems per group of up to 50); without one, also a GSI Query
(SOP Instance UID claims, sent beside the PUT, so it adds no latency). The claims table
settles UIDs alone only once it carries its completeness marker (drills.ingest.claims,
decided once per Ingestor); an upgraded stack's table without it is written but not
trusted, and the GSI Query runs as without one until ``drkit claims backfill``. The PutObject is
conditional (``If-None-Match: *``; a 412 means
the key has a current version, and only then does ingest HEAD it to tell DUPLICATE from
CONFLICT) and its share of a group-committed index write (drills.ingest.index). While most
of the last 16 keys existed already (a re-ingest, an SQS redelivery storm) ingest HEADs
first instead, so a duplicate is not uploaded just to be refused; the PUT that follows a
HEAD that found nothing is still conditional. Multipart uploads HEAD first (s3transfer
cannot make them conditional).

Without a claims table, the GSI Query is one request per new instance and cannot be batched: BatchGetItem reads a
table's primary keys only, and a Query takes one partition-key value. DynamoDB's PartiQL
could (``SELECT ... FROM "table"."index" WHERE key IN [...]``, up to 50 values, AWS docs
"PartiQL select statements" and "PartiQL ... operators"), but moto 5.2.5 (py-partiql-parser
0.6.3) neither parses the documented ``"table"."index"`` form nor matches more than the
first value of a parameterised IN list, so it could not be tested here and is not used.

A result is only ever delivered after its index item is written: an ARCHIVED result is
always indexed. ``ingest_file``/``ingest_bytes``/``ingest_stream`` return then. ``start_file``
returns as soon as the bytes are archived, with a Future that completes once the index item
is written: the calling thread moves on to the next upload while the index writes go out in
groups beside the uploads (drills.ingest.index: several groups in flight, bounded). When the
index write fails the call raises (the Future fails with) InfraError naming the archived
key and version, so the caller knows exactly which instance is archived but not indexed;
re-ingesting it repairs the index (the DUPLICATE path writes a missing or stale item). A
later ingest of a key whose index write is still pending waits for it first, so writes to
one key keep their order.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import threading
import zlib
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from botocore.exceptions import BotoCoreError

from drills import jsonio
from drills.aws import Target
from drills.contracts import (
    DICOM_PREFIX,
    MODALITY_TAG,
    SPECIALTY_TAG,
    IndexConflict,
    IndexItem,
    QuarantineReason,
    SOP_UID_REUSED,
    StackOutputs,
    archive_key,
    index_sort_key,
    quarantine_key,
    quarantine_reason_key,
    specialty_for,
)
from drills.errors import InfraError, UsageError
from drills.ingest.checksum import COMPOSITE, FULL_OBJECT, READ_CHUNK, Digest, digest_stream
from drills.ingest.identity import dataset_digest
from drills.ingest.index import StudyIndex, claimed_key
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.paths import not_regular, printable
from drills.ingest.reader import DEFAULT_MAX_INFLATED, DicomHeader, RejectedInput, quiet_pydicom, read_header
from drills.ingest.store import ArchiveStore, StoredObject, part_size_for
from drills.times import utc_timestamp

DICOM_CONTENT_TYPE = "application/dicom"
SPOOL_IN_MEMORY = 8 * 1024 * 1024     # streams larger than this spool to a temporary file


@dataclass(frozen=True)
class IngestDestination:
    """Where instances go: the archive bucket and study index of one stack."""

    target: Target
    region: str
    archive_bucket: str
    index_table: str
    kms_key_id: str | None = None
    claims_table: str | None = None     # SOP Instance UID claims; None: the index's GSI answers

    @classmethod
    def from_outputs(cls, outputs: StackOutputs, target: Target) -> "IngestDestination":
        """The primary region's archive and index (bucket default encryption applies)."""
        return cls(
            target=target,
            region=outputs.primaryRegion,
            archive_bucket=outputs.archiveBucket,
            index_table=outputs.indexTable,
            claims_table=outputs.claimsTable,
        )


class Outcome(str, Enum):
    ARCHIVED = "archived"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class IngestResult:
    """What happened to one input. ``source`` is the caller's label; no patient data."""

    outcome: Outcome
    source: str
    size: int
    header_bytes_read: int
    key: str | None = None
    version_id: str | None = None
    checksum_sha256: str | None = None
    reason: QuarantineReason | None = None
    detail: str = ""
    sop_instance_uid: str | None = None
    study_instance_uid: str | None = None
    modality: str | None = None
    repair: str = ""          # what an earlier, interrupted run had left undone and this one wrote

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "source": self.source,
            "size": self.size,
            "headerBytesRead": self.header_bytes_read,
            "key": self.key,
            "versionId": self.version_id,
            "checksumSHA256": self.checksum_sha256,
            "reason": self.reason.value if self.reason else None,
            "detail": self.detail,
            "sopInstanceUID": self.sop_instance_uid,
            "studyInstanceUID": self.study_instance_uid,
            "modality": self.modality,
            "repair": self.repair or None,
        }


LOOKUP_THREADS = 16                      # SOP Instance UID lookups in flight beside the PUTs
RECENT_CLAIMS = 50_000                   # SOP Instance UIDs this process archived, remembered
STALE_UPLOAD_AGE = timedelta(hours=1)   # an incomplete multipart upload older than this was abandoned


@dataclass(frozen=True)
class UploadRepair:
    """Incomplete multipart uploads found before a run: aborted, or young enough to be in progress."""

    aborted: int
    in_progress: int

    def __bool__(self) -> bool:
        return bool(self.aborted or self.in_progress)

    def to_dict(self) -> dict[str, int]:
        return {"aborted": self.aborted, "leftInProgress": self.in_progress}


class _RecentKeys:
    """Whether the last WINDOW single-PUT keys already had a current version."""

    WINDOW = 16

    def __init__(self) -> None:
        self._seen: deque[bool] = deque(maxlen=self.WINDOW)
        self._lock = threading.Lock()

    def note(self, *, existed: bool) -> None:
        with self._lock:
            self._seen.append(existed)

    def mostly_existing(self) -> bool:
        with self._lock:
            return len(self._seen) >= self.WINDOW // 2 and 2 * sum(self._seen) > len(self._seen)


class _KeyLocks:
    """Striped locks: one object key is written by one thread of this process at a time."""

    def __init__(self, stripes: int = 256) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        lock = self._locks[zlib.crc32(key.encode()) % len(self._locks)]
        with lock:
            yield


def _checksum_type(stored: StoredObject) -> str:
    """FULL_OBJECT or COMPOSITE as S3 reports (inferred from ``-N`` parts when it does not
    say), ``""`` when the object carries no SHA-256 checksum at all."""
    if not stored.checksum_sha256:
        return ""
    return stored.checksum_type or (COMPOSITE if stored.multipart else FULL_OBJECT)


@contextmanager
def _opened(body: Path | BinaryIO) -> Iterator[BinaryIO]:
    """``body`` as a seekable file: a path is opened (and closed), a file object lent as is."""
    if isinstance(body, Path):
        with body.open("rb") as fp:
            yield fp
    else:
        yield body


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _read_exactly(fp: BinaryIO, size: int) -> bytes:
    """``fp``'s first ``size`` bytes; OSError when it ends before them."""
    data = fp.read(size)
    while len(data) < size:
        more = fp.read(size - len(data))
        if not more:
            raise OSError(f"input ended after {len(data)} of {size} bytes")
        data += more
    return data


def _done(result: IngestResult) -> Future:
    """A Future that already holds ``result``."""
    future: Future = Future()
    future.set_result(result)
    return future


def _reused_detail(other_key: str, stored: StoredObject) -> str:
    return (f"SOP Instance UID already archived under another study or series ({other_key}); "
            f"archived here too as {stored.key}, both kept")


def _unindexed(source: str, stored: StoredObject, exc: InfraError) -> InfraError:
    """The error saying which instance is archived but not indexed."""
    return type(exc)(
        f"{source}: archived as {stored.key} (version {stored.version_id}) but its index item was not "
        f"written: {exc.message}",
        hint=exc.hint or "ingest it again once the index is reachable: that writes the missing item",
    )


class Ingestor:
    """Validates, archives and indexes DICOM instances. Thread-safe; share one per run."""

    def __init__(
        self,
        dest: IngestDestination,
        pseudonymizer: Pseudonymizer,
        *,
        multipart_threshold: int = 8 * 1024 * 1024,
        max_inflated: int = DEFAULT_MAX_INFLATED,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        if multipart_threshold < 1:
            raise UsageError("multipart_threshold must be at least 1 byte")
        if max_inflated < 1:
            raise UsageError("max_inflated must be at least 1 byte")
        quiet_pydicom()     # pydicom warns and logs odd values, quoting them: keep patient data out
        self.max_inflated = max_inflated
        self.dest = dest
        self.threshold = multipart_threshold
        self._pseudonymizer = pseudonymizer
        self._now = now
        self._store = ArchiveStore(dest.target, dest.region, dest.archive_bucket, dest.kms_key_id, multipart_threshold)
        self._index = StudyIndex(dest.target, dest.region, dest.index_table, claims_table=dest.claims_table, now=now)
        self._locks = _KeyLocks()
        self._claims_lock = threading.Lock()
        self._recent_claims: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lookups: ThreadPoolExecutor | None = None
        self._recent = _RecentKeys()
        self._indexing: dict[str, Future] = {}      # key -> its index write still pending
        self._indexing_lock = threading.Lock()

    # -- entry points
    def ingest_file(self, path: Path, source: str | None = None) -> IngestResult:
        """Ingest a local file: below the multipart threshold read once, whole; above it in
        chunks, never whole. Returns once it is indexed."""
        return self._file(path, source, urgent=True).result()

    def start_file(self, path: Path, source: str | None = None) -> Future:
        """Ingest a local file up to its upload; the Future holds its IngestResult once the
        index item is written (or the InfraError naming the archived-but-unindexed key).
        Input errors (UsageError) and upload failures (InfraError) raise here. Index writes
        of several calls are grouped; call ``expedite`` when nothing more follows soon."""
        return self._file(path, source, urgent=False)

    def expedite(self) -> None:
        """Send the queued index writes now instead of waiting for fuller groups."""
        self._index.expedite()

    def _file(self, path: Path, source: str | None, urgent: bool) -> Future:
        path = Path(path)
        label = source if source is not None else str(path)
        try:
            # O_NONBLOCK: a FIFO opened to be refused must not block; no effect on regular files
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise UsageError(f"{printable(label)}: cannot read ({exc.strerror or exc})") from exc
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise UsageError(f"{printable(label)}: {not_regular(info.st_mode)}")
        with os.fdopen(fd, "rb") as fp:
            size = info.st_size
            if part_size_for(size, self.threshold) is None:
                # a single PUT: the file is read once, whole (it is below the multipart
                # threshold), and the header reader, the digest and the upload share the bytes
                try:
                    data = _read_exactly(fp, size)
                except OSError as exc:
                    raise InfraError(f"{printable(label)}: reading the input failed ({exc})") from exc
                return self._ingest(io.BytesIO(data), size, label, urgent=urgent)
            return self._ingest(fp, size, label, upload_path=path, urgent=urgent)

    def ingest_bytes(self, data: bytes, source: str) -> IngestResult:
        return self._ingest(io.BytesIO(data), len(data), source).result()

    def ingest_stream(self, stream: BinaryIO, source: str, size: int | None = None) -> IngestResult:
        """Ingest a forward-only stream (an S3 body, a socket): it is spooled to memory or,
        past SPOOL_IN_MEMORY bytes, a temporary file. A stream that fails or ends before
        ``size`` bytes raises InfraError: the input was not stored."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            try:
                shutil.copyfileobj(stream, spool, READ_CHUNK)
            except (OSError, ValueError, BotoCoreError) as exc:
                raise InfraError(f"{source}: reading the input stream failed ({exc})") from exc
            received = spool.tell()
            if size is not None and received != size:
                raise InfraError(f"{source}: the stream ended after {received} of {size} bytes")
            return self._ingest(spool, received, source).result()

    def check_health(self) -> None:
        """Can instances be archived now? InfraError (naming what failed) when the archive
        bucket cannot be reached (one HeadBucket)."""
        self._store.check_bucket()

    def abort_stale_uploads(self, older_than: timedelta = STALE_UPLOAD_AGE) -> UploadRepair:
        """Abort the archive's incomplete multipart uploads (left by a crash) started more than
        ``older_than`` ago; younger ones may belong to a writer still at work: counted, left alone."""
        aborted = in_progress = 0
        cutoff = self._now() - older_than
        for upload in self._store.incomplete_uploads(DICOM_PREFIX):
            initiated = upload.get("Initiated")
            if isinstance(initiated, datetime) and initiated.astimezone(timezone.utc) > cutoff:
                in_progress += 1
                continue
            self._store.abort_upload(upload["Key"], upload["UploadId"])
            aborted += 1
        return UploadRepair(aborted, in_progress)

    # -- the pipeline
    def _ingest(self, fp: BinaryIO, size: int, source: str, upload_path: Path | None = None,
                urgent: bool = True) -> Future:
        # ``_file`` passes a path only for a multipart upload: it reads the file by its path,
        # each part on its own thread; everything else uploads ``fp`` itself
        body: Path | BinaryIO = upload_path if upload_path is not None else fp
        try:
            header = read_header(fp, size, self.max_inflated)
        except RejectedInput as rejected:
            return _done(self._quarantine(fp, body, size, source, rejected))
        except OSError as exc:
            raise InfraError(f"{source}: reading the input failed ({exc})") from exc
        digest = self._digest(fp, size, source)
        return self._archive(body, header, digest, source, urgent)

    def _digest(self, fp: BinaryIO, size: int, source: str) -> Digest:
        try:
            return digest_stream(fp, size, part_size_for(size, self.threshold))
        except OSError as exc:
            raise InfraError(f"{source}: reading the input failed ({exc})") from exc

    def _archive(self, body: Path | BinaryIO, header: DicomHeader, digest: Digest, source: str,
                 urgent: bool = True) -> Future:
        key = archive_key(header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid)
        with self._locks.hold(key):
            self._await_index_write(key)
            return self._archive_locked(key, body, header, digest, source, urgent)

    def _await_index_write(self, key: str) -> None:
        """Wait for a pending index write of ``key`` (its outcome goes to its own caller)."""
        with self._indexing_lock:
            pending = self._indexing.get(key)
        if pending is not None:
            if not pending.done():
                self._index.expedite()      # no lingering for a fuller group: someone waits
            wait_futures([pending])

    def _archive_locked(self, key: str, body: Path | BinaryIO, header: DicomHeader, digest: Digest, source: str,
                        urgent: bool) -> Future:
        specialty = specialty_for(header.modality)
        tags = {SPECIALTY_TAG: specialty.value, MODALITY_TAG: header.modality or "unknown"}
        if digest.part_size is None:
            # without a claims table the SOP Instance UID lookup runs beside the PUT (a new key
            # needs it), not after it; with one, the index's group commit settles the claim
            claims = (None if self._index.claims_complete() or self._recent.mostly_existing()
                      else self._lookup_claims(header.sop_instance_uid))
            created, current = self._put_if_new(key, body, digest, tags)
            if created is not None:
                return self._archived(source, header, created, digest, claims, urgent)
            if claims is not None:
                claims.cancel()
        else:
            current = self._store.head(key)
        if current is not None and self._same_bytes(current, digest, header):
            with self._unindexed_on_failure(source, current):
                repaired = self._repair_index(current, header, digest)
            detail = "already archived" + ("; index item repaired" if repaired else "")
            return _done(self._result(Outcome.DUPLICATE, source, header, current, detail,
                                      repair="index item" if repaired else ""))
        stored_digest = self._same_data_set(body, current, source) if current is not None else None
        if current is not None and stored_digest is not None:
            with self._unindexed_on_failure(source, current):
                repaired = self._repair_index(current, header, stored_digest)
            detail = ("already archived: the same data set in another encoding (file meta, transfer "
                      "syntax); the bytes first received are kept" + ("; index item repaired" if repaired else ""))
            return _done(self._result(Outcome.DUPLICATE, source, header, current, detail,
                                      repair="index item" if repaired else ""))
        stored = self._store.put(key, body, digest, tags=tags, content_type=DICOM_CONTENT_TYPE)
        if current is None:
            return self._archived(source, header, stored, digest, None, urgent)
        conflict = IndexConflict(
            detected_at=self._timestamp(),
            previous_version_id=current.version_id or "null",
            previous_checksum_sha256=current.checksum_sha256 or "",
            previous_size=current.size,
            version_id=stored.version_id or "null",
            checksum_sha256=stored.checksum_sha256 or "",
        )
        with self._unindexed_on_failure(source, stored):
            self._index.record(self._item(header, stored, digest).to_item(), conflict.to_item())
        detail = (
            f"SOP Instance UID already archived with different bytes: new version "
            f"{stored.version_id} written, previous version {current.version_id} kept"
        )
        return _done(self._result(Outcome.CONFLICT, source, header, stored, detail))

    def _put_if_new(
        self, key: str, body: Path | BinaryIO, digest: Digest, tags: dict[str, str]
    ) -> tuple[StoredObject | None, StoredObject | None]:
        """Write ``key`` if it has no current version: (the new version, None), else (None,
        the current version or None if it went away meanwhile). A conditional PUT asks S3
        directly; while most recent keys existed already (a re-ingest) a HEAD asks first,
        so the bytes are not sent just to be refused."""
        head_first = self._recent.mostly_existing()
        if head_first:
            current = self._store.head(key)
            self._recent.note(existed=current is not None)
            if current is not None:
                return None, current
        created = self._store.put_if_absent(key, body, digest, tags=tags, content_type=DICOM_CONTENT_TYPE)
        if not head_first:
            self._recent.note(existed=created is None)
        if created is not None:
            return created, None
        return None, self._store.head(key)

    def _archived(self, source: str, header: DicomHeader, stored: StoredObject, digest: Digest,
                  claims: Future | None, urgent: bool) -> Future:
        """Index a newly written instance and report it ARCHIVED — or CONFLICT when another
        study or series already claims its SOP Instance UID (the bytes stay archived under
        their own key, nothing is lost; the index item records the clash). The item joins the
        index's group commit; the Future completes once it is written."""
        with self._unindexed_on_failure(source, stored):
            other = None if self._index.claims_complete() else self._other_claim(header, claims)
            if other is not None:
                other_key = claimed_key(other, header.sop_instance_uid)
                conflict = IndexConflict(detected_at=self._timestamp(), kind=SOP_UID_REUSED, other_key=other_key,
                                         version_id=stored.version_id or "null",
                                         checksum_sha256=stored.checksum_sha256 or "").to_item()
                self._index.record(self._item(header, stored, digest).to_item(), conflict)
                return _done(self._result(Outcome.CONFLICT, source, header, stored, _reused_detail(other_key, stored)))
            written = self._index.submit(self._item(header, stored, digest).to_item(), urgent=urgent)
        result = self._result(Outcome.ARCHIVED, source, header, stored)
        outcome: Future = Future()
        outcome.set_running_or_notify_cancel()
        with self._indexing_lock:
            self._indexing[stored.key] = outcome

        def settle(done: Future) -> None:
            with self._indexing_lock:
                if self._indexing.get(stored.key) is outcome:
                    del self._indexing[stored.key]
            error = done.exception()
            if error is None and done.result() is not None:       # the claims table named another item
                outcome.set_result(self._result(Outcome.CONFLICT, source, header, stored,
                                                _reused_detail(done.result(), stored)))
            elif error is None:
                outcome.set_result(result)
            elif isinstance(error, InfraError):
                outcome.set_exception(_unindexed(source, stored, error))
            else:
                outcome.set_exception(error)

        written.add_done_callback(settle)
        return outcome

    def _lookup_claims(self, sop_uid: str) -> Future:
        with self._claims_lock:
            if self._lookups is None:
                self._lookups = ThreadPoolExecutor(max_workers=LOOKUP_THREADS, thread_name_prefix="drkit-sop-lookup")
            return self._lookups.submit(self._index.claims, sop_uid)

    def _other_claim(self, header: DicomHeader, claims: Future | None) -> tuple[str, str] | None:
        """(study, SeriesSop) of another item claiming this SOP Instance UID, else None — from
        the index's GSI, and from this process's recent claims (the GSI lags its writes)."""
        uid = header.sop_instance_uid
        mine = (header.study_instance_uid, index_sort_key(header.series_instance_uid, uid))
        found = claims.result() if claims is not None else self._index.claims(uid)
        with self._claims_lock:
            recent = self._recent_claims.get(uid)
            if recent is not None and recent != mine:
                return recent
            other = next((c for c in found or [] if c != mine), None)
            if other is None:
                self._recent_claims[uid] = mine
                self._recent_claims.move_to_end(uid)
                while len(self._recent_claims) > RECENT_CLAIMS:
                    self._recent_claims.popitem(last=False)
            return other

    @staticmethod
    @contextmanager
    def _unindexed_on_failure(source: str, stored: StoredObject) -> Iterator[None]:
        """Say which instance is archived but not indexed when the index write fails."""
        try:
            yield
        except InfraError as exc:
            raise _unindexed(source, stored, exc) from exc

    def _same_bytes(self, current: StoredObject, digest: Digest, header: DicomHeader) -> bool:
        """Does the current version hold exactly these bytes? S3's checksum decides when it
        can; a multipart object cut into other parts falls back to the index, then to a read."""
        if current.size != digest.size:
            return False
        if digest.matches(current.checksum_sha256):
            return True
        if current.checksum_sha256 and not current.multipart:
            return False
        item = self._index.read(header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid)
        if item and item.version_id == current.version_id and item.content_sha256:
            return item.content_sha256 == digest.full_b64
        return self._store.sha256_of(current.key, current.version_id) == digest.sha256

    def _same_data_set(self, body: Path | BinaryIO, current: StoredObject, source: str) -> Digest | None:
        """When the bytes differ: does the current version hold the same data set
        (drills.ingest.identity)? Its byte digest if so (for the index), else None. Reads the
        current version once; taken only on this path, never for a new instance."""
        try:
            with _opened(body) as fp:
                size = fp.seek(0, 2)
                mine = dataset_digest(fp, size, self.max_inflated)
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
                size = self._store.download(current.key, current.version_id, spool)
                theirs = dataset_digest(spool, size, self.max_inflated)
                if theirs != mine:
                    return None
                return digest_stream(spool, size, part_size_for(size, self.threshold))
        except RejectedInput:
            return None
        except OSError as exc:
            raise InfraError(f"{source}: reading the input failed ({exc})") from exc

    def _repair_index(self, current: StoredObject, header: DicomHeader, digest: Digest) -> bool:
        """Point the index at ``current`` unless it already does; True if it wrote."""
        item = self._index.read(header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid)
        if item and item.version_id == current.version_id and item.content_sha256 == digest.full_b64:
            return False
        if item is None and self._index.claims_complete():
            # the group commit claims the SOP Instance UID with the item (a UID another item
            # holds is recorded on the item as a conflict)
            self._index.add(self._item(header, current, digest).to_item())
            return True
        conflict = None
        if item and item.content_sha256 and item.content_sha256 != digest.full_b64:
            # an earlier CONFLICT wrote its version but not its index update: record it now
            conflict = IndexConflict(
                detected_at=self._timestamp(),
                previous_version_id=item.version_id,
                previous_checksum_sha256=item.checksum_sha256,
                previous_size=item.size,
                version_id=current.version_id or "null",
                checksum_sha256=current.checksum_sha256 or "",
            ).to_item()
        self._index.record(self._item(header, current, digest).to_item(), conflict)
        return True

    def _quarantine(
        self, fp: BinaryIO, body: Path | BinaryIO, size: int, source: str, rejected: RejectedInput
    ) -> IngestResult:
        digest = self._digest(fp, size, source)
        key = quarantine_key(digest.hex)
        reason_key = quarantine_reason_key(digest.hex)
        repair = ""
        with self._locks.hold(key):
            current = self._store.head(key)
            if current is not None and current.size == size and digest.matches(current.checksum_sha256):
                stored, detail = current, f"{rejected.detail} (already quarantined)"
                if self._store.head(reason_key) is None:
                    # an earlier run crashed between the bytes and their reason: write it now
                    self._write_reason(reason_key, rejected, source, size, digest, key, stored)
                    detail = f"{rejected.detail} (already quarantined; reason document rewritten)"
                    repair = "quarantine reason"
            else:
                stored, detail = self._store.put(key, body, digest), rejected.detail
                self._write_reason(reason_key, rejected, source, size, digest, key, stored)
        return IngestResult(
            outcome=Outcome.QUARANTINED,
            source=source,
            size=size,
            header_bytes_read=rejected.bytes_read,
            key=key,
            version_id=stored.version_id,
            checksum_sha256=stored.checksum_sha256,
            reason=rejected.quarantine_reason,
            detail=detail,
            repair=repair,
        )

    def _write_reason(self, reason_key: str, rejected: RejectedInput, source: str, size: int, digest: Digest,
                      key: str, stored: StoredObject) -> None:
        """The JSON reason document beside quarantined bytes (no patient data: codes and sizes)."""
        reason = {
            "reason": rejected.quarantine_reason.value,
            "detail": rejected.detail,
            "source": printable(source),
            "size": size,
            "sha256": digest.hex,
            "key": key,
            "versionId": stored.version_id,
            "quarantinedAt": self._timestamp(),
        }
        document = jsonio.dumps(reason).encode("utf-8")
        self._store.put(reason_key, io.BytesIO(document), digest_stream(io.BytesIO(document), len(document)),
                        content_type="application/json")

    # -- helpers
    def _timestamp(self) -> str:
        return utc_timestamp(self._now())

    def _item(self, header: DicomHeader, stored: StoredObject, digest: Digest) -> IndexItem:
        checksum_type = _checksum_type(stored)
        composite = (checksum_type == COMPOSITE and bool(digest.composite_b64)
                     and digest.matches(stored.checksum_sha256))
        return IndexItem(
            study_instance_uid=header.study_instance_uid,
            series_instance_uid=header.series_instance_uid,
            sop_instance_uid=header.sop_instance_uid,
            sop_class_uid=header.sop_class_uid,
            modality=header.modality,
            specialty=specialty_for(header.modality).value,
            study_date=header.study_date,
            size=digest.size,
            checksum_sha256=stored.checksum_sha256 or "",
            version_id=stored.version_id or "null",
            key=stored.key,
            patient_id_hash=self._pseudonymizer.hash(header.patient_id),
            accession_hash=self._pseudonymizer.hash(header.accession_number),
            transfer_syntax_uid=header.transfer_syntax_uid,
            ingested_at=self._timestamp(),
            content_sha256=digest.full_b64,
            checksum_type=checksum_type,
            part_size=digest.part_size if composite else None,
            part_count=len(digest.part_digests) if composite else None,
            hash_key_version=self._pseudonymizer.version,
        )

    @staticmethod
    def _result(
        outcome: Outcome, source: str, header: DicomHeader, stored: StoredObject, detail: str = "",
        repair: str = "",
    ) -> IngestResult:
        return IngestResult(
            outcome=outcome,
            source=source,
            size=stored.size,
            header_bytes_read=header.header_bytes_read,
            key=stored.key,
            version_id=stored.version_id,
            checksum_sha256=stored.checksum_sha256,
            detail=detail,
            sop_instance_uid=header.sop_instance_uid,
            study_instance_uid=header.study_instance_uid,
            modality=header.modality or None,
            repair=repair,
        )
