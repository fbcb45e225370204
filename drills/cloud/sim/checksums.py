"""Upload integrity as S3 checks and reports it (S3 user guide, "Checking object integrity").

moto stores whatever digest a client sends. S3 refuses an upload whose digest does not
match the bytes it received:

- ``Content-MD5`` (any S3 request with a body): not 16 bytes of base64 -> 400
  ``InvalidDigest``; a mismatch -> 400 ``BadDigest``.
- additional checksums ``x-amz-checksum-crc32`` / ``-crc32c`` / ``-crc64nvme`` / ``-sha1``
  / ``-sha256`` on PutObject and UploadPart: a malformed value -> 400 ``InvalidRequest``;
  a mismatch -> 400 ``BadDigest``. CRC32C and CRC64NVME are computed with ``awscrt``
  (botocore[crt]); without it they are counted as ``unverified``, never passed as checked.
- ``aws-chunked`` bodies (what boto3 sends over TLS: the checksum comes as a trailer named
  by ``x-amz-trailer``) are decoded and checked the same way.

And reports what S3 reports for multipart uploads with additional checksums: the object's
checksum is a checksum of the parts' checksums with ``-N`` (N parts) when the type is
COMPOSITE, plus ``x-amz-checksum-type``: on CompleteMultipartUpload and on HeadObject with
``ChecksumMode=ENABLED`` (moto omits the suffix and the type on HEAD, and both on Complete).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from typing import Any, Callable

from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error
from drills.cloud.sim import replication_copy as copier

_UPLOADS = ("PutObject", "UploadPart")


def _crt(name: str) -> Callable[[bytes], bytes] | None:
    try:
        from awscrt import checksums
    except ImportError:
        return None
    fn = getattr(checksums, name)
    size = 8 if name == "crc64nvme" else 4
    return lambda data: fn(data).to_bytes(size, "big")


# header -> (name in S3's messages, digest function or None when it cannot be computed here)
ALGORITHMS: dict[str, tuple[str, Callable[[bytes], bytes] | None]] = {
    "x-amz-checksum-crc32": ("CRC32", lambda data: zlib.crc32(data).to_bytes(4, "big")),
    "x-amz-checksum-crc32c": ("CRC32C", _crt("crc32c")),
    "x-amz-checksum-crc64nvme": ("CRC64NVME", _crt("crc64nvme")),
    "x-amz-checksum-sha1": ("SHA1", lambda data: hashlib.sha1(data).digest()),
    "x-amz-checksum-sha256": ("SHA256", lambda data: hashlib.sha256(data).digest()),
}
_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}


class ChecksumValidation(Interceptor):
    name = "checksums"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.reset()

    def reset(self) -> None:
        self.checked = 0
        self.refused = 0
        self.unverified: dict[str, int] = {}

    # ------------------------------------------------------------------ uploads
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3" or not req.operation:
            return None
        body = req.body
        trailers: dict[str, str] = {}
        if "aws-chunked" in (req.headers.get("content-encoding") or ""):
            decoded = decode_aws_chunked(req.body)
            if decoded is None:
                return None                      # not a chunked stream we understand: moto decides
            body, trailers = decoded
        md5 = req.headers.get("content-md5")
        if md5 is not None and body:
            problem = self._check_md5(req, md5, body)
            if problem is not None:
                return problem
        if req.operation not in _UPLOADS:
            return None
        for header, (name, digest) in ALGORITHMS.items():
            claimed = req.headers.get(header) or trailers.get(header)
            if claimed is None:
                continue
            try:
                raw = base64.b64decode(claimed, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != _SIZES[name]:
                self.refused += 1
                return aws_error(req, 400, "InvalidRequest", f"Value for {header} header is invalid.")
            if digest is None:
                self.unverified[name] = self.unverified.get(name, 0) + 1
                continue
            self.checked += 1
            if digest(body) != raw:
                self.refused += 1
                return aws_error(req, 400, "BadDigest",
                                 f"The {name} you specified did not match the calculated checksum.")
        return None

    def _check_md5(self, req: AwsRequest, claimed: str, body: bytes) -> AwsResponse | None:
        try:
            raw = base64.b64decode(claimed, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        self.checked += 1
        if len(raw) != 16:
            self.refused += 1
            return aws_error(req, 400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
        if hashlib.md5(body).digest() != raw:
            self.refused += 1
            return aws_error(req, 400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        return None

    # ------------------------------------------------------------------ multipart reporting
    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "s3" or not resp.ok or not req.key:
            return resp
        if req.operation == "PutObject":
            self._keep_sent_checksum(req, resp)
        elif req.operation == "HeadObject" and req.headers.get("x-amz-checksum-mode") == "ENABLED":
            version = resp.headers.get("x-amz-version-id") or req.version_id
            key = self._stored(req.bucket, req.key, version)
            if key is not None and key.checksum_algorithm and key.checksum_value:
                header = f"x-amz-checksum-{key.checksum_algorithm.lower()}"
                resp.headers[header] = qualified(key)
                if key.checksum_type:
                    resp.headers["x-amz-checksum-type"] = key.checksum_type
        elif req.operation == "CompleteMultipartUpload":
            key = self._stored(req.bucket, req.key, resp.headers.get("x-amz-version-id"))
            if key is not None and key.checksum_algorithm and key.checksum_value:
                element = f"Checksum{key.checksum_algorithm.upper()}"
                text = resp.body.decode("utf-8")
                if f"<{element}>" not in text:
                    extra = f"<{element}>{qualified(key)}</{element}>"
                    if key.checksum_type:
                        extra += f"<ChecksumType>{key.checksum_type}</ChecksumType>"
                    text = re.sub(r"(</CompleteMultipartUploadResult>)", extra + r"\1", text, count=1)
                    resp.body = text.encode("utf-8")
        return resp

    def _keep_sent_checksum(self, req: AwsRequest, resp: AwsResponse) -> None:
        """S3 stores the additional checksum a PutObject carried; moto only when the SDK also
        sent ``x-amz-sdk-checksum-algorithm`` (not when the caller gave the value itself)."""
        sent = {h: req.headers.get(h) for h in ALGORITHMS if req.headers.get(h)}
        if not sent and "aws-chunked" in (req.headers.get("content-encoding") or ""):
            decoded = decode_aws_chunked(req.body)
            sent = {h: v for h, v in (decoded[1] if decoded else {}).items() if h in ALGORITHMS}
        if not sent:
            return
        key = self._stored(req.bucket, req.key or "", resp.headers.get("x-amz-version-id"))
        if key is None or key.checksum_value:
            return
        header, value = next(iter(sent.items()))
        key.checksum_algorithm, key.checksum_value, key.checksum_type = ALGORITHMS[header][0], value, "FULL_OBJECT"
        resp.headers[header] = value

    def _stored(self, bucket: str | None, key: str, version_id: str | None) -> Any | None:
        s3 = self.sim.s3_backend()
        if version_id and version_id != "null":
            return copier.find_version(s3, bucket or "", key, version_id)
        found = copier.get_bucket(s3, bucket or "")
        versions = found.keys.getlist(key, []) if found is not None else []
        return versions[-1] if versions and hasattr(versions[-1], "checksum_value") else None

    def status(self) -> dict[str, Any]:
        return {"checked": self.checked, "refused": self.refused, "unverified": dict(self.unverified)}


def qualified(key: Any) -> str:
    """The checksum as S3 reports it: ``value-N`` for a COMPOSITE multipart checksum."""
    value = str(key.checksum_value)
    if key.checksum_type == "COMPOSITE" and key.checksum_parts and "-" not in value:
        return f"{value}-{key.checksum_parts}"
    return value


def decode_aws_chunked(body: bytes) -> tuple[bytes, dict[str, str]] | None:
    """Decode an ``aws-chunked`` body: (payload, trailing headers), or None if malformed."""
    payload, trailers, pos = bytearray(), {}, 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            return None
        size_field = body[pos:end].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return None
        pos = end + 2
        if size == 0:
            break
        payload += body[pos:pos + size]
        pos += size
        if body[pos:pos + 2] == b"\r\n":
            pos += 2
    for line in body[pos:].split(b"\r\n"):
        if b":" in line:
            name, _, value = line.partition(b":")
            trailers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    return bytes(payload), trailers
