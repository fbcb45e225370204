"""The identity of an instance's content: a digest of its data set, not of its file.

The same instance can arrive as different bytes: another File Meta group (a gateway writes
its own implementation UID), explicit or implicit VR, big or little endian, deflated or
not, sequences and items of defined or undefined length, with or without group lengths.
``dataset_digest`` hashes what those encodings share — for every data set element, at any
depth: its tag, then its value bytes in little endian (sequences recursively, item by item;
encapsulated pixel data fragment by fragment) — and leaves out what they do not: the
preamble and File Meta group, VRs, length fields, group lengths (gggg,0000) and trailing
padding (FFFC,FFFC). Two inputs with one digest hold the same data set; a changed value,
element or pixel is a different digest. Pixel data re-compressed into another transfer
syntax is a different digest (other bytes: a real change as far as the archive can tell).

Values are read in chunks and hashed as they stream, so memory stays bounded whatever the
instance size; deflated data sets are inflated under the ingest bound (drills.ingest.reader).
"""

from __future__ import annotations

import hashlib
import struct
from array import array
from typing import BinaryIO

from pydicom.filereader import ENCODED_VR

from drills.ingest.reader import (
    DEFAULT_MAX_INFLATED,
    ITEM,
    ITEM_DELIMITER,
    LONG_VRS,
    MAX_DEPTH,
    PIXEL_TAGS,
    SEQUENCE_DELIMITER,
    UNDEFINED,
    HeaderStream,
    RejectedInput,
    data_set_start,
    inflate,
)
from drills.contracts import QuarantineReason

CHUNK = 1024 * 1024                 # a multiple of 8: byte swapping never splits a value
TRAILING_PADDING = 0xFFFCFFFC
_SWAP_WIDTH = {b"US": 2, b"SS": 2, b"OW": 2, b"AT": 2, b"UL": 4, b"SL": 4, b"FL": 4, b"OF": 4, b"OL": 4,
               b"FD": 8, b"OD": 8, b"SV": 8, b"UV": 8, b"OV": 8}
_ARRAY_CODE = {2: "H", 4: "I", 8: "Q"}


class _Bad(Exception):
    """The bytes are not a data set this digest can walk."""


def dataset_digest(fp: BinaryIO, size: int, max_inflated: int = DEFAULT_MAX_INFLATED) -> bytes:
    """SHA-256 of the canonical form of the data set in ``fp[0:size]`` (a DICOM Part 10
    file). RejectedInput when it is not one (callers digest only inputs read_header accepted)."""
    stream = HeaderStream(fp, size)
    _, implicit, little, deflated, start = data_set_start(stream)
    digest = hashlib.sha256()
    try:
        if deflated:
            with inflate(stream, start, size, max_inflated) as inflated:
                end = inflated.seek(0, 2)
                inflated.seek(0)
                _Canonical(inflated, True, digest).dataset(implicit, end, depth=0, in_item=False)
        else:
            fp.seek(start)
            _Canonical(fp, little, digest).dataset(implicit, size, depth=0, in_item=False)
    except (_Bad, struct.error) as exc:
        raise RejectedInput(QuarantineReason.UNREADABLE, f"data set cannot be walked for its digest ({exc})") from exc
    return digest.digest()


