"""Replication rules as moto stores them (xmltodict shapes) and which one applies."""

from __future__ import annotations

import pytest

from drills.cloud.sim.replication_rules import (bucket_name_of, parse_rule, parse_rules, select,
                                                select_for_delete_marker)


def rule(rule_id: str, priority: str, *, filt=None, dest="arn:aws:s3:::dst", status="Enabled", dmr="Disabled",
         **extra):
    raw = {"ID": rule_id, "Priority": priority, "Status": status, "Destination": {"Bucket": dest},
           "DeleteMarkerReplication": {"Status": dmr}, **extra}
    raw["Filter"] = filt if filt is not None else {"Prefix": None}
    return raw


def test_filter_shapes_prefix_single_tag_and_and_with_one_or_many_tags():
    assert parse_rule(rule("a", "1", filt={"Prefix": None})).prefix == ""
    single = parse_rule(rule("b", "1", filt={"Tag": {"Key": "k", "Value": "v"}}))
    assert single.tags == (("k", "v"),)
    one = parse_rule(rule("c", "1", filt={"And": {"Prefix": "dicom/", "Tag": {"Key": "k", "Value": "v"}}}))
    assert (one.prefix, one.tags) == ("dicom/", (("k", "v"),))
    many = parse_rule(rule("d", "1", filt={"And": {"Tag": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}}))
    assert many.tags == (("a", "1"), ("b", "2"))
    assert many.matches("x", {"a": "1", "b": "2", "c": "3"})
    assert not many.matches("x", {"a": "1"})


def test_destination_and_options_are_read():
    parsed = parse_rule(rule(
        "r", "3", dest="arn:aws:s3:::replica-bucket",
        SourceSelectionCriteria={"SseKmsEncryptedObjects": {"Status": "Enabled"},
                                 "ReplicaModifications": {"Status": "Disabled"}}))
    assert parsed.dest_bucket == "replica-bucket" and parsed.priority == 3
    assert parsed.sse_kms and not parsed.replica_modifications
    assert bucket_name_of("plain") == "plain"


def test_highest_priority_wins_per_destination_and_disabled_rules_never_apply():
    rules = parse_rules({"Rule": [
        rule("low", "1"),
        rule("high", "5", filt={"Prefix": "dicom/"}),
        rule("off", "9", status="Disabled"),
        rule("other-dest", "0", dest="arn:aws:s3:::second"),
    ]})
    chosen = select(rules, "dicom/1.dcm", {})
    assert {d: r.id for d, r in chosen.items()} == {"dst": "high", "second": "other-dest"}
    assert select(rules, "reports/x", {})["dst"].id == "low"


def test_single_rule_dict_is_accepted():
    assert [r.id for r in parse_rules({"Rule": rule("only", "1")})] == ["only"]
    assert parse_rules(None) == []


def test_v1_rule_matches_prefix_and_replicates_delete_markers():
    v1 = {"ID": "legacy", "Priority": 1, "Status": "Enabled", "Prefix": "dicom/",
          "Destination": {"Bucket": "arn:aws:s3:::dst"}}
    rules = parse_rules({"Rule": [v1]})
    assert rules[0].v1 and rules[0].replicates_delete_markers
    assert "dst" in select_for_delete_marker(rules, "dicom/a")
    assert select_for_delete_marker(rules, "other/a") == {}


@pytest.mark.parametrize(("filt", "dmr", "replicated"), [
    ({"Prefix": None}, "Enabled", True),
    ({"Prefix": None}, "Disabled", False),
    ({"And": {"Prefix": "dicom/", "Tag": {"Key": "k", "Value": "v"}}}, "Enabled", False),   # AWS rejects this
])
def test_delete_markers_need_explicit_enable_and_no_tag_filter(filt, dmr, replicated):
    rules = parse_rules({"Rule": [rule("r", "1", filt=filt, dmr=dmr)]})
    assert ("dst" in select_for_delete_marker(rules, "dicom/a")) is replicated


def test_marker_follows_the_winning_rule_for_its_destination():
    rules = parse_rules({"Rule": [rule("keep-markers", "1", dmr="Enabled"),
                                  rule("no-markers", "2", filt={"Prefix": "dicom/"}, dmr="Disabled")]})
    assert select_for_delete_marker(rules, "dicom/a") == {}
    assert select_for_delete_marker(rules, "other/a")["dst"].id == "keep-markers"


def test_get_bucket_replication_reports_the_stored_rules(cloud) -> None:
    """moto reported every Filter as Prefix "" and DeleteMarkerReplication as Disabled, and
    dropped SourceSelectionCriteria; drills read this configuration, so it must be exact."""
    s3, west = cloud.target.client("s3", "us-east-1"), cloud.target.client("s3", "us-west-2")
    s3.create_bucket(Bucket="drkit-rules-src")
    west.create_bucket(Bucket="drkit-rules-dst", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for client, bucket in ((s3, "drkit-rules-src"), (west, "drkit-rules-dst")):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rule = {"ID": "dicom", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": "dicom/"},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"},
                                        "ReplicaModifications": {"Status": "Enabled"}},
            "Destination": {"Bucket": "arn:aws:s3:::drkit-rules-dst", "StorageClass": "STANDARD_IA",
                            "EncryptionConfiguration": {"ReplicaKmsKeyID": "arn:aws:kms:us-west-2:123456789012:key/k"},
                            "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}}
    s3.put_bucket_replication(Bucket="drkit-rules-src",
                              ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r", "Rules": [rule]})
    (got,) = s3.get_bucket_replication(Bucket="drkit-rules-src")["ReplicationConfiguration"]["Rules"]
    assert got == rule
