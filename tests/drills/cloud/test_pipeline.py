"""The ingest pipeline behaviour (drills.cloud.sim.pipeline): S3 -> SQS -> drkit's handler.

Most tests build the pipeline directly with boto3 (landing bucket notifying a queue with a
dead-letter queue, a function whose handler is drkit's, an event source mapping) and use a
recording handler; the end-to-end tests run the project's real handler.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from drills.cloud.simulation import SimSettings
from tests.helpers.dicom import dicom_bytes, unquote
from drills.contracts import (DICOM_PREFIX, ENV_ARCHIVE_BUCKET, ENV_HASH_KEY_SECRET, ENV_INDEX_TABLE,
                              INDEX_PARTITION_KEY, INDEX_SORT_KEY, LAMBDA_HANDLER, QUARANTINE_PREFIX)

REGION = "us-east-1"
DELAY = 2.0                 # the behaviour's default delay before a poll (simulated seconds)


@dataclass
class Pipeline:
    landing: str
    queue_url: str
    dlq_url: str
    function: str
    mapping: str


def build_pipeline(cloud, *, handler: str = LAMBDA_HANDLER, env: dict[str, str] | None = None,
                   max_receive: int = 2, visibility: int = 30, batch: int = 5,
                   report_failures: bool = True) -> Pipeline:
    """Landing bucket -> queue (+DLQ) -> function with ``handler``, as the IngestPipeline declares it."""
    t, tag = cloud.target, uuid.uuid4().hex[:8]
    s3, sqs, lam, iam = (t.client(s, REGION) for s in ("s3", "sqs", "lambda", "iam"))
    landing = f"landing-{tag}"
    s3.create_bucket(Bucket=landing)
    dlq_url = sqs.create_queue(QueueName=f"dlq-{tag}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=f"ingest-{tag}", Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=landing, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]})
    role = iam.create_role(RoleName=f"fn-{tag}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("drills/__init__.py", "")
    function = f"ingest-{tag}"
    lam.create_function(FunctionName=function, Runtime="python3.11", Role=role, Handler=handler,
                        Code={"ZipFile": buf.getvalue()}, Timeout=60,
                        Environment={"Variables": env or {"DRKIT_ARCHIVE_BUCKET": "archive"}})
    kwargs: dict[str, Any] = {"FunctionResponseTypes": ["ReportBatchItemFailures"]} if report_failures else {}
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=function, BatchSize=batch,
                                              **kwargs)["UUID"]
    return Pipeline(landing, queue_url, dlq_url, function, mapping)


class Recorder:
    """A stand-in handler with ``handle``'s signature that records what it was given."""

    def __init__(self, decide: Callable[[dict[str, Any]], bool] = lambda record: True, raises: bool = False) -> None:
        self.calls: list[tuple[dict[str, Any], Any, dict[str, str]]] = []
        self.decide = decide
        self.raises = raises

    def __call__(self, event, context, *, target, env):
        self.calls.append((event, context, dict(env)))
        assert target.endpoint, "the handler must get the embedded Target"
        if self.raises:
            raise RuntimeError("function crashed")
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if not self.decide(r)]}

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for event, _, _ in self.calls for r in event["Records"]]

    def object_keys(self) -> list[str]:
        keys = []
        for record in self.records:
            body = json.loads(record["body"])
            keys += [n["s3"]["object"]["key"] for n in body.get("Records", [])]
        return keys


def depth(cloud, url: str) -> int:
    attrs = cloud.target.client("sqs", REGION).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attrs["Attributes"].values())


@pytest.fixture
def recording_cloud(cloud_factory):
    recorder = Recorder()
    cloud = cloud_factory(SimSettings(extra={"pipeline": {"handler": recorder}}))
    return cloud, recorder


def is_test_event(record: dict[str, Any]) -> bool:
    return json.loads(record["body"]).get("Event") == "s3:TestEvent"


# ----------------------------------------------------------------------------- delivery

