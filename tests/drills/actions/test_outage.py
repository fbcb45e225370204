"""Region outage: the embedded cloud's outage behaviour over the control protocol; on AWS a
client-side fence (plus an IAM deny when the drill runs under a role). Either way the action
checks the region is refused before it counts the fault as injected."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drills.actions.outage import region_outage
from drills.cloud.control import HttpControl
from drills.engine.clock import VirtualClock
from drills.engine.context import DrillContext
from drills.engine.journal import Journal
from drills.engine.model import Status
from drills.engine.runner import ScenarioRun
from drills.engine.scenario import validate
from drills.errors import RegionFenced
from tests.drills.engine.conftest import FakeClock, document, outputs


def _run(cloud, client, *, embedded: bool) -> ScenarioRun:
    bucket = "outage-archive"
    client("s3", "us-east-1").create_bucket(Bucket=bucket)
    control = HttpControl(cloud.endpoint)
    ctx = DrillContext(target=cloud.target, outputs=replace(outputs(), archiveBucket=bucket),
                       clock=VirtualClock(control) if embedded else FakeClock(),
                       control=control if embedded else None, run_id="20260101T000000Z-abcdef")
    scenario = validate(document(), "unit.yaml")
    run = ScenarioRun(ctx, scenario, Journal(ctx.run_id, lambda: "2026-01-01T00:00:00.000Z"))
    run.activity = scenario.method[0]
    return run


def test_embedded_outage_takes_the_region_down_and_proves_it(cloud, client) -> None:
    run = _run(cloud, client, embedded=True)
    down = region_outage(run, region="primary", state="down")
    assert down.status is Status.PASSED and down.output["probe_refused"] is True
    assert cloud.sim["outage"].is_down("us-east-1")
    assert run.attempts[0]["outcome"] == "denied" and "loss_at" in run.state
    up = region_outage(run, region="primary", state="up")
    assert up.status is Status.PASSED and not cloud.sim["outage"].is_down("us-east-1")
    client("s3", "us-east-1").head_bucket(Bucket="outage-archive")


def test_aws_outage_is_a_client_side_fence_lifted_on_recovery(cloud, client) -> None:
    run = _run(cloud, client, embedded=False)
    down = region_outage(run, region="primary", state="down")
    assert down.status is Status.PASSED and down.output["mechanism"] == "client-side fence + IAM deny"
    assert down.output["iam_deny"]["applied"] is False         # moto's caller is a user, not a role
    assert run.attempts[0] == {"action": "s3:HeadBucket in us-east-1", "outcome": "denied",
                               "error_code": "ClientFence", "count": 1}
    with pytest.raises(RegionFenced):
        run.ctx.client("s3", "us-east-1")
    assert not cloud.sim["outage"].is_down("us-east-1")          # the cloud itself is untouched
    region_outage(run, region="primary", state="up")
    run.ctx.client("s3", "us-east-1").head_bucket(Bucket="outage-archive")
