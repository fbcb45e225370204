"""The control API's one client protocol (drills.cloud.control): HttpControl against a
served embedded cloud and DirectControl in-process behave the same, errors included."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from drills.cloud.control import ControlNotFound, ControlRefused, DirectControl, HttpControl, resolve_endpoint
from drills.errors import EndpointUnreachable, InfraError, UsageError


@pytest.fixture(params=["http", "direct"])
def control(request: pytest.FixtureRequest, cloud):
    return HttpControl(cloud.endpoint) if request.param == "http" else DirectControl(cloud.sim)


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


def test_status_and_clock(cloud, control) -> None:
    start = cloud.clock.now()
    status = control.status()
    assert status["clock"]["label"] == "simulated"
    assert {"outage", "object_lock"} <= set(status["behaviours"])
    result = control.advance(7200)
    assert result["label"] == "simulated"
    assert cloud.clock.now() == start + timedelta(hours=2)
    assert control.set_speed(3)["speed"] == 3.0
    assert cloud.clock.speed == 3.0


def test_advance_runs_scheduled_tasks(cloud, control) -> None:
    ran: list[str] = []
    cloud.clock.schedule_in(60, lambda: ran.append("a"), "test task")
    assert control.advance(59)["tasksRun"] == 0
    assert control.advance(1)["tasksRun"] == 1
    assert ran == ["a"]


def test_outage_round_trip(cloud, control) -> None:
    assert control.outage("eu-west-1", down=True)["down"] is True
    assert cloud.sim["outage"].is_down("eu-west-1")
    assert control.outage("eu-west-1", down=False)["wasDown"] is True
    assert not cloud.sim["outage"].is_down("eu-west-1")


def test_unknown_behaviour_or_action_is_not_found(control) -> None:
    with pytest.raises(ControlNotFound, match="unknown control path"):
        control.call("no_such_behaviour", "go")
    with pytest.raises(ControlNotFound, match="no action 'explode'"):
        control.call("outage", "explode")


def test_bad_parameters_are_refused(control) -> None:
    with pytest.raises(ControlRefused, match="region"):
        control.outage("not a region", down=True)
    with pytest.raises(UsageError, match=">= 0"):
        control.set_speed(-1)
    with pytest.raises(UsageError, match="invalid behaviour name"):
        control.call("../status", "x")
    with pytest.raises(ControlRefused, match="year 9999"):
        control.advance(100_000_000 * 86400)


def test_a_bug_in_a_behaviour_is_an_infra_error_naming_it(cloud, control, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(action, params):
        raise RuntimeError("boom")

    monkeypatch.setattr(cloud.sim["outage"], "control", broken)
    with pytest.raises(InfraError, match="HTTP 500.*RuntimeError: boom") as err:
        control.outage("eu-west-1", down=True)
    assert not isinstance(err.value, UsageError)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint() -> None:
    client = HttpControl(f"http://127.0.0.1:{_closed_port()}", timeout=2)
    with pytest.raises(EndpointUnreachable) as err:
        client.status()
    assert err.value.exit_code == 3
    assert "does not answer" in str(err.value)
