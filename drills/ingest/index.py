"""The study index (DynamoDB): one item per archived instance, keyed as drills.contracts says.

Items are ``drills.contracts.IndexItem`` (``to_item``/``from_item``): the contract names
every attribute, including ``ContentSHA256`` (full-object SHA-256, base64 — equals
``ChecksumSHA256`` for a single PUT; for multipart objects ``ChecksumSHA256`` is S3's
COMPOSITE value), ``ChecksumType``, ``PartSize``/``PartCount`` (COMPOSITE only) and, once an
instance was re-sent with different bytes, ``Conflicts`` (``IndexConflict`` maps) with
``ConflictCount``. The item always describes the latest version.

Writes:

- ``record`` — one UpdateItem that SETs the attributes (creating the item if needed) and,
  given a conflict, appends it to ``Conflicts`` atomically. Used for conflicts and repairs.
- ``submit`` / ``add`` — a newly archived instance, by *group commit*: callers queue their
  items and writer threads write the queue in groups; ``submit`` returns a Future that
  completes once that item is written (or fails with InfraError for that item alone), ``add``
  waits for it. Up to MAX_IN_FLIGHT groups are written at once, so index writes run beside
  the uploads instead of one group at a time; the queue is bounded (MAX_QUEUED items: a
  submit beyond it waits) and a key is never in two groups at once, so writes to one key
  keep their order. When a group is sent: as soon as no group is in flight and someone
  waits for a queued item (``add``, or ``submit(urgent=True)``); when a group's size of items
  (BATCH_WRITE_LIMIT; CLAIMED_GROUP with a claims table) is queued; when a queued item has waited LINGER seconds (items nobody waits for yet
  linger so that groups grow, which saves requests); or at once after ``expedite``.
  Nothing is acknowledged before it is written, so a crash cannot lose more than the items
  queued or in flight (whose callers never saw success; their objects are archived, and
  re-ingesting them writes the missing items). Without a claims table: one or two items go out as ``PutItem``
  with ``attribute_not_exists`` (an existing item falls back to ``record``, so its
  ``Conflicts`` survive). Three or more: one ``BatchGetItem`` (strongly consistent) finds
  the items that exist already, those go through ``record``, the rest through
  ``BatchWriteItem`` (25 a request), retrying ``UnprocessedKeys``/``UnprocessedItems`` with
  backoff; what is still unprocessed after ``MAX_ATTEMPTS`` fails with InfraError.

With a claims table (``claims_table``; drills.contracts CLAIMS_*) a group also settles its
SOP Instance UIDs. The group commit below runs whether or not the table carries its
completeness marker (``claims_complete``, drills.ingest.claims): without the marker the
claims are written all the same (so ``drkit claims backfill`` running beside ingest misses
none) and the caller checks UIDs through the GSI as well.

A group settles its
SOP Instance UIDs, without a request per instance: the group's one ``BatchGetItem`` reads the
index keys *and* the claims of its UIDs (consistent reads); an item whose UID another index
item claims is written through ``record`` with a ``SOPInstanceUIDReused`` conflict naming
that item's archive key (its Future's result); the others go out in one
``TransactWriteItems`` (≤ 2 actions per item, up to CLAIMED_GROUP = 50 items a group: ≤ 100
actions, AWS's limit, as the BatchGetItem's ≤ 100 keys): a conditional
Put of the claim (``attribute_not_exists``) where the UID is unclaimed and a conditional Put
of the index item where it does not exist yet. So a claim and its item are written together
or not at all, and of two processes claiming one UID for different items exactly one
transaction succeeds; the other is cancelled with ``ConditionalCheckFailed`` for that claim
(``ReturnValuesOnConditionCheckFailure: ALL_OLD`` returns the winner), and the loser is
recorded as a conflict. Cancelled actions are resolved (an existing item goes through
``record``, keeping its ``Conflicts``) and the rest retried, with backoff on
``TransactionConflict``/throttling, up to ``MAX_ATTEMPTS`` transactions. A group holds one
item per SOP Instance UID, and none whose UID is in a group being written. This path is
exact also for the index items (a conditional Put, not BatchWriteItem); DynamoDB bills a
transaction's writes twice. Global tables: conditions hold within one region (a claim
written in the DR region during a failover is reconciled last-writer-wins, like the index).

Trade-off of the batched path without a claims table: BatchWriteItem cannot carry a
condition, so between the BatchGetItem and the BatchWriteItem (one round trip) another
*process* could create the same item; its attributes, including a Conflicts entry, would then
be replaced by ours. S3 keeps both versions and the item names the last index writer — the
guarantee the ingest core already documents for two processes racing on one key — and
re-ingesting the newer bytes repairs the item and records the conflict. Within one process,
per-key locks in the core rule the race out. (The claims path uses TransactWriteItems, which
the embedded cloud runs atomically and isolated: drills.cloud.sim.dynamodb_transactions.)
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from drills.aws import Target
from drills.contracts import (CLAIMS_PARTITION_KEY, CLAIMS_SERIES_SOP, CLAIMS_STUDY, INDEX_PARTITION_KEY, INDEX_SOP_GSI,
                              INDEX_SOP_GSI_KEY, INDEX_SORT_KEY, SOP_UID_REUSED, IndexConflict, IndexItem, archive_key,
                              index_sort_key)
from drills.errors import InfraError
from drills.ingest.claims import claims_mode
from drills.ingest.clients import ingest_client
from drills.ingest.failures import AWS_ERRORS, error_code, infra_error
from drills.times import utc_timestamp

BATCH_WRITE_LIMIT = 25          # BatchWriteItem's maximum items per request
MAX_GROUP = BATCH_WRITE_LIMIT   # items per group: one BatchGetItem and one BatchWriteItem
# items per group on the claims path: its BatchGetItem reads two keys per item (at most 100
# a request) and its TransactWriteItems holds at most two actions per item (at most 100);
# half the requests per instance of groups of 25 (API_BatchGetItem, API_TransactWriteItems)
CLAIMED_GROUP = 50
MAX_IN_FLIGHT = 4               # groups written at once (one writer thread each)
MAX_QUEUED = 200                # items waiting for a group; submit blocks beyond this
LINGER = 0.25                   # seconds an item nobody waits for yet may wait for a fuller group
WRITER_IDLE_EXIT = 2.0          # seconds an idle writer thread waits for work before it ends
SINGLE_PUT_MAX = 2              # up to this many queued items go out as conditional PutItems
MAX_ATTEMPTS = 8                # requests per batch before unprocessed items fail
BACKOFF_BASE = 0.05             # seconds; doubles per attempt, capped at BACKOFF_CAP
BACKOFF_CAP = 2.0
# cancellation reasons of a transaction worth another attempt (API_TransactWriteItems)
TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded",
                                     "RequestLimitExceeded"})

log = logging.getLogger(__name__)
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


WAIT_LINGER, WAIT_WAITER, WAIT_NOW = 0, 1, 2      # how soon a queued item wants its group


@dataclass
class _Pending:
    """One queued item and, once written (or not), its outcome."""

    item: dict[str, Any]
    urgency: int = WAIT_LINGER
    queued_at: float = 0.0
    future: Future = field(default_factory=Future)
    error: InfraError | None = field(default=None)
    other_key: str | None = None        # archive key of another item claiming this SOP Instance UID
    exists: bool = False                # (claims path) the index item exists already
    needs_claim: bool = False           # (claims path) the SOP Instance UID is not claimed yet
    holder: tuple[str, str] | None = None   # (claims path) the other item holding the UID


class StudyIndex:
    """Reads and writes index items with the low-level DynamoDB client."""

    def __init__(self, target: Target, region: str, table: str, *, claims_table: str | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.table = table
        self.claims_table = claims_table
        self._ddb = ingest_client(target, "dynamodb", region)
        self._sleep = sleep
        self._now = now
        self._queue: list[_Pending] = []
        self._cond = threading.Condition()
        self._in_flight = 0                       # groups being written
        self._in_flight_keys: set[tuple[str, ...]] = set()      # keys and SOP Instance UIDs
        self._writers = 0                         # writer threads alive
        self._sop_index = True          # False once the table turned out to lack INDEX_SOP_GSI
        self._complete: bool | None = None      # claims_complete(), decided once
        self._complete_lock = threading.Lock()
        self._group_size = CLAIMED_GROUP if claims_table is not None else MAX_GROUP

    def claims_complete(self) -> bool:
        """May the claims table alone settle SOP Instance UIDs? Decided once per StudyIndex
        (drills.ingest.claims.claims_mode: its completeness marker, or an empty new stack).
        When False the caller checks UIDs through the GSI (``claims``); the group commit
        still writes claims with the items, so a backfill running meanwhile misses none."""
        if self.claims_table is None:
            return False
        decided = self._complete
        if decided is not None:             # decided: no lock (asked twice per instance ingested)
            return decided
        with self._complete_lock:
            if self._complete is None:
                self._complete = claims_mode(self._ddb, self.table, self.claims_table, self._now())
            return self._complete

    @staticmethod
    def key(study_uid: str, series_uid: str, sop_uid: str) -> dict[str, Any]:
        return {
            INDEX_PARTITION_KEY: {"S": study_uid},
            INDEX_SORT_KEY: {"S": index_sort_key(series_uid, sop_uid)},
        }

    def get(self, study_uid: str, series_uid: str, sop_uid: str) -> dict[str, Any] | None:
        """The item for one instance (strongly consistent read), or None."""
        try:
            response = self._ddb.get_item(
                TableName=self.table, Key=self.key(study_uid, series_uid, sop_uid), ConsistentRead=True
            )
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"read index item from {self.table}") from exc
        item = response.get("Item")
        return {k: _deserialize(v) for k, v in item.items()} if item else None

    def read(self, study_uid: str, series_uid: str, sop_uid: str) -> IndexItem | None:
        """The typed item for one instance (strongly consistent read), or None."""
        raw = self.get(study_uid, series_uid, sop_uid)
        return IndexItem.from_item(raw) if raw else None

    def claims(self, sop_uid: str) -> list[tuple[str, str]] | None:
        """(StudyInstanceUID, SeriesSop) of every item claiming ``sop_uid``, from the keys-only
        INDEX_SOP_GSI (eventually consistent, as every GSI read); None when the table has no
        such index (created before it existed: re-deploy the stack to add it)."""
        if not self._sop_index:
            return None
        found: list[tuple[str, str]] = []
        request: dict[str, Any] = {
            "TableName": self.table, "IndexName": INDEX_SOP_GSI, "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": INDEX_SOP_GSI_KEY}, "ExpressionAttributeValues": {":s": {"S": sop_uid}}}
        try:
            # pages by hand: a paginator per call costs about a fifth of the request's client CPU
            while True:
                page = self._ddb.query(**request)
                found.extend(_raw_key_id(item) for item in page.get("Items", []))
                if not page.get("LastEvaluatedKey"):
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except AWS_ERRORS as exc:
            # AWS answers ValidationException ("does not have the specified index"), moto
            # ResourceNotFoundException ("Invalid index: <name>")
            if error_code(exc) in ("ValidationException", "ResourceNotFoundException") and INDEX_SOP_GSI in str(exc):
                self._sop_index = False
                log.warning("index table %s has no %s index: SOP Instance UIDs are not checked across studies "
                            "(re-deploy the stack to add it)", self.table, INDEX_SOP_GSI)
                return None
            raise infra_error(exc, f"look up a SOP Instance UID in {self.table}") from exc
        return found

    def record(self, attributes: Mapping[str, Any], conflict: Mapping[str, Any] | None = None) -> None:
        """Set ``attributes`` on the instance's item (creating it); append ``conflict``
        to ``Conflicts`` and add one to ``ConflictCount`` atomically when given."""
        keys = {INDEX_PARTITION_KEY, INDEX_SORT_KEY}
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for i, (name, value) in enumerate(sorted(a for a in attributes.items() if a[0] not in keys)):
            names[f"#a{i}"] = name
            values[f":v{i}"] = _serialize(value)
            sets.append(f"#a{i} = :v{i}")
        expression = "SET " + ", ".join(sets)
        if conflict is not None:
            names.update({"#conf": "Conflicts", "#count": "ConflictCount"})
            values.update({":conf": _serialize([dict(conflict)]), ":empty": {"L": []}, ":one": {"N": "1"}})
            expression += ", #conf = list_append(if_not_exists(#conf, :empty), :conf) ADD #count :one"
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=_item_key(attributes),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except AWS_ERRORS as exc:
            raise infra_error(exc, f"write index item to {self.table}") from exc

    # -- group commit of new items
    def add(self, attributes: Mapping[str, Any]) -> str | None:
        """Index a newly archived instance; returns once its item is written (see the
        module docstring), with what ``submit``'s Future holds. An item that exists already
        is updated, keeping its Conflicts."""
        return self.submit(attributes, urgent=True).result()

    def submit(self, attributes: Mapping[str, Any], *, urgent: bool = False) -> Future:
        """Queue a newly archived instance's item for the next group; the Future completes
        once it is written — with None, or (claims table only) with the archive key of another
        item that claims its SOP Instance UID (the item was then written with a
        ``SOPInstanceUIDReused`` conflict) — or with the InfraError that kept it from being written.
        ``urgent``: the caller is about to wait for it (no lingering for a fuller group).
        Blocks while MAX_QUEUED items are queued already."""
        pending = _Pending(dict(attributes), WAIT_WAITER if urgent else WAIT_LINGER)
        pending.future.set_running_or_notify_cancel()       # it cannot be cancelled once queued
        with self._cond:
            while len(self._queue) >= MAX_QUEUED:
                self._cond.wait()
            pending.queued_at = time.monotonic()
            self._queue.append(pending)
            if self._writers - self._in_flight < 1 and self._writers < MAX_IN_FLIGHT:
                self._writers += 1
                threading.Thread(target=self._writer, name="drkit-index-writer", daemon=True).start()
            # wake the writers only when this item may make a group due (or starts the linger
            # clock): waking them for every item costs more CPU than the writes save
            if urgent or len(self._queue) == 1 or len(self._queue) % self._group_size == 0:
                self._cond.notify_all()
        return pending.future

    def expedite(self) -> None:
        """Send every queued item as soon as a writer is free (no lingering): the caller
        has nothing more to queue for now and waits for what it queued."""
        with self._cond:
            for pending in self._queue:
                pending.urgency = WAIT_NOW
            self._cond.notify_all()

    def _writer(self) -> None:
        """One writer thread: takes a group whenever one is due, writes it, completes its
        futures; ends after WRITER_IDLE_EXIT seconds without work."""
        idle_since = time.monotonic()
        while True:
            with self._cond:
                group, wait = self._due_group()
                while group is None:
                    if not self._queue and time.monotonic() - idle_since >= WRITER_IDLE_EXIT:
                        self._writers -= 1
                        return
                    self._cond.wait(wait if wait is not None else WRITER_IDLE_EXIT)
                    group, wait = self._due_group()
                self._in_flight += 1
                self._in_flight_keys.update(i for p in group for i in _ids(p.item))
                self._cond.notify_all()           # room in the queue; another writer may be due
            try:
                self._write_group(group)
            except BaseException:                 # noqa: BLE001 - a bug: logged, every item failed
                log.exception("index writer failed")
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._in_flight_keys.difference_update(i for p in group for i in _ids(p.item))
                    self._cond.notify_all()
                for pending in group:
                    if pending.error is not None:
                        pending.future.set_exception(pending.error)
                    else:
                        pending.future.set_result(pending.other_key)
                idle_since = time.monotonic()

    def _due_group(self) -> tuple[list[_Pending] | None, float | None]:
        """(the group to write now, None) or (None, seconds until one may be due; None: until
        something changes). Called with the condition held."""
        eligible = [p for p in self._queue if self._in_flight_keys.isdisjoint(_ids(p.item))]
        if not eligible:
            return None, None
        now = time.monotonic()
        oldest = min((p.queued_at for p in eligible if p.urgency == WAIT_LINGER), default=None)
        due = (len(eligible) >= self._group_size
               or any(p.urgency == WAIT_NOW for p in eligible)
               or (self._in_flight == 0 and any(p.urgency == WAIT_WAITER for p in eligible))
               or (oldest is not None and now - oldest >= LINGER))
        if not due:
            return None, (max(0.0, oldest + LINGER - now) if oldest is not None else None)
        return self._take_group(), None

    def _take_group(self) -> list[_Pending]:
        """Up to a group's size (MAX_GROUP, CLAIMED_GROUP) of queued items, one per key and per SOP Instance UID, and none whose
        key or UID is being written (a later one waits for the next group, so writes to one
        key keep their order, and a transaction never claims one UID twice)."""
        group: list[_Pending] = []
        rest: list[_Pending] = []
        taken: set[tuple[str, ...]] = set(self._in_flight_keys)
        for pending in self._queue:
            ids = _ids(pending.item)
            if len(group) < self._group_size and taken.isdisjoint(ids):
                group.append(pending)
                taken.update(ids)
            else:
                rest.append(pending)
        self._queue = rest
        return group

    def _write_group(self, group: list[_Pending]) -> None:
        """Write every queued item, setting ``error`` on those that could not be written."""
        try:
            if self.claims_table is not None:
                self._write_claimed(group)
                return
            if len(group) <= SINGLE_PUT_MAX:
                for pending in group:
                    self._put_one(pending)
                return
            existing = self._existing([p.item for p in group])
            fresh = []
            for pending in group:
                if _key_id(pending.item) in existing:
                    self._record_one(pending)
                else:
                    fresh.append(pending)
            for start in range(0, len(fresh), BATCH_WRITE_LIMIT):
                self._batch_put(fresh[start:start + BATCH_WRITE_LIMIT])
        except InfraError as exc:       # the existence check failed: nothing was written
            for pending in group:
                pending.error = pending.error or exc
        except BaseException:           # a bug or an interrupt: the leader re-raises it, the
            # others must not take silence for success
            for pending in group:
                pending.error = pending.error or InfraError(
                    f"write index items to {self.table}: the thread writing them failed; "
                    f"this item may not be written")
            raise

    # -- the claims path
    def _write_claimed(self, group: list[_Pending]) -> None:
        """A group with its SOP Instance UID claims (module docstring)."""
        existing, claims = self._read_group(group)
        writes = []
        for pending in group:
            holder = claims.get(_sop(pending.item))
            if holder is not None and holder != _key_id(pending.item):
                self._record_reused(pending, holder)
                continue
            pending.exists = _key_id(pending.item) in existing
            pending.needs_claim = holder is None
            if pending.needs_claim or not pending.exists:
                writes.append(pending)
            else:
                self._record_one(pending)
        self._transact(writes)

    def _read_group(self, group: list[_Pending]) -> tuple[set[tuple[str, str]], dict[str, tuple[str, str]]]:
        """(keys among the group's items that have an index item, SOP Instance UID -> the
        (study, SeriesSop) claiming it) — one consistent BatchGetItem over both tables."""
        assert self.claims_table is not None
        request: dict[str, Any] = {
            self.table: {"Keys": [_item_key(p.item) for p in group], "ConsistentRead": True,
                         "ProjectionExpression": "#pk, #sk",
                         "ExpressionAttributeNames": {"#pk": INDEX_PARTITION_KEY, "#sk": INDEX_SORT_KEY}},
            self.claims_table: {"Keys": [{CLAIMS_PARTITION_KEY: {"S": _sop(p.item)}} for p in group],
                                "ConsistentRead": True},
        }
        existing: set[tuple[str, str]] = set()
        claims: dict[str, tuple[str, str]] = {}
        what = f"read index items and claims from {self.table}, {self.claims_table}"
        for found in batch_get(self._ddb, request, what, self._sleep):
            existing.update(_raw_key_id(raw) for raw in found.get(self.table, []))
            for raw in found.get(self.claims_table, []):
                holder = claim_holder(raw)
                if holder is not None:
                    claims[raw[CLAIMS_PARTITION_KEY]["S"]] = holder
        return existing, claims

    def _transact(self, pendings: list[_Pending]) -> None:
        """Claim and create in one TransactWriteItems; resolve what a cancellation names, retry the rest."""
        for attempt in range(MAX_ATTEMPTS):
            actions: list[dict[str, Any]] = []
            owners: list[tuple[_Pending, bool]] = []
            for pending in pendings:
                if pending.needs_claim:
                    actions.append({"Put": claim_put(self.claims_table, _sop(pending.item), _key_id(pending.item))})
                    owners.append((pending, True))
                if not pending.exists:
                    actions.append({"Put": {
                        "TableName": self.table, "Item": {k: _serialize(v) for k, v in pending.item.items()},
                        "ConditionExpression": "attribute_not_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": INDEX_PARTITION_KEY}}})
                    owners.append((pending, False))
            try:
                if actions:
                    self._ddb.transact_write_items(TransactItems=actions)
            except AWS_ERRORS as exc:
                reasons = (getattr(exc, "response", None) or {}).get("CancellationReasons") or []
                if error_code(exc) != "TransactionCanceledException" or len(reasons) != len(actions):
                    error = infra_error(exc, f"write index items and claims to {self.table}, {self.claims_table}")
                    for pending in pendings:
                        pending.error = error
                    return
                transient = self._resolve(owners, reasons)
                for pending in pendings:
                    if pending.holder is not None and pending.error is None:
                        self._record_reused(pending, pending.holder)
                pendings = [p for p in pendings if p.holder is None and p.error is None]
                if transient:
                    self._backoff(attempt)
                continue
            for pending in pendings:        # written: those whose item existed get their update now
                if pending.exists:
                    self._record_one(pending)
            return
        for pending in pendings:
            pending.error = InfraError(f"write index item to {self.table}: the transaction was still cancelled "
                                       f"after {MAX_ATTEMPTS} attempts (contention or throttling)")

    def _resolve(self, owners: list[tuple[_Pending, bool]], reasons: list[Mapping[str, Any]]) -> bool:
        """Apply a cancelled transaction's reasons to its items; True if one is worth a retry as is."""
        transient = False
        for (pending, is_claim), reason in zip(owners, reasons):
            code = str(reason.get("Code") or "None")
            if code == "None":
                continue
            if code == "ConditionalCheckFailed" and not is_claim:
                pending.exists = True                        # created meanwhile: update it instead
            elif code == "ConditionalCheckFailed":
                holder = claim_holder(reason.get("Item") or {}) or self._claim_of(pending)
                if holder is None:
                    transient = True                         # released meanwhile: claim again
                elif holder == _key_id(pending.item):
                    pending.needs_claim = False              # claimed for this very item meanwhile
                else:
                    pending.holder = holder
            elif code in TRANSIENT_CANCELLATIONS:
                transient = True
            else:
                pending.error = InfraError(f"write index item to {self.table}: the transaction was cancelled "
                                           f"({code}: {reason.get('Message', '')})")
        return transient

    def _claim_of(self, pending: _Pending) -> tuple[str, str] | None:
        """The claim on the item's SOP Instance UID (consistent GetItem), or None."""
        try:
            response = self._ddb.get_item(TableName=self.claims_table, ConsistentRead=True,
                                          Key={CLAIMS_PARTITION_KEY: {"S": _sop(pending.item)}})
        except AWS_ERRORS as exc:
            pending.error = infra_error(exc, f"read a claim from {self.claims_table}")
            return None
        return claim_holder(response.get("Item") or {})

    def _record_reused(self, pending: _Pending, holder: tuple[str, str]) -> None:
        """Write an item whose SOP Instance UID ``holder`` claims, with the conflict recorded."""
        other_key = claimed_key(holder, _sop(pending.item))
        conflict = IndexConflict(detected_at=utc_timestamp(self._now()), kind=SOP_UID_REUSED, other_key=other_key,
                                 version_id=str(pending.item.get("VersionId") or "null"),
                                 checksum_sha256=str(pending.item.get("ChecksumSHA256") or ""))
        try:
            self.record(pending.item, conflict.to_item())
        except InfraError as exc:
            pending.error = exc
            return
        pending.other_key = other_key

    # -- the path without claims
    def _put_one(self, pending: _Pending) -> None:
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item={k: _serialize(v) for k, v in pending.item.items()},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": INDEX_PARTITION_KEY},
            )
        except AWS_ERRORS as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                self._record_one(pending)
            else:
                pending.error = infra_error(exc, f"write index item to {self.table}")

    def _record_one(self, pending: _Pending) -> None:
        try:
            self.record(pending.item)
        except InfraError as exc:
            pending.error = exc

    def _existing(self, items: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """The keys among ``items`` that already have an index item (consistent read)."""
        request: dict[str, Any] = {self.table: {
            "Keys": [_item_key(item) for item in items],
            "ConsistentRead": True,
            "ProjectionExpression": "#pk, #sk",
            "ExpressionAttributeNames": {"#pk": INDEX_PARTITION_KEY, "#sk": INDEX_SORT_KEY},
        }}
        found: set[tuple[str, str]] = set()
        for responses in batch_get(self._ddb, request, f"read index items from {self.table}", self._sleep):
            found.update(_raw_key_id(raw) for raw in responses.get(self.table, []))
        return found

    def _batch_put(self, batch: list[_Pending]) -> None:
        """BatchWriteItem ``batch`` (≤ 25 items), retrying what DynamoDB leaves unprocessed."""
        waiting = {_key_id(p.item): p for p in batch}
        requests = [{"PutRequest": {"Item": {k: _serialize(v) for k, v in p.item.items()}}} for p in batch]
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                self._backoff(attempt - 1)
            try:
                response = self._ddb.batch_write_item(RequestItems={self.table: requests})
            except AWS_ERRORS as exc:
                error = infra_error(exc, f"write index items to {self.table}")
                for pending in waiting.values():
                    pending.error = error
                return
            requests = (response.get("UnprocessedItems") or {}).get(self.table, [])
            if not requests:
                return
            unprocessed = {_raw_key_id(r["PutRequest"]["Item"]) for r in requests}
            waiting = {k: p for k, p in waiting.items() if k in unprocessed}
        for pending in waiting.values():
            pending.error = InfraError(
                f"write index item to {self.table}: still unprocessed after {MAX_ATTEMPTS} "
                f"BatchWriteItem requests (throttled?)")

    def _backoff(self, attempt: int) -> None:
        self._sleep(backoff_delay(attempt))


def backoff_delay(attempt: int) -> float:
    """Seconds to wait before retry ``attempt + 1`` (0-based): doubling from BACKOFF_BASE, capped."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)


def batch_get(ddb: Any, request: dict[str, Any], what: str,
              sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """BatchGetItem ``request`` (``RequestItems``), retrying the ``UnprocessedKeys`` DynamoDB
    returns with exponential backoff, up to MAX_ATTEMPTS requests; yields each response's
    ``Responses`` (table -> raw items). InfraError naming ``what`` when a request fails or
    keys are still unprocessed after the last attempt."""
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            sleep(backoff_delay(attempt - 1))
        try:
            response = ddb.batch_get_item(RequestItems=request)
        except AWS_ERRORS as exc:
            raise infra_error(exc, what) from exc
        yield response.get("Responses", {})
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return
    raise InfraError(f"{what}: keys still unprocessed after {MAX_ATTEMPTS} BatchGetItem requests")


def _item_key(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        INDEX_PARTITION_KEY: {"S": attributes[INDEX_PARTITION_KEY]},
        INDEX_SORT_KEY: {"S": attributes[INDEX_SORT_KEY]},
    }


def _key_id(attributes: Mapping[str, Any]) -> tuple[str, str]:
    return str(attributes[INDEX_PARTITION_KEY]), str(attributes[INDEX_SORT_KEY])


def _raw_key_id(item: Mapping[str, Any]) -> tuple[str, str]:
    return item[INDEX_PARTITION_KEY]["S"], item[INDEX_SORT_KEY]["S"]


def _sop(attributes: Mapping[str, Any]) -> str:
    return str(attributes[INDEX_SOP_GSI_KEY])


def _ids(attributes: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    """What one group may hold once and no two groups in flight share: the key and the UID."""
    key = ("key", *_key_id(attributes))
    sop = attributes.get(INDEX_SOP_GSI_KEY)
    return (key, ("sop", str(sop))) if sop else (key,)


def claim_holder(raw: Mapping[str, Any]) -> tuple[str, str] | None:
    """(StudyInstanceUID, SeriesSop) named by a raw claim item, or None."""
    try:
        return raw[CLAIMS_STUDY]["S"], raw[CLAIMS_SERIES_SOP]["S"]
    except (KeyError, TypeError):
        return None


def claimed_key(holder: tuple[str, str], sop_uid: str) -> str:
    """The archive key of the index item ``holder`` ((StudyInstanceUID, SeriesSop), as
    ``claim_holder`` gives it) that claims ``sop_uid``."""
    study, series_sop = holder
    return archive_key(study, series_sop.rsplit("/", 1)[0], sop_uid)


def claim_item(sop_uid: str, holder: tuple[str, str]) -> dict[str, Any]:
    """The raw claims-table item saying index item ``holder`` ((StudyInstanceUID, SeriesSop)) holds ``sop_uid``."""
    return {CLAIMS_PARTITION_KEY: {"S": sop_uid}, CLAIMS_STUDY: {"S": holder[0]}, CLAIMS_SERIES_SOP: {"S": holder[1]}}


def claim_put(claims_table: str, sop_uid: str, holder: tuple[str, str]) -> dict[str, Any]:
    """A conditional Put claiming ``sop_uid`` for ``holder`` unless it is claimed already
    (``attribute_not_exists``; a failed condition returns the existing claim, ``ALL_OLD``):
    the parameters of PutItem and of a TransactWriteItems ``Put`` alike."""
    return {"TableName": claims_table, "Item": claim_item(sop_uid, holder),
            "ConditionExpression": "attribute_not_exists(#u)",
            "ExpressionAttributeNames": {"#u": CLAIMS_PARTITION_KEY},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
