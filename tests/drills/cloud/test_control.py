"""The control API client (drills.cloud.control) against an in-process embedded cloud."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from drills.cloud.control import ControlClient, parse_duration, resolve_endpoint
from drills.errors import EndpointUnreachable, UsageError


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("15m", 900), ("2h", 7200), ("3d", 259200), ("45", 45), ("1.5h", 5400), (" 10M ", 600),
    ("PT15M", 900), ("P1DT2H", 93600), ("PT0.5S", 0.5), ("pt1h30m", 5400), ("0", 0),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "15 minutes", "-5", "5w", "P", "PT", "P1DT", "1h30m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="invalid duration"):
        parse_duration(text)


def test_resolve_endpoint_from_argument_or_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRKIT_ENDPOINT", "http://127.0.0.1:4599/")
    assert resolve_endpoint(None) == "http://127.0.0.1:4599"
    assert resolve_endpoint("http://localhost:1234") == "http://localhost:1234"
    monkeypatch.delenv("DRKIT_ENDPOINT")
    with pytest.raises(UsageError, match="no embedded cloud endpoint"):
        resolve_endpoint(None)


@pytest.mark.parametrize("bad", ["127.0.0.1:4599", "ftp://x:1", "http://", "http://h:99999"])
def test_resolve_endpoint_rejects_non_urls(bad: str) -> None:
    with pytest.raises(UsageError):
        resolve_endpoint(bad)


def test_status_and_clock(cloud) -> None:
    client = ControlClient(cloud.endpoint)
    start = cloud.clock.now()
    status = client.status()
    assert status["clock"]["label"] == "simulated"
    assert {"outage", "object_lock"} <= set(status["behaviours"])
    result = client.advance(parse_duration("2h"))
    assert result["label"] == "simulated"
    assert cloud.clock.now() == start + timedelta(hours=2)
    assert client.set_speed(3)["speed"] == 3.0
    assert cloud.clock.speed == 3.0


def test_advance_runs_scheduled_tasks(cloud) -> None:
    ran: list[str] = []
    cloud.clock.schedule_in(60, lambda: ran.append("a"), "test task")
    assert ControlClient(cloud.endpoint).advance(59)["tasksRun"] == 0
    assert ControlClient(cloud.endpoint).advance(1)["tasksRun"] == 1
    assert ran == ["a"]


def test_outage_round_trip(cloud) -> None:
    client = ControlClient(cloud.endpoint)
    assert client.outage("eu-west-1", down=True)["down"] is True
    assert cloud.sim["outage"].is_down("eu-west-1")
    assert client.outage("eu-west-1", down=False)["wasDown"] is True
    assert not cloud.sim["outage"].is_down("eu-west-1")


def test_unknown_behaviour_or_action_is_a_usage_error(cloud) -> None:
    client = ControlClient(cloud.endpoint)
    with pytest.raises(UsageError, match="unknown control path"):
        client.call("no_such_behaviour", "go")
    with pytest.raises(UsageError, match="unknown control path"):
        client.call("outage", "explode")


def test_bad_parameters_are_a_usage_error(cloud) -> None:
    with pytest.raises(UsageError, match="region"):
        ControlClient(cloud.endpoint).outage("not a region", down=True)
    with pytest.raises(UsageError, match=">= 0"):
        ControlClient(cloud.endpoint).set_speed(-1)
    with pytest.raises(UsageError, match="invalid behaviour name"):
        ControlClient(cloud.endpoint).call("../status", "x")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint() -> None:
    client = ControlClient(f"http://127.0.0.1:{_closed_port()}", timeout=2)
    with pytest.raises(EndpointUnreachable) as err:
        client.status()
    assert err.value.exit_code == 3
    assert "does not answer" in str(err.value)
