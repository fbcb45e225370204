"""GetObjectAttributes ``ObjectParts`` for multipart objects, and checksum values S3 computes.

- moto 5.2 never returns ``ObjectParts``. AWS (API_GetObjectAttributes, ObjectParts) does
  for an object uploaded in parts: ``TotalPartsCount`` (``<PartsCount>`` on the wire), and — paged with ``MaxParts``
  (default 1,000) and ``PartNumberMarker`` — each part's ``PartNumber``, ``Size`` and,
  when the upload used an additional checksum algorithm, the part's checksum
  (``ChecksumCRC32`` ...), with ``IsTruncated`` / ``NextPartNumberMarker``. The parts
  are the ones named by CompleteMultipartUpload, recorded on the version when it completes.
- UploadPartCopy: a ``x-amz-copy-source-range`` beyond the source object is refused (400
  InvalidArgument "Range specified is not valid for source object of size: N"; moto copies
  what there is), and the ``CopyPartResult`` carries the part's checksum when the upload
  has a checksum algorithm (API_UploadPartCopy, CopyPartResult; moto gives none).
- moto computes a CRC32C (and, without awscrt, a CRC64NVME) as a CRC32 and stores it under
  the CRC32C label — e.g. a CopyObject with ``ChecksumAlgorithm=CRC32C``. ``install``
  makes moto use ``checksum_value`` below, which computes every algorithm S3 offers
  (CRC32C/CRC64NVME with awscrt, which botocore[crt] brings).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import xml.etree.ElementTree as ET
import zlib
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlparse

from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error

MAX_PARTS = 1000
_originals: dict[str, Callable[..., Any]] = {}


def _crt(name: str) -> Callable[[bytes], bytes]:
    def compute(data: bytes) -> bytes:
        from awscrt import checksums
        return getattr(checksums, name)(data).to_bytes(8 if name == "crc64nvme" else 4, "big")
    return compute


_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "CRC32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
    "CRC32C": _crt("crc32c"),
    "CRC64NVME": _crt("crc64nvme"),
    "SHA1": lambda data: hashlib.sha1(data).digest(),
    "SHA256": lambda data: hashlib.sha256(data).digest(),
}


def checksum_value(body: bytes, algorithm: str, encode_base64: bool = True) -> bytes:
    """The checksum S3 computes for ``algorithm`` (raw, or base64 as moto expects)."""
    digest = _DIGESTS.get((algorithm or "SHA256").upper(), _DIGESTS["SHA256"])(bytes(body))
    return base64.b64encode(digest) if encode_base64 else digest


def install() -> None:
    import moto.s3.models as models
    import moto.s3.responses as responses

    if _originals:
        return
    _originals["models"] = models.compute_checksum
    _originals["responses"] = responses.compute_checksum
    models.compute_checksum = checksum_value
    responses.compute_checksum = checksum_value


def uninstall() -> None:
    import moto.s3.models as models
    import moto.s3.responses as responses

    if not _originals:
        return
    models.compute_checksum = _originals.pop("models")
    responses.compute_checksum = _originals.pop("responses")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class ObjectParts(Interceptor):
    name = "object_parts"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.Lock()
        self._uploads: dict[str, dict[int, tuple[int, str | None, str | None]]] = {}

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3" or req.operation != "UploadPartCopy":
            return None
        match = re.fullmatch(r"\s*bytes=(\d+)-(\d+)\s*", req.headers.get("x-amz-copy-source-range") or "")
        source = self._copy_source(req)
        if match is None or source is None:
            return None
        first, last = int(match.group(1)), int(match.group(2))
        if first > last or last >= source.size:
            return aws_error(req, 400, "InvalidArgument",
                             f"Range specified is not valid for source object of size: {source.size}")
        return None

    def _copy_source(self, req: AwsRequest) -> Any:
        parsed = urlparse(req.headers.get("x-amz-copy-source") or "")
        bucket, _, key = unquote(parsed.path).lstrip("/").partition("/")
        version_id = parse_qs(parsed.query).get("versionId", [None])[0]
        store = self.sim.s3_backend().buckets.get(bucket)
        versions = store.keys.getlist(key, default=[]) if store is not None and key else []
        if version_id is None:
            found = versions[-1] if versions else None
        else:
            found = next((v for v in versions if str(v.version_id) == version_id), None)
        return found if found is not None and hasattr(found, "size") and hasattr(found, "lock_mode") else None

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "s3" or not resp.ok:
            return resp
        if req.operation in ("UploadPart", "UploadPartCopy"):
            recorded = self._record_part(req)
            if req.operation == "UploadPartCopy" and recorded is not None and recorded[1] and recorded[2]:
                algorithm, value = recorded[1], recorded[2]
                if f"<Checksum{algorithm}>".encode() not in resp.body:
                    resp.body = resp.body.replace(b"</CopyPartResult>", f"<Checksum{algorithm}>{value}"
                                                  f"</Checksum{algorithm}></CopyPartResult>".encode())
        elif req.operation == "CompleteMultipartUpload":
            self._record_parts(req, resp)
        elif req.operation == "AbortMultipartUpload":
            with self._lock:
                self._uploads.pop(_upload_id(req), None)
        elif req.operation == "GetObjectAttributes" and "objectparts" in \
                (req.headers.get("x-amz-object-attributes") or "").lower().replace(" ", ""):
            return self._add_parts(req, resp)
        return resp

    def _record_part(self, req: AwsRequest) -> tuple[int, str | None, str | None] | None:
        """Size and checksum of a part as uploaded (moto discards part data on completion)."""
        bucket = self.sim.s3_backend().buckets.get(req.bucket or "")
        upload_id = _upload_id(req)
        multipart = bucket.multiparts.get(upload_id) if bucket is not None else None
        try:
            number = int((req.query.get("partNumber") or ["0"])[0])
        except ValueError:
            return None
        part = multipart.parts.get(number) if multipart is not None else None
        if part is None:
            return None
        algorithm = (multipart.metadata or {}).get("x-amz-checksum-algorithm")
        algorithm = str(algorithm).upper() if algorithm else None
        value = checksum_value(part.value, algorithm).decode() if algorithm else None
        with self._lock:
            self._uploads.setdefault(upload_id, {})[number] = (part.size, algorithm, value)
        return part.size, algorithm, value

    def _version(self, req: AwsRequest, version_id: str | None) -> Any:
        bucket = self.sim.s3_backend().buckets.get(req.bucket or "")
        if bucket is None:
            return None
        versions = bucket.keys.getlist(req.key or "", default=[]) or []
        if version_id is None:
            return versions[-1] if versions else None
        return next((v for v in versions if str(v.version_id) == str(version_id)), None)

    def _record_parts(self, req: AwsRequest, resp: AwsResponse) -> None:
        with self._lock:
            uploaded = self._uploads.pop(_upload_id(req), {})
        try:
            root = ET.fromstring(req.body)
        except ET.ParseError:
            return
        numbers = [int(n.text) for part in root if _local(part.tag) == "Part"
                   for n in part if _local(n.tag) == "PartNumber" and (n.text or "").strip().isdigit()]
        version = self._version(req, resp.headers.get("x-amz-version-id"))
        if version is not None and getattr(version, "multipart", None) is not None:
            version.drkit_parts = [(n, *uploaded.get(n, (0, None, None))) for n in numbers]

    def _add_parts(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        version = self._version(req, req.version_id or resp.headers.get("x-amz-version-id"))
        parts_of = getattr(version, "drkit_parts", None)
        if parts_of is None:
            return resp                            # not uploaded in parts: no ObjectParts
        try:
            max_parts = min(int(req.headers.get("x-amz-max-parts") or MAX_PARTS), MAX_PARTS)
            marker = int(req.headers.get("x-amz-part-number-marker") or 0)
        except ValueError:
            return resp
        after_marker = [p for p in parts_of if p[0] > marker]
        page, truncated = after_marker[:max_parts], len(after_marker) > max_parts
        parts = []
        for number, size, algorithm, value in page:
            fields = f"<PartNumber>{number}</PartNumber><Size>{size}</Size>"
            if algorithm and value:
                fields += f"<Checksum{algorithm}>{value}</Checksum{algorithm}>"
            parts.append(f"<Part>{fields}</Part>")
        xml = (f"<ObjectParts><PartsCount>{len(parts_of)}</PartsCount>"
               f"<PartNumberMarker>{marker}</PartNumberMarker>"
               + (f"<NextPartNumberMarker>{page[-1][0]}</NextPartNumberMarker>" if page else "")
               + f"<MaxParts>{max_parts}</MaxParts><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
               + "".join(parts) + "</ObjectParts>")
        body = resp.body.decode("utf-8")
        closing = re.search(r"</[A-Za-z]+>\s*$", body)
        if closing is not None:
            resp.body = (body[:closing.start()] + xml + body[closing.start():]).encode("utf-8")
            return resp
        empty = re.search(r"<([A-Za-z]+)([^>]*)/>\s*$", body)      # a result with no other element
        if empty is not None:
            resp.body = (body[:empty.start()] + f"<{empty.group(1)}{empty.group(2)}>{xml}</{empty.group(1)}>"
                         ).encode("utf-8")
        return resp

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"openUploads": len(self._uploads)}

    def reset(self) -> None:
        with self._lock:
            self._uploads.clear()


def _upload_id(req: AwsRequest) -> str:
    return (req.query.get("uploadId") or [""])[0]
