"""The ingest pipeline on the embedded cloud: SQS event source mappings run drkit's handler.

moto stores functions and event source mappings but cannot run a function without Docker;
worse, it tries on every SendMessage, fails, and burns the message's receive count (or,
through ``Invoke``, answers 200 with an error payload: a silent false success). This
behaviour takes over every SQS mapping whose function's handler is drkit's
(``drills.contracts.LAMBDA_HANDLER``) and plays the Lambda poller:

- trigger: a new mapping, an object created in a bucket that notifies a mapped queue (moto
  has enqueued the S3 event by then), a new notification configuration (S3's test event), or
  a message sent to a mapped queue -> a poll ``delaySeconds`` (simulated) later on the
  virtual clock;
- poll: receive up to the mapping's batch size, build Lambda's SQS event, run
  ``drills.ingest.handler.handle(event, context, target=<embedded>, env=<function env>)``
  in-process, delete what succeeded (ReportBatchItemFailures semantics; a raised exception
  fails the whole batch) and go on until the queue is empty. A failed message stays hidden
  for the queue's visibility timeout in *simulated* time (moto's own timer runs on real time,
  so the behaviour hides it longer and releases it when the virtual clock gets there); then
  it is received again, and moto applies the queue's RedrivePolicy on receive: a message
  received more than maxReceiveCount times lands in the dead-letter queue.
- control ``drain`` processes until the mapped queues are empty, retrying failures at once.

The handler's calls are the function's own (not internal): replication and every other
behaviour apply to what it writes. Settings (``SimSettings.extra["pipeline"]``):
``delaySeconds`` (default 2), ``handler`` ("module:function" or a callable with ``handle``'s
signature; default drkit's ``drills.ingest.handler:handle``).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError
from moto.awslambda.exceptions import UnknownFunctionException
from moto.s3.exceptions import MissingBucket

from drills.aws import Target
from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor
from drills.contracts import LAMBDA_HANDLER

log = logging.getLogger(__name__)

DEFAULT_HANDLER = "drills.ingest.handler:handle"
OBJECT_CREATED = frozenset({"PutObject", "CompleteMultipartUpload", "CopyObject", "PostObject"})
LAMBDA_CHANGES = frozenset({"CreateEventSourceMapping", "UpdateEventSourceMapping", "CreateFunction",
                            "UpdateFunctionConfiguration"})
SQS_SENDS = frozenset({"SendMessage", "SendMessageBatch"})
RETRY_SECONDS = 60.0          # after the queue could not be reached (e.g. a region outage)
MAX_STALLS = 10
DRAIN_MAX_BATCHES = 1000
HIDE_REAL_SECONDS = 36000     # real seconds (SQS caps a message's total at 12 h): "until the clock releases it"


@dataclass
class LambdaContext:
    """The parts of Lambda's context object a handler reads."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    function_version: str = "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"embedded/[{self.function_version}]{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


@dataclass
class _Mapping:
    uuid: str
    region: str                 # region of the mapping (and of its function)
    queue_arn: str
    queue_region: str
    queue_name: str


