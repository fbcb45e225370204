"""Objects in the archive bucket: head, checksummed put (single or multipart), read back.

Every put carries an S3 additional checksum (SHA-256). Below the multipart threshold a
single PutObject sends the full-object ``ChecksumSHA256`` we computed, so S3 verifies the
bytes it received. At or above it, s3transfer streams the input in parts with
``ChecksumAlgorithm=SHA256`` (bounded memory: ``max_concurrency`` parts in flight) and S3
builds a COMPOSITE checksum, which we check against our own per-part digests.

``put_if_absent`` is a conditional write (``If-None-Match: *``): S3 creates the
object only when the key has no current version and answers 412 PreconditionFailed
otherwise (409 ConditionalRequestConflict when another conditional write to the key is in
flight); both return None and nothing is written. It saves the HEAD before every new
instance. Single PUTs only: s3transfer does not pass ``IfNoneMatch`` through to
CompleteMultipartUpload, so multipart callers HEAD first.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Mapping
from urllib.parse import urlencode

from boto3.s3.transfer import TransferConfig
from s3transfer.utils import ChunksizeAdjuster

from drills.aws import DELETE_MARKER, OBJECT_NOT_FOUND, Target
from drills.contracts import CHECKSUM_ALGORITHM
from drills.errors import InfraError
from drills.ingest.checksum import COMPOSITE, FULL_OBJECT, READ_CHUNK, Digest
from drills.ingest.clients import ingest_client
from drills.ingest.failures import AWS_ERRORS, error_code, infra_error

MIN_PART = 5 * 1024 * 1024          # S3's smallest part (all but the last)
DEFAULT_PART = 8 * 1024 * 1024      # boto3's default part size
MAX_CONCURRENCY = 4                 # parts in flight per multipart upload
NOT_FOUND = OBJECT_NOT_FOUND | DELETE_MARKER   # HEAD of a delete marker: 405, the object is gone
KEY_EXISTS = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_PARTS_RE = re.compile(r"-(\d+)\"?$")


class _KeyExists(Exception):
    """A conditional put found a current version (412) or a conditional write in flight (409)."""


@dataclass(frozen=True)
class StoredObject:
    """One object version as S3 reports it."""

    key: str
    version_id: str | None
    size: int
    checksum_sha256: str | None
    checksum_type: str | None
    parts: int | None = None

    @property
    def multipart(self) -> bool:
        return bool(self.parts) or self.checksum_type == COMPOSITE or "-" in (self.checksum_sha256 or "")


def part_size_for(size: int, threshold: int) -> int | None:
    """The part size s3transfer will use for ``size`` bytes, or None for a single PUT."""
    if size < threshold:
        return None
    return ChunksizeAdjuster().adjust_chunksize(max(MIN_PART, min(threshold, DEFAULT_PART)), size)


class ArchiveStore:
    """Checksummed writes into one bucket, with SSE-KMS when a key is given."""

    def __init__(self, target: Target, region: str, bucket: str, kms_key_id: str | None, threshold: int) -> None:
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self.threshold = threshold
        self._s3 = ingest_client(target, "s3", region)

    # -- reading
    def head(self, key: str, version_id: str | None = None) -> StoredObject | None:
        """The current version of ``key`` (or ``version_id``); None if absent or deleted."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ChecksumMode": "ENABLED"}
        if version_id:
            args["VersionId"] = version_id
        try:
            response = self._s3.head_object(**args)
        except AWS_ERRORS as exc:
            if error_code(exc) in NOT_FOUND:
                return None
            raise infra_error(exc, f"head s3://{self.bucket}/{key}") from exc
        return _stored(key, response)

    def check_bucket(self) -> None:
        """HeadBucket: InfraError when the archive bucket cannot be reached or read."""
        try:
            self._s3.head_bucket(Bucket=self.bucket)
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"head s3://{self.bucket}") from exc

    def sha256_of(self, key: str, version_id: str | None) -> bytes:
        """Download one version in chunks and hash it (when S3's checksum cannot decide)."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        digest = hashlib.sha256()
        try:
            body = self._s3.get_object(**args)["Body"]
            for chunk in body.iter_chunks(READ_CHUNK):
                digest.update(chunk)
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"read s3://{self.bucket}/{key}") from exc
        return digest.digest()

    def download(self, key: str, version_id: str | None, fp: BinaryIO) -> int:
        """Write one version into ``fp`` in chunks; the number of bytes written."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        written = 0
        try:
            body = self._s3.get_object(**args)["Body"]
            for chunk in body.iter_chunks(READ_CHUNK):
                fp.write(chunk)
                written += len(chunk)
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"read s3://{self.bucket}/{key}") from exc
        return written

    def incomplete_uploads(self, prefix: str) -> list[dict[str, Any]]:
        """Multipart uploads under ``prefix`` that were neither completed nor aborted."""
        uploads: list[dict[str, Any]] = []
        try:
            for page in self._s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix):
                uploads.extend(page.get("Uploads", []))
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"list incomplete multipart uploads in s3://{self.bucket}/{prefix}") from exc
        return uploads

    def abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except AWS_ERRORS as exc:
            if error_code(exc) != "NoSuchUpload":
                raise infra_error(exc, f"abort multipart upload of s3://{self.bucket}/{key}") from exc

    # -- writing
    def put(
        self,
        key: str,
        body: Path | BinaryIO,
        digest: Digest,
        *,
        tags: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """Write ``body`` (a path or a seekable file) as a new version of ``key`` and
        return that version, after checking the checksum S3 reports against ``digest``."""
        return self._write(key, body, digest, self._extra_args(tags, content_type))

    def put_if_absent(
        self,
        key: str,
        body: Path | BinaryIO,
        digest: Digest,
        *,
        tags: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject | None:
        """``put`` with ``If-None-Match: *``: None (and nothing written) when ``key`` has a
        current version. Single PUTs only (``digest.part_size`` None)."""
        if digest.part_size is not None:
            raise ValueError("put_if_absent needs a single PUT; HEAD before a multipart upload")
        try:
            return self._write(key, body, digest, self._extra_args(tags, content_type) | {"IfNoneMatch": "*"})
        except _KeyExists:
            return None

    def _extra_args(self, tags: Mapping[str, str] | None, content_type: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"ContentType": content_type, "ChecksumAlgorithm": CHECKSUM_ALGORITHM}
        if tags:
            extra["Tagging"] = urlencode(dict(tags))
        if self.kms_key_id:
            extra["ServerSideEncryption"] = "aws:kms"
            extra["SSEKMSKeyId"] = self.kms_key_id
        return extra

    def _write(self, key: str, body: Path | BinaryIO, digest: Digest, extra: dict[str, Any]) -> StoredObject:
        where = f"s3://{self.bucket}/{key}"
        try:
            if digest.part_size is None:
                return self._put_single(key, body, digest, extra)
            return self._put_multipart(key, body, digest, extra)
        except AWS_ERRORS as exc:
            if "IfNoneMatch" in extra and error_code(exc) in KEY_EXISTS:
                raise _KeyExists(where) from exc
            raise infra_error(exc, f"upload {where}") from exc
        except OSError as exc:
            raise InfraError(f"upload {where}: reading the input failed ({exc})") from exc

    def _put_single(self, key: str, body: Path | BinaryIO, digest: Digest, extra: dict) -> StoredObject:
        args = dict(extra, Bucket=self.bucket, Key=key, ContentLength=digest.size, ChecksumSHA256=digest.full_b64)
        if isinstance(body, Path):
            with body.open("rb") as fp:
                response = self._s3.put_object(Body=fp, **args)
        elif isinstance(body, io.BytesIO):
            response = self._s3.put_object(Body=body.getvalue(), **args)    # bytes: one send, no chunked reads
        else:
            body.seek(0)
            response = self._s3.put_object(Body=body, **args)
        reported = response.get("ChecksumSHA256")
        stored = StoredObject(key, response.get("VersionId"), digest.size, reported, FULL_OBJECT)
        if reported is None:       # not echoed: ask for it
            stored = self.head(key, stored.version_id) or stored
        self._verify(stored, digest)
        return stored

    def _put_multipart(self, key: str, body: Path | BinaryIO, digest: Digest, extra: dict) -> StoredObject:
        config = TransferConfig(
            multipart_threshold=self.threshold,
            multipart_chunksize=digest.part_size,
            max_concurrency=MAX_CONCURRENCY,
            use_threads=True,
        )
        config.max_in_memory_upload_chunks = MAX_CONCURRENCY   # bounds memory for file objects
        if isinstance(body, Path):
            self._s3.upload_file(str(body), self.bucket, key, ExtraArgs=extra, Config=config)
        else:
            body.seek(0)
            self._s3.upload_fileobj(body, self.bucket, key, ExtraArgs=extra, Config=config)
        # s3transfer does not return the CompleteMultipartUpload response: find our version.
        stored = self.head(key)
        if stored is not None and digest.matches(stored.checksum_sha256):
            return stored
        for version_id in self._recent_versions(key):
            candidate = self.head(key, version_id)
            if candidate is not None and digest.matches(candidate.checksum_sha256):
                return candidate
        raise InfraError(
            f"upload s3://{self.bucket}/{key}: no version reports the SHA-256 we uploaded "
            f"(expected {digest.expected}, S3 reports {stored.checksum_sha256 if stored else 'nothing'})"
        )

    def _recent_versions(self, key: str, limit: int = 20) -> Iterator[str]:
        """Version ids of ``key``, newest first, listed a page of ``limit`` at a time as the
        caller asks for more, while the listing is still on ``key`` (the prefix also matches
        longer keys, which S3 lists after it)."""
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key, PaginationConfig={"PageSize": limit}):
            yield from (v["VersionId"] for v in page.get("Versions", []) if v["Key"] == key)
            if any(v["Key"] != key for v in page.get("Versions", []) + page.get("DeleteMarkers", [])):
                return                           # past ``key``: its versions are all listed

    def _verify(self, stored: StoredObject, digest: Digest) -> None:
        if not digest.matches(stored.checksum_sha256):
            raise InfraError(
                f"upload s3://{self.bucket}/{stored.key}: S3 reports SHA-256 "
                f"{stored.checksum_sha256!r}, we sent {digest.full_b64!r}"
            )


def _stored(key: str, response: Mapping[str, Any]) -> StoredObject:
    match = _PARTS_RE.search(str(response.get("ETag", "")))
    return StoredObject(
        key=key,
        version_id=response.get("VersionId"),
        size=int(response.get("ContentLength", 0)),
        checksum_sha256=response.get("ChecksumSHA256"),
        checksum_type=response.get("ChecksumType"),
        parts=int(match.group(1)) if match else None,
    )