def test_an_upload_is_delivered_to_the_handler_after_the_simulated_delay(recording_cloud) -> None:
    cloud, recorder = recording_cloud
    p = build_pipeline(cloud)
    cloud.target.client("s3", REGION).put_object(Bucket=p.landing, Key="in/scan 1.dcm", Body=b"x")
    assert recorder.calls == []                          # nothing runs before the clock moves
    cloud.clock.advance(DELAY - 0.5)
    assert recorder.calls == []
    cloud.clock.advance(1)
    assert [unquote(k) for k in recorder.object_keys()] == ["in/scan 1.dcm"]
    event, context, env = recorder.calls[0]
    record = next(r for r in event["Records"] if not is_test_event(r))
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == REGION
    assert record["eventSourceARN"].endswith(p.queue_url.rsplit("/", 1)[-1])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert context.function_name == p.function and context.get_remaining_time_in_millis() == 60000
    assert env["DRKIT_ARCHIVE_BUCKET"] == "archive" and env["AWS_REGION"] == REGION
    assert depth(cloud, p.queue_url) == 0                # succeeded messages are deleted


def test_a_new_mapping_starts_polling_without_a_new_upload(recording_cloud) -> None:
    """S3's test event, sent when the notification was configured, is consumed like on AWS."""
    cloud, recorder = recording_cloud
    build_pipeline(cloud)
    cloud.clock.advance(DELAY + 1)
    assert [is_test_event(r) for r in recorder.records] == [True]


def test_batches_respect_the_mapping_batch_size(recording_cloud) -> None:
    cloud, recorder = recording_cloud
    p = build_pipeline(cloud, batch=2)
    s3 = cloud.target.client("s3", REGION)
    for i in range(5):
        s3.put_object(Bucket=p.landing, Key=f"k{i}", Body=b"x")
    cloud.clock.advance(DELAY + 1)
    sizes = [len(event["Records"]) for event, _, _ in recorder.calls]
    assert sum(sizes) == 6                               # 5 objects + S3's test event
    assert max(sizes) <= 2
    assert sorted(recorder.object_keys()) == [f"k{i}" for i in range(5)]


def test_a_message_sent_to_the_queue_is_delivered_too(recording_cloud) -> None:
    cloud, recorder = recording_cloud
    p = build_pipeline(cloud)
    cloud.target.client("sqs", REGION).send_message(QueueUrl=p.queue_url, MessageBody='{"hello": 1}')
    cloud.clock.advance(DELAY + 1)
    assert '{"hello": 1}' in [r["body"] for r in recorder.records]


def test_moto_does_not_burn_receive_counts_behind_the_pipeline(recording_cloud) -> None:
    """moto's own invoker would receive (and fail, without Docker) on every send: taken over."""
    cloud, recorder = recording_cloud
    p = build_pipeline(cloud, max_receive=1)
    sqs = cloud.target.client("sqs", REGION)
    for i in range(4):
        sqs.send_message(QueueUrl=p.queue_url, MessageBody=f"m{i}")
    assert depth(cloud, p.dlq_url) == 0
    cloud.clock.advance(DELAY + 1)
    assert {r["body"] for r in recorder.records} >= {f"m{i}" for i in range(4)}
    assert all(r["attributes"]["ApproximateReceiveCount"] == "1" for r in recorder.records)


def test_a_function_with_another_handler_is_not_taken_over(recording_cloud) -> None:
    cloud, recorder = recording_cloud
    p = build_pipeline(cloud, handler="app.handler")
    cloud.target.client("s3", REGION).put_object(Bucket=p.landing, Key="k", Body=b"x")
    cloud.clock.advance(DELAY + 1)
    assert recorder.calls == []
    assert cloud.sim["pipeline"].status()["mappings"] == []


def test_a_disabled_mapping_delivers_nothing(recording_cloud) -> None:
    cloud, recorder = recording_cloud
    p = build_pipeline(cloud)
    cloud.target.client("lambda", REGION).update_event_source_mapping(UUID=p.mapping, Enabled=False)
    cloud.target.client("s3", REGION).put_object(Bucket=p.landing, Key="k", Body=b"x")
    cloud.clock.advance(DELAY + 1)
    assert recorder.calls == []
    assert depth(cloud, p.queue_url) >= 1


# ----------------------------------------------------------------------------- failures

