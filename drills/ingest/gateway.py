"""A DICOM C-STORE receiver (pynetdicom) that archives every instance through the Ingestor.

The gateway accepts every storage SOP class pynetdicom knows (and those ``drkit synth``
writes: ECG waveforms, whole-slide microscopy) in any transfer syntax, plus Verification
(C-ECHO). It keeps what the sender sent: each received data set is written out in the
DICOM File Format and handed to ``Ingestor`` unchanged, and the C-STORE response waits
for the outcome:

- archived, duplicate, conflict (new version kept beside the old) -> 0x0000 Success;
- quarantined (not archivable DICOM; the bytes are kept under ``quarantine/``) ->
  0xC000 "Cannot understand", with the reason code in Error Comment;
- the archive could not be written (cloud, network, disk) -> 0xA700 "Out of resources":
  nothing was stored and the sender should retry.

With ``spool=True`` (the default) pynetdicom writes each incoming data set to a temporary
file as it arrives (``_config.STORE_RECV_CHUNKED_DATASET``, a process-wide switch held
while any spooling gateway runs) and the Ingestor reads that file in chunks, so memory
stays bounded whatever the instance size. Logs carry per-association counts and AE
titles, never patient data.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydicom.dataset import Dataset
from pynetdicom import (
    ALL_TRANSFER_SYNTAXES,
    AE,
    AllStoragePresentationContexts,
    _config,
    evt,
)
from pynetdicom.sop_class import Verification
from pynetdicom.transport import ThreadedAssociationServer

from drills.contracts import STORAGE_SOP_CLASSES
from drills.errors import DrkitError, UsageError
from drills.ingest.core import IngestResult, Outcome

log = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700        # Storage: Refused, out of resources
CANNOT_UNDERSTAND = 0xC000       # Storage: Error, cannot understand
STORED = (Outcome.ARCHIVED, Outcome.DUPLICATE, Outcome.CONFLICT)
DEFAULT_AE_TITLE = "DRKIT"
COUNTED = tuple(o.value for o in Outcome) + ("failed",)


class IngestorLike(Protocol):
    """What the gateway needs of ``drills.ingest.core.Ingestor``."""

    def ingest_bytes(self, data: bytes, source: str) -> IngestResult: ...

    def ingest_file(self, path: Path, source: str | None = None) -> IngestResult: ...


def storage_sop_classes() -> list[str]:
    """Every storage SOP class the gateway accepts (pynetdicom's list + drkit synth's)."""
    uids = [str(cx.abstract_syntax) for cx in AllStoragePresentationContexts]
    return uids + [uid for uid in STORAGE_SOP_CLASSES.values() if uid not in uids]


def validate_ae_title(value: str, option: str = "--ae-title") -> str:
    """The AE title, or UsageError: 1-16 ASCII characters, no backslash or control characters."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{option} must not be empty (1 to 16 characters)")
    ok, reason = _config.VALIDATORS["AE"](value)
    if not ok:
        raise UsageError(f"{option} {value!r} is not a valid AE title: {reason}")
    return value.strip()


@dataclass
class GatewayStats:
    """Counts by outcome (``archived`` … ``quarantined``, ``failed``), overall and per association."""

    totals: Counter = field(default_factory=Counter)
    associations: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: str, per_association: Counter) -> None:
        with self._lock:
            self.totals[outcome] += 1
            per_association[outcome] += 1

    def opened(self) -> None:
        with self._lock:
            self.associations += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"associations": self.associations, **{k: self.totals[k] for k in COUNTED}}


class _SpoolSwitch:
    """Holds pynetdicom's process-wide chunked-receive switch on while any spooling gateway runs."""

    _lock = threading.Lock()
    _holders = 0
    _previous = False

    @classmethod
    def acquire(cls) -> None:
        with cls._lock:
            if cls._holders == 0:
                cls._previous = _config.STORE_RECV_CHUNKED_DATASET
                _config.STORE_RECV_CHUNKED_DATASET = True
            cls._holders += 1

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            cls._holders -= 1
            if cls._holders == 0:
                _config.STORE_RECV_CHUNKED_DATASET = cls._previous


