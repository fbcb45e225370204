"""WSGI middleware in front of moto's server app: the one way in to the simulation.

Every request is decoded (service, region, operation, bucket/key/version) and passed to
the behaviours' ``before`` hooks; if none answers, moto does; then every ``after`` hook
sees the response. ``/_drkit/...`` is the simulation's control API (JSON over HTTP), used
by ``drkit cloud`` and by tests.
"""

from __future__ import annotations

import io
from http import HTTPStatus
import json
import logging
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, quote

from drills.cloud import operations
from drills.cloud.interceptors import INTERNAL_HEADER, AwsRequest, AwsResponse, Headers
from drills.cloud.simulation import Simulation

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_drkit/"
S3CONTROL_PREFIX = "/v20180820/"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding"}


class SimulationMiddleware:
    def __init__(self, app: Callable, sim: Simulation) -> None:
        self.app = app
        self.sim = sim

    # ------------------------------------------------------------------ WSGI entry
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response)
        req = self._decode(environ)
        if not req.internal:
            self.sim.clock.pump()
        resp: AwsResponse | None = None
        for interceptor in self.sim.interceptors:
            resp = interceptor.before(req)
            if resp is not None:
                break
        if resp is None:
            resp = self._call_moto(environ, req)
        if resp.drop_connection:
            return self._drop(environ, start_response)
        for interceptor in self.sim.interceptors:
            resp = interceptor.after(req, resp)
        return self._send(resp, start_response)

    # ------------------------------------------------------------------ decoding
    def _decode(self, environ: dict[str, Any]) -> AwsRequest:
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        headers = Headers({k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")})
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        region, service = operations.credential_scope(headers, query)
        if service == "s3" and environ.get("PATH_INFO", "").startswith(S3CONTROL_PREFIX):
            service = "s3control"      # S3 Control signs as "s3"; its API lives under /v20180820/
        method = environ.get("REQUEST_METHOD", "GET")
        # PATH_INFO is already percent-decoded, as latin-1 text (PEP 3333): S3 keys are UTF-8.
        path = environ.get("PATH_INFO", "/").encode("latin-1", "replace").decode("utf-8", "replace")
        # Resolve on the raw (still percent-encoded) path: an encoded "/" inside a parameter
        # (a table ARN in a Backup URI) must not split it. The resolver decodes parameters.
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        raw_path = (raw.split("?", 1)[0].encode("latin-1", "replace").decode("utf-8", "replace") if raw
                    else quote(path, safe="/"))
        operation, params = operations.resolve(service, method, raw_path, query, headers, body)
        return AwsRequest(method=method, path=path, query=query, headers=headers, body=body,
                          service=service, region=region, operation=operation, params=params,
                          internal=headers.get(INTERNAL_HEADER) == "1")

    # ------------------------------------------------------------------ moto
    def _call_moto(self, environ: dict[str, Any], req: AwsRequest) -> AwsResponse:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        headers = Headers()
        for k, v in captured.get("headers", []):
            if k.lower() not in _HOP_BY_HOP:
                headers[k] = v
        return AwsResponse(status=captured.get("status", 500), headers=headers, body=body)

    @staticmethod
    def _send(resp: AwsResponse, start_response: Callable) -> Iterable[bytes]:
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = "Unknown"
        headers = [(k, v) for k, v in resp.headers.items() if k not in _HOP_BY_HOP and k != "content-length"]
        # A HEAD answer has no body but announces the object's length: keep moto's.
        length = resp.headers.get("content-length") if not resp.body else None
        headers.append(("Content-Length", length if length is not None else str(len(resp.body))))
        start_response(f"{resp.status} {reason}", headers)
        return [resp.body]

    @staticmethod
    def _drop(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        """Close the client's connection without an answer: boto3 sees a connection error."""
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            import socket
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionAbortedError("simulated region outage")

    # ------------------------------------------------------------------ control API
    def _control(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        parts = [p for p in environ["PATH_INFO"][len(CONTROL_PREFIX):].split("/") if p]
        body = _read_body(environ)
        try:
            params = json.loads(body) if body else {}
            if not isinstance(params, dict):
                raise ValueError("control body must be a JSON object")
            result = self._dispatch(environ.get("REQUEST_METHOD", "GET"), parts, params)
            status = 200
        except KeyError as exc:
            result, status = {"error": f"unknown control path or action: {'/'.join(parts)} ({exc})"}, 404
        except ValueError as exc:
            result, status = {"error": str(exc)}, 400
        payload = json.dumps(result, default=str).encode()
        start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    def _dispatch(self, method: str, parts: list[str], params: dict[str, Any]) -> dict[str, Any]:
        if parts == ["status"]:
            self.sim.clock.pump()
            return self.sim.status()
        if parts == ["clock", "advance"]:
            seconds = float(params.get("seconds", 0))
            ran = self.sim.clock.advance(seconds)
            return {"now": self.sim.clock.now().isoformat(), "tasksRun": ran, "label": "simulated"}
        if parts == ["clock", "speed"]:
            self.sim.clock.set_speed(float(params["speed"]))
            return {"speed": self.sim.clock.speed}
        if len(parts) == 2 and method == "POST":
            return self.sim[parts[0]].control(parts[1], params)
        raise KeyError("/".join(parts))


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""
