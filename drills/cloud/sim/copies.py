"""CopyObject as S3 does it, where moto 5.2 does not (a patch of moto's S3 request handler).

- Object Lock: moto refuses a CopyObject into a bucket with Object Lock (default retention
  or lock headers) unless it carries Content-MD5 — a rule AWS has for PutObject only
  (API_PutObject: "The Content-MD5 or x-amz-sdk-checksum-algorithm header is required for
  any request to upload an object with a retention period"). AWS accepts the copy; the new
  version gets the lock headers given or else the bucket's default retention, counted from
  the copy (``drills.cloud.sim.object_lock`` applies it in virtual time).
- Conditions (API_CopyObject): ``If-None-Match: *`` copies only if the destination key has
  no current object; ``If-Match`` only if the destination's ETag matches (404 NoSuchKey if
  there is none); ``x-amz-copy-source-if-match`` / ``-if-none-match`` /
  ``-if-unmodified-since`` / ``-if-modified-since`` test the source version. A failed
  condition answers 412 PreconditionFailed and writes nothing. If-match true makes
  if-unmodified-since irrelevant; if-none-match decides over if-modified-since (as the
  page documents). The check and the write happen under one lock, so two conditional
  copies racing for the same key cannot both win.

``install()``/``uninstall()`` are called by ``drills.cloud.moto_fixes``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlparse

_originals: dict[str, Callable[..., Any]] = {}
_write_lock = threading.RLock()


def _etag_matches(etag: str, wanted: str) -> bool:
    wanted = wanted.strip()
    if wanted == "*":
        return True
    return any(w.strip().strip('"') == etag.strip('"') for w in wanted.split(","))


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _modified(key: Any) -> datetime:
    value = key.last_modified
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).replace(microsecond=0)


def failed_condition(headers: Any, source: Any, destination: Any) -> str | None:
    """The name of the first copy condition that does not hold, or None.

    ``source``: the source version; ``destination``: the destination's current object
    (None if absent or a delete marker). Raises LookupError for If-Match on a missing key.
    """
    get = headers.get
    if_match, if_none_match = get("If-Match"), get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() == "*" and destination is not None:
        return "If-None-Match"
    if if_match is not None:
        if destination is None:
            raise LookupError("If-Match")
        if not _etag_matches(destination.etag, if_match):
            return "If-Match"
    src_match = get("x-amz-copy-source-if-match")
    src_none = get("x-amz-copy-source-if-none-match")
    src_unmodified = get("x-amz-copy-source-if-unmodified-since")
    src_modified = get("x-amz-copy-source-if-modified-since")
    if src_match is not None:
        if not _etag_matches(source.etag, src_match):
            return "x-amz-copy-source-If-Match"
    elif src_unmodified is not None:
        when = _http_date(src_unmodified)
        if when is not None and _modified(source) > when:
            return "x-amz-copy-source-If-Unmodified-Since"
    if src_none is not None:
        if _etag_matches(source.etag, src_none):
            return "x-amz-copy-source-If-None-Match"
    elif src_modified is not None:
        when = _http_date(src_modified)
        if when is not None and _modified(source) <= when:
            return "x-amz-copy-source-If-Modified-Since"
    return None


def _source(response: Any) -> Any:
    copy_source = response.headers.get("x-amz-copy-source")
    if isinstance(copy_source, bytes):
        copy_source = copy_source.decode("utf-8")
    parsed = urlparse(copy_source or "")
    bucket, _, key = unquote(parsed.path).lstrip("/").partition("/")
    version_id = parse_qs(parsed.query).get("versionId", [None])[0]
    if not bucket or not key:
        return None
    return response.backend.get_object(bucket, key, version_id=version_id)


def install() -> None:
    from moto.s3.exceptions import LockNotEnabled, MissingKey, PreconditionFailed
    from moto.s3.responses import S3Response

    if _originals:
        return
    _originals["key_response_put"] = S3Response._key_response_put
    _originals["copy_object"] = S3Response.copy_object
    original_put, original_copy = _originals["key_response_put"], _originals["copy_object"]

    def key_response_put(self: Any, query: dict[str, Any], key_name: str) -> Any:
        is_plain_copy = ("x-amz-copy-source" in self.headers and not query.get("uploadId")
                         and not any(q in query for q in ("retention", "legal-hold", "acl", "tagging")))
        if not is_plain_copy:
            return original_put(self, query, key_name)
        self._set_action("KEY", "PUT", query)
        self._authenticate_and_authorize_s3_action(bucket_name=self.bucket_name, key_name=key_name)
        bucket = self.backend.get_bucket(self.bucket_name)
        lock_given = (self.headers.get("x-amz-object-lock-mode") or self.headers.get(
            "x-amz-object-lock-retain-until-date") or self.headers.get("x-amz-object-lock-legal-hold") == "ON")
        if lock_given and not bucket.object_lock_enabled:
            raise LockNotEnabled
        return self.copy_object()

    def copy_object(self: Any) -> Any:
        with _write_lock:
            source = _source(self)
            if source is not None:
                destination = self.backend.get_object(self.bucket_name, self.parse_key_name())
                try:
                    failed = failed_condition(self.headers, source, destination)
                except LookupError:
                    raise MissingKey(key=self.parse_key_name()) from None
                if failed is not None:
                    raise PreconditionFailed(failed)
            return original_copy(self)

    S3Response._key_response_put = key_response_put
    S3Response.copy_object = copy_object


def uninstall() -> None:
    from moto.s3.responses import S3Response

    if not _originals:
        return
    S3Response._key_response_put = _originals.pop("key_response_put")
    S3Response.copy_object = _originals.pop("copy_object")
