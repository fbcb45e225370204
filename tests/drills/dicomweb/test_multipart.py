"""multipart/related framing (drills.dicomweb.multipart), RFC 2046 §5.1.1."""

from __future__ import annotations

import tempfile

import pytest

from drills.dicomweb import multipart


def _spool(data: bytes):
    fp = tempfile.TemporaryFile()
    fp.write(data)
    return fp


def test_written_parts_split_back():
    b = multipart.new_boundary()
    body = b"".join(multipart.part_head(b, "application/dicom") + payload + multipart.part_tail()
                    for payload in (b"one\r\n--not-a-boundary", b"", b"three"))
    body += multipart.closing(b)
    with _spool(b"preamble\r\n" + body) as fp:
        buf, parts = multipart.split(fp, b)
        assert [bytes(buf[p.start:p.end]) for p in parts] == [b"one\r\n--not-a-boundary", b"", b"three"]
        assert {p.content_type for p in parts} == {"application/dicom"}
        buf.close()


@pytest.mark.parametrize("body", [b"--x\r\nContent-Type: a\r\n\r\nbody-without-end", b"no boundary here",
                                  b"--x\r\nContent-Type: a"])
def test_malformed_bodies(body):
    with _spool(body) as fp, pytest.raises(multipart.MultipartError):
        multipart.split(fp, "x")


def test_content_type_parameters():
    media, params = multipart.parse_content_type('Multipart/Related; type="application/dicom"; boundary=abc')
    assert media == "multipart/related" and params == {"type": "application/dicom", "boundary": "abc"}


@pytest.mark.parametrize("boundary", ["b\xf6", "", "x" * 71, "ends-with-space ", "semi;colon"])
def test_boundaries_rfc_2046_does_not_allow_are_refused(boundary):
    """RFC 2046 §5.1.1: 1-70 characters of bchars, not ending in a space."""
    with _spool(b"--x\r\n\r\nbody\r\n--x--") as fp, pytest.raises(multipart.MultipartError, match="boundary"):
        multipart.split(fp, boundary)


def test_the_longest_boundary_with_inner_spaces_is_accepted():
    boundary = "a b" + "c" * 67
    with _spool(f"--{boundary}\r\n\r\nbody\r\n--{boundary}--".encode()) as fp:
        buf, parts = multipart.split(fp, boundary)
        assert [bytes(buf[p.start:p.end]) for p in parts] == [b"body"]
        buf.close()