class Gateway:
    """A C-STORE SCP on ``host:port`` (port 0: any free port) that archives via ``ingestor``."""

    def __init__(
        self,
        ingestor: IngestorLike,
        *,
        ae_title: str = DEFAULT_AE_TITLE,
        host: str = "127.0.0.1",
        port: int = 11112,
        spool: bool = True,
        allowed_calling: list[str] | None = None,
        max_associations: int = 10,
    ) -> None:
        if not 0 <= port <= 65535:
            raise UsageError(f"--port {port} is out of range (0-65535)")
        self.ae_title = validate_ae_title(ae_title)
        self.allowed_calling = [validate_ae_title(a, "--allow-calling") for a in allowed_calling or []]
        self.ingestor = ingestor
        self.host = host
        self.requested_port = port
        self.spool = spool
        self.max_associations = max_associations
        self.stats = GatewayStats()
        self._server: ThreadedAssociationServer | None = None
        self._per_assoc: dict[int, Counter] = {}
        self._per_assoc_lock = threading.Lock()

    # -- lifecycle
    def start(self) -> "Gateway":
        """Listen without blocking; UsageError if the port is taken."""
        if self._server is not None:
            return self
        ae = AE(ae_title=self.ae_title)
        for uid in storage_sop_classes():
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
        ae.require_called_aet = True
        if self.allowed_calling:
            ae.require_calling_aet = self.allowed_calling
        ae.maximum_associations = self.max_associations
        handlers = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_ESTABLISHED, self._on_established),
            (evt.EVT_CONN_CLOSE, self._on_closed),
        ]
        if self.spool:
            _SpoolSwitch.acquire()
        try:
            self._server = ae.start_server((self.host, self.requested_port), block=False, evt_handlers=handlers)
        except OSError as exc:
            if self.spool:
                _SpoolSwitch.release()
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"port {self.requested_port} on {self.host} is already in use",
                                 hint="pick another --port, or 0 for any free port") from exc
            raise UsageError(f"cannot listen on {self.host}:{self.requested_port}: {exc.strerror or exc}") from exc
        log.info("gateway %s listening on %s:%d", self.ae_title, self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop listening, abort associations still open, release the spool switch."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        for assoc in server.active_associations:
            assoc.abort()
        if self.spool:
            _SpoolSwitch.release()
        log.info("gateway %s stopped: %s", self.ae_title, self.stats.snapshot())

    def __enter__(self) -> "Gateway":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the gateway is not running")
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- event handlers (pynetdicom calls them on its association threads)
    def _counts(self, event: evt.Event) -> Counter:
        with self._per_assoc_lock:
            return self._per_assoc.setdefault(id(event.assoc), Counter())

    def _on_established(self, event: evt.Event) -> None:
        self.stats.opened()
        self._counts(event)

    def _on_closed(self, event: evt.Event) -> None:
        with self._per_assoc_lock:
            counts = self._per_assoc.pop(id(event.assoc), None)
        if counts is None:
            return
        peer = event.assoc.requestor
        summary = ", ".join(f"{counts[k]} {k}" for k in COUNTED if counts[k])
        log.info("association from %s (%s:%s) closed: %d received%s", peer.ae_title, peer.address,
                 peer.port, sum(counts.values()), f" ({summary})" if summary else "")

    def _on_store(self, event: evt.Event) -> int | Dataset:
        calling = (event.assoc.requestor.ae_title or "").strip() or "unknown"
        source = f"c-store:{calling}"
        counts = self._counts(event)
        try:
            result = self._ingest(event, source)
        except (DrkitError, BotoCoreError, ClientError, OSError) as exc:
            self.stats.add("failed", counts)
            log.warning("C-STORE from %s not stored (%s): answering 0xA700", calling, type(exc).__name__)
            log.debug("C-STORE failure detail: %s", exc)
            return _status(OUT_OF_RESOURCES, "archive unavailable; not stored, retry")
        self.stats.add(result.outcome.value, counts)
        if result.outcome in STORED:
            return SUCCESS
        reason = result.reason.value if result.reason else "invalid"
        log.warning("C-STORE from %s quarantined (%s)", calling, reason)
        return _status(CANNOT_UNDERSTAND, f"quarantined: {reason}")

    def _ingest(self, event: evt.Event, source: str) -> IngestResult:
        try:
            path = event.dataset_path        # spooled to a file by pynetdicom (chunked receive)
        except AttributeError:
            path = None
        if path is None:
            return self.ingestor.ingest_bytes(event.encoded_dataset(), source)
        return self.ingestor.ingest_file(Path(path), source)


def _status(code: int, comment: str) -> Dataset:
    """A C-STORE status with an Error Comment (LO, at most 64 characters, no patient data)."""
    status = Dataset()
    status.Status = code
    status.ErrorComment = comment[:64]
    return status
