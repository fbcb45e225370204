"""multipart/related (RFC 2387) as PS3.18 uses it: writing parts out as a stream, and
reading a STOW-RS request body that was spooled to a file.

Boundaries are random (``uuid4``), so they cannot occur in a part by chance in practice;
reading splits on ``CRLF--boundary`` as RFC 2046 §5.1.1 says (the CRLF before a boundary
belongs to the boundary).
"""

from __future__ import annotations

import mmap
import re
import uuid
from dataclasses import dataclass
from email.message import Message
from typing import BinaryIO, Iterator


# RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


def new_boundary() -> str:
    return f"drkit-{uuid.uuid4().hex}"


def content_type(boundary: str, part_type: str) -> str:
    return f'multipart/related; type="{part_type}"; boundary={boundary}'


def part_head(boundary: str, part_content_type: str, location: str | None = None) -> bytes:
    head = f"--{boundary}\r\nContent-Type: {part_content_type}\r\n"
    if location:
        head += f"Content-Location: {location}\r\n"
    return (head + "\r\n").encode("ascii")


def part_tail() -> bytes:
    return b"\r\n"


def closing(boundary: str) -> bytes:
    return f"--{boundary}--\r\n".encode("ascii")


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """(media type lower-cased, parameters) of a Content-Type or one Accept entry."""
    msg = Message()
    msg["content-type"] = value
    params = {k.lower(): v for k, v in msg.get_params(failobj=[])[1:]}
    return msg.get_content_type().lower(), params


class MultipartError(ValueError):
    """The body is not the multipart/related its Content-Type announces."""


@dataclass(frozen=True)
class Part:
    content_type: str
    start: int      # offsets of the body bytes in the spooled request
    end: int


def split(spool: BinaryIO, boundary: str) -> tuple[mmap.mmap | bytes, list[Part]]:
    """The parts of a spooled multipart body: (a buffer over the file, parts as offsets).
    MultipartError for a boundary RFC 2046 §5.1.1 does not allow or a body that does not
    match; the buffer is then closed already."""
    if not _BOUNDARY.fullmatch(boundary):
        raise MultipartError("the Content-Type's boundary is not a valid multipart boundary "
                             "(RFC 2046: 1 to 70 ASCII letters, digits and '()+_,-./:=? )")
    spool.seek(0, 2)
    size = spool.tell()
    if size == 0:
        raise MultipartError("the request body is empty")
    buf = mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return buf, _parts(buf, b"--" + boundary.encode("ascii"))
    except MultipartError:
        buf.close()
        raise


def _parts(buf: mmap.mmap, delimiter: bytes) -> list[Part]:
    parts: list[Part] = []
    pos = buf.find(delimiter)
    if pos < 0:
        raise MultipartError("no part starts with the boundary the Content-Type names")
    while True:
        after = pos + len(delimiter)
        if buf[after:after + 2] == b"--":
            break
        header_end = buf.find(b"\r\n\r\n", after)
        if header_end < 0:
            raise MultipartError("a part has no header/body separator")
        headers = bytes(buf[after:header_end]).decode("latin-1")
        body_start = header_end + 4
        nxt = buf.find(b"\r\n" + delimiter, body_start)
        if nxt < 0:
            raise MultipartError("the body ends without its closing boundary")
        parts.append(Part(_header(headers, "content-type"), body_start, nxt))
        pos = nxt + 2
    return parts


def _header(block: str, name: str) -> str:
    for line in block.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return ""


def iter_chunks(body: BinaryIO, chunk: int) -> Iterator[bytes]:
    while True:
        data = body.read(chunk)
        if not data:
            return
        yield data
