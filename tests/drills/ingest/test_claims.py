"""SOP Instance UID claims through the index's group commit (``StudyIndex`` with a claims
table, and the Ingestor on it), against moto with the embedded cloud's TransactWriteItems
(atomic, isolated: ``drills.cloud.sim.dynamodb_transactions``).

AWS: TransactWriteItems — "either all of them succeed, or all of them fail"; a failed
condition cancels the transaction with ``TransactionCanceledException`` and one
``CancellationReasons`` entry per action, the item included with
``ReturnValuesOnConditionCheckFailure: ALL_OLD``
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html);
BatchGetItem reads several tables in one request, up to 100 keys
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest

from drills.cloud.sim import dynamodb_transactions
from drills.contracts import archive_key
from drills.ingest.core import Ingestor, Outcome
from drills.ingest.index import StudyIndex

from .conftest import CountingClient as Counting, build_dataset, to_bytes


@pytest.fixture(autouse=True)
def isolated_transactions() -> Iterator[None]:
    dynamodb_transactions.install()
    yield
    dynamodb_transactions.uninstall()


def held_after_reads(ingestors: list[Ingestor]) -> None:
    """Make each ingestor's group commit wait, after its BatchGetItem, until every one has read:
    so all of them see the SOP Instance UID unclaimed before any writes (the race)."""
    barrier = threading.Barrier(len(ingestors), timeout=20)
    for ingestor in ingestors:
        real = ingestor._index._ddb

        class Held:
            def __getattr__(self, name: str, real: Any = real) -> Any:
                return getattr(real, name)

            def batch_get_item(self, real: Any = real, **kwargs: Any) -> Any:
                answer = real.batch_get_item(**kwargs)
                barrier.wait()
                return answer

        ingestor._index._ddb = Held()


def test_two_ingesters_racing_for_one_sop_uid_in_different_studies_exactly_one_claims_it(ingest_env) -> None:
    """Two processes (two Ingestors, each its own index writer), one SOP Instance UID in two
    studies, both reading the claim as absent before either writes: exactly one claims it and
    is ARCHIVED; the other is a CONFLICT recorded on its index item, naming the winner, and
    both objects stay archived."""
    first = build_dataset()
    second = build_dataset(SOPInstanceUID=first.SOPInstanceUID)          # another study and series
    ingestors = [ingest_env.ingestor(), ingest_env.ingestor()]
    held_after_reads(ingestors)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda pair: pair[0].ingest_bytes(to_bytes(pair[1]), "x.dcm"),
                                zip(ingestors, (first, second))))
    assert sorted(r.outcome.value for r in results) == ["archived", "conflict"]
    winner = next(r for r in results if r.outcome is Outcome.ARCHIVED)
    loser = next(r for r in results if r.outcome is Outcome.CONFLICT)
    assert winner.key in loser.detail
    (claim,) = ingest_env.claims().items()
    winner_series = winner.key.split("/")[2]
    assert claim == (first.SOPInstanceUID, (winner.study_instance_uid, f"{winner_series}/{first.SOPInstanceUID}"))
    loser_ds = first if loser.study_instance_uid == first.StudyInstanceUID else second
    item = ingest_env.index_item(loser_ds.StudyInstanceUID, loser_ds.SeriesInstanceUID, loser_ds.SOPInstanceUID)
    assert [(c["Kind"], c["OtherKey"]) for c in item["Conflicts"]] == [("SOPInstanceUIDReused", winner.key)]
    assert item["VersionId"] == loser.version_id
    winner_ds = second if loser_ds is first else first
    winner_item = ingest_env.index_item(winner_ds.StudyInstanceUID, winner_ds.SeriesInstanceUID,
                                        winner_ds.SOPInstanceUID)
    assert winner_item is not None and "Conflicts" not in winner_item
    for ds in (first, second):
        assert ingest_env.versions(archive_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID))


def test_one_instance_sent_twice_at_once_is_archived_once_and_claimed_once(ingest_env) -> None:
    """Duplicates: the same bytes from two ingesters at once — one ARCHIVED, one DUPLICATE
    (S3's conditional PUT decides), one claim naming the instance, no conflict."""
    ds = build_dataset()
    data = to_bytes(ds)
    ingestors = [ingest_env.ingestor(), ingest_env.ingestor()]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda i: i.ingest_bytes(data, "x.dcm"), ingestors))
    assert sorted(r.outcome.value for r in results) == ["archived", "duplicate"]
    assert ingest_env.claims() == {ds.SOPInstanceUID: (ds.StudyInstanceUID,
                                                       f"{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}")}
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert "Conflicts" not in item
    again = ingestors[0].ingest_bytes(data, "x.dcm")
    assert again.outcome is Outcome.DUPLICATE and not again.repair


def test_a_group_reads_index_and_claims_in_one_request_and_writes_in_one_transaction(ingest_env) -> None:
    """Many new instances from one process: per group one BatchGetItem and one
    TransactWriteItems, no request per instance (no Query, no PutItem)."""
    index = StudyIndex(ingest_env.target, ingest_env.region, ingest_env.index_table,
                       claims_table=ingest_env.claims_table)
    counting = Counting(index._ddb)
    index._ddb = counting
    items = [{"StudyInstanceUID": f"1.2.3.{n // 5}", "SeriesSop": f"1.2.4/1.2.5.{n}", "SOPInstanceUID": f"1.2.5.{n}",
              "VersionId": f"v{n}"} for n in range(25)]
    futures = [index.submit(i) for i in items]
    index.expedite()
    assert [f.result(20) for f in futures] == [None] * 25
    assert 1 <= counting.calls["batch_get_item"] <= 3 and 1 <= counting.calls["transact_write_items"] <= 3
    assert counting.calls["query"] == counting.calls["put_item"] == counting.calls["batch_write_item"] == 0
    assert len(ingest_env.claims()) == 25 and len(ingest_env.index_items()) == 25


