"""Read and validate a DICOM file's header without reading its pixel data.

``read_header(fp, size)`` checks, in order: the 128-byte preamble and ``DICM``; the File
Meta Information group and its Transfer Syntax UID (known to pydicom); the structure of the
whole data set (every declared element length must fit in the file, so a file cut inside
its pixel data is caught without reading the pixels: only element headers are read and
values are skipped by seeking); then pydicom parses the header (``stop_before_pixels``,
``defer_size``) and the SOP Class/Instance, Study and Series UIDs must be present and valid.
Anything that fails raises ``RejectedInput`` with a machine-readable QuarantineReason.

I/O goes through ``HeaderStream``: the first read fetches a 64 KiB prefix (enough for most
headers), sequential reads past it fetch growing blocks, reads after a seek fetch a few KiB.
``bytes_fetched`` is what the header cost, reported per instance as ``header_bytes_read``.
The structure walk notes where top-level Pixel Data starts; when everything before it is
still in the bytes fetched from offset 0, pydicom parses those bytes from memory (an
``io.BytesIO``) instead of through ``HeaderStream``'s Python-level reads: it fetches
nothing more, and read_header took about 30 % less CPU on the synthetic data set.

The walk also notes where the top-level elements ingest reads (HEADER_TAGS) keep their
values. When pydicom's parse could only repeat the walk — little endian, the transfer
syntax's VR encoding throughout the top level, no top-level element of undefined length
before Pixel Data (pydicom would parse such a sequence item by item), every value in the
bytes already fetched — those values become the same ``RawDataElement``s pydicom's
generator yields (tag, VR, length, value or None when deferred, position) in a pydicom
``Dataset``, without a second pass over every element (``_walked_dataset``; about 40 % of
read_header's CPU). Anything else goes through pydicom's parse as before; a test compares
both on the synthetic data set, the hostile corpus and fuzzed files.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.filereader import ENCODED_VR, _at_pixel_data, read_dataset
from pydicom.tag import BaseTag
from pydicom.values import convert_string, empty_value_for_VR
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

from drills.contracts import QuarantineReason
from drills.errors import InvalidDicomError

PREFIX_BYTES = 64 * 1024          # first fetch: parses most headers (REFERENCE.md)
MAX_FETCH = 1024 * 1024           # largest block fetched by sequential header reads
SEEK_FETCH = 4 * 1024             # fetch after a seek (element headers past the pixel data)
DEFER_SIZE = 1024                 # pydicom skips header values larger than this
DEFAULT_MAX_INFLATED = 64 * 1024 * 1024   # a deflated data set may inflate to this (configurable)
INFLATE_IN_MEMORY = 2 * 1024 * 1024       # inflated bytes beyond this spool to a temporary file
INFLATE_CHUNK = 256 * 1024                # inflated per step (bounds memory per deflate bomb)
MAX_READ = 256 * 1024 * 1024      # one header read larger than this is refused
MAX_DEPTH = 32                    # nesting of undefined-length sequences/items

_TAG_LONG = {True: struct.Struct("<HHL"), False: struct.Struct(">HHL")}
_SHORT = {True: struct.Struct("<H"), False: struct.Struct(">H")}
_LONG = {True: struct.Struct("<L"), False: struct.Struct(">L")}

UNDEFINED = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_DELIMITER = 0xFFFEE00D
SEQUENCE_DELIMITER = 0xFFFEE0DD
PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})   # Pixel, Float, Double Float
PIXEL_HEADER_MAX = 12             # bytes pydicom reads of the Pixel Data element before it stops
LONG_VRS = frozenset(vr.encode("ascii") for vr in EXPLICIT_VR_LENGTH_32)

SOP_CLASS_UID = 0x00080016
SOP_INSTANCE_UID = 0x00080018
STUDY_UID = 0x0020000D
SERIES_UID = 0x0020000E
REQUIRED_UIDS = (
    (SOP_CLASS_UID, "SOPClassUID (0008,0016)"),
    (SOP_INSTANCE_UID, "SOPInstanceUID (0008,0018)"),
    (STUDY_UID, "StudyInstanceUID (0020,000D)"),
    (SERIES_UID, "SeriesInstanceUID (0020,000E)"),
)
MODALITY = 0x00080060
STUDY_DATE = 0x00080020
PATIENT_ID = 0x00100020
ACCESSION = 0x00080050
ROWS, COLUMNS = 0x00280010, 0x00280011
PIXEL_DATA_PROVIDER_URL = 0x00287FE0   # JPIP: image attributes, pixels elsewhere
SPECIFIC_CHARACTER_SET = 0x00080005
# the elements read_header uses: pydicom builds only these (the others are skipped, not
# parsed; the structure walk has checked every element's length already)
HEADER_TAGS = [SPECIFIC_CHARACTER_SET, SOP_CLASS_UID, SOP_INSTANCE_UID, STUDY_DATE, ACCESSION, MODALITY, PATIENT_ID,
               STUDY_UID, SERIES_UID, ROWS, COLUMNS, PIXEL_DATA_PROVIDER_URL]
_HEADER_TAG_SET = frozenset(HEADER_TAGS)

_UID_RE = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_MODALITY_RE = re.compile(r"[A-Z0-9_ ]{1,16}")
_DATE_RE = re.compile(r"[0-9]{8}")


class RejectedInput(InvalidDicomError):
    """The input cannot be archived. ``quarantine_reason`` says why; ``bytes_read`` is
    what the header reader had fetched when it gave up. Messages never carry values."""

    def __init__(self, reason: QuarantineReason, message: str, bytes_read: int = 0) -> None:
        super().__init__(reason.value, message)
        self.quarantine_reason = reason
        self.detail = message
        self.bytes_read = bytes_read


@dataclass(frozen=True)
class DicomHeader:
    """What ingest needs from one instance. Patient identifiers are kept out of repr()."""

    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    modality: str
    study_date: str
    header_bytes_read: int
    patient_id: str = field(default="", repr=False)
    accession_number: str = field(default="", repr=False)


class _Truncated(Exception):
    """Raised inside the structure walk: a declared length runs past the end."""


class _Malformed(Exception):
    """Raised inside the structure walk: bytes that are not a DICOM element structure."""


class HeaderStream:
    """A read/seek/tell view of ``raw[0:size]`` that fetches on demand and counts it."""

    def __init__(self, raw: BinaryIO, size: int) -> None:
        self._raw = raw
        self.size = size
        self._pos = 0
        self._buf = b""
        self._start = 0
        self._grow = PREFIX_BYTES
        self._head = b""              # the longest run of bytes fetched from offset 0
        self.bytes_fetched = 0

    def head(self, end: int) -> bytes | None:
        """``raw[0:end]`` if those bytes were fetched already (nothing is fetched), else None."""
        head = self._buf if self._start == 0 and len(self._buf) > len(self._head) else self._head
        return head[:end] if end <= len(head) else None

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            base = 0
        elif whence == 1:
            base = self._pos
        elif whence == 2:
            base = self.size
        else:
            raise ValueError(f"invalid whence ({whence})")
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        offset = self._pos - self._start
        if n is not None and n >= 0 and offset >= 0 and offset + n <= len(self._buf):   # buffered
            self._pos += n
            return self._buf[offset: offset + n]
        if n is None or n < 0:
            n = self.size - self._pos
        n = max(0, min(n, self.size - self._pos))
        if n == 0:
            return b""
        if n > MAX_READ:
            raise _Malformed(f"a header read of {n} bytes exceeds the {MAX_READ}-byte limit")
        end = self._pos + n
        if not (self._start <= self._pos and end <= self._start + len(self._buf)):
            self._fill(n)
        offset = self._pos - self._start
        data = self._buf[offset: offset + n]
        self._pos += len(data)
        return data

    def _fill(self, n: int) -> None:
        if self._start == 0 and len(self._buf) > len(self._head):
            self._head = self._buf
        buf_end = self._start + len(self._buf)
        if self._start <= self._pos <= buf_end:          # sequential: keep the tail, grow
            keep = self._buf[self._pos - self._start:]
            want = max(n - len(keep), self._grow if self._buf else PREFIX_BYTES)
            self._grow = min(self._grow * 2, MAX_FETCH)
            fetched = self._fetch(buf_end, want)
            self._buf, self._start = keep + fetched, self._pos
        else:                                            # after a seek: small block
            self._buf, self._start = self._fetch(self._pos, max(n, SEEK_FETCH)), self._pos

    def _fetch(self, offset: int, length: int) -> bytes:
        length = min(length, self.size - offset)
        if length <= 0:
            return b""
        self._raw.seek(offset)
        chunks, remaining = [], length
        while remaining:
            chunk = self._raw.read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        self.bytes_fetched += len(data)
        return data


class _Walker:
    """Check the element structure of a data set by reading element headers only."""

    def __init__(self, stream: BinaryIO, size: int, little: bool) -> None:
        self.fp = stream
        self.size = size
        self.pixel_data_at: int | None = None     # where the first top-level Pixel Data element starts
        # top level, before Pixel Data: HEADER_TAGS' (VR, length, value offset), the last of
        # each tag (as pydicom keeps it); whether an element had undefined length; the VR mode
        self.values: dict[int, tuple[bytes | None, int, int]] = {}
        self.undefined_at_top = False
        self.top_implicit: bool | None = None
        self._tag_long = _TAG_LONG[little]         # (group, element, 32-bit length)
        self._short = _SHORT[little]
        self._long = _LONG[little]

    @property
    def pixel_data_seen(self) -> bool:
        return self.pixel_data_at is not None

    def _read_exact(self, n: int) -> bytes:
        data = self.fp.read(n)
        if len(data) < n:
            raise _Truncated(f"file ends inside an element header at byte {self.fp.tell()}")
        return data

    def _detect_implicit(self, default: bool) -> bool:
        """pydicom's rule: the first element's VR bytes decide (A-Z twice means explicit)."""
        pos = self.fp.tell()
        head = self.fp.read(6)
        self.fp.seek(pos)
        if len(head) < 6:
            return default
        if self._tag_long.unpack_from(head.ljust(8, b"\0"))[0] == 0xFFFE:
            return default
        return not (0x40 < head[4] < 0x5B and 0x40 < head[5] < 0x5B)

    def element(self, implicit: bool, top: bool = False) -> tuple[int, bytes | None, int] | None:
        """Read one element header; None at a clean end of file (at the top level, fewer
        than 8 trailing zero bytes count as padding, as pydicom reads them)."""
        first = self.fp.read(8)
        if not first or (top and len(first) < 8 and not first.strip(b"\x00")):
            return None
        if len(first) < 8:
            raise _Truncated(f"file ends inside an element header at byte {self.fp.tell()}")
        group, elem, long_length = self._tag_long.unpack(first)
        tag = group << 16 | elem
        if group == 0xFFFE or implicit:
            return tag, None, long_length
        vr = first[4:6]
        if vr in ENCODED_VR:
            if vr in LONG_VRS:
                return tag, vr, self._long.unpack(self._read_exact(4))[0]
            return tag, vr, self._short.unpack_from(first, 6)[0]
        if not (b"AA" <= vr <= b"ZZ"):                   # implicit VR inside explicit data
            return tag, None, long_length
        return tag, vr, self._short.unpack_from(first, 6)[0]

    def dataset(self, implicit: bool, depth: int, in_item: bool) -> None:
        """Walk elements until EOF (top level) or the item delimiter (inside an item)."""
        if depth > MAX_DEPTH:
            raise _Malformed(f"sequences nested deeper than {MAX_DEPTH}")
        implicit = self._detect_implicit(implicit)
        top = depth == 0
        if top:
            self.top_implicit = implicit
        while True:
            start = self.fp.tell()
            header = self.element(implicit, top=not in_item)
            if header is None:
                if in_item:
                    raise _Truncated("file ends inside a sequence item")
                return
            tag, vr, length = header
            if tag == ITEM_DELIMITER:
                if in_item:
                    return
                raise _Malformed(f"item delimiter outside a sequence at byte {self.fp.tell() - 8}")
            if tag in (ITEM, SEQUENCE_DELIMITER):
                raise _Malformed(f"item tag outside a sequence at byte {self.fp.tell() - 8}")
            if top and self.pixel_data_at is None:
                if tag in PIXEL_TAGS:
                    self.pixel_data_at = start
                elif length == UNDEFINED:
                    self.undefined_at_top = True
                elif tag in _HEADER_TAG_SET:
                    self.values[tag] = (vr, length, self.fp.tell())
            if length == UNDEFINED:
                if vr not in (None, b"SQ", b"UN", b"OB", b"OW"):
                    raise _Malformed(f"element ({tag >> 16:04X},{tag & 0xFFFF:04X}) has undefined length")
                self.items(implicit, depth + 1)
            else:
                self.skip(length, tag)

    def items(self, implicit: bool, depth: int) -> None:
        """Walk the items of an undefined-length sequence or encapsulated pixel data."""
        while True:
            header = self.element(True)
            if header is None:
                raise _Truncated("file ends inside an undefined-length sequence")
            tag, _, length = header
            if tag == SEQUENCE_DELIMITER:
                return
            if tag != ITEM:
                raise _Malformed(f"expected an item at byte {self.fp.tell() - 8}")
            if length == UNDEFINED:
                self.dataset(implicit, depth, in_item=True)
            else:
                self.skip(length, "item")

    def skip(self, length: int, what: str | int) -> None:
        """Seek past a value of ``length`` bytes; ``what`` names it (a tag or a word)."""
        end = self.fp.tell() + length
        if end > self.size:
            if isinstance(what, int):
                what = f"({what >> 16:04X},{what & 0xFFFF:04X})"
            raise _Truncated(f"{what} declares {length} bytes; the file ends {end - self.size} bytes early")
        self.fp.seek(end)


def _text(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        return raw.decode("ascii", errors="replace").strip(" \x00")
    return str(raw).strip(" \x00")


def _meta(stream: HeaderStream) -> tuple[str, int]:
    """Walk the File Meta group (explicit VR little endian): transfer syntax, data set start."""
    walker = _Walker(stream, stream.size, little=True)
    stream.seek(132)
    ts, seen = None, 0
    while True:
        start = stream.tell()
        header = walker.element(walker._detect_implicit(False))
        if header is None or header[0] >> 16 != 0x0002:
            stream.seek(start)
            break
        seen += 1
        tag, _, length = header
        if length == UNDEFINED:
            raise _Malformed("a File Meta element has undefined length")
        if tag == 0x00020010:
            value = stream.read(length)
            if len(value) < length:
                raise _Truncated("file ends inside the Transfer Syntax UID")
            ts = _text(value)
        else:
            walker.skip(length, "a File Meta element")
    if not seen:
        raise RejectedInput(QuarantineReason.MISSING_META, "no File Meta Information group after DICM")
    if not ts:
        raise RejectedInput(QuarantineReason.MISSING_META, "File Meta Information has no Transfer Syntax UID")
    return ts, stream.tell()


def _check_preamble(stream: HeaderStream) -> None:
    head = stream.read(132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return
    if 128 < len(head) < 132 and b"DICM".startswith(head[128:]):
        raise RejectedInput(QuarantineReason.TRUNCATED, "file ends inside the DICM prefix")
    if _looks_like_bare_dataset(head):
        raise RejectedInput(
            QuarantineReason.MISSING_META,
            "a DICOM data set without the Part 10 preamble, DICM prefix and File Meta group",
        )
    raise RejectedInput(QuarantineReason.NOT_DICOM, "no DICM prefix at byte 128")


def _looks_like_bare_dataset(head: bytes) -> bool:
    """pydicom's force=True territory: a data set that starts with a group 0002/0008 element."""
    if len(head) < 8:
        return False
    group, elem = struct.unpack("<HH", head[:4])
    if group not in (0x0002, 0x0008) or elem > 0x0100:
        return False
    vr = head[4:6]
    return vr in ENCODED_VR or struct.unpack("<L", head[4:8])[0] < len(head) + 1024


