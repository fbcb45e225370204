"""drills/cloud/control.py HttpControl: one kept-alive connection per thread to the embedded
cloud's control API, a new one when the server closed the old, urllib behind a proxy."""

from __future__ import annotations

import threading

import pytest

from drills.cloud.control import HttpControl
from drills.errors import EndpointUnreachable


def _accepted(cloud) -> list:
    seen: list = []
    original = cloud._server.process_request

    def counting(request, client_address):
        seen.append(client_address)
        return original(request, client_address)

    cloud._server.process_request = counting
    return seen


def test_control_requests_share_one_connection(cloud) -> None:
    control = HttpControl(cloud.endpoint)
    accepted = _accepted(cloud)
    answers = [control.advance(60) for _ in range(5)]
    assert [a["label"] for a in answers] == ["simulated"] * 5
    assert len(accepted) == 1


def test_each_thread_has_its_own_connection(cloud) -> None:
    control = HttpControl(cloud.endpoint)
    accepted = _accepted(cloud)
    threads = [threading.Thread(target=lambda: [control.status() for _ in range(3)]) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 3


def test_a_connection_the_server_closed_is_replaced(cloud) -> None:
    control = HttpControl(cloud.endpoint)
    before = control.advance(0)["now"]
    accepted = _accepted(cloud)
    cloud._server.connections.close_all()          # as at an idle timeout
    assert control.advance(30)["now"] > before
    assert len(accepted) == 1                       # a new connection carried the second request


def test_a_stopped_cloud_is_unreachable(cloud_factory) -> None:
    cloud = cloud_factory()
    control = HttpControl(cloud.endpoint)
    control.status()
    cloud.stop()
    with pytest.raises(EndpointUnreachable, match="does not answer"):
        control.advance(1)


def test_behind_a_proxy_requests_go_through_urllib(cloud, monkeypatch) -> None:
    """urllib honours the proxy the environment names (its opener reads it once per process,
    so the test checks the route taken, not the proxy's effect)."""
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    control = HttpControl(cloud.endpoint)
    routed: list[str] = []
    monkeypatch.setattr(control, "_send_urllib", lambda method, path, body: routed.append(path) or (200, b"{}"))
    control.status()
    assert routed == ["status"]
    monkeypatch.delenv("http_proxy")
    direct = HttpControl(cloud.endpoint)
    monkeypatch.setattr(direct, "_send_urllib", lambda method, path, body: routed.append(path) or (200, b"{}"))
    assert "clock" in direct.status()
    assert routed == ["status"]