def test_reported_failures_return_after_the_visibility_timeout_then_go_to_the_dlq(cloud_factory) -> None:
    recorder = Recorder(decide=lambda r: "poison" not in r["body"])
    cloud = cloud_factory(SimSettings(extra={"pipeline": {"handler": recorder}}))
    p = build_pipeline(cloud, max_receive=2, visibility=30)
    s3 = cloud.target.client("s3", REGION)
    s3.put_object(Bucket=p.landing, Key="poison.bin", Body=b"x")
    s3.put_object(Bucket=p.landing, Key="good.dcm", Body=b"x")
    cloud.clock.advance(DELAY + 1)
    assert sorted(recorder.object_keys()) == ["good.dcm", "poison.bin"]
    assert depth(cloud, p.queue_url) == 1 and depth(cloud, p.dlq_url) == 0
    cloud.clock.advance(20)                              # still inside the visibility timeout
    assert recorder.object_keys().count("poison.bin") == 1
    cloud.clock.advance(15)                              # second receive: maxReceiveCount reached
    assert recorder.object_keys().count("poison.bin") == 2
    cloud.clock.advance(31)                              # third receive moves it to the DLQ
    assert recorder.object_keys().count("poison.bin") == 2
    assert depth(cloud, p.queue_url) == 0 and depth(cloud, p.dlq_url) == 1
    dlq = cloud.target.client("sqs", REGION).receive_message(QueueUrl=p.dlq_url)["Messages"]
    assert "poison.bin" in dlq[0]["Body"]
    status = cloud.sim["pipeline"].status()
    assert status["dlqDepth"] == 1 and status["messagesFailed"] == 2


def test_a_failed_message_waits_out_its_visibility_timeout_while_new_ones_flow(cloud_factory) -> None:
    recorder = Recorder(decide=lambda r: "poison" not in r["body"])
    cloud = cloud_factory(SimSettings(extra={"pipeline": {"handler": recorder}}))
    p = build_pipeline(cloud, max_receive=5, visibility=300)
    s3 = cloud.target.client("s3", REGION)
    s3.put_object(Bucket=p.landing, Key="poison.bin", Body=b"x")
    cloud.clock.advance(DELAY + 1)
    assert cloud.sim["pipeline"].status()["awaitingRetry"] == 1
    s3.put_object(Bucket=p.landing, Key="fresh.dcm", Body=b"x")
    cloud.clock.advance(DELAY + 1)
    assert recorder.object_keys() == ["poison.bin", "fresh.dcm"]      # poison not retried yet
    cloud.clock.advance(300)
    assert recorder.object_keys() == ["poison.bin", "fresh.dcm", "poison.bin"]
    poison = [r for r in recorder.records if "poison" in r["body"]]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in poison] == ["1", "2"]


def test_a_raising_handler_fails_the_whole_batch(cloud_factory) -> None:
    recorder = Recorder(raises=True)
    cloud = cloud_factory(SimSettings(extra={"pipeline": {"handler": recorder}}))
    p = build_pipeline(cloud, max_receive=5)
    cloud.target.client("s3", REGION).put_object(Bucket=p.landing, Key="k", Body=b"x")
    cloud.clock.advance(DELAY + 1)
    assert depth(cloud, p.queue_url) == 2                # test event + object: both back in the queue
    status = cloud.sim["pipeline"].status()
    assert status["handlerErrors"] == 1 and "RuntimeError" in status["lastError"]


def test_without_report_batch_item_failures_a_return_is_success(cloud_factory) -> None:
    recorder = Recorder(decide=lambda r: False)          # reports every item failed
    cloud = cloud_factory(SimSettings(extra={"pipeline": {"handler": recorder}}))
    p = build_pipeline(cloud, report_failures=False)
    cloud.target.client("s3", REGION).put_object(Bucket=p.landing, Key="k", Body=b"x")
    cloud.clock.advance(DELAY + 1)
    assert depth(cloud, p.queue_url) == 0                # AWS ignores the list without the setting


def test_drain_processes_until_the_queue_is_empty(cloud_factory) -> None:
    recorder = Recorder(decide=lambda r: "poison" not in r["body"])
    cloud = cloud_factory(SimSettings(extra={"pipeline": {"handler": recorder}}))
    p = build_pipeline(cloud, max_receive=3, batch=3)
    s3 = cloud.target.client("s3", REGION)
    for i in range(7):
        s3.put_object(Bucket=p.landing, Key=f"ok-{i}", Body=b"x")
    s3.put_object(Bucket=p.landing, Key="poison", Body=b"x")
    result = cloud.sim["pipeline"].control("drain", {"queue": p.queue_url})
    assert depth(cloud, p.queue_url) == 0 and depth(cloud, p.dlq_url) == 1
    assert result["succeeded"] == 8 and result["failed"] == 3          # poison tried maxReceiveCount times
    assert result["mappings"][0]["dlqDepth"] == 1
    with pytest.raises(ValueError):
        cloud.sim["pipeline"].control("drain", {"queue": "no-such-queue"})
    with pytest.raises(KeyError):
        cloud.sim["pipeline"].control("explode", {})