def _valid_uid(text: str) -> bool:
    """PS3.5 9.1: digits and dots, no leading zeros, at most 64 characters."""
    return len(text) <= 64 and _UID_RE.fullmatch(text) is not None


def _transfer_syntax(ts: str) -> tuple[UID, bool, bool, bool]:
    if not _valid_uid(ts):
        raise RejectedInput(QuarantineReason.UNREADABLE_TRANSFER_SYNTAX, "the Transfer Syntax UID is not a valid UID")
    uid = UID(ts)
    if not uid.is_transfer_syntax:
        raise RejectedInput(
            QuarantineReason.UNREADABLE_TRANSFER_SYNTAX,
            "the Transfer Syntax UID is not a transfer syntax pydicom knows",
        )
    deflated = uid == DeflatedExplicitVRLittleEndian
    little = uid != ExplicitVRBigEndian
    return uid, uid.is_implicit_VR, little, deflated


def inflate(stream: BinaryIO, start: int, size: int, limit: int) -> tempfile.SpooledTemporaryFile:
    """Inflate the deflated data set at ``stream[start:size]`` (PS3.5 A.5) into a spooled
    file (memory up to INFLATE_IN_MEMORY, then disk), positioned at 0. More than ``limit``
    inflated bytes is a deflate bomb: RejectedInput(INFLATED_TOO_LARGE), after at most
    ``limit`` bytes were produced, INFLATE_CHUNK at a time."""
    stream.seek(start)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    spool = tempfile.SpooledTemporaryFile(max_size=INFLATE_IN_MEMORY)
    total = 0
    try:
        while not inflater.eof:
            chunk = inflater.unconsumed_tail or stream.read(min(INFLATE_CHUNK, max(0, size - stream.tell())))
            if not chunk:
                break
            out = inflater.decompress(chunk, min(INFLATE_CHUNK, limit + 1 - total))
            total += len(out)
            if total > limit:
                raise RejectedInput(
                    QuarantineReason.INFLATED_TOO_LARGE,
                    f"deflated data set inflates beyond the {_mib(limit)} limit (--max-inflated-mib)",
                )
            spool.write(out)
        if not inflater.eof:
            raise RejectedInput(QuarantineReason.TRUNCATED, "deflated data set ends before its final block")
    except zlib.error as exc:
        spool.close()
        raise RejectedInput(QuarantineReason.UNREADABLE, f"deflated data set is corrupt ({exc})") from exc
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


