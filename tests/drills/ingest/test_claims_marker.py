"""The claims table's completeness marker (drills.ingest.claims) and the Ingestor on a stack
upgraded from a version without claims: an index with items beside an empty claims table.

AWS: GetItem with ConsistentRead; Scan with ``Limit`` evaluates at most that many items and
returns ``LastEvaluatedKey`` when more remain
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html); PutItem with
``attribute_not_exists`` fails with ConditionalCheckFailedException when the item exists
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Iterator

import pytest

from drills.cloud.sim import dynamodb_transactions
from drills.contracts import CLAIMS_COMPLETE_MARKER, SOP_UID_REUSED, archive_key
from drills.ingest.claims import BACKFILL_COMMAND, claims_mode, is_marker
from drills.ingest.claims_backfill import backfill
from drills.ingest.core import Outcome

from .conftest import CountingClient as Counting, build_dataset, to_bytes


@pytest.fixture(autouse=True)
def isolated_transactions() -> Iterator[None]:
    dynamodb_transactions.install()
    yield
    dynamodb_transactions.uninstall()


def upgraded(ingest_env):
    """An instance archived by a version without claims (GSI path): the index holds it, the claims table is empty."""
    old = build_dataset()
    assert ingest_env.ingestor(claims=False).ingest_bytes(to_bytes(old), "old.dcm").outcome is Outcome.ARCHIVED
    assert ingest_env.claims() == {} and ingest_env.claims_marker() is None
    return old


def reused_elsewhere(old):
    return build_dataset(SOPInstanceUID=old.SOPInstanceUID)          # another study and series


def conflicts_of(ingest_env, ds) -> list[dict]:
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    return list(item.get("Conflicts", []))


def test_is_marker_tells_the_marker_from_a_claim() -> None:
    assert is_marker({"SOPInstanceUID": {"S": CLAIMS_COMPLETE_MARKER}})
    assert is_marker({"SOPInstanceUID": CLAIMS_COMPLETE_MARKER})
    assert not is_marker({"SOPInstanceUID": {"S": "1.2.3"}})


def test_upgraded_stack_reused_uid_is_still_a_conflict_through_the_gsi_and_warns(ingest_env, caplog) -> None:
    """Without the marker, a UID archived before the upgrade (unclaimed) reused in another study
    is still a recorded conflict — the GSI answers — and one warning names the backfill command."""
    old = upgraded(ingest_env)
    new = reused_elsewhere(old)
    ingestor = ingest_env.ingestor()
    with caplog.at_level(logging.WARNING, logger="drills.ingest.claims"):
        result = ingestor.ingest_bytes(to_bytes(new), "new.dcm")
        fresh = ingestor.ingest_bytes(to_bytes(build_dataset()), "fresh.dcm")
    assert result.outcome is Outcome.CONFLICT
    conflict, = conflicts_of(ingest_env, new)
    assert conflict["Kind"] == SOP_UID_REUSED
    assert conflict["OtherKey"] == archive_key(old.StudyInstanceUID, old.SeriesInstanceUID, old.SOPInstanceUID)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and BACKFILL_COMMAND in warnings[0].getMessage()      # once, not per instance
    assert fresh.outcome is Outcome.ARCHIVED
    # the fallback still writes claims with new items (a concurrent backfill misses none), no marker
    series = fresh.key.split("/")[-2]
    assert ingest_env.claims() == {fresh.sop_instance_uid: (fresh.study_instance_uid,
                                                            f"{series}/{fresh.sop_instance_uid}")}
    assert ingest_env.claims_marker() is None


def test_after_backfill_the_claims_path_alone_detects_the_reused_uid(ingest_env) -> None:
    """Backfill claims the old UID and writes the marker; a new Ingestor then trusts the claims
    (no GSI Query at all) and still records the reused UID as a conflict."""
    old = upgraded(ingest_env)
    summary = backfill(ingest_env.ddb, ingest_env.index_table, ingest_env.claims_table,
                       now=lambda: datetime(2026, 1, 2, tzinfo=timezone.utc), segments=2)
    assert (summary.index_items, summary.claimed, summary.conflicts, summary.marker) == (1, 1, 0, "written")
    marker = ingest_env.claims_marker()
    assert marker["WrittenBy"] == "drkit claims backfill" and marker["WrittenAt"] == "2026-01-02T00:00:00Z"
    ingestor = ingest_env.ingestor()
    counting = Counting(ingestor._index._ddb)
    ingestor._index._ddb = counting
    new = reused_elsewhere(old)
    assert ingestor.ingest_bytes(to_bytes(new), "new.dcm").outcome is Outcome.CONFLICT
    assert counting.calls["query"] == 0 and ingestor._index.claims_complete()
    assert counting.calls["batch_get_item"] >= 1       # the conflict came from the claims read
    conflict, = conflicts_of(ingest_env, new)
    assert conflict["OtherKey"] == archive_key(old.StudyInstanceUID, old.SeriesInstanceUID, old.SOPInstanceUID)


def test_empty_new_stack_gets_the_marker_on_first_ingest_and_uses_claims(ingest_env) -> None:
    ingestor = ingest_env.ingestor()
    counting = Counting(ingestor._index._ddb)
    ingestor._index._ddb = counting
    first = ingestor.ingest_bytes(to_bytes(build_dataset()), "a.dcm")
    second = ingestor.ingest_bytes(to_bytes(build_dataset()), "b.dcm")
    assert first.outcome is second.outcome is Outcome.ARCHIVED
    assert ingest_env.claims_marker()["WrittenBy"] == "ingest: empty index"
    assert counting.calls["query"] == 0 and counting.calls["transact_write_items"] >= 1
    assert counting.calls["scan"] == 2          # index and claims, once per Ingestor: not per instance
    assert set(ingest_env.claims()) == {first.sop_instance_uid, second.sop_instance_uid}


def test_marker_decision_is_cached_per_ingestor(ingest_env) -> None:
    upgraded(ingest_env)
    ingestor = ingest_env.ingestor()
    counting = Counting(ingestor._index._ddb)
    ingestor._index._ddb = counting
    for _ in range(3):
        ingestor.ingest_bytes(to_bytes(build_dataset()), "x.dcm")
    assert counting.calls["get_item"] >= 1 and counting.calls["scan"] == 1      # the index was not empty
    assert not ingestor._index.claims_complete()


def test_an_existing_marker_is_not_rewritten(ingest_env) -> None:
    """Two ingesters starting on an empty stack: the conditional put lets one write the marker."""
    now = datetime(2026, 3, 4, tzinfo=timezone.utc)
    assert claims_mode(ingest_env.ddb, ingest_env.index_table, ingest_env.claims_table, now)
    later = now.replace(year=2027)
    assert claims_mode(ingest_env.ddb, ingest_env.index_table, ingest_env.claims_table, later)
    assert ingest_env.claims_marker()["WrittenAt"] == "2026-03-04T00:00:00Z"


def test_claims_without_marker_beside_an_empty_index_is_not_trusted(ingest_env) -> None:
    """Claims left without their index (a restored or lost index): not an empty new stack."""
    ingest_env.ddb.put_item(TableName=ingest_env.claims_table, Item={
        "SOPInstanceUID": {"S": "1.2.3"}, "StudyInstanceUID": {"S": "1.2"}, "SeriesSop": {"S": "1.2.9/1.2.3"}})
    now = datetime(2026, 3, 4, tzinfo=timezone.utc)
    assert not claims_mode(ingest_env.ddb, ingest_env.index_table, ingest_env.claims_table, now)
    assert ingest_env.claims_marker() is None