class IngestPipelineEvents(Interceptor):
    name = "pipeline"

    def __init__(self, sim) -> None:
        super().__init__(sim)
        settings = dict(sim.settings.extra.get("pipeline", {}))
        self.delay = float(settings.get("delaySeconds", 2.0))
        self.handler: str | Callable[..., Any] = settings.get("handler", DEFAULT_HANDLER)
        self._sched_lock = threading.Lock()     # guards _mappings, _pending; never held across a call
        self._poll_lock = threading.Lock()      # one poller at a time
        self._target: Target | None = None
        self.reset()

    def reset(self) -> None:
        with self._sched_lock:
            for task in getattr(self, "_pending", {}).values():
                task.cancel()
            self._mappings: dict[str, _Mapping] = {}
            self._pending: dict[str, Any] = {}
            self._stalls: dict[str, int] = {}
            for _, task in getattr(self, "_hidden", {}).values():
                task.cancel()
            self._hidden: dict[int, tuple[list[str], Any]] = {}   # batch no. -> (receipt handles, release task)
            self._hidden_seq = 0
        self.stats = {"invocations": 0, "messagesSucceeded": 0, "messagesFailed": 0, "handlerErrors": 0,
                      "lastError": None}

    # ------------------------------------------------------------------ triggers
    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if not resp.ok or req.region is None:
            return resp
        if req.service == "lambda" and req.operation in LAMBDA_CHANGES:
            self.take_over(req.region)
        elif not self._mappings:
            return resp
        elif req.service == "s3" and req.bucket and (req.operation in OBJECT_CREATED
                                                      or req.operation == "PutBucketNotificationConfiguration"):
            # (S3 sends an s3:TestEvent to the queues of a new notification configuration)
            for queue_arn in self._notified_queues(req.bucket):
                self._trigger(queue_arn)
        elif req.service == "sqs" and req.operation in SQS_SENDS:
            url = _queue_url(req)
            if url:
                self._trigger(f"arn:aws:sqs:{req.region}:{self.sim.account_id}:{url.rstrip('/').rsplit('/', 1)[-1]}")
        return resp

    def take_over(self, region: str) -> list[str]:
        """Adopt drkit's SQS mappings in ``region``: detach them from moto's own (Docker) invoker."""
        backend = self.sim.backend("lambda", region)
        adopted = []
        for esm in list(backend.list_event_source_mappings(None, None)):
            if ":sqs:" not in esm.event_source_arn:
                continue
            try:
                fn = backend.get_function(esm.function_arn)
            except UnknownFunctionException:
                continue
            if fn.handler != LAMBDA_HANDLER:
                continue
            queue_region = esm.event_source_arn.split(":")[3]
            queue_name = esm.event_source_arn.rsplit(":", 1)[-1]
            queue = self.sim.backend("sqs", queue_region).queues.get(queue_name)
            if queue is not None:
                for key, attached in list(queue.lambda_event_source_mappings.items()):
                    if attached is esm:
                        del queue.lambda_event_source_mappings[key]
            with self._sched_lock:
                fresh = esm.uuid not in self._mappings
                self._mappings[esm.uuid] = _Mapping(esm.uuid, region, esm.event_source_arn, queue_region, queue_name)
                if fresh and esm.uuid not in self._pending:    # Lambda starts polling a new mapping at once
                    self._schedule(esm.uuid, self.delay)
            adopted.append(esm.uuid)
        return adopted

    def _notified_queues(self, bucket: str) -> list[str]:
        try:
            config = self.sim.s3_backend().get_bucket(bucket).notification_configuration
        except MissingBucket:
            return []
        return [q.arn for q in (getattr(config, "queue", None) or [])]

    def _trigger(self, queue_arn: str) -> None:
        with self._sched_lock:
            for mapping in self._mappings.values():
                if mapping.queue_arn == queue_arn and mapping.uuid not in self._pending:
                    self._schedule(mapping.uuid, self.delay)

    def _schedule(self, mapping_id: str, delay: float) -> None:
        """Caller holds _sched_lock."""
        mapping = self._mappings[mapping_id]
        self._pending[mapping_id] = self.sim.clock.schedule_in(
            delay, lambda: self._scheduled_poll(mapping_id), label=f"pipeline: poll {mapping.queue_name}")

    # ------------------------------------------------------------------ polling
    def _scheduled_poll(self, mapping_id: str) -> None:
        with self._sched_lock:
            self._pending.pop(mapping_id, None)
        if not self._poll_lock.acquire(blocking=False):     # a drain is running: come back later
            with self._sched_lock:
                if mapping_id in self._mappings and mapping_id not in self._pending:
                    self._schedule(mapping_id, self.delay)
            return
        try:
            outcome = self._poll(mapping_id, retry_failures=False)
        finally:
            self._poll_lock.release()
        with self._sched_lock:
            if mapping_id not in self._mappings or mapping_id in self._pending:
                return
            if outcome.get("unreachable"):
                self._stalls[mapping_id] = self._stalls.get(mapping_id, 0) + 1
                if self._stalls[mapping_id] <= MAX_STALLS:
                    self._schedule(mapping_id, RETRY_SECONDS)
            else:
                self._stalls.pop(mapping_id, None)

    def _poll(self, mapping_id: str, *, retry_failures: bool, max_batches: int = DRAIN_MAX_BATCHES) -> dict[str, Any]:
        """Deliver batches until the queue is empty. Failed messages are hidden for the queue's
        visibility timeout (simulated), or, with ``retry_failures`` (drain), visible again at once."""
        mapping = self._mappings.get(mapping_id)
        if mapping is None:
            return {}
        backend = self.sim.backend("lambda", mapping.region)
        esm = backend.get_event_source_mapping(mapping_id)
        if esm is None or not esm.enabled:
            return {}
        fn = backend.get_function(esm.function_arn)
        queue = self.sim.backend("sqs", mapping.queue_region).queues.get(mapping.queue_name)
        if queue is None:
            return {}
        visibility = int(float(getattr(queue, "visibility_timeout", 30) or 30))
        sqs = self.sim.internal_client("sqs", mapping.queue_region)
        done = {"succeeded": 0, "failed": 0, "batches": 0}
        try:
            url = sqs.get_queue_url(QueueName=mapping.queue_name)["QueueUrl"]
            while done["batches"] < max_batches:
                batch = self._receive(sqs, url, int(esm.batch_size or 10), visibility)
                if not batch:
                    break
                done["batches"] += 1
                failed = self._invoke(esm, fn, mapping, batch)
                handles = self._settle(sqs, url, batch, failed, hide=not retry_failures)
                if handles:
                    self._release_later(mapping, url, handles, visibility)
                done["succeeded"] += len(batch) - len(failed)
                done["failed"] += len(failed)
        except (ClientError, BotoCoreError) as exc:
            self.stats["lastError"] = f"poll {mapping.queue_name}: {type(exc).__name__}: {exc}"
            done["unreachable"] = True
        return done

    @staticmethod
    def _receive(sqs, url: str, batch_size: int, visibility: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < batch_size:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, batch_size - len(messages)),
                                      AttributeNames=["All"], MessageAttributeNames=["All"],
                                      VisibilityTimeout=visibility, WaitTimeSeconds=0).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        return messages

    def _invoke(self, esm: Any, fn: Any, mapping: _Mapping, batch: list[dict[str, Any]]) -> set[str]:
        """Run the handler on one batch; return the message ids that failed."""
        ids = [m["MessageId"] for m in batch]
        event = {"Records": [_record(m, mapping) for m in batch]}
        env = {**{str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
               "AWS_REGION": mapping.region, "AWS_DEFAULT_REGION": mapping.region,
               "AWS_LAMBDA_FUNCTION_NAME": fn.function_name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
               "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size), "_HANDLER": str(fn.handler)}
        context = LambdaContext(fn.function_name, fn.function_arn, int(fn.memory_size), int(fn.timeout),
                                str(uuid.uuid4()))
        self.stats["invocations"] += 1
        try:
            result = self._handler()(event, context, target=self.target, env=env)
        except Exception as exc:  # noqa: BLE001 - the Lambda runtime's boundary: a raised error fails the batch
            self.stats["handlerErrors"] += 1
            self.stats["lastError"] = f"handler raised {type(exc).__name__}: {str(exc)[:300]}"
            log.warning(json.dumps({"event": "pipeline-handler-error", "function": fn.function_name,
                                    "error": type(exc).__name__}))
            return set(ids)
        if "ReportBatchItemFailures" not in (esm.function_response_types or []):
            return set()           # without partial batch responses, a return means success
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not failures:
            return set()
        failed = {str(f.get("itemIdentifier") or "") if isinstance(f, dict) else "" for f in failures}
        if not failed <= set(ids):  # an invalid partial response fails the whole batch, as on AWS
            return set(ids)
        return failed

    def _settle(self, sqs, url: str, batch: list[dict[str, Any]], failed: set[str], *, hide: bool) -> list[str]:
        """Delete what succeeded; hide (or, without ``hide``, show at once) what failed.
        Returns the receipt handles of hidden messages."""
        done = [m for m in batch if m["MessageId"] not in failed]
        retry = [m["ReceiptHandle"] for m in batch if m["MessageId"] in failed]
        for chunk in _chunks(done):
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(chunk)])
        _set_visibility(sqs, url, retry, HIDE_REAL_SECONDS if hide else 0)
        self.stats["messagesSucceeded"] += len(done)
        self.stats["messagesFailed"] += len(retry)
        return retry if hide else []

    def _release_later(self, mapping: _Mapping, url: str, handles: list[str], visibility: int) -> None:
        """After ``visibility`` simulated seconds, make the failed messages visible and poll."""
        with self._sched_lock:
            self._hidden_seq += 1
            seq = self._hidden_seq

            def release() -> None:
                with self._sched_lock:
                    entry = self._hidden.pop(seq, None)
                if entry is None:
                    return
                try:
                    _set_visibility(self.sim.internal_client("sqs", mapping.queue_region), url, entry[0], 0)
                except (ClientError, BotoCoreError) as exc:
                    self.stats["lastError"] = f"release {mapping.queue_name}: {type(exc).__name__}: {exc}"
                self._scheduled_poll(mapping.uuid)

            task = self.sim.clock.schedule_in(visibility, release,
                                              label=f"pipeline: visibility timeout ends ({mapping.queue_name})")
            self._hidden[seq] = (handles, task)

    def _handler(self) -> Callable[..., Any]:
        if callable(self.handler):
            return self.handler
        module_name, _, attr = str(self.handler).partition(":")
        return getattr(importlib.import_module(module_name), attr or "handle")

    @property
    def handler_path(self) -> str:
        handler = self.handler
        if isinstance(handler, str):
            return handler
        return f"{handler.__module__}:{getattr(handler, '__qualname__', type(handler).__qualname__)}"

    @property
    def target(self) -> Target:
        """The embedded cloud as the function sees it (its calls are not internal)."""
        if self._target is None or self._target.endpoint != self.sim.endpoint:
            self._target = Target(endpoint=self.sim.endpoint)
        return self._target

    # ------------------------------------------------------------------ control & status
    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "drain":
            return self.drain(params.get("queue"))
        raise self.unknown_action(action)

    def drain(self, queue: str | None = None) -> dict[str, Any]:
        """Process every adopted mapping (or those on ``queue``: name, ARN or URL) until empty."""
        for region in {m.region for m in list(self._mappings.values())}:
            self.take_over(region)
        wanted = None if not queue else str(queue).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        mappings = [m for m in list(self._mappings.values()) if wanted in (None, m.queue_name)]
        if queue and not mappings:
            raise ValueError(f"no drkit ingest mapping reads queue {queue!r}")
        totals = {"succeeded": 0, "failed": 0, "batches": 0}
        with self._sched_lock:                 # a drain does not wait out visibility timeouts
            hidden, self._hidden = self._hidden, {}
        for _, task in hidden.values():
            task.cancel()
        for mapping in mappings:
            sqs = self.sim.internal_client("sqs", mapping.queue_region)
            url = sqs.get_queue_url(QueueName=mapping.queue_name)["QueueUrl"]
            _set_visibility(sqs, url, [h for handles, _ in hidden.values() for h in handles], 0)
        with self._poll_lock:
            for mapping in mappings:
                outcome = self._poll(mapping.uuid, retry_failures=True)
                for key in totals:
                    totals[key] += int(outcome.get(key, 0))
        return {**totals, "mappings": [self._describe(m) for m in mappings]}

    def _describe(self, mapping: _Mapping) -> dict[str, Any]:
        out: dict[str, Any] = {"uuid": mapping.uuid, "queue": mapping.queue_name, "region": mapping.queue_region}
        queue = self.sim.backend("sqs", mapping.queue_region).queues.get(mapping.queue_name)
        if queue is None:
            return {**out, "queueDepth": None}
        out["queueDepth"] = queue.approximate_number_of_messages + queue.approximate_number_of_messages_not_visible
        dlq = getattr(queue, "dead_letter_queue", None)
        if dlq is not None:
            out["deadLetterQueue"] = dlq.name
            out["dlqDepth"] = dlq.approximate_number_of_messages + dlq.approximate_number_of_messages_not_visible
        return out

    def status(self) -> dict[str, Any]:
        with self._sched_lock:
            mappings = list(self._mappings.values())
            pending = len(self._pending)
        with self._sched_lock:
            hidden = sum(len(handles) for handles, _ in self._hidden.values())
        return {**self.stats, "handler": self.handler_path, "pendingPolls": pending, "awaitingRetry": hidden,
                "mappings": [self._describe(m) for m in mappings],
                "dlqDepth": sum(d.get("dlqDepth", 0) for d in (self._describe(m) for m in mappings))}


