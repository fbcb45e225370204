"""Planted defects for the ladder tests, each undone on exit so the shared stack stays healthy.

Where AWS offers the same change through its API, the defect is made through boto3 (a
drifted rule, a shortened retention, a legal hold, an orphan index item, a replication
failure via the embedded cloud's control protocol); what no API can undo or do (a replica
version removed and put back, stored bytes altered under their checksum) goes through moto's
backend, as tests/drills/cli/test_demo_replica_check.py does.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta, timezone

from drills.cloud.control import HttpControl


@contextmanager
def replica_version_deleted(stack, key: str, version_id: str) -> Iterator[None]:
    """The replica copy of one instance gone (as after a delete by version id, which is never
    replicated). Taken out of moto's store and put back: no API restores a deleted version."""
    keys = stack.cloud.sim.s3_backend().get_bucket(stack.bucket("replica")).keys
    saved = list(keys.getlist(key))
    remaining = [v for v in saved if v.version_id != version_id]
    assert len(remaining) < len(saved), "no such replica version"
    # dict's own methods: moto's setlist/pop would dispose (close) the versions taken out.
    if remaining:
        dict.__setitem__(keys, key, remaining)
    else:
        dict.pop(keys, key)
    try:
        yield
    finally:
        dict.__setitem__(keys, key, saved)


@contextmanager
def replica_bytes_altered(stack, key: str, version_id: str) -> Iterator[None]:
    """One byte of a replica version flipped; its stored SHA-256 (metadata) left as it was."""
    stored = stack.cloud.sim.s3_backend().get_object(stack.bucket("replica"), key, version_id=version_id)
    original = stored.value
    altered = bytearray(original)
    altered[-1] ^= 0xFF
    stored.value = bytes(altered)
    try:
        yield
    finally:
        stored.value = original


def _new_version(stack, key: str) -> str:
    """A new archive version of ``key`` (its bytes plus two NULs), stamped with the virtual
    time: moto stamps LastModified with wall time while the virtual clock runs ahead of it."""
    bucket = stack.bucket("archive")
    body = stack.s3().get_object(Bucket=bucket, Key=key)["Body"].read() + b"\0\0"
    put = stack.s3().put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                                ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode())
    stored = stack.cloud.sim.s3_backend().get_object(bucket, key, version_id=put["VersionId"])
    stored.last_modified = stack.cloud.clock.now().astimezone(timezone.utc).replace(tzinfo=None)
    return put["VersionId"]


def _drop_version(stack, key: str, version_id: str) -> None:
    stack.s3().delete_object(Bucket=stack.bucket("archive"), Key=key, VersionId=version_id,
                             BypassGovernanceRetention=True)


@contextmanager
def replication_failed(stack, key: str) -> Iterator[str]:
    """A new archive version of ``key`` whose replication fails (control action ``fail``)."""
    control = HttpControl(stack.cloud.endpoint)
    bucket = stack.bucket("archive")
    control.call("replication", "fail", {"bucket": bucket, "key": key})
    version = _new_version(stack, key)
    stack.cloud.clock.advance(timedelta(minutes=1))
    try:
        yield version
    finally:
        _drop_version(stack, key, version)
        control.call("replication", "clear_failures", {"bucket": bucket})


@contextmanager
def replication_paused(stack, key: str, minutes: float) -> Iterator[str]:
    """A new archive version of ``key`` written while replication is paused (FIS-style), then
    ``minutes`` of virtual time: it stays PENDING."""
    control = HttpControl(stack.cloud.endpoint)
    bucket = stack.bucket("archive")
    control.pause_replication(buckets=[bucket])
    version = _new_version(stack, key)
    stack.cloud.clock.advance(timedelta(minutes=minutes))
    try:
        yield version
    finally:
        _drop_version(stack, key, version)
        control.resume_replication(buckets=[bucket])
        stack.cloud.clock.advance(timedelta(minutes=1))


@contextmanager
def replication_rule_drifted(stack, **changes) -> Iterator[None]:
    """The archive's ``dicom`` rule changed in place through PutBucketReplication."""
    s3, bucket = stack.s3(), stack.bucket("archive")
    original = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
    drifted = copy.deepcopy(original)
    rule = next(r for r in drifted["Rules"] if r["ID"] == "dicom")
    if changes.get("rtc_off"):
        rule["Destination"].pop("ReplicationTime", None)
        rule["Destination"]["Metrics"] = {"Status": "Enabled"}
    if changes.get("delete_markers_off"):
        rule["DeleteMarkerReplication"] = {"Status": "Disabled"}
    if changes.get("disabled"):
        rule["Status"] = "Disabled"
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=drifted)
    try:
        yield
    finally:
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=original)


@contextmanager
def replica_retention_shortened(stack, key: str, version_id: str) -> Iterator[None]:
    """The replica version's GOVERNANCE retain-until moved earlier (bypass header set)."""
    s3, bucket = stack.s3("replica"), stack.bucket("replica")
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    until = head["ObjectLockRetainUntilDate"]
    s3.put_object_retention(Bucket=bucket, Key=key, VersionId=version_id, BypassGovernanceRetention=True,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until - timedelta(hours=12)})
    try:
        yield
    finally:
        s3.put_object_retention(Bucket=bucket, Key=key, VersionId=version_id,
                                Retention={"Mode": head["ObjectLockMode"], "RetainUntilDate": until})


@contextmanager
def orphan_index_item(stack, study: str = "2.25.999", series: str = "2.25.998", sop: str = "2.25.997") -> Iterator[str]:
    """An index item (primary table) naming an archive object that does not exist."""
    ddb = stack.cloud.target.client("dynamodb", stack.outputs.primaryRegion)
    key = f"dicom/{study}/{series}/{sop}.dcm"
    item_key = {"StudyInstanceUID": {"S": study}, "SeriesSop": {"S": f"{series}/{sop}"}}
    ddb.put_item(TableName=stack.outputs.indexTable, Item={
        **item_key, "Key": {"S": key}, "VersionId": {"S": "no-such-version"}, "Size": {"N": "10"},
        "ChecksumSHA256": {"S": "AAAA"}, "Specialty": {"S": "radiology"}})
    try:
        yield key
    finally:
        ddb.delete_item(TableName=stack.outputs.indexTable, Key=item_key)
        stack.cloud.clock.advance(timedelta(minutes=1))     # let the DR replica table sync the delete
