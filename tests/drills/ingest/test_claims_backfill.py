"""``drills.ingest.claims_backfill``: claims filled from the index, never overwritten; two index
items holding one UID reported with opaque labels; idempotent; dry run writes nothing.

AWS: Scan in parallel with ``Segment``/``TotalSegments``
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan);
PutItem ``ReturnValuesOnConditionCheckFailure: ALL_OLD`` returns the existing item with the
ConditionalCheckFailedException
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from drills.contracts import SOP_UID_REUSED, IndexConflict, archive_key, opaque_label
from drills.errors import InfraError
from drills.ingest.claims_backfill import backfill

from .conftest import CountingClient, put_index_item as put_item

NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


def run(env, **kwargs):
    return run_with(env.ddb, env, **kwargs)


def run_with(ddb, env, **kwargs):
    return backfill(ddb, env.index_table, env.claims_table, now=lambda: NOW, **kwargs)


def test_fills_every_claim_across_segments_then_marks_complete(ingest_env) -> None:
    for n in range(30):
        put_item(ingest_env, f"1.2.{n % 4}", "1.3", f"1.4.{n}")
    summary = run(ingest_env, segments=3)
    assert (summary.index_items, summary.claimed, summary.already_claimed, summary.conflicts) == (30, 30, 0, 0)
    assert summary.marker == "written"
    assert ingest_env.claims() == {f"1.4.{n}": (f"1.2.{n % 4}", f"1.3/1.4.{n}") for n in range(30)}
    assert ingest_env.claims_marker() == {"SOPInstanceUID": "drkit:claims-complete",
                                          "WrittenAt": "2026-05-06T07:08:09Z", "WrittenBy": "drkit claims backfill"}


def test_is_idempotent_and_resumes(ingest_env) -> None:
    """A run stopped half-way (some claims written, no marker) is finished by running it again."""
    for n in range(6):
        put_item(ingest_env, "1.2", "1.3", f"1.4.{n}")
    ingest_env.ddb.put_item(TableName=ingest_env.claims_table, Item={
        "SOPInstanceUID": {"S": "1.4.0"}, "StudyInstanceUID": {"S": "1.2"}, "SeriesSop": {"S": "1.3/1.4.0"}})
    first = run(ingest_env)
    assert (first.claimed, first.already_claimed, first.marker) == (5, 1, "written")
    again = run(ingest_env)
    assert (again.claimed, again.already_claimed, again.conflicts, again.marker) == (0, 6, 0, "present")


def test_dry_run_writes_nothing(ingest_env) -> None:
    for n in range(3):
        put_item(ingest_env, "1.2", "1.3", f"1.4.{n}")
    summary = run(ingest_env, dry_run=True)
    assert (summary.claimed, summary.marker, summary.dry_run) == (3, "absent", True)
    assert ingest_env.claims() == {} and ingest_env.claims_marker() is None


def test_two_index_items_holding_one_uid_are_a_conflict_with_opaque_labels(ingest_env) -> None:
    """Never overwrites the claim; reports the pair by hashed labels (no UIDs); still marks complete."""
    put_item(ingest_env, "1.2.1", "1.3.1", "1.4.9")
    put_item(ingest_env, "1.2.2", "1.3.2", "1.4.9")
    summary = run(ingest_env)
    assert (summary.claimed, summary.conflicts, summary.recorded_conflicts) == (1, 1, 0)
    holder = ingest_env.claims()["1.4.9"]
    keys = {archive_key("1.2.1", "1.3.1", "1.4.9"), archive_key("1.2.2", "1.3.2", "1.4.9")}
    claimed_key = archive_key(holder[0], holder[1].split("/")[0], "1.4.9")
    entry, = summary.conflict_list
    assert entry == {"claimed_by": opaque_label("item", claimed_key),
                     "also_held_by": opaque_label("item", (keys - {claimed_key}).pop()),
                     "recorded_in_index": False}
    assert "1.4.9" not in str(summary.to_dict()) and "1.2.1" not in str(summary.to_dict())
    assert summary.marker == "written"
    again = run(ingest_env)                                  # the claim is never overwritten
    assert ingest_env.claims()["1.4.9"] == holder and again.conflicts == 1


def test_a_conflict_the_index_records_already_is_counted_apart(ingest_env) -> None:
    """Ingest saw the reuse (a SOPInstanceUIDReused entry naming the other item): not a new finding."""
    first = archive_key("1.2.1", "1.3.1", "1.4.9")
    put_item(ingest_env, "1.2.1", "1.3.1", "1.4.9")
    recorded = IndexConflict(detected_at="2026-01-01T00:00:00Z", kind=SOP_UID_REUSED, other_key=first).to_item()
    put_item(ingest_env, "1.2.2", "1.3.2", "1.4.9", conflicts=[recorded])
    summary = run(ingest_env)
    assert (summary.conflicts, summary.recorded_conflicts) == (0, 1)
    assert summary.conflict_list[0]["recorded_in_index"] is True


class UnprocessedClaims(CountingClient):
    """BatchGetItem answers only the first key of each request for ``rounds`` requests and
    returns the rest as ``UnprocessedKeys``, as DynamoDB does under throttling or past 16 MB
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html);
    ``rounds=None``: none of them, ever."""

    def __init__(self, real, rounds: int | None) -> None:
        super().__init__(real)
        self.rounds = rounds

    def batch_get_item(self, RequestItems):
        self.calls["batch_get_item"] += 1
        (table, request), = RequestItems.items()
        if self.rounds is None:
            return {"Responses": {table: []}, "UnprocessedKeys": RequestItems}
        if self.rounds == 0 or len(request["Keys"]) < 2:
            return self.real.batch_get_item(RequestItems=RequestItems)
        self.rounds -= 1
        answer = self.real.batch_get_item(RequestItems={table: {**request, "Keys": request["Keys"][:1]}})
        answer["UnprocessedKeys"] = {table: {**request, "Keys": request["Keys"][1:]}}
        return answer


def test_unprocessed_claim_reads_are_retried_with_backoff(ingest_env) -> None:
    """Claims left in UnprocessedKeys are read again (with backoff), never taken as unclaimed:
    an existing claim for another item stays a conflict, not a second claim."""
    put_item(ingest_env, "1.2.1", "1.3.1", "1.4.9")
    for n in range(3):
        put_item(ingest_env, "1.2.2", "1.3.2", f"1.4.{n}")
    for sop in ("1.4.0", "1.4.1", "1.4.2", "1.4.9"):      # claimed already; 1.4.9 by another item
        holder = ("1.2.0", "1.3.0/1.4.9") if sop == "1.4.9" else ("1.2.2", f"1.3.2/{sop}")
        ingest_env.ddb.put_item(TableName=ingest_env.claims_table, Item={
            "SOPInstanceUID": {"S": sop}, "StudyInstanceUID": {"S": holder[0]}, "SeriesSop": {"S": holder[1]}})
    ddb = UnprocessedClaims(ingest_env.ddb, rounds=2)
    sleeps: list[float] = []
    summary = backfill(ddb, ingest_env.index_table, ingest_env.claims_table, now=lambda: NOW, segments=1,
                       sleep=sleeps.append)
    assert (summary.claimed, summary.already_claimed, summary.conflicts) == (0, 3, 1)
    assert ddb.calls["put_item"] == 1                    # the marker only: no claim was attempted
    assert ddb.calls["batch_get_item"] == 3 and sleeps == [0.05, 0.1]
    assert ingest_env.claims()["1.4.9"] == ("1.2.0", "1.3.0/1.4.9")


def test_claims_still_unprocessed_stop_the_backfill_without_a_marker(ingest_env) -> None:
    for n in range(2):
        put_item(ingest_env, "1.2", "1.3", f"1.4.{n}")
    ddb = UnprocessedClaims(ingest_env.ddb, rounds=None)
    with pytest.raises(InfraError, match="still unprocessed after 8 BatchGetItem requests"):
        backfill(ddb, ingest_env.index_table, ingest_env.claims_table, now=lambda: NOW, sleep=lambda s: None)
    assert ingest_env.claims_marker() is None and ingest_env.claims() == {}


class RefusedOnce(CountingClient):
    """The first claim Put fails its condition with no item returned, and the claim is not
    there when read: a claim removed between the two requests (or an endpoint that does not
    return ``ALL_OLD``)."""

    def put_item(self, **kwargs):
        self.calls["put_item"] += 1
        if self.calls["put_item"] == 1:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "refused"}}, "PutItem")
        return self.real.put_item(**kwargs)


def test_a_claim_refused_then_not_found_is_claimed_again_not_counted_as_held(ingest_env) -> None:
    put_item(ingest_env, "1.2", "1.3", "1.4.1")
    ddb = RefusedOnce(ingest_env.ddb)
    summary = run_with(ddb, ingest_env)
    assert (summary.claimed, summary.already_claimed, summary.conflicts) == (1, 0, 0)
    assert ingest_env.claims() == {"1.4.1": ("1.2", "1.3/1.4.1")} and summary.marker == "written"