def _record(message: dict[str, Any], mapping: _Mapping) -> dict[str, Any]:
    """One SQS message as Lambda's SQS event record shows it."""
    attributes = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        attributes[name] = {"dataType": attr.get("DataType"), "stringValue": attr.get("StringValue"),
                            "binaryValue": attr.get("BinaryValue"), "stringListValues": [], "binaryListValues": []}
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}), "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody"), "eventSource": "aws:sqs", "eventSourceARN": mapping.queue_arn,
            "awsRegion": mapping.queue_region}


def _queue_url(req: AwsRequest) -> str | None:
    try:
        url = req.json().get("QueueUrl")
    except ValueError:
        url = None
    if not url:        # query protocol (older clients)
        from urllib.parse import parse_qs
        form = parse_qs(req.body.decode(errors="replace")) if req.body else {}
        url = (form.get("QueueUrl") or req.query.get("QueueUrl") or [None])[0]
    return url


def _set_visibility(sqs, url: str, handles: list[str], seconds: int) -> None:
    """Change the visibility of in-flight messages (a handle no longer valid is skipped: the
    message was deleted or redriven meanwhile)."""
    for chunk in _chunks(handles):
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds} for i, h in enumerate(chunk)])


def _chunks(items: list[Any], size: int = 10) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
