"""The server side of the embedded cloud's control API (``/_drkit/...``): one dispatcher,
served over HTTP by the middleware and called in-process by ``DirectControl``.

Routes: ``GET /_drkit/status``; ``GET /_drkit/clock``; ``POST /_drkit/clock/advance {"seconds": S}``;
``POST /_drkit/clock/speed {"speed": X}``; ``POST /_drkit/<behaviour>/<action> {...}``.

Errors are typed, never disguised: an unknown path, behaviour or action answers 404
(``UnknownControl``); a bad request (body not a JSON object, a missing or invalid
parameter) answers 400 (``BadRequest``, or the ValueError a behaviour raises to refuse its
parameters); any other exception inside a behaviour is a bug and answers 500 naming it.
Every answer is a JSON object; errors are ``{"error": message}``.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_drkit/"


class BadRequest(ValueError):
    """The control request is malformed or its parameters are invalid: HTTP 400."""


class UnknownControl(KeyError):
    """No such control path, behaviour or action: HTTP 404. Behaviours raise it (through
    ``Interceptor.control``) for an action they do not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown control path"


def handle(sim: Any, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """Answer one control request: (HTTP status, JSON document)."""
    parts = [p for p in path[len(CONTROL_PREFIX):].split("/") if p] if path.startswith(CONTROL_PREFIX) else []
    try:
        params = _params(body)
        return 200, dispatch(sim, method, parts, params)
    except UnknownControl as exc:
        return 404, {"error": f"unknown control path or action: /{'/'.join(parts)} ({exc})"}
    except (BadRequest, ValueError) as exc:      # behaviours refuse their parameters with ValueError
        return 400, {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the API's boundary: a bug answers 500 with its name, not a hang
        log.exception("control request %s /%s failed", method, "/".join(parts))
        return 500, {"error": f"internal error in /{'/'.join(parts)}: {type(exc).__name__}: {exc}"}


def dispatch(sim: Any, method: str, parts: list[str], params: dict[str, Any]) -> dict[str, Any]:
    if parts == ["status"]:
        sim.clock.pump()
        return sim.status()
    if parts == ["clock"] and method == "GET":
        return {"now": sim.clock.now().isoformat(), "speed": sim.clock.speed, "label": "simulated"}
    if parts == ["clock", "advance"] and method == "POST":
        delta = _seconds(params, "seconds")
        now = sim.clock.now()
        try:
            now + delta
        except OverflowError:
            raise BadRequest(f"'seconds': advancing by {delta.total_seconds():g} s passes the end of the "
                             f"calendar (year 9999)") from None
        ran = sim.clock.advance(delta)
        return {"now": sim.clock.now().isoformat(), "tasksRun": ran, "label": "simulated"}
    if parts == ["clock", "speed"] and method == "POST":
        speed = _number(params, "speed")
        sim.clock.set_speed(speed)
        return {"speed": sim.clock.speed}
    if len(parts) == 2 and method == "POST" and parts[0] != "clock":
        try:
            behaviour = sim[parts[0]]
        except KeyError:
            raise UnknownControl(f"no behaviour {parts[0]!r}") from None
        return behaviour.control(parts[1], params)
    raise UnknownControl(f"{method} /{'/'.join(parts)}")


def _params(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        params = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"control body is not valid JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise BadRequest("control body must be a JSON object")
    return params


def _number(params: dict[str, Any], name: str) -> float:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"'{name}' is required: a number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise BadRequest(f"'{name}' must be a finite number >= 0, got {value!r}")
    return float(value)


def _seconds(params: dict[str, Any], name: str) -> timedelta:
    seconds = _number(params, name)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise BadRequest(f"'{name}': {seconds:g} s is longer than any date the clock can reach") from None