PYDICOM_MODULES = r"pydicom(\..*)?$"


def quiet_pydicom() -> None:
    """Keep pydicom's reports on invalid values out of the process's output: pydicom both
    warns and logs them, quoting the value (``Invalid value for VR DA: '19610214'`` — a
    birth date). Its loggers (``pydicom`` and below) stop at their own NullHandler.
    Process-wide and idempotent; every entry point that reads DICOM calls it (ingest, the
    DICOMweb app), never at import."""
    warnings.filterwarnings("ignore", module=PYDICOM_MODULES)
    logging.getLogger("pydicom").propagate = False


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB"


def _check_structure(stream: HeaderStream, start: int, implicit: bool, little: bool) -> tuple[bool, int, _Walker]:
    """Walk the data set. Returns whether it carries top-level pixel data, how many
    bytes from the start of the file pydicom needs to parse the header (up to just past
    the Pixel Data element's header), and the walker (what it noted on the way)."""
    stream.seek(start)
    walker = _Walker(stream, stream.size, little)
    walker.dataset(implicit, depth=0, in_item=False)
    if walker.pixel_data_at is None:
        return False, stream.size, walker
    return True, min(stream.size, walker.pixel_data_at + PIXEL_HEADER_MAX), walker


def _walked_dataset(stream: HeaderStream, walker: _Walker, header_end: int, implicit: bool,
                    little: bool) -> pydicom.Dataset | None:
    """The Dataset pydicom's parse (``_parse``) would return, built from what the walk noted
    — or None where the parse could differ from the walk (see the module docstring)."""
    if not little or walker.undefined_at_top or walker.top_implicit != implicit:
        return None
    prefix = stream.head(header_end)
    if prefix is None:
        return None
    elements: dict[BaseTag, RawDataElement] = {}
    for tag, (vr_bytes, length, tell) in walker.values.items():
        vr = vr_bytes.decode("latin-1") if vr_bytes is not None else None    # as pydicom decodes it
        if length > DEFER_SIZE and tag != SPECIFIC_CHARACTER_SET:
            value = None                                   # deferred, as pydicom defers it
        elif length == 0:
            value = empty_value_for_VR(vr, raw=True)
        else:
            value = prefix[tell: tell + length]
        elements[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr, length, value, tell, implicit, little)
    ds = pydicom.Dataset(elements)
    try:
        # what read_dataset does with Specific Character Set (its generator converts it on
        # the way, refusing what Python has no codec name for), then the data set's encoding
        encoding: str | list[str] = default_encoding
        charset = elements.get(BaseTag(SPECIFIC_CHARACTER_SET))
        if charset is not None:
            convert_encodings(convert_string(charset.value or b"", little))
            encoding = convert_encodings(convert_raw_data_element(charset).value)
        ds.set_original_encoding(implicit, little, encoding)
    except Exception as exc:  # noqa: BLE001 - as _parse: any pydicom failure is a quarantine reason
        raise _pydicom_refused(exc) from exc
    return ds


