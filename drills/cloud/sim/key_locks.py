"""Concurrent requests to one S3 key as S3 answers them (a patch of moto's S3 handler and backend).

S3 lets any number of writers and readers use one key at once: "If two PUT requests are
simultaneously made to the same key, the request with the latest timestamp wins" and
every request succeeds (S3 User Guide, consistency model). moto 5.2 replaces the object of
an unversioned key (PutObject, CopyObject, CompleteMultipartUpload, DeleteObject) by
closing the old object's buffer at once; a request thread still building its answer from
that object (the PutObject ETag, a GetObject body, a CopyObject source) then fails with
``ValueError: I/O operation on closed file`` — an HTTP 500 that S3 never gives.

Here every object request (a request on ``/bucket/key``) holds the lock of its key, and of
its copy source, from the first look at the object to the finished answer, and every
backend write or delete of a key holds that key's lock too (lifecycle expiry, DeleteObjects,
replication). Locks are striped per (bucket, key): requests on different keys still run in
parallel; requests on one key take turns, each seeing a whole object, which S3 allows
(last writer wins). An object's ETag is computed when moto builds it, before anyone else can
see it (moto computed it on first use): a listing, which reads ETags without any key lock,
never reads a buffer that a writer closes meanwhile, nor two readers one buffer at once.

``held(bucket, key)`` lets simulation code that reads an object's bytes outside a request
take the same lock. Several keys are always taken in stripe order, so two holders cannot
wait on each other. ``install()``/``uninstall()`` are called by ``drills.cloud.moto_fixes``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Callable
from urllib.parse import unquote, urlparse

STRIPES = 64
_locks = tuple(threading.RLock() for _ in range(STRIPES))
_originals: dict[str, Callable[..., Any]] = {}


def _stripe(bucket: str, key: str) -> int:
    return hash((bucket, key)) % STRIPES


@contextmanager
def held(*objects: tuple[str, str]) -> Iterator[None]:
    """Hold the lock of each (bucket, key) given, in stripe order (re-entrant per thread)."""
    with ExitStack() as stack:
        for index in sorted({_stripe(bucket, key) for bucket, key in objects}):
            stack.enter_context(_locks[index])
        yield


def _copy_source(headers: Any) -> tuple[str, str] | None:
    """(bucket, key) named by ``x-amz-copy-source`` (CopyObject, UploadPartCopy), if any."""
    value = headers.get("x-amz-copy-source")
    if not value:
        return None
    bucket, _, key = unquote(urlparse(value).path).lstrip("/").partition("/")
    return (bucket, key) if bucket and key else None


def install() -> None:
    from moto.s3.models import FakeKey, S3Backend
    from moto.s3.responses import S3Response

    if _originals:
        return
    _originals["key_init"] = FakeKey.__init__
    _originals["key_response"] = S3Response._key_response
    _originals["put_object"] = S3Backend.put_object
    _originals["delete_object"] = S3Backend.delete_object
    original_request = _originals["key_response"]
    original_put, original_delete = _originals["put_object"], _originals["delete_object"]
    original_init = _originals["key_init"]

    def key_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.etag                         # noqa: B018 - computed and cached while only its maker sees it

    def key_response(self: Any, request: Any, full_url: str) -> Any:
        objects = [(self.parse_bucket_name_from_url(request, full_url), self.parse_key_name())]
        source = _copy_source(request.headers) if request.method == "PUT" else None
        if source is not None:
            objects.append(source)
        with held(*objects):
            return original_request(self, request, full_url)

    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        with held((bucket_name, key_name)):
            return original_put(self, bucket_name, key_name, *args, **kwargs)

    def delete_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        with held((bucket_name, key_name)):
            return original_delete(self, bucket_name, key_name, *args, **kwargs)

    FakeKey.__init__ = key_init
    S3Response._key_response = key_response
    S3Backend.put_object = put_object
    S3Backend.delete_object = delete_object


def uninstall() -> None:
    from moto.s3.models import FakeKey, S3Backend
    from moto.s3.responses import S3Response

    if not _originals:
        return
    FakeKey.__init__ = _originals.pop("key_init")
    S3Response._key_response = _originals.pop("key_response")
    S3Backend.put_object = _originals.pop("put_object")
    S3Backend.delete_object = _originals.pop("delete_object")
