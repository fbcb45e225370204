"""Region outage (drills.cloud.sim.outage): every call to a down region fails."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError)
PRIMARY, DR = "us-east-1", "eu-west-1"


@pytest.fixture
def regional(client):
    """Clients that do not retry: one attempt per call keeps outage tests quick."""

    def make(service: str, region: str):
        return client(service, region, retries={"max_attempts": 1})

    return make


@pytest.fixture
def two_buckets(regional, bucket_name):
    """(primary bucket, DR bucket), each holding key "k"."""
    primary, dr = bucket_name("primary"), bucket_name("dr")
    regional("s3", PRIMARY).create_bucket(Bucket=primary)
    regional("s3", DR).create_bucket(Bucket=dr, CreateBucketConfiguration={"LocationConstraint": DR})
    regional("s3", PRIMARY).put_object(Bucket=primary, Key="k", Body=b"p")
    regional("s3", DR).put_object(Bucket=dr, Key="k", Body=b"d")
    return primary, dr


def _post(cloud, path: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"{cloud.endpoint}/_drkit/{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_calls_to_a_down_region_fail_with_connection_errors(cloud, regional, two_buckets):
    primary, dr = two_buckets
    cloud.sim["outage"].take_down(DR)
    with pytest.raises(CONNECTION_ERRORS):
        regional("s3", DR).get_object(Bucket=dr, Key="k")
    with pytest.raises(CONNECTION_ERRORS):
        regional("dynamodb", DR).list_tables()
    # the bucket lives in the DR region: signing for another region does not reach it
    with pytest.raises(CONNECTION_ERRORS):
        regional("s3", PRIMARY).put_object(Bucket=dr, Key="k2", Body=b"x")


def test_other_regions_are_unaffected(cloud, regional, two_buckets):
    primary, dr = two_buckets
    cloud.sim["outage"].take_down(DR)
    assert regional("s3", PRIMARY).get_object(Bucket=primary, Key="k")["Body"].read() == b"p"
    assert regional("dynamodb", PRIMARY).list_tables()["TableNames"] == []
    # ListBuckets is signed for us-east-1: it answers while only the DR region is down
    names = [b["Name"] for b in regional("s3", PRIMARY).list_buckets()["Buckets"]]
    assert sorted(names) == sorted([primary, dr])


def test_global_calls_fail_when_the_signing_region_is_down(cloud, regional, two_buckets):
    cloud.sim["outage"].take_down(PRIMARY)
    with pytest.raises(CONNECTION_ERRORS):
        regional("s3", PRIMARY).list_buckets()


def test_copy_from_a_down_region_fails(cloud, regional, two_buckets):
    primary, dr = two_buckets
    cloud.sim["outage"].take_down(DR)
    with pytest.raises(CONNECTION_ERRORS):
        regional("s3", PRIMARY).copy_object(Bucket=primary, Key="copy", CopySource={"Bucket": dr, "Key": "k"})
    keys = [o["Key"] for o in regional("s3", PRIMARY).list_objects_v2(Bucket=primary)["Contents"]]
    assert keys == ["k"]


def test_region_recovers_after_up_with_its_data(cloud, regional, two_buckets):
    _, dr = two_buckets
    outage = cloud.sim["outage"]
    outage.take_down(DR)
    with pytest.raises(CONNECTION_ERRORS):
        regional("s3", DR).head_object(Bucket=dr, Key="k")
    outage.bring_up(DR)
    assert regional("s3", DR).get_object(Bucket=dr, Key="k")["Body"].read() == b"d"
    assert not outage.is_down(DR)


def test_internal_calls_into_a_down_region_fail(cloud, two_buckets):
    _, dr = two_buckets
    outage = cloud.sim["outage"]
    outage.take_down(DR)
    assert outage.is_down(DR) and not outage.is_down(PRIMARY) and not outage.is_down(None)
    internal = cloud.sim.internal_client("s3", DR)
    with pytest.raises(CONNECTION_ERRORS):
        internal.put_object(Bucket=dr, Key="replica", Body=b"x")
    outage.bring_up(DR)
    assert "replica" not in [o["Key"] for o in internal.list_objects_v2(Bucket=dr)["Contents"]]


def test_status_reports_down_regions_in_virtual_time(cloud):
    outage = cloud.sim["outage"]
    start = cloud.clock.now()
    outage.take_down(DR)
    cloud.clock.advance(timedelta(minutes=30))
    status = cloud.sim.status()["behaviours"]["outage"]
    assert status["down"] == [{"region": DR, "since": start.isoformat()}]
    assert status["label"] == "simulated"
    result = outage.bring_up(DR)
    assert result["downSeconds"] == pytest.approx(1800) and result["label"] == "simulated"
    status = cloud.sim.status()["behaviours"]["outage"]
    assert status["down"] == []
    assert status["history"] == [{"region": DR, "down": start.isoformat(),
                                  "up": (start + timedelta(minutes=30)).isoformat()}]


def test_control_api_takes_regions_down_and_up(cloud, regional, two_buckets):
    _, dr = two_buckets
    code, body = _post(cloud, "outage/down", {"region": DR})
    assert code == 200 and body["down"] is True
    with pytest.raises(CONNECTION_ERRORS):
        regional("s3", DR).head_object(Bucket=dr, Key="k")
    code, body = _post(cloud, "outage/up", {"region": DR})
    assert code == 200 and body["wasDown"] is True
    assert regional("s3", DR).head_object(Bucket=dr, Key="k")["ContentLength"] == 1


@pytest.mark.parametrize("params", [{}, {"region": "mars"}, {"region": 7}])
def test_control_api_rejects_a_bad_region(cloud, params):
    code, body = _post(cloud, "outage/down", params)
    assert code == 400 and "region" in body["error"]
    assert cloud.sim["outage"].down_regions() == []


def test_control_api_unknown_action_is_404(cloud):
    code, body = _post(cloud, "outage/explode", {"region": DR})
    assert code == 404 and "explode" in body["error"]