def _check_inflated(inflated: BinaryIO, implicit: bool) -> bool:
    """Walk an inflated data set; whether it carries top-level pixel data."""
    size = inflated.seek(0, 2)
    walker = _Walker(inflated, size, little=True)
    inflated.seek(0)
    walker.dataset(implicit, depth=0, in_item=False)
    return walker.pixel_data_seen


# pydicom meets hostile input with many exception types (ValueError, KeyError,
# struct.error, UnicodeError, RecursionError, ...). This is the one boundary where any
# parse failure becomes a quarantine reason instead of a crash: nothing may be lost.
def _pydicom_refused(exc: Exception) -> RejectedInput:
    """What pydicom's refusal of a header becomes: UNREADABLE, naming only the error type."""
    return RejectedInput(QuarantineReason.UNREADABLE, f"pydicom cannot parse the header ({type(exc).__name__})")


def _parse(stream: HeaderStream, header_end: int, start: int, implicit: bool, little: bool) -> pydicom.Dataset:
    """pydicom's parse of the data set's header (from ``start``, past the File Meta group that
    ``data_set_start`` has read and checked): from memory when ``raw[0:header_end]`` was
    fetched already, else through ``stream``."""
    prefix = stream.head(header_end)
    source: BinaryIO = io.BytesIO(prefix) if prefix is not None else stream
    source.seek(start)
    try:
        return read_dataset(source, implicit, little, defer_size=DEFER_SIZE, stop_when=_at_pixel_data,
                            specific_tags=HEADER_TAGS)
    except RejectedInput:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _pydicom_refused(exc) from exc


