"""ASGI middleware in front of every route: bearer-token check, then one access-log line per
request without PHI — method, path (UIDs are not PHI), query parameter *names* (values are
dropped: a PatientID value must never reach a log), status, bytes sent, milliseconds and a
hash of the token's subject.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

from drills.dicomweb.auth import TokenAuth, Unauthorized

access_log = logging.getLogger("drkit.dicomweb.access")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Gate:
    def __init__(self, app: Callable, auth: TokenAuth, public_url: str | None = None) -> None:
        self.app = app
        self.auth = auth
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        state = {"status": 0, "bytes": 0, "principal": "-"}

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            try:
                state["principal"] = self.auth.verify(headers.get("authorization"))
            except Unauthorized as exc:
                await _unauthorized(counting_send, str(exc))
                return
            scope.setdefault("state", {})["principal"] = state["principal"]
            if self.public_url:
                scope["drkit_public_url"] = self.public_url
            await self.app(scope, receive, counting_send)
        finally:
            names = sorted({k for k, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                    keep_blank_values=True)})
            access_log.info("%s %s params=%s status=%s bytes=%d ms=%d principal=%s",
                            scope["method"], scope["path"], ",".join(names) or "-", state["status"] or "aborted",
                            state["bytes"], (time.monotonic() - started) * 1000, state["principal"])


async def _unauthorized(send: Send, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b'Bearer realm="drkit-dicomweb"')]})
    await send({"type": "http.response.body", "body": body})
