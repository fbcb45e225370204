"""Concurrent requests to one S3 key (drills.cloud.sim.key_locks), on the embedded cloud.

S3 User Guide, "Amazon S3 data consistency model"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel):
"Amazon S3 does not support object locking for concurrent writers. If two PUT requests are
simultaneously made to the same key, the request with the latest timestamp wins." Every
request succeeds (last writer wins); a read sees the old or the new object, whole. moto
alone answered some of these requests 500 InternalError (a replaced object's buffer was
closed while another request still read it).

The clients here never retry (``total_max_attempts=1``): a 500 reaches the test.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drills.cloud.sim import key_locks

THREADS, ROUNDS, SIZE = 8, 20, 70_000
BODIES = {t: bytes([65 + t]) * SIZE for t in range(THREADS)}     # one whole body per writer
ETAGS = {f'"{hashlib.md5(body).hexdigest()}"': body for body in BODIES.values()}


@pytest.fixture
def s3_once(client):
    """S3 client that makes each request once: no retry hides a 500."""
    return client("s3", "us-east-1", retries={"total_max_attempts": 1})


def _hammer(step: Callable[[int, int], tuple[str, dict[str, Any]]]) -> Counter:
    """Run ``step(thread, round)`` THREADS x ROUNDS times at once -> Counter of (operation, HTTP status)."""
    seen: Counter = Counter()
    lock = threading.Lock()

    def worker(t: int) -> None:
        for i in range(ROUNDS):
            try:
                operation, response = step(t, i)
                status = response["ResponseMetadata"]["HTTPStatusCode"]
            except ClientError as err:
                operation = err.operation_name
                status = (err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Code"])
            with lock:
                seen[(operation, status)] += 1

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    return seen


def _whole(body: bytes, etag: str) -> bool:
    return ETAGS.get(etag) == body


def test_concurrent_puts_to_one_key_of_an_unversioned_bucket_all_succeed_and_last_writer_wins(
        s3_once, bucket_name):
    """Seven writers x 20 PutObject of 70 kB to one key (a lister alongside): every PUT 200
    with the ETag of its own body, every ListObjectsV2 200; the key then holds one whole body."""
    bucket = bucket_name("race")
    s3_once.create_bucket(Bucket=bucket)
    etags_ok = []

    def step(t: int, i: int) -> tuple[str, dict[str, Any]]:
        if t == 0:
            listed = s3_once.list_objects_v2(Bucket=bucket)
            etags_ok.extend(obj["ETag"] in ETAGS for obj in listed.get("Contents", []))
            return "ListObjectsV2", listed
        put = s3_once.put_object(Bucket=bucket, Key="dicom/one.dcm", Body=BODIES[t])
        etags_ok.append(ETAGS[put["ETag"]] == BODIES[t])
        return "PutObject", put

    seen = _hammer(step)
    assert seen == {("PutObject", 200): (THREADS - 1) * ROUNDS, ("ListObjectsV2", 200): ROUNDS}
    assert all(etags_ok)
    got = s3_once.get_object(Bucket=bucket, Key="dicom/one.dcm")
    assert _whole(got["Body"].read(), got["ETag"])


def test_reads_and_copies_of_a_key_being_overwritten_see_one_whole_object(s3_once, bucket_name):
    """GetObject and CopyObject (its source) while four writers overwrite the key: all 200,
    each read and each copy one whole body with its own ETag (the old object or the new)."""
    bucket = bucket_name("race")
    s3_once.create_bucket(Bucket=bucket)
    s3_once.put_object(Bucket=bucket, Key="k", Body=BODIES[0])
    whole = []

    def step(t: int, i: int) -> tuple[str, dict[str, Any]]:
        if t % 2 == 0:
            return "PutObject", s3_once.put_object(Bucket=bucket, Key="k", Body=BODIES[t])
        if t % 4 == 1:
            got = s3_once.get_object(Bucket=bucket, Key="k")
            whole.append(_whole(got["Body"].read(), got["ETag"]))
            return "GetObject", got
        copied = s3_once.copy_object(Bucket=bucket, Key=f"copy-{t}", CopySource={"Bucket": bucket, "Key": "k"})
        got = s3_once.get_object(Bucket=bucket, Key=f"copy-{t}")
        whole.append(_whole(got["Body"].read(), copied["CopyObjectResult"]["ETag"]))
        return "CopyObject", copied

    seen = _hammer(step)
    quarter = THREADS // 4 * ROUNDS
    assert seen == {("PutObject", 200): 2 * quarter, ("GetObject", 200): quarter, ("CopyObject", 200): quarter}
    assert len(whole) == 2 * quarter and all(whole)


def test_delete_racing_put_and_get_answers_as_s3_does(s3_once, bucket_name):
    """DeleteObject alongside PutObject and GetObject on one key: PUT 200, DELETE 204, GET 200
    with a whole object or 404 NoSuchKey (the key is absent just then) — never a 500.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html"""
    bucket = bucket_name("race")
    s3_once.create_bucket(Bucket=bucket)
    whole = []

    def step(t: int, i: int) -> tuple[str, dict[str, Any]]:
        if t % 4 == 1:
            return "DeleteObject", s3_once.delete_object(Bucket=bucket, Key="k")
        if t % 4 == 3:
            got = s3_once.get_object(Bucket=bucket, Key="k")
            whole.append(_whole(got["Body"].read(), got["ETag"]))
            return "GetObject", got
        return "PutObject", s3_once.put_object(Bucket=bucket, Key="k", Body=BODIES[t])

    seen = _hammer(step)
    quarter = THREADS // 4 * ROUNDS
    gets = seen.pop(("GetObject", 200), 0) + seen.pop(("GetObject", (404, "NoSuchKey")), 0)
    assert seen == {("PutObject", 200): 2 * quarter, ("DeleteObject", 204): quarter}
    assert gets == quarter and all(whole)


def test_concurrent_puts_to_a_versioned_bucket_keep_every_version_whole(s3_once, bucket_name):
    """With versioning on, each of the concurrent PUTs adds a version of its own.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html"""
    bucket = bucket_name("race")
    s3_once.create_bucket(Bucket=bucket)
    s3_once.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    def step(t: int, i: int) -> tuple[str, dict[str, Any]]:
        return "PutObject", s3_once.put_object(Bucket=bucket, Key="k", Body=BODIES[t])

    assert _hammer(step) == {("PutObject", 200): THREADS * ROUNDS}
    versions = s3_once.list_object_versions(Bucket=bucket, Prefix="k")["Versions"]
    assert len(versions) == THREADS * ROUNDS
    assert {v["ETag"] for v in versions} <= set(ETAGS)


def _key_on_another_stripe(bucket: str, key: str) -> str:
    return next(f"other-{n}" for n in range(1000)
                if key_locks._stripe(bucket, f"other-{n}") != key_locks._stripe(bucket, key))


def test_a_held_key_blocks_only_its_own_stripe():
    """The lock is per key (striped): while one thread holds a key, another thread waits for
    that key but takes a key on another stripe at once."""
    taken = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with key_locks.held(("b", "k")):
            taken.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert taken.wait(5)
        other = _key_on_another_stripe("b", "k")
        lock_of = key_locks._locks
        assert lock_of[key_locks._stripe("b", other)].acquire(timeout=1)
        lock_of[key_locks._stripe("b", other)].release()
        assert not lock_of[key_locks._stripe("b", "k")].acquire(timeout=0.2)
    finally:
        release.set()
        thread.join(5)
    with key_locks.held(("b", "k"), ("b", other)):      # free again; several keys in one go
        pass
