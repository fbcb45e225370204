"""ListObjectVersions pages read without botocore's generic XML parser.

botocore parses a 1,000-version page shape by shape (a dict per element, a model lookup per
field): ~45 ms of CPU per page here, most of the listing path's client CPU. ``fast_pages``
registers a ``before-parse`` handler on an S3 client that, only while the calling thread is
inside ``fast_pages``, reads the page's ``Version`` and ``DeleteMarker`` elements itself (one
``ElementTree`` parse, five fields each) into ``ENTRIES``, and hands botocore the page without
them: botocore still parses and checks everything else (status, errors, ``IsTruncated``, the
``Next*Marker`` fields). Error answers and pages it cannot read are left to botocore.

Fields as API_ListObjectVersions documents them: Key, VersionId ("null" for a version
written while versioning was off), IsLatest, LastModified (ISO 8601, UTC), Size (objects only).
botocore asks for ``EncodingType=url`` by itself and decodes the keys after the call
(``unquote_plus``); so the keys read here are decoded the same way when the page says
``EncodingType`` ``url``. Callers inside ``fast_pages`` must not pass ``EncodingType``
themselves (botocore would then leave the keys encoded, and so would this module not).
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from urllib.parse import unquote_plus
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, NamedTuple

from drills.aws import parse_timestamp

ENTRIES = "DrkitVersionEntries"       # the parsed response's extra field: list[Entry]
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_VERSION, _MARKER, _ENCODING = _NS + "Version", _NS + "DeleteMarker", _NS + "EncodingType"
_FIELDS = {_NS + "Key": 0, _NS + "VersionId": 1, _NS + "IsLatest": 2, _NS + "LastModified": 3, _NS + "Size": 4}
_active = threading.local()


class Entry(NamedTuple):
    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    size: int
    delete_marker: bool


def split_page(body: bytes) -> tuple[list[Entry], bytes]:
    """(the page's versions and delete markers in document order, the page without them)."""
    root = ET.fromstring(body)
    entries: list[Entry] = []
    rest = ET.Element(root.tag)
    encoded = (root.findtext(_ENCODING) or "").lower() == "url"
    for child in root:
        tag = child.tag
        if tag != _VERSION and tag != _MARKER:
            rest.append(child)
            continue
        values: list[str | None] = [None] * 5
        for field in child:
            slot = _FIELDS.get(field.tag)
            if slot is not None:
                values[slot] = field.text
        key, version_id, latest, modified, size = values
        if key is None or modified is None:
            raise ValueError("a ListObjectVersions entry without Key or LastModified")
        entries.append(Entry(unquote_plus(key) if encoded else key, version_id or "null", latest == "true", parse_timestamp(modified),
                             int(size or 0) if tag == _VERSION else 0, tag == _MARKER))
    return entries, ET.tostring(rest)


def _before_parse(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    if not getattr(_active, "on", False) or response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes):
        return
    try:
        entries, rest = split_page(body)
    except (ET.ParseError, ValueError):
        return                                  # botocore parses it (and reports what is wrong)
    customized_response_dict[ENTRIES] = entries
    response_dict["body"] = rest


@contextmanager
def fast_pages(s3: Any) -> Iterator[None]:
    """While inside, this thread's ListObjectVersions answers from ``s3`` carry ``ENTRIES``
    (and no ``Versions``/``DeleteMarkers``); other threads and calls are untouched."""
    s3.meta.events.register("before-parse.s3.ListObjectVersions", _before_parse,
                            unique_id="drkit-fast-versions-page")
    _active.on = True
    try:
        yield
    finally:
        _active.on = False
