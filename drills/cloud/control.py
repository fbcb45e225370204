"""The one client protocol of the embedded cloud's control API (``/_drkit/...``).

``Control`` is what drills, ``drkit cloud`` and the offline deployer use to read the
status, move the virtual clock, take a region down, pause replication, or call any
behaviour's control action. Two implementations, one behaviour:

- ``HttpControl(endpoint)``: JSON over HTTP to a served cloud (``drkit cloud serve``, or an
  in-process ``EmbeddedCloud`` reached through its endpoint);
- ``DirectControl(sim)``: the same dispatcher called in-process (no socket), for code that
  holds the simulation (the offline deployer, the demo).

Errors are the same from both: an endpoint that does not answer -> ``EndpointUnreachable``
(exit 3); an unknown path, behaviour or action (404) -> ``ControlNotFound`` and a refused
request (400) -> ``ControlRefused``, both UsageErrors (exit 2); a failure inside the cloud
(500) or an answer that is not a JSON object -> ``InfraError`` (exit 3).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import socket
import threading
import urllib.error
import urllib.request
from typing import Any, Protocol
from urllib.parse import urlsplit

from drills import jsonio
from drills.cloud.control_api import CONTROL_PREFIX, handle
from drills.errors import EndpointUnreachable, InfraError, UsageError

ENDPOINT_ENV = "DRKIT_ENDPOINT"
_NAME = re.compile(r"[A-Za-z0-9_-]+")


class ControlNotFound(UsageError):
    """The control API has no such path, behaviour or action (HTTP 404)."""


class ControlRefused(UsageError):
    """The control API refused the request's parameters (HTTP 400)."""


