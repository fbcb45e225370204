"""Fill the SOP Instance UID claims of a stack whose claims table is incomplete, then mark it complete.

For a stack upgraded from a version without claims (an empty claims table beside a full
index), or after an index restore. ``backfill`` scans the index in parallel segments
(``Scan`` with ``Segment``/``TotalSegments``, consistent reads, pages streamed: memory is
bounded by a page per segment, never the index), and for each page:

1. one consistent ``BatchGetItem`` (≤ 100 keys) reads the claims of the page's UIDs;
2. an unclaimed UID is claimed for its item by a conditional ``PutItem``
   (``attribute_not_exists``; ``ReturnValuesOnConditionCheckFailure: ALL_OLD``): a claim is
   never overwritten;
3. a UID claimed for *another* index item is a **conflict** — two index items hold one SOP
   Instance UID. It is reported with opaque labels (a hash of each archive key, no UIDs) and
   whether the index already records it (a ``SOPInstanceUIDReused`` entry on either item
   naming the other: ingest saw it happen); nothing is rewritten.

Once every segment finished without an error, the completeness marker is written
(drills.ingest.claims), also when conflicts were found: every UID is then claimed by one
item, which is what ingest needs. Re-running is safe and cheap (claimed UIDs are only read),
so a run stopped half-way is resumed by running it again. ``dry_run`` reads only; it counts
what would be claimed but cannot see a conflict between two items whose UID is unclaimed yet
and that sit in different pages (the real run finds it at its conditional Put).

Beside a running ingest: ingest without the marker checks UIDs through the GSI *and* writes
claims in its group commit (drills.ingest.index), so an item archived during the backfill is
claimed by ingest or by the backfill, whichever comes first, and neither overwrites the other.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator

from drills.contracts import (CLAIMS_PARTITION_KEY, INDEX_PARTITION_KEY, INDEX_SOP_GSI_KEY, INDEX_SORT_KEY,
                              SOP_UID_REUSED, opaque_label)
from drills.errors import InfraError
from drills.ingest.claims import marker_present, write_marker
from drills.ingest.failures import AWS_ERRORS, error_code, infra_error
from drills.ingest.index import MAX_ATTEMPTS, batch_get, claim_holder, claim_put, claimed_key

BATCH_GET_LIMIT = 100           # BatchGetItem's maximum keys per request
LISTED_CONFLICTS = 1000         # conflicts listed in the summary (all are counted)
WRITTEN_BY = "drkit claims backfill"
ITEM_LABEL = "item"             # conflicts name index items opaque_label(ITEM_LABEL, archive key)


@dataclass
class BackfillSummary:
    index_items: int = 0
    claimed: int = 0                  # claims written (dry run: that would be written)
    already_claimed: int = 0          # claims that named their item already
    conflicts: int = 0                # two index items holding one UID, not recorded in the index
    recorded_conflicts: int = 0       # ... recorded already (an ingest saw it)
    conflict_list: list[dict[str, Any]] = field(default_factory=list)
    marker: str = "absent"            # "present" (found), "written", "absent" (dry run / stopped)
    dry_run: bool = False
    segments: int = 1
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Run:
    def __init__(self, ddb: Any, index_table: str, claims_table: str, dry_run: bool,
                 sleep: Callable[[float], None]) -> None:
        self.ddb, self.index_table, self.claims_table, self.dry_run, self.sleep = (
            ddb, index_table, claims_table, dry_run, sleep)
        self.summary = BackfillSummary(dry_run=dry_run)
        self.lock = threading.Lock()

    def count(self, **add: int) -> None:
        with self.lock:
            for name, n in add.items():
                setattr(self.summary, name, getattr(self.summary, name) + n)

    # -- one segment
    def segment(self, segment: int, total: int) -> None:
        for page in self._pages(segment, total):
            for start in range(0, len(page), BATCH_GET_LIMIT):
                self._settle(page[start:start + BATCH_GET_LIMIT])

    def _pages(self, segment: int, total: int) -> Iterator[list[dict[str, Any]]]:
        request: dict[str, Any] = {
            "TableName": self.index_table, "ConsistentRead": True, "Segment": segment, "TotalSegments": total,
            "ProjectionExpression": "#pk, #sk, #sop, Conflicts",
            "ExpressionAttributeNames": {"#pk": INDEX_PARTITION_KEY, "#sk": INDEX_SORT_KEY, "#sop": INDEX_SOP_GSI_KEY}}
        while True:
            try:
                page = self.ddb.scan(**request)
            except AWS_ERRORS as exc:
                raise infra_error(exc, f"scan the index {self.index_table}") from exc
            items = [raw for raw in page.get("Items", []) if INDEX_SOP_GSI_KEY in raw]
            self.count(index_items=len(items))
            yield items
            if not page.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _settle(self, items: list[dict[str, Any]]) -> None:
        claims = self._read_claims({raw[INDEX_SOP_GSI_KEY]["S"] for raw in items})
        claimed_here: dict[str, tuple[str, str]] = {}    # dry run: UIDs this chunk would claim
        for raw in items:
            sop = raw[INDEX_SOP_GSI_KEY]["S"]
            mine = (raw[INDEX_PARTITION_KEY]["S"], raw[INDEX_SORT_KEY]["S"])
            holder = claims.get(sop) or claimed_here.get(sop)
            if holder is None:
                if self.dry_run:
                    claimed_here[sop] = mine
                    self.count(claimed=1)
                    continue
                holder = self._claim(sop, mine)
                if holder is None:
                    self.count(claimed=1)
                    continue
            if holder == mine:
                self.count(already_claimed=1)
            else:
                self._conflict(raw, sop, mine, holder)

    def _read_claims(self, uids: set[str]) -> dict[str, tuple[str, str]]:
        request: dict[str, Any] = {self.claims_table: {
            "Keys": [{CLAIMS_PARTITION_KEY: {"S": u}} for u in sorted(uids)], "ConsistentRead": True}}
        found: dict[str, tuple[str, str]] = {}
        for responses in batch_get(self.ddb, request, f"read claims from {self.claims_table}", self.sleep):
            for raw in responses.get(self.claims_table, []):
                holder = claim_holder(raw)
                if holder is not None:
                    found[raw[CLAIMS_PARTITION_KEY]["S"]] = holder
        return found

    def _claim(self, sop: str, mine: tuple[str, str]) -> tuple[str, str] | None:
        """Claim ``sop`` for ``mine``; None if claimed now, else the holder found instead. A
        claim gone again between the failed Put and the read is claimed again (never counted
        as held: the marker would then cover an unclaimed UID)."""
        for _ in range(MAX_ATTEMPTS):
            try:
                self.ddb.put_item(**claim_put(self.claims_table, sop, mine))
            except AWS_ERRORS as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise infra_error(exc, f"write a claim to {self.claims_table}") from exc
                old = (getattr(exc, "response", None) or {}).get("Item") or {}
                holder = claim_holder(old) or self._read_claims({sop}).get(sop)    # not returned: read it
                if holder is not None:
                    return holder
                continue
            return None
        raise InfraError(f"write a claim to {self.claims_table}: a SOP Instance UID's claim was refused and then "
                         f"not found, {MAX_ATTEMPTS} times")

    def _conflict(self, raw: dict[str, Any], sop: str, mine: tuple[str, str], holder: tuple[str, str]) -> None:
        my_key = claimed_key(mine, sop)
        holder_key = claimed_key(holder, sop)
        recorded = _records(raw, holder_key) or self._holder_records(holder, my_key)
        with self.lock:
            if recorded:
                self.summary.recorded_conflicts += 1
            else:
                self.summary.conflicts += 1
            if len(self.summary.conflict_list) < LISTED_CONFLICTS:
                self.summary.conflict_list.append({"claimed_by": opaque_label(ITEM_LABEL, holder_key),
                                                   "also_held_by": opaque_label(ITEM_LABEL, my_key),
                                                   "recorded_in_index": recorded})

    def _holder_records(self, holder: tuple[str, str], other_key: str) -> bool:
        try:
            response = self.ddb.get_item(TableName=self.index_table, ConsistentRead=True,
                                         Key={INDEX_PARTITION_KEY: {"S": holder[0]}, INDEX_SORT_KEY: {"S": holder[1]}},
                                         ProjectionExpression="Conflicts")
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"read an index item of {self.index_table}") from exc
        return _records(response.get("Item") or {}, other_key)


def backfill(ddb: Any, index_table: str, claims_table: str, *, now: Callable[[], datetime], segments: int = 4,
             dry_run: bool = False, sleep: Callable[[float], None] = time.sleep) -> BackfillSummary:
    """Claim every index item's SOP Instance UID, then write the completeness marker (module
    docstring). Raises InfraError when a request fails (what was written stays: re-run)."""
    if segments < 1:
        raise ValueError("segments must be at least 1")
    run = _Run(ddb, index_table, claims_table, dry_run, sleep)
    run.summary.segments = segments
    started = time.monotonic()
    if segments == 1:
        run.segment(0, 1)
    else:
        with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="drkit-claims-backfill") as pool:
            for done in [pool.submit(run.segment, s, segments) for s in range(segments)]:
                done.result()
    if marker_present(ddb, claims_table):
        run.summary.marker = "present"
    elif not dry_run:
        write_marker(ddb, claims_table, WRITTEN_BY, now())
        run.summary.marker = "written"
    run.summary.seconds = round(time.monotonic() - started, 3)
    return run.summary


def _records(raw: dict[str, Any], other_key: str) -> bool:
    """Does a raw index item record a SOPInstanceUIDReused conflict naming ``other_key``?"""
    for entry in (raw.get("Conflicts") or {}).get("L", []):
        conflict = entry.get("M", {})
        if conflict.get("Kind", {}).get("S") == SOP_UID_REUSED and conflict.get("OtherKey", {}).get("S") == other_key:
            return True
    return False
