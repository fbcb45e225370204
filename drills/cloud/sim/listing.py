"""Object listings that cost what they return, with AWS's paging semantics.

moto 5.2 answers ListObjectVersions by deep-copying and sorting every version in the
bucket on every page (a page slows with the bucket, not the prefix), orders versions of a
key by LastModified (ties — a standing virtual clock — come out oldest first), and
re-lists the key named by ``KeyMarker`` alone. Here:

- an index: each bucket's key store keeps its key names sorted, updated as keys are added
  or removed (``install`` patches moto's ``_VersionedKeyStore``); a page bisects to its
  prefix/marker and walks only what it returns, jumping over a common prefix at once;
- ListObjectVersions is answered from it (API_ListObjectVersions): keys in UTF-8 binary
  order, the versions and delete markers of a key interleaved newest first (the order they
  were written in), ``KeyMarker`` alone resumes after every version of that key,
  ``KeyMarker`` + ``VersionIdMarker`` after that version, a common prefix counts once
  toward ``MaxKeys`` (≤ 1000) and a ``KeyMarker`` equal to a common prefix skips it,
  ``VersionIdMarker`` without ``KeyMarker`` is InvalidArgument, ``EncodingType=url``
  encodes the key fields;
- ListObjectsV2 is answered from the same index (API_ListObjectsV2): current versions
  only (a key whose newest version is a delete marker is not listed), ``StartAfter``,
  ``ContinuationToken``, ``KeyCount``, ``FetchOwner``.
"""

from __future__ import annotations

import base64
import threading
import uuid
from bisect import bisect_left, bisect_right, insort
from typing import Any, Callable, Iterator
from urllib.parse import quote
from xml.sax.saxutils import escape

from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor, aws_error

MAX_KEYS = 1000
_S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_OWNER = ("<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>"
          "<DisplayName>webfile</DisplayName></Owner>")
_index_lock = threading.Lock()
_originals: dict[str, Callable[..., Any]] = {}


# ---------------------------------------------------------------------- the index
def sorted_names(store: Any) -> list[str]:
    """The key names of a moto key store, sorted (kept up to date by the patched store)."""
    names = store.__dict__.get("_drkit_names")
    if names is None or len(names) != dict.__len__(store):
        with _index_lock:
            names = sorted(dict.keys(store))
            store.__dict__["_drkit_names"] = names
    return names


def _added(store: Any, key: str) -> None:
    with _index_lock:
        names = store.__dict__.get("_drkit_names")
        if names is not None:
            i = bisect_left(names, key)
            if i == len(names) or names[i] != key:
                names.insert(i, key)


def _removed(store: Any, key: str) -> None:
    with _index_lock:
        names = store.__dict__.get("_drkit_names")
        if names is not None:
            i = bisect_left(names, key)
            if i < len(names) and names[i] == key:
                del names[i]


def install() -> None:
    """Keep every moto S3 key store's sorted name index current."""
    from moto.s3.utils import _VersionedKeyStore as Store

    if _originals:
        return
    for name in ("__setitem__", "setlist", "pop", "__delitem__", "clear"):
        _originals[name] = getattr(Store, name)
    setitem, setlist, pop = _originals["__setitem__"], _originals["setlist"], _originals["pop"]
    delitem, clear = _originals["__delitem__"], _originals["clear"]

    def patched_setitem(self: Any, key: str, value: Any) -> Any:
        new = not dict.__contains__(self, key)
        result = setitem(self, key, value)
        if new:
            _added(self, key)
        return result

    def patched_setlist(self: Any, key: str, list_: Any) -> Any:
        new = not dict.__contains__(self, key)
        result = setlist(self, key, list_)
        if new:
            _added(self, key)
        return result

    def patched_pop(self: Any, key: str, *args: Any) -> Any:
        result = pop(self, key, *args)
        _removed(self, key)
        return result

    def patched_delitem(self: Any, key: str) -> None:
        delitem(self, key)
        _removed(self, key)

    def patched_clear(self: Any) -> None:
        clear(self)
        self.__dict__.pop("_drkit_names", None)

    Store.__setitem__ = patched_setitem
    Store.setlist = patched_setlist
    Store.pop = patched_pop
    Store.__delitem__ = patched_delitem
    Store.clear = patched_clear


def uninstall() -> None:
    from moto.s3.utils import _VersionedKeyStore as Store

    for name, original in list(_originals.items()):
        setattr(Store, name, original)
    _originals.clear()


