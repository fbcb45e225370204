"""AWS FIS on the embedded cloud: the calls a drill makes, answered as AWS answers them.

Docs: AWS FIS API reference (CreateExperimentTemplate, StartExperiment, GetExperiment,
StopExperiment; experiment state values); FIS User Guide, "Experiment options"
(emptyTargetResolutionMode: fail | skip), "Targets" (resourceTags, selectionMode); FIS actions
reference, aws:s3:bucket-pause-replication (duration, region, destinationBuckets, prefixes).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers.fis import pause_template as _template, replicated_pair as _buckets


def test_experiment_pauses_replication_for_its_duration_then_completes(cloud, client) -> None:
    src, dst = _buckets(client)
    fis = client("fis", "us-east-1")
    template = _template(fis, dst)
    assert template["id"].startswith("EXT") and fis.get_experiment_template(id=template["id"])["experimentTemplate"]
    experiment = fis.start_experiment(clientToken="t1", experimentTemplateId=template["id"])["experiment"]
    assert experiment["state"]["status"] == "running"
    assert experiment["actions"]["pause"]["state"]["status"] == "running"
    s3 = client("s3", "us-east-1")
    version = s3.put_object(Bucket=src, Key="a", Body=b"x")["VersionId"]
    cloud.clock.advance(300)
    assert s3.head_object(Bucket=src, Key="a", VersionId=version)["ReplicationStatus"] == "PENDING"
    cloud.clock.advance(301)                               # the pause (PT10M) is over
    got = fis.get_experiment(id=experiment["id"])["experiment"]
    assert got["state"]["status"] == "completed" and got["actions"]["pause"]["state"]["status"] == "completed"
    assert (got["endTime"] - got["startTime"]).total_seconds() == pytest.approx(600, abs=1)
    cloud.clock.advance(900)
    assert s3.head_object(Bucket=src, Key="a", VersionId=version)["ReplicationStatus"] == "COMPLETED"


def test_stop_experiment_resumes_replication_at_once(cloud, client) -> None:
    src, dst = _buckets(client)
    fis = client("fis", "us-east-1")
    experiment = fis.start_experiment(clientToken="t", experimentTemplateId=_template(fis, dst, duration="PT2H")["id"])
    s3 = client("s3", "us-east-1")
    version = s3.put_object(Bucket=src, Key="b", Body=b"y")["VersionId"]
    stopped = fis.stop_experiment(id=experiment["experiment"]["id"])["experiment"]
    assert stopped["state"]["status"] == "stopped"
    cloud.clock.advance(900)
    assert s3.head_object(Bucket=src, Key="b", VersionId=version)["ReplicationStatus"] == "COMPLETED"


def test_targets_resolving_to_nothing_fail_or_skip_as_configured(cloud, client) -> None:
    _, dst = _buckets(client)
    fis = client("fis", "us-east-1")
    failed = fis.start_experiment(clientToken="f", experimentTemplateId=_template(fis, dst, tag_value="other")["id"])
    assert failed["experiment"]["state"]["status"] == "failed"
    assert "resolved to no resources" in failed["experiment"]["state"]["reason"]
    skipped = fis.start_experiment(clientToken="s", experimentTemplateId=_template(
        fis, dst, tag_value="other", mode="skip")["id"])["experiment"]
    assert skipped["actions"]["pause"]["state"]["status"] == "skipped"
    assert skipped["state"]["status"] == "completed"


def test_unknown_template_and_experiment_are_resource_not_found(cloud, client) -> None:
    fis = client("fis", "us-east-1")
    for call in (lambda: fis.start_experiment(clientToken="x", experimentTemplateId="EXTnope"),
                 lambda: fis.get_experiment(id="EXPnope")):
        with pytest.raises(ClientError) as info:
            call()
        assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
