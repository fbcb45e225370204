"""The study index's group commit (``StudyIndex.add``) against moto: single conditional puts,
batched writes, existing items keep their conflicts, unprocessed items are retried, and a
failure reaches exactly the callers whose items were not written."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drills.contracts import INDEX_PARTITION_KEY, INDEX_SORT_KEY
from drills.errors import InfraError
from drills.ingest import index as index_module
from drills.ingest.index import StudyIndex


def item(n: int, **extra: Any) -> dict[str, Any]:
    return {INDEX_PARTITION_KEY: f"1.2.3.{n // 4}", INDEX_SORT_KEY: f"1.2.4/1.2.5.{n}",
            "SOPInstanceUID": f"1.2.5.{n}", "VersionId": f"v{n}", "Size": n, **extra}


def stored(env, n: int) -> dict[str, Any] | None:
    return env.index_item(f"1.2.3.{n // 4}", "1.2.4", f"1.2.5.{n}")


class Recording:
    """Delegates to the real client; counts operations; can hold the first PutItem until
    the others have queued, and can leave items unprocessed."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: Counter = Counter()
        self.hold_first_put: threading.Event | None = None
        self.unprocessed_rounds = 0           # BatchWriteItem answers that write one item only
        self.throttled = False                # BatchWriteItem answers that write nothing
        self.refuse_batch_write: str | None = None     # BatchWriteItem fails with this code
        self.unprocessed_keys_rounds = 0      # BatchGetItem answers that leave keys unprocessed

    def put_item(self, **kwargs: Any) -> Any:
        self.calls["PutItem"] += 1
        if self.hold_first_put is not None and self.calls["PutItem"] == 1:
            assert self.hold_first_put.wait(10)
        return self.real.put_item(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        self.calls["UpdateItem"] += 1
        return self.real.update_item(**kwargs)

    def batch_get_item(self, RequestItems: dict[str, Any]) -> Any:
        self.calls["BatchGetItem"] += 1
        if self.unprocessed_keys_rounds:
            self.unprocessed_keys_rounds -= 1
            (table, request), = RequestItems.items()
            keys = request["Keys"]
            answer = self.real.batch_get_item(RequestItems={table: {**request, "Keys": keys[:1]}})
            answer["UnprocessedKeys"] = {table: {**request, "Keys": keys[1:]}}
            return answer
        return self.real.batch_get_item(RequestItems=RequestItems)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:
        self.calls["BatchWriteItem"] += 1
        (table, requests), = RequestItems.items()
        if self.refuse_batch_write:
            raise ClientError({"Error": {"Code": self.refuse_batch_write, "Message": "no"}}, "BatchWriteItem")
        if self.throttled:
            return {"UnprocessedItems": {table: requests}}
        if self.unprocessed_rounds:
            self.unprocessed_rounds -= 1
            self.real.batch_write_item(RequestItems={table: requests[:1]})
            return {"UnprocessedItems": {table: requests[1:]}}
        return self.real.batch_write_item(RequestItems=RequestItems)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def index(ingest_env, sleeps) -> StudyIndex:
    idx = StudyIndex(ingest_env.target, ingest_env.region, ingest_env.index_table, sleep=sleeps.append)
    idx._ddb = Recording(idx._ddb)
    return idx


def add_concurrently(index: StudyIndex, items: list[dict[str, Any]]) -> list[BaseException | None]:
    """Add ``items`` from one thread each. The first caller's PutItem is held until every
    other caller has queued, so they go out together as one group."""
    recording: Recording = index._ddb
    recording.hold_first_put = threading.Event()

    def add(attributes: dict[str, Any]) -> BaseException | None:
        try:
            index.add(attributes)
        except InfraError as exc:
            return exc
        return None

    with ThreadPoolExecutor(len(items)) as pool:
        first = pool.submit(add, items[0])
        while recording.calls["PutItem"] < 1:
            time.sleep(0.001)
        rest = [pool.submit(add, attributes) for attributes in items[1:]]
        deadline = time.monotonic() + 10
        while len(index._queue) < len(items) - 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        recording.hold_first_put.set()
        return [first.result()] + [f.result() for f in rest]


def test_one_item_is_a_conditional_put(index, ingest_env) -> None:
    index.add(item(1))
    assert stored(ingest_env, 1)["VersionId"] == "v1"
    assert index._ddb.calls == Counter({"PutItem": 1})


def test_an_existing_item_is_updated_and_keeps_its_conflicts(index, ingest_env) -> None:
    index.record(item(1), conflict={"PreviousVersionId": "v0", "VersionId": "v1"})
    index.add(item(1, VersionId="v2"))
    got = stored(ingest_env, 1)
    assert got["VersionId"] == "v2"
    assert got["ConflictCount"] == 1 and got["Conflicts"][0]["PreviousVersionId"] == "v0"
    assert index._ddb.calls["PutItem"] == 1 and index._ddb.calls["UpdateItem"] == 2


def test_concurrent_callers_share_one_batch_write(index, ingest_env) -> None:
    index.record(item(3), conflict={"PreviousVersionId": "v-old", "VersionId": "v3"})
    items = [item(n, VersionId=f"new-{n}") for n in range(8)]
    assert add_concurrently(index, items) == [None] * 8
    calls = index._ddb.calls
    assert calls["PutItem"] == 1                                    # the first, alone
    assert calls["BatchGetItem"] == 1 and calls["BatchWriteItem"] == 1, calls
    for n in range(8):
        assert stored(ingest_env, n)["VersionId"] == f"new-{n}", n
    kept = stored(ingest_env, 3)
    assert kept["ConflictCount"] == 1 and kept["Conflicts"][0]["PreviousVersionId"] == "v-old"


def test_unprocessed_items_and_keys_are_retried_with_backoff(index, ingest_env, sleeps) -> None:
    index._ddb.unprocessed_rounds = 2
    index._ddb.unprocessed_keys_rounds = 1
    assert add_concurrently(index, [item(n) for n in range(6)]) == [None] * 6
    assert index._ddb.calls["BatchWriteItem"] == 3 and index._ddb.calls["BatchGetItem"] == 2
    assert sleeps == [index_module.BACKOFF_BASE, index_module.BACKOFF_BASE,
                      index_module.BACKOFF_BASE * 2]
    assert all(stored(ingest_env, n) for n in range(6))


def test_items_left_unprocessed_fail_alone(index, ingest_env, sleeps) -> None:
    index._ddb.throttled = True
    results = add_concurrently(index, [item(n) for n in range(5)])
    assert results[0] is None and stored(ingest_env, 0)             # its own PutItem went through
    for n in range(1, 5):
        assert isinstance(results[n], InfraError) and "unprocessed" in str(results[n]), n
        assert stored(ingest_env, n) is None
    assert index._ddb.calls["BatchWriteItem"] == index_module.MAX_ATTEMPTS
    assert len(sleeps) == index_module.MAX_ATTEMPTS - 1 and max(sleeps) <= index_module.BACKOFF_CAP


def test_a_failed_batch_write_fails_every_caller_in_it(index, ingest_env) -> None:
    index._ddb.refuse_batch_write = "ProvisionedThroughputExceededException"
    results = add_concurrently(index, [item(n) for n in range(4)])
    assert results[0] is None and stored(ingest_env, 0)
    for result in results[1:]:
        assert isinstance(result, InfraError) and "ProvisionedThroughputExceeded" in str(result)
    assert not any(stored(ingest_env, n) for n in range(1, 4))


def test_missing_table_is_an_infrastructure_error(ingest_env) -> None:
    index = StudyIndex(ingest_env.target, ingest_env.region, "no-such-table")
    with pytest.raises(InfraError, match="ResourceNotFoundException"):
        index.add(item(1))


# -- pipelining: several groups in flight, bounded, failures stay with their items


class Gate:
    """Holds every BatchWriteItem until released; records how many were in flight at once."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.open = threading.Event()
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.real = recording.batch_write_item
        recording.batch_write_item = self.batch_write_item

    def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            assert self.open.wait(10)
            return self.real(RequestItems=RequestItems)
        finally:
            with self.lock:
                self.now -= 1


def wait_for(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_groups_are_written_several_at_once_but_bounded(index, ingest_env, monkeypatch) -> None:
    """Items nobody waits for yet go out in groups of BATCH_WRITE_LIMIT, up to MAX_IN_FLIGHT
    groups at once; the queue behind them is bounded (submit blocks at MAX_QUEUED)."""
    monkeypatch.setattr(index_module, "MAX_IN_FLIGHT", 2)
    monkeypatch.setattr(index_module, "MAX_QUEUED", 30)
    monkeypatch.setattr(index_module, "LINGER", 60.0)          # only full groups are due
    gate = Gate(index._ddb)
    limit = index_module.BATCH_WRITE_LIMIT
    futures = [index.submit(item(n)) for n in range(3 * limit)]
    wait_for(lambda: gate.now == 2)                             # two groups in flight, the third queued
    assert len(index._queue) == limit
    for n in range(5):                                         # fill the queue to its bound
        futures.append(index.submit(item(20_000 + n)))
    blocked = threading.Thread(target=lambda: futures.append(index.submit(item(10_000))))
    blocked.start()
    time.sleep(0.2)
    assert blocked.is_alive(), "submit did not wait at MAX_QUEUED"
    assert not any(f.done() for f in futures)                  # nothing acknowledged before it is written
    gate.open.set()
    blocked.join(10)
    index.expedite()                                           # the last, partial group: now
    for future in futures:
        assert future.result(10) is None
    assert gate.peak == 2
    assert all(stored(ingest_env, n) for n in range(3 * limit))
    assert stored(ingest_env, 10_000) and stored(ingest_env, 20_004)


def test_a_failed_later_group_fails_its_own_items_only(index, ingest_env, monkeypatch) -> None:
    """Three groups in flight; the second BatchWriteItem fails: exactly its items fail, with
    the error, and the other groups' items are written."""
    monkeypatch.setattr(index_module, "LINGER", 60.0)
    limit = index_module.BATCH_WRITE_LIMIT
    calls = {"n": 0}
    failed_keys: list[str] = []
    real = index._ddb.batch_write_item
    lock = threading.Lock()

    def batch_write_item(RequestItems: dict[str, Any]) -> Any:
        with lock:
            calls["n"] += 1
            mine = calls["n"]
        if mine == 2:
            (requests,) = RequestItems.values()
            failed_keys.extend(r["PutRequest"]["Item"][INDEX_SORT_KEY]["S"] for r in requests)
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "no"}}, "BatchWriteItem")
        return real(RequestItems=RequestItems)

    index._ddb.batch_write_item = batch_write_item
    futures = {n: index.submit(item(n)) for n in range(3 * limit)}
    for n, future in futures.items():
        error = future.exception(10)
        sort_key = item(n)[INDEX_SORT_KEY]
        if sort_key in failed_keys:
            assert isinstance(error, InfraError) and "InternalServerError" in str(error), n
            assert stored(ingest_env, n) is None
        else:
            assert error is None and stored(ingest_env, n), n
    assert len(failed_keys) == limit


def test_one_key_is_never_in_two_groups_at_once(index, ingest_env, monkeypatch) -> None:
    """A second item for a key being written waits for that write: the later one wins."""
    monkeypatch.setattr(index_module, "LINGER", 0.0)
    index._ddb.hold_first_put = threading.Event()
    first = index.submit(item(1, VersionId="first"))
    wait_for(lambda: index._ddb.calls["PutItem"] == 1)
    second = index.submit(item(1, VersionId="second"), urgent=True)
    time.sleep(0.1)
    assert not second.done() and index._queue            # due, but its key is in flight
    index._ddb.hold_first_put.set()
    assert first.result(10) is None and second.result(10) is None
    assert stored(ingest_env, 1)["VersionId"] == "second"