def test_drain_over_the_control_api(recording_cloud) -> None:
    import urllib.request
    cloud, recorder = recording_cloud
    p = build_pipeline(cloud)
    cloud.target.client("s3", REGION).put_object(Bucket=p.landing, Key="k", Body=b"x")
    request = urllib.request.Request(f"{cloud.endpoint}/_drkit/pipeline/drain", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=30) as resp:
        answer = json.loads(resp.read())
    assert answer["succeeded"] == 2 and recorder.object_keys() == ["k"]


# ----------------------------------------------------------------------------- the real handler

def real_pipeline(cloud, *, archive_exists: bool = True, max_receive: int = 2) -> tuple[Pipeline, str, str]:
    """What the handler needs besides the pipeline: archive bucket, index table, hash-key secret."""
    t, tag = cloud.target, uuid.uuid4().hex[:8]
    archive, table = f"archive-{tag}", f"index-{tag}"
    if archive_exists:
        t.client("s3", REGION).create_bucket(Bucket=archive)
        t.client("s3", REGION).put_bucket_versioning(Bucket=archive, VersioningConfiguration={"Status": "Enabled"})
    t.client("dynamodb", REGION).create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": INDEX_PARTITION_KEY, "AttributeType": "S"},
                              {"AttributeName": INDEX_SORT_KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": INDEX_PARTITION_KEY, "KeyType": "HASH"},
                   {"AttributeName": INDEX_SORT_KEY, "KeyType": "RANGE"}])
    secret = t.client("secretsmanager", REGION).create_secret(Name=f"hash-{tag}", SecretString=uuid.uuid4().hex * 2)
    env = {ENV_ARCHIVE_BUCKET: archive, ENV_INDEX_TABLE: table, ENV_HASH_KEY_SECRET: secret["ARN"]}
    return build_pipeline(cloud, env=env, max_receive=max_receive), archive, table


def test_the_real_handler_archives_dicom_and_quarantines_the_rest(cloud) -> None:
    p, archive, table = real_pipeline(cloud)
    s3 = cloud.target.client("s3", REGION)
    data, ds = dicom_bytes()
    s3.put_object(Bucket=p.landing, Key="incoming/ct.dcm", Body=data)
    s3.put_object(Bucket=p.landing, Key="incoming/notes.txt", Body=b"this is not DICOM")
    cloud.clock.advance(DELAY + 1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=archive).get("Contents", [])]
    assert f"{DICOM_PREFIX}{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm" in keys
    assert any(k.startswith(QUARANTINE_PREFIX) and k.endswith(".bin") for k in keys)
    item = cloud.target.client("dynamodb", REGION).get_item(TableName=table, Key={
        INDEX_PARTITION_KEY: {"S": ds.StudyInstanceUID},
        INDEX_SORT_KEY: {"S": f"{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}"}})
    assert "Item" in item and "PID-1" not in json.dumps(item)
    status = cloud.sim["pipeline"].status()
    assert status["messagesSucceeded"] == 3 and status["dlqDepth"] == 0     # 2 objects + S3 test event


def test_an_infrastructure_failure_ends_in_the_dlq_after_max_receive_count(cloud) -> None:
    p, _, _ = real_pipeline(cloud, archive_exists=False, max_receive=2)   # archive bucket missing
    data, _ = dicom_bytes()
    cloud.target.client("s3", REGION).put_object(Bucket=p.landing, Key="incoming/ct.dcm", Body=data)
    cloud.clock.advance(DELAY + 1)
    assert depth(cloud, p.queue_url) == 1 and depth(cloud, p.dlq_url) == 0
    cloud.clock.advance(3 * 31)
    assert depth(cloud, p.queue_url) == 0 and depth(cloud, p.dlq_url) == 1
    body = cloud.target.client("sqs", REGION).receive_message(QueueUrl=p.dlq_url)["Messages"][0]["Body"]
    assert unquote(json.loads(body)["Records"][0]["s3"]["object"]["key"]) == "incoming/ct.dcm"
