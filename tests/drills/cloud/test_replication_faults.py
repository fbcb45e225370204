"""Replication under faults: FIS-style pause/resume, region outages, injected failures."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from drills.cloud.simulation import SimSettings
from tests.helpers.replication import LAG, make_pair, make_rule

MINUTE = 60


@pytest.fixture
def pair(cloud_factory, bucket_name):
    settings = SimSettings(replication_lag={"fixed_seconds": LAG},
                           extra={"replication": {"retry_window_minutes": 30, "retry_initial_seconds": 60}})
    return make_pair(cloud_factory(settings), bucket_name)


def post(cloud, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"{cloud.endpoint}/_drkit/{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def replication(pair):
    return pair.cloud.sim["replication"]


# ------------------------------------------------------------------ pause / resume
def test_pause_holds_new_objects_and_replicates_them_when_it_ends(pair):
    pair.configure(make_rule(pair.dst))
    in_flight = pair.east.put_object(Bucket=pair.src, Key="before", Body=b"0")["VersionId"]
    code, result = post(pair.cloud, "replication/pause",
                        {"bucket": f"arn:aws:s3:::{pair.src}", "duration": "PT10M", "region": "us-west-2"})
    assert code == 200 and result["resolvedTargets"] == 1
    assert result["targets"] == [{"bucket": pair.src, "pausedRules": ["all"]}]

    during = pair.east.put_object(Bucket=pair.src, Key="during", Body=b"1")["VersionId"]
    pair.advance(9 * MINUTE)
    assert pair.replica_versions("before") == [in_flight]      # already under way when the pause began
    assert pair.replica_versions("during") == []
    assert pair.status("during") == "PENDING"
    paused = pair.cloud.sim.status()["behaviours"]["replication"]["paused"][pair.src]
    assert paused[0]["held"] == 1

    pair.advance(1 * MINUTE + LAG + 1)
    assert pair.replica_versions("during") == [during]
    assert pair.status("during") == "COMPLETED"
    assert pair.cloud.sim.status()["behaviours"]["replication"]["paused"] == {}


def test_explicit_resume_releases_held_objects(pair):
    pair.configure(make_rule(pair.dst))
    assert replication(pair).control("pause", {"bucket": pair.src})["resolvedTargets"] == 1
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.advance(60 * MINUTE)
    assert pair.replica_versions("k") == []
    assert replication(pair).control("resume", {"bucket": pair.src})["released"] == 1
    pair.advance(LAG + 1)
    assert len(pair.replica_versions("k")) == 1


def test_pause_scoped_by_prefix_leaves_other_rules_running(pair):
    pair.configure(make_rule(pair.dst, "images", 2, prefix="dicom/"), make_rule(pair.dst, "docs", 1, prefix="reports/"))
    result = replication(pair).control("pause", {"bucket": pair.src, "duration": "PT1H", "prefixes": "dicom/"})
    assert result["targets"][0]["pausedRules"] == ["images"]
    pair.east.put_object(Bucket=pair.src, Key="dicom/a", Body=b"1")
    pair.east.put_object(Bucket=pair.src, Key="reports/a", Body=b"2")
    pair.advance(LAG + 1)
    assert pair.replica_versions("dicom/a") == []
    assert len(pair.replica_versions("reports/a")) == 1


def test_pause_that_resolves_to_nothing_is_reported_and_changes_nothing(pair):
    pair.configure(make_rule(pair.dst))
    for params in ({"region": "eu-west-1"}, {"destinationBuckets": ["some-other-bucket"]},
                   {"prefixes": ["nothing-like-this/"]}, {"bucket": "no-such-bucket"}):
        result = replication(pair).control("pause", {"bucket": pair.src, "duration": "PT10M", **params})
        assert result["resolvedTargets"] == 0 and result["targets"] == [], params
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.advance(LAG + 1)
    assert len(pair.replica_versions("k")) == 1


def test_pause_of_a_bucket_without_replication_resolves_to_nothing(pair):
    assert replication(pair).control("pause", {"bucket": pair.src})["resolvedTargets"] == 0
    assert replication(pair).control("pause", {"tags": {"DisruptS3": "Allowed"}})["resolvedTargets"] == 0


def test_pause_targets_buckets_by_tag_like_fis(pair):
    pair.configure(make_rule(pair.dst))
    pair.east.put_bucket_tagging(Bucket=pair.src, Tagging={"TagSet": [{"Key": "DisruptS3", "Value": "Allowed"}]})
    result = replication(pair).control("pause", {"tags": {"DisruptS3": "Allowed"}, "sourceRegion": "us-east-1",
                                                 "region": "us-west-2", "duration": "PT5M"})
    assert result["resolvedTargets"] == 1 and result["targets"][0]["bucket"] == pair.src
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.advance(4 * MINUTE)
    assert pair.replica_versions("k") == []
    assert replication(pair).control("resume", {"tags": {"DisruptS3": "Allowed"}}) == {"resumedPauses": 1,
                                                                                       "released": 1}
    pair.advance(LAG + 1)
    assert len(pair.replica_versions("k")) == 1


def test_bad_pause_requests_are_refused_with_a_clear_message(pair):
    for body, needle in (
        ({"duration": "PT10M"}, "'bucket'"),
        ({"tags": ["DisruptS3"]}, "'tags'"),
        ({"bucket": "b", "duration": "ten minutes"}, "ISO-8601"),
        ({"bucket": "b", "duration": "PT13H"}, "PT12H"),
        ({"bucket": "b", "prefixes": 3}, "'prefixes'"),
    ):
        code, result = post(pair.cloud, "replication/pause", body)
        assert code == 400 and needle in result["error"], (body, result)


def test_unknown_action_is_404(pair):
    code, _ = post(pair.cloud, "replication/explode", {})
    assert code == 404


# ------------------------------------------------------------------ region outages
def test_destination_region_down_fails_after_the_retry_window(pair):
    pair.configure(make_rule(pair.dst))
    pair.cloud.sim["outage"].control("down", {"region": "us-west-2"})
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.advance(20 * MINUTE)
    assert pair.status("k") == "PENDING"          # still retrying
    pair.advance(20 * MINUTE)
    assert pair.status("k") == "FAILED"
    pair.cloud.sim["outage"].control("up", {"region": "us-west-2"})
    pair.advance(60 * MINUTE)
    assert pair.replica_versions("k") == []       # FAILED stays failed: only Batch Replication retries it
    state = pair.cloud.sim.status()["behaviours"]["replication"]["buckets"][pair.src]
    assert state["failureReasons"] == {"DstRegionUnavailable": 1}


def test_short_destination_outage_only_delays_replication(pair):
    pair.configure(make_rule(pair.dst))
    pair.cloud.sim["outage"].control("down", {"region": "us-west-2"})
    vid = pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")["VersionId"]
    pair.advance(5 * MINUTE)
    pair.cloud.sim["outage"].control("up", {"region": "us-west-2"})
    pair.advance(15 * MINUTE)
    assert pair.replica_versions("k") == [vid]
    assert pair.status("k") == "COMPLETED"
    assert pair.cloud.sim.status()["behaviours"]["replication"]["lag"]["max"] > 5 * MINUTE


def test_source_region_down_holds_replication_without_failing(pair):
    pair.configure(make_rule(pair.dst))
    vid = pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")["VersionId"]
    pair.cloud.sim["outage"].control("down", {"region": "us-east-1"})
    pair.advance(3 * 60 * MINUTE)
    assert pair.replica_versions("k") == []
    pair.cloud.sim["outage"].control("up", {"region": "us-east-1"})
    pair.advance(20 * MINUTE)
    assert pair.replica_versions("k") == [vid]


# ------------------------------------------------------------------ injected failures
def test_injected_failure_by_prefix_with_count(pair):
    pair.configure(make_rule(pair.dst))
    code, _ = post(pair.cloud, "replication/fail", {"bucket": pair.src, "prefix": "dicom/", "count": 1})
    assert code == 200
    pair.east.put_object(Bucket=pair.src, Key="dicom/1", Body=b"1")
    pair.east.put_object(Bucket=pair.src, Key="dicom/2", Body=b"2")
    pair.east.put_object(Bucket=pair.src, Key="other", Body=b"3")
    pair.advance(LAG + 1)
    assert [pair.status(k) for k in ("dicom/1", "dicom/2", "other")] == ["FAILED", "COMPLETED", "COMPLETED"]
    assert pair.replica_versions("dicom/1") == []
    assert pair.cloud.sim.status()["behaviours"]["replication"]["injectedFailures"] == []


def test_injected_failure_by_key_until_cleared(pair):
    pair.configure(make_rule(pair.dst))
    replication(pair).control("fail", {"bucket": pair.src, "key": "k"})
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.advance(LAG + 1)
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"2")
    pair.advance(LAG + 1)
    assert pair.replica_versions("k") == []
    assert replication(pair).control("clear_failures", {"bucket": pair.src}) == {"cleared": 1}
    vid = pair.east.put_object(Bucket=pair.src, Key="k", Body=b"3")["VersionId"]
    pair.advance(LAG + 1)
    assert pair.replica_versions("k") == [vid]


def test_bad_fail_requests_are_refused(pair):
    for body in ({"bucket": "b"}, {"bucket": "b", "prefix": "a/", "key": "a/b"},
                 {"bucket": "b", "prefix": "a/", "count": 0}, {"prefix": "a/"}):
        code, result = post(pair.cloud, "replication/fail", body)
        assert code == 400 and result["error"], body