def _parse_inflated(inflated: BinaryIO, implicit: bool) -> pydicom.Dataset:
    """pydicom's parse of an inflated data set's header, from the spool (pydicom's own
    deflate support would inflate the whole data set in memory)."""
    inflated.seek(0)
    try:
        return read_dataset(inflated, implicit, True, defer_size=DEFER_SIZE, stop_when=_at_pixel_data)
    except RejectedInput:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _pydicom_refused(exc) from exc


def _element_text(ds: pydicom.Dataset, tag: int) -> str | None:
    """A short element's raw value as text, without pydicom value conversion."""
    elem = ds.get_item(tag, keep_deferred=True)
    if elem is None:
        return None
    value = elem.value
    if value is None and getattr(elem, "length", 0):
        return "\x7f" * 65                   # deferred: longer than any valid short value
    return _text(value)


def _person_text(ds: pydicom.Dataset, tag: int) -> str:
    """A LO/SH value decoded with the data set's character set (for hashing only)."""
    elem = ds.get_item(tag, keep_deferred=True)
    if elem is None or elem.value is None:
        return ""
    value = elem.value
    if not isinstance(value, bytes):
        return str(value).strip(" \x00")
    try:
        charsets = pydicom.charset.convert_encodings(ds.get("SpecificCharacterSet", "ISO_IR 6") or "ISO_IR 6")
        return pydicom.charset.decode_bytes(value, charsets, set()).strip(" \x00")
    except (LookupError, ValueError, TypeError):
        return value.decode("latin-1").strip(" \x00")


