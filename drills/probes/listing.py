"""Object versions under a prefix, from listings only (one request per 1,000 versions).

A small helper for drill probes; the verification ladder has its own, richer rungs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.errors import InfraError


@dataclass(frozen=True)
class Version:
    key: str
    version_id: str
    latest: bool
    delete_marker: bool
    size: int
    modified: datetime | None


def versions(s3: Any, bucket: str, prefix: str) -> list[Version]:
    out: list[Version] = []
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Versions", []):
                out.append(Version(item["Key"], item.get("VersionId") or "null", bool(item.get("IsLatest")),
                                   False, int(item.get("Size", 0)), item.get("LastModified")))
            for item in page.get("DeleteMarkers", []):
                out.append(Version(item["Key"], item.get("VersionId") or "null", bool(item.get("IsLatest")),
                                   True, 0, item.get("LastModified")))
    except (ClientError, BotoCoreError) as exc:
        raise InfraError(f"cannot list versions of {bucket}/{prefix}: {exc}") from exc
    return out


def latest(items: list[Version]) -> dict[str, Version]:
    """key -> its latest version (object or delete marker)."""
    return {v.key: v for v in items if v.latest}


def ids(items: list[Version]) -> set[tuple[str, str]]:
    return {(v.key, v.version_id) for v in items}
