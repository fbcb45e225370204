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
  waits for a queued item (``add``, or ``submit(urgent=True)``); when BATCH_WRITE_LIMIT items
  are queued; when a queued item has waited LINGER seconds (items nobody waits for yet
  linger so that groups grow, which saves requests); or at once after ``expedite``.
  Nothing is acknowledged before it is written, so a crash cannot lose more than the items
  queued or in flight (whose callers never saw success; their objects are archived, and
  re-ingesting them writes the missing items). One or two items go out as ``PutItem``
  with ``attribute_not_exists`` (an existing item falls back to ``record``, so its
  ``Conflicts`` survive). Three or more: one ``BatchGetItem`` (strongly consistent) finds
  the items that exist already, those go through ``record``, the rest through
  ``BatchWriteItem`` (25 a request), retrying ``UnprocessedKeys``/``UnprocessedItems`` with
  backoff; what is still unprocessed after ``MAX_ATTEMPTS`` fails with InfraError.

Trade-off of the batched path: BatchWriteItem cannot carry a condition, so between the
BatchGetItem and the BatchWriteItem (one round trip) another *process* could create the
same item; its attributes, including a Conflicts entry, would then be replaced by ours.
S3 keeps both versions and the item names the last index writer — the guarantee the ingest
core already documents for two processes racing on one key — and re-ingesting the newer
bytes repairs the item and records the conflict. Within one process, per-key locks in the
core rule the race out. TransactWriteItems would make this exact on AWS, but moto 5.2
deep-copies the whole table per transaction and restores that copy on a cancellation,
losing concurrent writes, so it is not used.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from drills.aws import Target
from drills.contracts import INDEX_PARTITION_KEY, INDEX_SOP_GSI, INDEX_SOP_GSI_KEY, INDEX_SORT_KEY, IndexItem, index_sort_key
from drills.errors import InfraError
from drills.ingest.failures import AWS_ERRORS, error_code, infra_error

BATCH_WRITE_LIMIT = 25          # BatchWriteItem's maximum items per request
MAX_GROUP = BATCH_WRITE_LIMIT   # items per group: one BatchGetItem and one BatchWriteItem
MAX_IN_FLIGHT = 4               # groups written at once (one writer thread each)
MAX_QUEUED = 200                # items waiting for a group; submit blocks beyond this
LINGER = 0.25                   # seconds an item nobody waits for yet may wait for a fuller group
WRITER_IDLE_EXIT = 2.0          # seconds an idle writer thread waits for work before it ends
SINGLE_PUT_MAX = 2              # up to this many queued items go out as conditional PutItems
MAX_ATTEMPTS = 8                # requests per batch before unprocessed items fail
BACKOFF_BASE = 0.05             # seconds; doubles per attempt, capped at BACKOFF_CAP
BACKOFF_CAP = 2.0

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


class StudyIndex:
    """Reads and writes index items with the low-level DynamoDB client."""

    def __init__(self, target: Target, region: str, table: str, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.table = table
        self._ddb = target.client("dynamodb", region)
        self._sleep = sleep
        self._queue: list[_Pending] = []
        self._cond = threading.Condition()
        self._in_flight = 0                       # groups being written
        self._in_flight_keys: set[tuple[str, str]] = set()
        self._writers = 0                         # writer threads alive
        self._sop_index = True          # False once the table turned out to lack INDEX_SOP_GSI

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
    def add(self, attributes: Mapping[str, Any]) -> None:
        """Index a newly archived instance; returns once its item is written (see the
        module docstring). An item that exists already is updated, keeping its Conflicts."""
        self.submit(attributes, urgent=True).result()

    def submit(self, attributes: Mapping[str, Any], *, urgent: bool = False) -> Future:
        """Queue a newly archived instance's item for the next group; the Future completes
        with None once it is written, or with the InfraError that kept it from being written.
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
            if urgent or len(self._queue) == 1 or len(self._queue) % BATCH_WRITE_LIMIT == 0:
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
                self._in_flight_keys.update(_key_id(p.item) for p in group)
                self._cond.notify_all()           # room in the queue; another writer may be due
            try:
                self._write_group(group)
            except BaseException:                 # noqa: BLE001 - a bug: logged, every item failed
                log.exception("index writer failed")
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._in_flight_keys.difference_update(_key_id(p.item) for p in group)
                    self._cond.notify_all()
                for pending in group:
                    if pending.error is not None:
                        pending.future.set_exception(pending.error)
                    else:
                        pending.future.set_result(None)
                idle_since = time.monotonic()

    def _due_group(self) -> tuple[list[_Pending] | None, float | None]:
        """(the group to write now, None) or (None, seconds until one may be due; None: until
        something changes). Called with the condition held."""
        eligible = [p for p in self._queue if _key_id(p.item) not in self._in_flight_keys]
        if not eligible:
            return None, None
        now = time.monotonic()
        oldest = min((p.queued_at for p in eligible if p.urgency == WAIT_LINGER), default=None)
        due = (len(eligible) >= BATCH_WRITE_LIMIT
               or any(p.urgency == WAIT_NOW for p in eligible)
               or (self._in_flight == 0 and any(p.urgency == WAIT_WAITER for p in eligible))
               or (oldest is not None and now - oldest >= LINGER))
        if not due:
            return None, (max(0.0, oldest + LINGER - now) if oldest is not None else None)
        return self._take_group(), None

    def _take_group(self) -> list[_Pending]:
        """Up to MAX_GROUP queued items, one per key and none whose key is being written (a
        later one for the same key waits for the next group, so writes to one key keep
        their order)."""
        group: list[_Pending] = []
        rest: list[_Pending] = []
        keys: set[tuple[str, str]] = set(self._in_flight_keys)
        for pending in self._queue:
            key = _key_id(pending.item)
            if len(group) < MAX_GROUP and key not in keys:
                group.append(pending)
                keys.add(key)
            else:
                rest.append(pending)
        self._queue = rest
        return group

    def _write_group(self, group: list[_Pending]) -> None:
        """Write every queued item, setting ``error`` on those that could not be written."""
        try:
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
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                self._backoff(attempt - 1)
            try:
                response = self._ddb.batch_get_item(RequestItems=request)
            except AWS_ERRORS as exc:
                raise infra_error(exc, f"read index items from {self.table}") from exc
            for raw in response.get("Responses", {}).get(self.table, []):
                found.add((raw[INDEX_PARTITION_KEY]["S"], raw[INDEX_SORT_KEY]["S"]))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise InfraError(f"read index items from {self.table}: keys still unprocessed after "
                         f"{MAX_ATTEMPTS} BatchGetItem requests")

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
        self._sleep(min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))


def _item_key(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        INDEX_PARTITION_KEY: {"S": attributes[INDEX_PARTITION_KEY]},
        INDEX_SORT_KEY: {"S": attributes[INDEX_SORT_KEY]},
    }


def _key_id(attributes: Mapping[str, Any]) -> tuple[str, str]:
    return str(attributes[INDEX_PARTITION_KEY]), str(attributes[INDEX_SORT_KEY])


def _raw_key_id(item: Mapping[str, Any]) -> tuple[str, str]:
    return item[INDEX_PARTITION_KEY]["S"], item[INDEX_SORT_KEY]["S"]
