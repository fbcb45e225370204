"""The simulation middleware (drills.cloud.middleware): decoding, hooks, error shapes, control API."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error


class Recorder(Interceptor):
    """Records what the middleware decoded; optionally answers or amends."""

    name = "test_recorder"

    def __init__(self, sim, refuse: dict[str, tuple[int, str]] | None = None,
                 add_headers: dict[str, dict[str, str]] | None = None) -> None:
        super().__init__(sim)
        self.seen: list[AwsRequest] = []
        self.refuse = refuse or {}
        self.add_headers = add_headers or {}

    def before(self, req: AwsRequest) -> AwsResponse | None:
        self.seen.append(req)
        if req.operation in self.refuse:
            status, code = self.refuse[req.operation]
            return aws_error(req, status, code, f"refused by the test: {code}")
        return None

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        for name, value in self.add_headers.get(req.operation or "", {}).items():
            resp.headers[name] = value
        return resp


@pytest.fixture
def recorder(cloud):
    def install(**kwargs) -> Recorder:
        rec = Recorder(cloud.sim, **kwargs)
        cloud.sim.interceptors.insert(0, rec)
        return rec

    return install


def _http(cloud, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(f"{cloud.endpoint}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# ---------------------------------------------------------------- decoding
def test_requests_are_decoded(cloud, client, recorder, bucket_name) -> None:
    rec = recorder()
    s3 = client("s3", "eu-west-1")
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = "dicom/1.2/a b/é.dcm"
    vid = s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"]
    s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
    put = next(r for r in rec.seen if r.operation == "PutObject")
    assert (put.service, put.region, put.bucket, put.key, put.internal) == ("s3", "eu-west-1", bucket, key, False)
    s3.put_object(Bucket=bucket, Key="100%41-literal+plus", Body=b"x")
    assert rec.seen[-1].key == "100%41-literal+plus"       # "%" is literal: decoded exactly once
    delete = next(r for r in rec.seen if r.operation == "DeleteObject")
    assert delete.version_id == vid and delete.key == key
    client("dynamodb", "ap-south-1").list_tables()
    ddb = rec.seen[-1]
    assert (ddb.service, ddb.region, ddb.operation, ddb.bucket) == ("dynamodb", "ap-south-1", "ListTables", None)


def test_internal_requests_are_marked(cloud, client, recorder, bucket_name) -> None:
    rec = recorder()
    bucket = bucket_name()
    client("s3").create_bucket(Bucket=bucket)
    cloud.sim.internal_client("s3", "us-east-1").put_object(Bucket=bucket, Key="k", Body=b"x")
    assert [(r.operation, r.internal) for r in rec.seen] == [("CreateBucket", False), ("PutObject", True)]


# ---------------------------------------------------------------- hooks
def test_a_before_hook_answers_instead_of_moto(cloud, client, recorder, bucket_name) -> None:
    recorder(refuse={"CreateBucket": (403, "AccessDenied")})
    s3 = client("s3")
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=bucket_name())
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3.list_buckets()["Buckets"] == []          # moto never saw the request


@pytest.mark.parametrize(("service", "method", "operation", "code"), [
    ("dynamodb", "list_tables", "ListTables", "ResourceNotFoundException"),     # json
    ("backup", "list_backup_vaults", "ListBackupVaults", "InvalidParameterValueException"),   # rest-json
    ("sqs", "list_queues", "ListQueues", "QueueDoesNotExist"),                  # json (newer botocore)
    ("sts", "get_caller_identity", "GetCallerIdentity", "ExpiredToken"),        # query
])
def test_error_shapes_per_protocol(client, recorder, service, method, operation, code) -> None:
    recorder(refuse={operation: (400, code)})
    with pytest.raises(ClientError) as err:
        getattr(client(service, "us-east-1", retries={"max_attempts": 1}), method)()
    assert err.value.response["Error"]["Code"] == code


def test_an_after_hook_amends_the_response(client, recorder, bucket_name) -> None:
    recorder(add_headers={"HeadObject": {"x-amz-replication-status": "PENDING"}})
    s3, bucket = client("s3"), bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="k")["ReplicationStatus"] == "PENDING"


def test_head_keeps_content_length(cloud, s3, bucket_name) -> None:
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"z" * 12345)
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 12345
    req = urllib.request.Request(f"{cloud.endpoint}/{bucket}/k", method="HEAD")
    try:     # unsigned: moto answers 403 or 200 depending on policy; the length header must match the body
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["Content-Length"] == "12345"
    except urllib.error.HTTPError as exc:
        assert exc.headers["Content-Length"] is not None
    assert s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-99")["ContentLength"] == 100


def test_the_clock_is_pumped_before_external_requests(cloud, client) -> None:
    start = cloud.clock.now()
    cloud.clock.set_speed(3600)
    time.sleep(0.05)
    client("s3").list_buckets()
    assert (cloud.clock.now() - start).total_seconds() >= 3600 * 0.05 * 0.9


# ---------------------------------------------------------------- control API
def test_control_status(cloud) -> None:
    code, body = _http(cloud, "GET", "/_drkit/status")
    assert code == 200
    assert body["clock"]["label"] == "simulated"
    assert "outage" in body["behaviours"]


def test_control_clock_advance_and_speed(cloud) -> None:
    start = cloud.clock.now()
    code, body = _http(cloud, "POST", "/_drkit/clock/advance", json.dumps({"seconds": 600}).encode())
    assert code == 200 and body["label"] == "simulated"
    assert (cloud.clock.now() - start).total_seconds() == 600
    code, body = _http(cloud, "POST", "/_drkit/clock/speed", json.dumps({"speed": -2}).encode())
    assert code == 400
    assert cloud.clock.speed == 0


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/_drkit/no_such_behaviour/go", b"{}", 404),
    ("POST", "/_drkit/outage/no_such_action", b"{}", 404),
    ("GET", "/_drkit/nothing/here/at/all", None, 404),
    ("POST", "/_drkit/outage/down", b"[1, 2]", 400),
    ("POST", "/_drkit/outage/down", b"{not json", 400),
    ("POST", "/_drkit/clock/speed", b"{}", 400),                      # missing parameter: 400, not 404
    ("POST", "/_drkit/clock/speed", b'{"speed": "fast"}', 400),
    ("POST", "/_drkit/clock/advance", b'{"seconds": 8640000000000}', 400),   # 100000000 days: past year 9999
    ("POST", "/_drkit/clock/advance", b'{"seconds": -1}', 400),
    ("GET", "/_drkit/clock/advance", None, 404),
])
def test_control_errors(cloud, method: str, path: str, body: bytes | None, status: int) -> None:
    code, answer = _http(cloud, method, path, body)
    assert code == status
    assert "error" in answer


def test_a_bug_inside_a_behaviour_is_a_500_naming_it(cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """A behaviour that fails for a reason of its own is not disguised as 404 or 400."""
    def broken(action, params):
        return {}["missing"]

    monkeypatch.setattr(cloud.sim["outage"], "control", broken)
    code, answer = _http(cloud, "POST", "/_drkit/outage/down", b'{"region": "us-east-1"}')
    assert code == 500
    assert "KeyError" in answer["error"] and "missing" in answer["error"]
