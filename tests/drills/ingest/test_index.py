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