class Control(Protocol):
    """What every control client offers."""

    def status(self) -> dict[str, Any]: ...

    def advance(self, seconds: float) -> dict[str, Any]: ...

    def set_speed(self, speed: float) -> dict[str, Any]: ...

    def call(self, behaviour: str, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def outage(self, region: str, down: bool) -> dict[str, Any]: ...

    def pause_replication(self, buckets: list[str] | None = None, duration: str | None = None,
                          prefixes: list[str] | None = None, region: str | None = None,
                          destination_buckets: list[str] | None = None, tags: dict[str, str] | None = None,
                          source_region: str | None = None) -> dict[str, Any]: ...

    def resume_replication(self, buckets: list[str] | None = None, tags: dict[str, str] | None = None,
                           source_region: str | None = None) -> dict[str, Any]: ...


def resolve_endpoint(endpoint: str | None) -> str:
    """``endpoint`` or $DRKIT_ENDPOINT, checked to be an http(s) URL with a host."""
    value = (endpoint or os.environ.get(ENDPOINT_ENV) or "").strip()
    if not value:
        raise UsageError("no embedded cloud endpoint given",
                         hint=f"pass --endpoint URL or set {ENDPOINT_ENV} (printed by `drkit cloud serve`)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"endpoint {value!r} is not an http(s) URL", hint="e.g. http://127.0.0.1:4599")
    try:
        parts.port
    except ValueError as exc:
        raise UsageError(f"endpoint {value!r} has an invalid port") from exc
    return value.rstrip("/")


class _Client:
    """The API as methods; subclasses move one request (``_send``)."""

    label = "control API"

    def status(self) -> dict[str, Any]:
        return self._request("GET", "status")

    def advance(self, seconds: float) -> dict[str, Any]:
        if seconds < 0:
            raise UsageError("the virtual clock never goes backwards: the duration must be >= 0")
        return self._request("POST", "clock/advance", {"seconds": seconds})

    def set_speed(self, speed: float) -> dict[str, Any]:
        if speed < 0:
            raise UsageError("clock speed must be >= 0 (0 = the clock moves only when told)")
        return self._request("POST", "clock/speed", {"speed": speed})

    def call(self, behaviour: str, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """``POST /_drkit/<behaviour>/<action>`` with ``params`` as the JSON body."""
        for label, part in (("behaviour", behaviour), ("action", action)):
            if not _NAME.fullmatch(part or ""):
                raise UsageError(f"invalid {label} name {part!r}")
        return self._request("POST", f"{behaviour}/{action}", params or {})

    def outage(self, region: str, down: bool) -> dict[str, Any]:
        return self.call("outage", "down" if down else "up", {"region": region})

    def pause_replication(self, buckets: list[str] | None = None, duration: str | None = None,
                          prefixes: list[str] | None = None, region: str | None = None,
                          destination_buckets: list[str] | None = None, tags: dict[str, str] | None = None,
                          source_region: str | None = None) -> dict[str, Any]:
        """Like FIS ``aws:s3:bucket-pause-replication``: target buckets by name/ARN or by tags."""
        params = _replication_targets(buckets, tags, source_region)
        if duration:
            params["duration"] = duration
        if prefixes:
            params["prefixes"] = list(prefixes)
        if region:
            params["region"] = region
        if destination_buckets:
            params["destinationBuckets"] = list(destination_buckets)
        return self.call("replication", "pause", params)

    def resume_replication(self, buckets: list[str] | None = None, tags: dict[str, str] | None = None,
                           source_region: str | None = None) -> dict[str, Any]:
        return self.call("replication", "resume", _replication_targets(buckets, tags, source_region))

    # -- one request
    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        where = f"{method} {self.label}{CONTROL_PREFIX}{path}"
        status, payload = self._send(method, path, jsonio.canonical(body) if body is not None else b"")
        try:
            document = json.loads(payload or b"{}")
        except ValueError:
            document = None
        if status != 200:
            message = str(document["error"]) if isinstance(document, dict) and "error" in document else (
                payload.decode("utf-8", "replace")[:300] or f"HTTP {status}")
            if status == 404:
                raise ControlNotFound(f"{where}: {message}")
            if status == 400:
                raise ControlRefused(f"{where}: {message}")
            raise InfraError(f"{where}: HTTP {status}: {message}")
        if document is None:
            raise InfraError(f"{where} answered something that is not JSON: is it a drkit embedded cloud?")
        if not isinstance(document, dict):
            raise InfraError(f"{where} answered {type(document).__name__}, expected a JSON object")
        return document

    def _send(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        raise NotImplementedError


class HttpControl(_Client):
    """JSON over HTTP to ``<endpoint>/_drkit/...`` of a served embedded cloud.

    Each thread keeps one HTTP/1.1 connection open to the endpoint (the embedded cloud keeps
    connections alive): a drill that polls on the virtual clock sends hundreds of control
    requests, and a new connection each took as long as the request itself. Behind an HTTP
    proxy named by the environment, requests go through urllib (which honours it)."""

    def __init__(self, endpoint: str | None, timeout: float = 30.0) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        self.timeout = timeout
        self.label = self.endpoint
        self._local = threading.local()
        parts = urlsplit(self.endpoint)
        self._https = parts.scheme == "https"
        self._host, self._port, self._base = parts.hostname or "127.0.0.1", parts.port, parts.path.rstrip("/")
        self._proxied = bool(urllib.request.getproxies().get(parts.scheme)) and not urllib.request.proxy_bypass(
            parts.hostname or "")

    def _send(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self._proxied:
            return self._send_urllib(method, path, body)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        conn = self._connection()
        try:
            conn.request(method, f"{self._base}{CONTROL_PREFIX}{path}", body=body or None, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._local.conn = None
            raise self._unreachable(exc) from exc
        if resp.will_close:
            conn.close()
        return resp.status, payload

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None and _peer_closed(conn.sock):
            conn.close()                   # closed by the server while idle: open a new one
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = self._local.conn = cls(self._host, self._port, timeout=self.timeout)
        return conn

    def _send_urllib(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{self.endpoint}{CONTROL_PREFIX}{path}", data=body or None, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as exc:
            raise self._unreachable(getattr(exc, "reason", exc)) from exc

    def _unreachable(self, reason: Any) -> EndpointUnreachable:
        return EndpointUnreachable(f"the embedded cloud at {self.endpoint} does not answer ({reason})",
                                   hint="start one with `drkit cloud serve`, or check --endpoint / "
                                        f"{ENDPOINT_ENV}")


def _peer_closed(sock: socket.socket) -> bool:
    """An idle kept-alive connection the peer closed: readable now (EOF), with nothing sent."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class DirectControl(_Client):
    """The control API of an in-process simulation, without a socket: the same dispatcher,
    the same JSON round trip and the same errors as ``HttpControl``."""

    label = "in-process cloud"

    def __init__(self, sim: Any) -> None:
        self._sim = sim

    def _send(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        status, document = handle(self._sim, method, f"{CONTROL_PREFIX}{path}", body)
        return status, jsonio.canonical(document)


def _replication_targets(buckets: list[str] | None, tags: dict[str, str] | None,
                         source_region: str | None) -> dict[str, Any]:
    if not buckets and not tags:
        raise UsageError("name the source bucket(s) (--bucket) or select them by tag (--tag KEY=VALUE)")
    params: dict[str, Any] = {}
    if buckets and len(buckets) == 1:
        params["bucket"] = buckets[0]
    elif buckets:
        params["buckets"] = list(buckets)
    if tags:
        params["tags"] = dict(tags)
    if source_region:
        params["sourceRegion"] = source_region
    return params