class _Canonical:
    """Walks a data set and feeds its canonical form to ``digest``."""

    def __init__(self, fp: BinaryIO, little: bool, digest: "hashlib._Hash") -> None:
        self.fp = fp
        self.little = little
        self.h = digest
        self._tag_long = struct.Struct("<HHL" if little else ">HHL")
        self._short = struct.Struct("<H" if little else ">H")
        self._long = struct.Struct("<L" if little else ">L")

    def _read(self, n: int) -> bytes:
        data = self.fp.read(n)
        if len(data) < n:
            raise _Bad("the data set ends inside an element")
        return data

    def _implicit(self, default: bool) -> bool:
        pos = self.fp.tell()
        head = self.fp.read(6)
        self.fp.seek(pos)
        if len(head) < 6 or self._tag_long.unpack_from(head.ljust(8, b"\0"))[0] == 0xFFFE:
            return default
        return not (0x40 < head[4] < 0x5B and 0x40 < head[5] < 0x5B)

    def _header(self, implicit: bool) -> tuple[int, bytes | None, int] | None:
        first = self.fp.read(8)
        if len(first) < 8:
            if not first.strip(b"\0"):
                return None
            raise _Bad("the data set ends inside an element header")
        group, elem, long_length = self._tag_long.unpack(first)
        tag = group << 16 | elem
        if implicit or group == 0xFFFE:
            return tag, None, long_length
        vr = first[4:6]
        if vr in ENCODED_VR:
            if vr in LONG_VRS:
                return tag, vr, self._long.unpack(self._read(4))[0]
            return tag, vr, self._short.unpack_from(first, 6)[0]
        if not (b"AA" <= vr <= b"ZZ"):
            return tag, None, long_length
        return tag, vr, self._short.unpack_from(first, 6)[0]

    def dataset(self, implicit: bool, end: int, *, depth: int, in_item: bool) -> None:
        """Elements until ``end`` or, in an undefined-length item, its delimiter."""
        if depth > MAX_DEPTH:
            raise _Bad(f"sequences nested deeper than {MAX_DEPTH}")
        implicit = self._implicit(implicit)
        while self.fp.tell() < end:
            header = self._header(implicit)
            if header is None:
                if in_item:
                    raise _Bad("the data set ends inside an item")
                return
            tag, vr, length = header
            if tag == ITEM_DELIMITER:
                if in_item:
                    return
                raise _Bad("an item delimiter outside a sequence")
            if tag >> 16 == 0x0002 or tag & 0xFFFF == 0 or tag == TRAILING_PADDING:
                if length != UNDEFINED:
                    self.fp.seek(self.fp.tell() + length)
                    continue
            self.h.update(struct.pack(">I", tag))
            if length == UNDEFINED:
                if tag in PIXEL_TAGS and vr != b"SQ":
                    self._fragments()
                else:
                    self._items(implicit, None, depth)
            elif vr == b"SQ" or (vr in (None, b"UN") and self._starts_with_item(length)):
                self._items(implicit, self.fp.tell() + length, depth)
            else:
                self._value(vr, length)

    def _starts_with_item(self, length: int) -> bool:
        if length < 8:
            return False
        pos = self.fp.tell()
        head = self.fp.read(4)
        self.fp.seek(pos)
        return len(head) == 4 and self._tag_long.unpack(head + b"\0\0\0\0")[:2] == (0xFFFE, 0xE000)

    def _items(self, implicit: bool, end: int | None, depth: int) -> None:
        """A sequence's items: until its delimiter (``end`` None) or ``end``."""
        self.h.update(b"S")
        while end is None or self.fp.tell() < end:
            header = self._header(True)
            if header is None:
                raise _Bad("the data set ends inside a sequence")
            tag, _, length = header
            if tag == SEQUENCE_DELIMITER and end is None:
                break
            if tag != ITEM:
                raise _Bad("expected an item in a sequence")
            self.h.update(b"I")
            item_end = self.fp.tell() + length if length != UNDEFINED else 1 << 62
            self.dataset(implicit, item_end, depth=depth + 1, in_item=length == UNDEFINED)
            self.h.update(b"i")
        self.h.update(b"s")

    def _fragments(self) -> None:
        """Encapsulated pixel data: the offset table and each fragment, as bytes."""
        self.h.update(b"F")
        while True:
            header = self._header(True)
            if header is None:
                raise _Bad("the data set ends inside encapsulated pixel data")
            tag, _, length = header
            if tag == SEQUENCE_DELIMITER:
                break
            if tag != ITEM or length == UNDEFINED:
                raise _Bad("expected a fragment in encapsulated pixel data")
            self._value(b"OB", length)
        self.h.update(b"f")

    def _value(self, vr: bytes | None, length: int) -> None:
        self.h.update(struct.pack(">Q", length))
        width = 0 if self.little else _SWAP_WIDTH.get(vr or b"", 0)
        remaining = length
        while remaining:
            chunk = self._read(min(CHUNK, remaining))
            remaining -= len(chunk)
            if width and len(chunk) % width == 0:
                swapped = array(_ARRAY_CODE[width], chunk)
                swapped.byteswap()
                chunk = swapped.tobytes()
            self.h.update(chunk)