def _after_prefix(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else ""


def _is_marker(version: Any) -> bool:
    return not hasattr(version, "lock_mode")


# ---------------------------------------------------------------------- paging
class _Page:
    def __init__(self) -> None:
        self.entries: list[tuple[str, Any, bool]] = []   # (key, version, is_latest)
        self.prefixes: list[str] = []
        self.truncated = False
        self.next_key: str | None = None
        self.next_version: str | None = None

    @property
    def count(self) -> int:
        return len(self.entries) + len(self.prefixes)


def _walk(names: list[str], start: int, prefix: str, delimiter: str | None) -> Iterator[tuple[str, bool]]:
    """(name or common prefix, is_prefix) from ``start`` on, within ``prefix``, bisecting past
    each common prefix."""
    i = start
    while i < len(names):
        name = names[i]
        if not name.startswith(prefix):
            return
        if delimiter:
            pos = name.find(delimiter, len(prefix))
            if pos >= 0:
                common = name[:pos + len(delimiter)]
                yield common, True
                i = bisect_left(names, _after_prefix(common), i + 1)
                continue
        yield name, False
        i += 1


def _start(names: list[str], prefix: str, delimiter: str | None, marker: str | None, inclusive: bool,
           past_prefix: bool = True) -> int:
    start = bisect_left(names, prefix)
    if marker:
        start = max(start, bisect_left(names, marker) if inclusive else bisect_right(names, marker))
        if past_prefix and delimiter and marker.startswith(prefix) and marker.endswith(delimiter) \
                and marker.find(delimiter, len(prefix)) == len(marker) - len(delimiter):
            start = max(start, bisect_left(names, _after_prefix(marker)))    # the marker is a common prefix
    return start


def list_versions(store: Any, prefix: str, delimiter: str | None, key_marker: str | None,
                  version_marker: str | None, max_keys: int) -> _Page:
    names = sorted_names(store)
    page = _Page()
    resume = bool(key_marker and version_marker)
    for name, is_prefix in _walk(names, _start(names, prefix, delimiter, key_marker, resume), prefix, delimiter):
        if is_prefix:
            if page.count >= max_keys:
                page.truncated = True
                return page
            page.prefixes.append(name)
            page.next_key, page.next_version = name, None
            continue
        versions = list(store.getlist(name, default=[]) or [])
        newest_first = list(reversed(versions))
        skip_to = 0
        if resume and name == key_marker:
            ids = [str(v.version_id) for v in newest_first]
            skip_to = ids.index(version_marker) + 1 if version_marker in ids else len(ids)
        for position, version in enumerate(newest_first[skip_to:], start=skip_to):
            if page.count >= max_keys:
                page.truncated = True
                return page
            page.entries.append((name, version, position == 0))
            page.next_key, page.next_version = name, str(version.version_id)
    return page


def list_current(store: Any, prefix: str, delimiter: str | None, after: str | None, max_keys: int,
                 past_prefix: bool = True) -> _Page:
    """Current objects after ``after``; ``past_prefix``: ``after`` is a continuation point, so a
    common prefix equal to it was listed already (a plain StartAfter only filters keys)."""
    names = sorted_names(store)
    page = _Page()
    start = _start(names, prefix, delimiter, after, False, past_prefix)
    for name, is_prefix in _walk(names, start, prefix, delimiter):
        if is_prefix:
            entry: Any = None
        else:
            versions = store.getlist(name, default=[]) or []
            if not versions or _is_marker(versions[-1]):
                continue
            entry = versions[-1]
        if page.count >= max_keys:
            page.truncated = True
            return page
        if is_prefix:
            page.prefixes.append(name)
        else:
            page.entries.append((name, entry, True))
        page.next_key = name
    return page


# ---------------------------------------------------------------------- the behaviour
def _param(req: AwsRequest, name: str) -> str | None:
    values = req.query.get(name)
    return values[0] if values else None


class ObjectListing(Interceptor):
    """Answer ListObjectVersions and ListObjectsV2 from the sorted key index."""

    name = "listing"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.pages = 0

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3" or req.operation not in ("ListObjectVersions", "ListObjectsV2") or not req.bucket:
            return None
        bucket = self.sim.s3_backend().buckets.get(req.bucket)
        if bucket is None:
            return None                       # moto answers NoSuchBucket
        raw_max = _param(req, "max-keys")
        try:
            max_keys = MAX_KEYS if raw_max is None else int(raw_max)
        except ValueError:
            return aws_error(req, 400, "InvalidArgument", "Provided max-keys not an integer or within integer range")
        if max_keys < 0:
            return aws_error(req, 400, "InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647")
        max_keys = min(max_keys, MAX_KEYS)
        encoding = _param(req, "encoding-type")
        if encoding is not None and encoding != "url":
            return aws_error(req, 400, "InvalidArgument", "Invalid Encoding Method specified in Request")
        self.pages += 1
        if req.operation == "ListObjectVersions":
            return self._versions(req, bucket, max_keys, encoding)
        return self._objects_v2(req, bucket, max_keys, encoding)

    def _versions(self, req: AwsRequest, bucket: Any, max_keys: int, encoding: str | None) -> AwsResponse:
        prefix = _param(req, "prefix") or ""
        delimiter = _param(req, "delimiter") or None
        key_marker = _param(req, "key-marker") or None
        version_marker = _param(req, "version-id-marker") or None
        if version_marker and not key_marker:
            return aws_error(req, 400, "InvalidArgument",
                             "A version-id marker cannot be specified without a key marker.",
                             ArgumentName="version-id-marker", ArgumentValue=version_marker)
        page = list_versions(bucket.keys, prefix, delimiter, key_marker, version_marker, max_keys)
        enc = _encoder(encoding)
        parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="{_S3_NS}">',
                 f"<Name>{escape(bucket.name)}</Name>", f"<Prefix>{enc(prefix)}</Prefix>",
                 f"<KeyMarker>{enc(key_marker or '')}</KeyMarker>",
                 f"<VersionIdMarker>{escape(version_marker or '')}</VersionIdMarker>"]
        if page.truncated:
            parts.append(f"<NextKeyMarker>{enc(page.next_key or '')}</NextKeyMarker>")
            if page.next_version is not None:
                parts.append(f"<NextVersionIdMarker>{escape(page.next_version)}</NextVersionIdMarker>")
        parts.append(f"<MaxKeys>{max_keys}</MaxKeys>")
        if delimiter:
            parts.append(f"<Delimiter>{enc(delimiter)}</Delimiter>")
        if encoding:
            parts.append(f"<EncodingType>{encoding}</EncodingType>")
        parts.append(f"<IsTruncated>{'true' if page.truncated else 'false'}</IsTruncated>")
        for name, version, latest in page.entries:
            head = (f"<Key>{enc(name)}</Key><VersionId>{escape(str(version.version_id))}</VersionId>"
                    f"<IsLatest>{'true' if latest else 'false'}</IsLatest>"
                    f"<LastModified>{version.last_modified_ISO8601}</LastModified>")
            if _is_marker(version):
                parts.append(f"<DeleteMarker>{head}{_OWNER}</DeleteMarker>")
            else:
                parts.append(f"<Version>{head}{_object_fields(version)}</Version>")
        parts.extend(f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>" for p in page.prefixes)
        parts.append("</ListVersionsResult>")
        return _xml("".join(parts))

    def _objects_v2(self, req: AwsRequest, bucket: Any, max_keys: int, encoding: str | None) -> AwsResponse:
        prefix = _param(req, "prefix") or ""
        delimiter = _param(req, "delimiter") or None
        start_after = _param(req, "start-after") or None
        token = _param(req, "continuation-token")
        after, from_token = start_after, False
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return aws_error(req, 400, "InvalidArgument", "The continuation token provided is incorrect",
                                 ArgumentName="continuation-token")
            from_token = not (start_after and start_after > after)
            after = after if from_token else start_after
        page = list_current(bucket.keys, prefix, delimiter, after, max_keys, past_prefix=from_token)
        fetch_owner = (_param(req, "fetch-owner") or "").lower() == "true"
        enc = _encoder(encoding)
        parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{_S3_NS}">',
                 f"<Name>{escape(bucket.name)}</Name>", f"<Prefix>{enc(prefix)}</Prefix>",
                 f"<MaxKeys>{max_keys}</MaxKeys>", f"<KeyCount>{page.count}</KeyCount>"]
        if delimiter:
            parts.append(f"<Delimiter>{enc(delimiter)}</Delimiter>")
        if encoding:
            parts.append(f"<EncodingType>{encoding}</EncodingType>")
        parts.append(f"<IsTruncated>{'true' if page.truncated else 'false'}</IsTruncated>")
        if token is not None:
            parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
        if start_after:
            parts.append(f"<StartAfter>{enc(start_after)}</StartAfter>")
        if page.truncated and page.next_key is not None:
            next_token = base64.urlsafe_b64encode(page.next_key.encode("utf-8")).decode()
            parts.append(f"<NextContinuationToken>{next_token}</NextContinuationToken>")
        for name, version, _ in page.entries:
            parts.append(f"<Contents><Key>{enc(name)}</Key><LastModified>{version.last_modified_ISO8601}"
                         f"</LastModified>{_object_fields(version, owner=fetch_owner)}</Contents>")
        parts.extend(f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>" for p in page.prefixes)
        parts.append("</ListBucketResult>")
        return _xml("".join(parts))

    def status(self) -> dict[str, Any]:
        return {"pagesAnswered": self.pages}

    def reset(self) -> None:
        self.pages = 0


def _object_fields(version: Any, owner: bool = True) -> str:
    fields = f"<ETag>{escape(version.etag)}</ETag><Size>{version.size}</Size>"
    if owner:
        fields += _OWNER
    fields += f"<StorageClass>{escape(version.storage_class or 'STANDARD')}</StorageClass>"
    algorithm = getattr(version, "checksum_algorithm", None)
    if algorithm:
        fields += f"<ChecksumAlgorithm>{escape(algorithm)}</ChecksumAlgorithm>"
    return fields


def _encoder(encoding: str | None) -> Callable[[str], str]:
    if encoding == "url":
        return lambda text: escape(quote(text, safe="/"))
    return escape


def _xml(body: str) -> AwsResponse:
    return AwsResponse(200, Headers({"Content-Type": "application/xml", "x-amz-request-id": str(uuid.uuid4())}),
                       body.encode("utf-8"))