def test_full_groups_of_fifty_stay_within_dynamodbs_request_limits(ingest_env, monkeypatch) -> None:
    """A group on the claims path holds up to 50 items: its BatchGetItem asks for 100 keys and
    its TransactWriteItems holds 100 actions — each API's maximum (API_BatchGetItem: "up to
    100 items"; API_TransactWriteItems: "up to 100 action requests"), never more."""
    from drills.ingest import index as index_module

    monkeypatch.setattr(index_module, "LINGER", 60.0)          # only full groups go out before expedite
    index = StudyIndex(ingest_env.target, ingest_env.region, ingest_env.index_table,
                       claims_table=ingest_env.claims_table)
    sizes: dict[str, list[int]] = {"get": [], "write": []}
    real = index._ddb

    class Sizes:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def batch_get_item(self, **kwargs: Any) -> Any:
            sizes["get"].append(sum(len(t["Keys"]) for t in kwargs["RequestItems"].values()))
            return real.batch_get_item(**kwargs)

        def transact_write_items(self, **kwargs: Any) -> Any:
            sizes["write"].append(len(kwargs["TransactItems"]))
            return real.transact_write_items(**kwargs)

    index._ddb = Sizes()
    items = [{"StudyInstanceUID": f"1.2.3.{n // 7}", "SeriesSop": f"1.2.4/1.2.5.{n}", "SOPInstanceUID": f"1.2.5.{n}",
              "VersionId": f"v{n}"} for n in range(120)]
    futures = [index.submit(i) for i in items]
    index.expedite()
    assert [f.result(20) for f in futures] == [None] * 120
    assert sorted(sizes["get"]) == [40, 100, 100] and sorted(sizes["write"]) == [40, 100, 100]
    assert len(ingest_env.claims()) == 120 and len(ingest_env.index_items()) == 120


def test_an_item_created_meanwhile_is_updated_keeping_its_conflicts_and_claimed(ingest_env) -> None:
    """An index item that exists without a claim (written before the claims table, or by a
    rebuild of the index alone): the group claims the UID and updates the item, whose
    Conflicts survive."""
    index = StudyIndex(ingest_env.target, ingest_env.region, ingest_env.index_table,
                       claims_table=ingest_env.claims_table)
    existing = {"StudyInstanceUID": "1.2.3", "SeriesSop": "1.2.4/1.2.5", "SOPInstanceUID": "1.2.5",
                "VersionId": "v1", "Conflicts": [{"DetectedAt": "2024-01-01T00:00:00Z"}], "ConflictCount": 1}
    StudyIndex(ingest_env.target, ingest_env.region, ingest_env.index_table).record(existing)
    newer = {k: v for k, v in existing.items() if k not in ("Conflicts", "ConflictCount")} | {"VersionId": "v2"}
    assert index.add(newer) is None
    item = ingest_env.index_item("1.2.3", "1.2.4", "1.2.5")
    assert item["VersionId"] == "v2" and item["ConflictCount"] == 1 and len(item["Conflicts"]) == 1
    assert ingest_env.claims() == {"1.2.5": ("1.2.3", "1.2.4/1.2.5")}


def test_a_claim_left_for_the_same_item_is_not_a_conflict(ingest_env) -> None:
    """A claim naming this very item but no item (a crash between claim and item cannot
    happen — they are one transaction — but a rebuilt claims table can hold it): ARCHIVED."""
    ds = build_dataset()
    ingest_env.ddb.put_item(TableName=ingest_env.claims_table, Item={
        "SOPInstanceUID": {"S": ds.SOPInstanceUID}, "StudyInstanceUID": {"S": ds.StudyInstanceUID},
        "SeriesSop": {"S": f"{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}"}})
    result = ingest_env.ingestor().ingest_bytes(to_bytes(ds), "a.dcm")
    assert result.outcome is Outcome.ARCHIVED
    assert ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID) is not None


def test_one_uid_twice_in_one_process_goes_to_two_groups(ingest_env, tmp_path) -> None:
    """Two new instances with one SOP Instance UID queued together never share a transaction
    (AWS refuses two actions on one item): the first claims it, the second is a conflict."""
    first = build_dataset()
    second = build_dataset(SOPInstanceUID=first.SOPInstanceUID)
    paths = []
    for n, ds in enumerate((first, second)):
        path = tmp_path / f"{n}.dcm"
        path.write_bytes(to_bytes(ds))
        paths.append(path)
    ingestor = ingest_env.ingestor()
    pending = [ingestor.start_file(p) for p in paths]
    ingestor.expedite()
    outcomes = [f.result(20).outcome for f in pending]
    assert outcomes == [Outcome.ARCHIVED, Outcome.CONFLICT]
    assert ingest_env.claims()[first.SOPInstanceUID][0] == first.StudyInstanceUID
