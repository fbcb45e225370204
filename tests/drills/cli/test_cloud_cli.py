"""`drkit cloud`: steering an embedded cloud from scripts; exit codes 0 / 2 / 3."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from drills.cloud.server import EmbeddedCloud

def test_status_json_on_stdout(drkit, cloud: EmbeddedCloud) -> None:
    code, out, err = drkit("cloud", "status", "--endpoint", cloud.endpoint, "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["clock"]["label"] == "simulated"
    assert {"outage", "object_lock"} <= set(status["behaviours"])


def test_status_human_text_goes_to_stderr(drkit, cloud: EmbeddedCloud) -> None:
    code, out, err = drkit("cloud", "status", "--endpoint", cloud.endpoint)
    assert code == 0, err
    assert out == ""
    assert f"endpoint: {cloud.endpoint}" in err and "clock:" in err and "outage:" in err


def test_endpoint_from_environment(drkit, cloud: EmbeddedCloud) -> None:
    code, out, err = drkit("cloud", "status", "--json", env={"DRKIT_ENDPOINT": cloud.endpoint})
    assert code == 0, err
    assert "clock" in json.loads(out)


def test_no_endpoint_is_a_usage_error(drkit) -> None:
    code, out, err = drkit("cloud", "status", env={"DRKIT_ENDPOINT": None})
    assert code == 2
    assert "no embedded cloud endpoint" in err and "DRKIT_ENDPOINT" in err
    assert "Traceback" not in err


def test_unreachable_endpoint_exits_3(closed_port, drkit) -> None:
    code, out, err = drkit("cloud", "status", "--endpoint", f"http://127.0.0.1:{closed_port}")
    assert code == 3
    assert "does not answer" in err and "Traceback" not in err


# ---------------------------------------------------------------- clock
def test_clock_advance_moves_the_virtual_clock(drkit, cloud: EmbeddedCloud) -> None:
    start = cloud.clock.now()
    code, out, err = drkit("cloud", "clock", "advance", "15m", "--endpoint", cloud.endpoint)
    assert code == 0, err
    assert (cloud.clock.now() - start).total_seconds() == 900
    assert "simulated" in err
    code, out, _ = drkit("cloud", "clock", "advance", "3d", "--endpoint", cloud.endpoint, "--json")
    assert code == 0
    assert (cloud.clock.now() - start).total_seconds() == 900 + 3 * 86400
    assert json.loads(out)["now"] == cloud.clock.now().isoformat()


@pytest.mark.parametrize("duration", ["soon", "5w", "-3", "100000000d", "99999999999d"])
def test_clock_advance_bad_duration_exits_2(drkit, cloud: EmbeddedCloud, duration: str) -> None:
    start = cloud.clock.now()
    code, out, err = drkit("cloud", "clock", "advance", duration, "--endpoint", cloud.endpoint)
    assert code == 2
    assert "Traceback" not in err and ("invalid duration" in err or "longer than any date" in err
                                       or "end of the calendar" in err or "No such option" in err), err
    assert cloud.clock.now() == start


def test_clock_speed(drkit, cloud: EmbeddedCloud) -> None:
    code, _, err = drkit("cloud", "clock", "speed", "60", "--endpoint", cloud.endpoint)
    assert code == 0, err
    assert cloud.clock.speed == 60.0
    code, _, err = drkit("cloud", "clock", "speed", "-1", "--endpoint", cloud.endpoint)
    assert code == 2
    assert cloud.clock.speed == 60.0


# ---------------------------------------------------------------- outage
def test_outage_on_and_off(drkit, cloud: EmbeddedCloud) -> None:
    code, _, err = drkit("cloud", "outage", "on", "eu-west-1", "--endpoint", cloud.endpoint)
    assert code == 0, err
    assert cloud.sim["outage"].is_down("eu-west-1")
    assert "eu-west-1 is down" in err
    code, out, err = drkit("cloud", "outage", "off", "eu-west-1", "--endpoint", cloud.endpoint, "--json")
    assert code == 0, err
    assert json.loads(out)["wasDown"] is True
    assert not cloud.sim["outage"].is_down("eu-west-1")


def test_outage_bad_region_exits_2(drkit, cloud: EmbeddedCloud) -> None:
    code, _, err = drkit("cloud", "outage", "on", "atlantis", "--endpoint", cloud.endpoint)
    assert code == 2
    assert "region" in err and "Traceback" not in err
    assert cloud.sim["outage"].down_regions() == []


# ---------------------------------------------------------------- replication
@pytest.fixture
def replicated(cloud: EmbeddedCloud) -> str:
    """A versioned us-east-1 bucket replicating everything to a versioned us-west-2 bucket."""
    src, dst = f"src-{uuid.uuid4().hex[:12]}", f"dst-{uuid.uuid4().hex[:12]}"
    east, west = cloud.target.client("s3", "us-east-1"), cloud.target.client("s3", "us-west-2")
    east.create_bucket(Bucket=src)
    west.create_bucket(Bucket=dst, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for client, bucket in ((east, src), (west, dst)):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    east.put_bucket_replication(Bucket=src, ReplicationConfiguration={
        "Role": "arn:aws:iam::123456789012:role/replication",
        "Rules": [{"ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                   "Destination": {"Bucket": f"arn:aws:s3:::{dst}"},
                   "DeleteMarkerReplication": {"Status": "Disabled"}}]})
    return src


def test_replication_pause_and_resume(drkit, cloud: EmbeddedCloud, replicated: str) -> None:
    code, out, err = drkit("cloud", "replication", "pause", "--bucket", replicated, "--duration", "PT30M",
                         "--region", "us-west-2", "--endpoint", cloud.endpoint, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["targets"] == [{"bucket": replicated, "pausedRules": ["all"]}] and result["until"]
    assert replicated in cloud.sim["replication"].status()["paused"]
    code, _, err = drkit("cloud", "replication", "resume", "--bucket", replicated, "--endpoint", cloud.endpoint)
    assert code == 0, err
    assert "resumed" in err
    assert not cloud.sim["replication"].status()["paused"].get(replicated)


def test_replication_pause_that_matches_nothing_warns(drkit, cloud: EmbeddedCloud, replicated: str) -> None:
    code, _, err = drkit("cloud", "replication", "pause", "--bucket", replicated, "--prefix", "nothing/",
                       "--endpoint", cloud.endpoint)
    assert code == 0, err
    assert "warning" in err and "FIS would skip" in err


@pytest.mark.parametrize("args", [
    ["pause", "--duration", "10 minutes"],       # not ISO-8601: refused by the control API
    ["resume", "--duration", "PT10M"],           # resume takes only --bucket / --tag
    ["pause", "--tag", "no-equals-sign"],
])
def test_replication_bad_arguments_exit_2(drkit, cloud: EmbeddedCloud, replicated: str, args: list[str]) -> None:
    code, _, err = drkit("cloud", "replication", *args, "--bucket", replicated, "--endpoint", cloud.endpoint)
    assert code == 2
    assert "Traceback" not in err
    assert not cloud.sim["replication"].status()["paused"].get(replicated)


def test_replication_pause_by_tag(drkit, cloud: EmbeddedCloud, replicated: str) -> None:
    cloud.target.client("s3", "us-east-1").put_bucket_tagging(
        Bucket=replicated, Tagging={"TagSet": [{"Key": "drill", "Value": "yes"}]})
    code, out, err = drkit("cloud", "replication", "pause", "--tag", "drill=yes", "--source-region", "us-east-1",
                         "--endpoint", cloud.endpoint)
    assert code == 0, err
    assert f"{replicated} (rules: all)" in err and "until resumed" in err
    assert cloud.sim["replication"].status()["paused"].get(replicated)


def test_replication_needs_a_target(drkit, cloud: EmbeddedCloud) -> None:
    code, _, err = drkit("cloud", "replication", "pause", "--endpoint", cloud.endpoint)
    assert code == 2
    assert "--bucket" in err and "--tag" in err


# ---------------------------------------------------------------- generic control
def test_control_calls_a_behaviour_action(drkit, cloud: EmbeddedCloud) -> None:
    code, out, err = drkit("cloud", "control", "outage", "down", '{"region": "ap-south-1"}',
                         "--endpoint", cloud.endpoint)
    assert code == 0, err
    assert json.loads(out)["region"] == "ap-south-1"
    assert cloud.sim["outage"].is_down("ap-south-1")


@pytest.mark.parametrize(("args", "message"), [
    (["outage", "down", "{not json"], "not valid JSON"),
    (["outage", "down", "[1, 2]"], "must be an object"),
    (["no_such_behaviour", "go"], "unknown control path"),
    (["outage", "explode", "{}"], "unknown control path"),
])
def test_control_errors_exit_2(drkit, cloud: EmbeddedCloud, args: list[str], message: str) -> None:
    code, out, err = drkit("cloud", "control", *args, "--endpoint", cloud.endpoint)
    assert code == 2
    assert message in err and out == ""


# ---------------------------------------------------------------- serve, as a separate process
def _drkit() -> list[str]:
    script = Path(sys.executable).with_name("drkit")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from drills.cli import main; main()"]


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_serve_prints_its_endpoint_and_stops_cleanly(tmp_path: Path, stop_signal: int) -> None:
    env = dict(os.environ)                 # fake credentials, no DRKIT_ENDPOINT (tests/drills/conftest.py)
    proc = subprocess.Popen([*_drkit(), "cloud", "serve", "--port", "0", "--clock-speed", "0.5", "--seed", "7"],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        first = proc.stdout.readline()          # blocks until the server listens (or exits)
        assert first.startswith("endpoint: http://127.0.0.1:"), (first, proc.poll())
        endpoint = first.split(" ", 1)[1].strip()
        assert int(endpoint.rsplit(":", 1)[1]) > 0
        status = subprocess.run([*_drkit(), "cloud", "status", "--endpoint", endpoint, "--json"],
                                capture_output=True, text=True, env=env, timeout=60)
        assert status.returncode == 0, status.stderr
        clock = json.loads(status.stdout)["clock"]
        assert clock["label"] == "simulated" and clock["speed"] == 0.5
        proc.send_signal(stop_signal)
        rest, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert rest == ""                        # nothing but the endpoint line on stdout
        assert "Ctrl-C" in err and "stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    after = subprocess.run([*_drkit(), "cloud", "status", "--endpoint", endpoint],
                           capture_output=True, text=True, env=env, timeout=60)
    assert after.returncode == 3                  # the process is gone: nothing answers


@pytest.mark.slow
def test_serve_on_a_busy_port_exits_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([*_drkit(), "cloud", "serve", "--port", str(port)], capture_output=True, text=True,
                              env=dict(os.environ), timeout=60)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