def _uids(ds: pydicom.Dataset) -> dict[int, str]:
    found: dict[int, str] = {}
    for tag, name in REQUIRED_UIDS:
        text = _element_text(ds, tag)
        if not text:
            raise RejectedInput(QuarantineReason.MISSING_UID, f"{name} is missing or empty")
        if not _valid_uid(text):
            raise RejectedInput(QuarantineReason.INVALID_UID, f"{name} is not a valid UID")
        found[tag] = text
    return found


def read_header(fp: BinaryIO, size: int, max_inflated: int = DEFAULT_MAX_INFLATED) -> DicomHeader:
    """Validate the DICOM instance in ``fp[0:size]`` (seekable) and return its header.

    Raises RejectedInput with the QuarantineReason when the input cannot be archived
    (a deflated data set inflating beyond ``max_inflated`` bytes included); an OSError
    from ``fp`` propagates (the caller decides whether that is infrastructure).
    """
    stream = HeaderStream(fp, size)
    try:
        return _read(stream, max_inflated)
    except RejectedInput as exc:
        exc.bytes_read = stream.bytes_fetched
        raise
    except _Truncated as exc:
        raise RejectedInput(QuarantineReason.TRUNCATED, str(exc), stream.bytes_fetched) from exc
    except _Malformed as exc:
        raise RejectedInput(QuarantineReason.UNREADABLE, str(exc), stream.bytes_fetched) from exc
    except OSError:
        raise                                   # the input could not be read: the caller decides
    except Exception as exc:  # noqa: BLE001 - the last resort: what cannot be read is quarantined, never lost
        raise RejectedInput(QuarantineReason.UNREADABLE, f"the header cannot be read ({type(exc).__name__})",
                            stream.bytes_fetched) from exc


