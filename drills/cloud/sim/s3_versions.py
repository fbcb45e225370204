"""Reading object versions out of moto's S3 backend, the one way every behaviour does it
(no side effects: nothing is created, no event is sent)."""

from __future__ import annotations

from typing import Any

from moto.s3.exceptions import MissingBucket


def get_bucket(s3: Any, name: str) -> Any | None:
    """moto's FakeBucket ``name``, or None."""
    try:
        return s3.get_bucket(name)
    except MissingBucket:
        return None


def version_of(bucket: Any, key: str, version_id: str | None = None) -> Any | None:
    """The FakeKey / FakeDeleteMarker of ``key`` in a FakeBucket with ``version_id`` (the
    current one when None), or None."""
    versions = bucket.keys.getlist(key, []) or []
    if version_id is None:
        return versions[-1] if versions else None
    for version in versions:
        if str(version.version_id) == str(version_id):
            return version
    return None


def find_version(s3: Any, bucket: str, key: str, version_id: str | None) -> Any | None:
    """The stored FakeKey or FakeDeleteMarker with this version id in bucket ``bucket``, else None."""
    found = get_bucket(s3, bucket)
    return version_of(found, key, version_id) if found is not None else None


def latest_version_id(s3: Any, bucket: str, key: str) -> str | None:
    found = get_bucket(s3, bucket)
    current = version_of(found, key) if found is not None else None
    return str(current.version_id) if current is not None else None
