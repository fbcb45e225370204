"""The replication write itself, done on moto's S3 backend as S3 would do it.

The HTTP API cannot choose a version id, so the copy goes through moto's in-process
backend: a replica keeps the source's version id, creation time, bytes, metadata and
content type, tags, ACL, Object Lock retention and legal hold, and its additional
checksum (algorithm, value, type); the storage class comes from the rule (else the
source's); SSE-KMS objects are re-encrypted under the rule's replica key. Replicas are
ordered among the destination key's versions by creation time, so a replica that lands
late never becomes "latest" over a newer one. No S3 event notification is sent for a
replica. Failures raise ``ReplicationFailure`` with the reason S3 reports in its
replication failure events (``DstBucketNotFound`` ...), or a simulation-specific reason
where S3 has none.
"""

from __future__ import annotations

from typing import Any

from moto.s3.exceptions import InvalidStorageClass
from moto.s3.models import FakeDeleteMarker, FakeKey

from drills.cloud.sim import key_locks
from drills.cloud.sim.replication_rules import Rule
from drills.cloud.sim.s3_versions import find_version, get_bucket, latest_version_id  # noqa: F401 (copier.*)


class ReplicationFailure(Exception):
    """The copy cannot be made; ``reason`` names why (S3's failure reason where one exists)."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


def tags_of(s3: Any, version: FakeKey) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.tagger.list_tags_for_resource(version.arn).get("Tags", [])}


def _destination(s3: Any, name: str, *, needs_lock: bool) -> Any:
    dest = get_bucket(s3, name)
    if dest is None:
        raise ReplicationFailure("DstBucketNotFound", f"destination bucket {name} does not exist")
    if not dest.is_versioned:
        raise ReplicationFailure("DstBucketUnversioned", f"destination bucket {name} is not versioned")
    if needs_lock and not dest.object_lock_enabled:
        raise ReplicationFailure("DstBucketObjectLockConfigMissing",
                                 f"source has Object Lock but destination bucket {name} does not")
    return dest


def _place(dest: Any, key: str, version: Any, source: Any = None) -> None:
    """Keep the key's versions in creation order (the last one is the current version).
    Versions stamped at the same instant (the virtual clock stood still) keep the source
    bucket's order."""
    versions = [v for v in dest.keys.getlist(key, []) if v is version or str(v.version_id) != str(version.version_id)]
    if version not in versions:
        versions.append(version)
    order = {str(v.version_id): i for i, v in enumerate(source.keys.getlist(key, []) or [])} if source else {}
    dest.keys.setlist(key, sorted(versions, key=lambda v: (v.last_modified, order.get(str(v.version_id), -1))))


def copy_version(s3: Any, src_bucket: str, key: str, version_id: str, rule: Rule) -> FakeKey:
    """Write the replica of ``src_bucket/key@version_id`` into ``rule.dest_bucket`` (holding both
    keys' locks: no request disposes the source or the destination's versions meanwhile)."""
    with key_locks.held((src_bucket, key), (rule.dest_bucket, key)):
        return _copy_version(s3, src_bucket, key, version_id, rule)


def _copy_version(s3: Any, src_bucket: str, key: str, version_id: str, rule: Rule) -> FakeKey:
    source_bucket = get_bucket(s3, src_bucket)
    src = find_version(s3, src_bucket, key, version_id)
    if source_bucket is None or not isinstance(src, FakeKey):
        raise ReplicationFailure("SrcVersionGone", "the source version was deleted before it was replicated")
    dest = _destination(s3, rule.dest_bucket, needs_lock=bool(source_bucket.object_lock_enabled))
    kms_key_id = src.kms_key_id
    if src.encryption and src.encryption.startswith("aws:kms"):
        if not rule.replica_kms_key_id:
            raise ReplicationFailure("DstKmsKeyNotFound", "rule has no ReplicaKmsKeyID for an SSE-KMS object")
        kms_key_id = rule.replica_kms_key_id
    tags = tags_of(s3, src)
    try:
        replica = s3.put_object(
            bucket_name=rule.dest_bucket, key_name=key, value=src.value,
            storage=rule.storage_class or src.storage_class, etag=src._etag, multipart=src.multipart,
            encryption=src.encryption, kms_key_id=kms_key_id, bucket_key_enabled=src.bucket_key_enabled,
            lock_mode=src.lock_mode, lock_legal_status=src.lock_legal_status, lock_until=src.lock_until,
            checksum_value=src.checksum_value, disable_notification=True,
        )
    except InvalidStorageClass as exc:
        raise ReplicationFailure("InvalidStorageClass", f"rule storage class {rule.storage_class!r}") from exc
    replica._version_id = src.version_id
    replica.last_modified = src.last_modified
    replica.checksum_algorithm = src.checksum_algorithm
    replica.checksum_type = src.checksum_type
    replica.checksum_parts = src.checksum_parts
    replica.set_metadata(dict(src.metadata), replace=True)
    replica.set_acl(src.acl)
    replica.website_redirect_location = src.website_redirect_location
    if tags:
        s3.tagger.tag_resource(replica.arn, [{"Key": k, "Value": v} for k, v in tags.items()])
    _place(dest, key, replica, source_bucket)
    return replica


def copy_delete_marker(s3: Any, src_bucket: str, key: str, version_id: str, dest_bucket: str) -> FakeDeleteMarker:
    """Add the source's delete marker (same version id and time) to ``dest_bucket``."""
    src = find_version(s3, src_bucket, key, version_id)
    if not isinstance(src, FakeDeleteMarker):
        raise ReplicationFailure("SrcVersionGone", "the source delete marker is gone")
    dest = _destination(s3, dest_bucket, needs_lock=False)
    existing = dest.keys.getlist(key, []) or []
    marker = FakeDeleteMarker(key=existing[-1] if existing else src.key)
    marker._version_id = src.version_id
    marker.last_modified = src.last_modified
    _place(dest, key, marker, get_bucket(s3, src_bucket))
    return marker


def sync_metadata(s3: Any, src: tuple[str, str, str], dst: tuple[str, str, str]) -> bool:
    """Copy tags, retention and legal hold from version ``src`` to version ``dst``.

    Returns False (and changes nothing) when either version is not a stored object."""
    a, b = find_version(s3, *src), find_version(s3, *dst)
    if not isinstance(a, FakeKey) or not isinstance(b, FakeKey):
        return False
    tags = tags_of(s3, a)
    s3.tagger.delete_all_tags_for_resource(b.arn)
    if tags:
        s3.tagger.tag_resource(b.arn, [{"Key": k, "Value": v} for k, v in tags.items()])
    b.lock_mode, b.lock_until, b.lock_legal_status = a.lock_mode, a.lock_until, a.lock_legal_status
    return True
