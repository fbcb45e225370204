"""A small HTTP client of the embedded cloud's control API (``/_drkit/...``).

Used by ``drkit cloud`` and by scripts that steer a cloud started with ``drkit cloud serve``
(or by an in-process ``EmbeddedCloud``): read the status, move the virtual clock, take a
region down, pause replication, or call any behaviour's control action.

Errors: an endpoint that does not answer -> ``EndpointUnreachable`` (exit 3); the control
API refusing a request (unknown behaviour/action 404, bad parameters 400) -> ``UsageError``
(exit 2); anything else unexpected -> ``InfraError`` (exit 3).
"""

from __future__ import annotations

import json
import os
import re
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from drills.errors import EndpointUnreachable, InfraError, UsageError

ENDPOINT_ENV = "DRKIT_ENDPOINT"
CONTROL_PATH = "/_drkit/"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIMPLE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_ISO = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
                  re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds in ``text``: "90s", "15m", "2h", "3d", a plain number of seconds, or ISO-8601
    ("PT15M", "P1DT2H"). Raises UsageError otherwise."""
    value = str(text).strip()
    match = _SIMPLE.match(value)
    if match:
        return float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    match = _ISO.match(value)
    if match and value.upper() not in ("P", "PT") and not value.upper().endswith("T"):
        days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        return days * 86400 + hours * 3600 + minutes * 60 + seconds
    raise UsageError(f"invalid duration {text!r}",
                     hint='use a number of seconds or 90s, 15m, 2h, 3d, or ISO-8601 such as PT15M')


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


class ControlClient:
    """JSON over HTTP to ``<endpoint>/_drkit/...``."""

    def __init__(self, endpoint: str, timeout: float = 30.0) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        self.timeout = timeout

    # -- the API
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
            if not re.fullmatch(r"[A-Za-z0-9_-]+", part or ""):
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

    # -- transport
    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.endpoint}{CONTROL_PATH}{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            message = _error_message(exc)
            if exc.code in (400, 404):
                raise UsageError(f"{method} {url}: {message}") from exc
            raise InfraError(f"{method} {url}: HTTP {exc.code}: {message}") from exc
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EndpointUnreachable(f"the embedded cloud at {self.endpoint} does not answer ({reason})",
                                      hint="start one with `drkit cloud serve`, or check --endpoint / "
                                           f"{ENDPOINT_ENV}") from exc
        try:
            document = json.loads(payload or b"{}")
        except ValueError as exc:
            raise InfraError(f"{url} answered something that is not JSON: is it a drkit embedded cloud?") from exc
        if not isinstance(document, dict):
            raise InfraError(f"{url} answered {type(document).__name__}, expected a JSON object")
        return document


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


def _error_message(exc: urllib.error.HTTPError) -> str:
    raw = exc.read()
    try:
        document = json.loads(raw)
        if isinstance(document, dict) and "error" in document:
            return str(document["error"])
    except ValueError:
        pass
    return raw.decode("utf-8", "replace")[:300] or exc.reason