def data_set_start(stream: HeaderStream) -> tuple[UID, bool, bool, bool, int]:
    """Check the preamble and File Meta group: (transfer syntax, implicit VR, little endian,
    deflated, offset of the data set). RejectedInput when they are not DICOM."""
    _check_preamble(stream)
    ts_text, start = _meta(stream)
    ts, implicit, little, deflated = _transfer_syntax(ts_text)
    return ts, implicit, little, deflated, start


def _read(stream: HeaderStream, max_inflated: int) -> DicomHeader:
    ts, implicit, little, deflated, start = data_set_start(stream)
    if deflated:
        with inflate(stream, start, stream.size, max_inflated) as inflated:
            has_pixels = _check_inflated(inflated, implicit)
            ds = _parse_inflated(inflated, implicit)
    else:
        has_pixels, header_end, walker = _check_structure(stream, start, implicit, little)
        ds = _walked_dataset(stream, walker, header_end, implicit, little)
        if ds is None:
            ds = _parse(stream, header_end, start, implicit, little)
    uids = _uids(ds)
    if not has_pixels and ROWS in ds and COLUMNS in ds and PIXEL_DATA_PROVIDER_URL not in ds:
        raise RejectedInput(QuarantineReason.TRUNCATED, "image attributes present but the file ends before Pixel Data")
    modality = (_element_text(ds, MODALITY) or "").upper()
    study_date = _element_text(ds, STUDY_DATE) or ""
    return DicomHeader(
        sop_class_uid=uids[SOP_CLASS_UID],
        sop_instance_uid=uids[SOP_INSTANCE_UID],
        study_instance_uid=uids[STUDY_UID],
        series_instance_uid=uids[SERIES_UID],
        transfer_syntax_uid=str(ts),
        modality=modality if _MODALITY_RE.fullmatch(modality) else "",
        study_date=study_date if _DATE_RE.fullmatch(study_date) else "",
        header_bytes_read=stream.bytes_fetched,
        patient_id=_person_text(ds, PATIENT_ID),
        accession_number=_person_text(ds, ACCESSION),
    )
