"""WSGI middleware in front of moto's server app: the one way in to the simulation.

Every request is decoded (service, region, operation, bucket/key/version) and passed to
the behaviours' ``before`` hooks; if none answers, moto does; then every ``after`` hook
sees the response. ``/_drkit/...`` is the simulation's control API (JSON over HTTP), used
by ``drkit cloud`` and by tests.
"""

from __future__ import annotations

import io
from http import HTTPStatus
import logging
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, quote

from drills import jsonio
from drills.cloud import control_api, operations
from drills.cloud.interceptors import INTERNAL_HEADER, AwsRequest, AwsResponse, Headers, aws_error
from drills.cloud.sim.bad_requests import RAW_PATH_PARAM
from drills.cloud.simulation import Simulation

log = logging.getLogger(__name__)

CONTROL_PREFIX = control_api.CONTROL_PREFIX
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
        try:
            return self._serve(environ, start_response)
        except ConnectionAbortedError:
            raise                                # a simulated outage drops the connection
        except Exception:                        # noqa: BLE001 - every request gets an AWS-shaped answer
            log.exception("unhandled error in the embedded cloud")
            return self._send(_internal_error(environ), start_response)

    def _serve(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        req = self._decode(environ)
        if not req.internal:
            self.sim.clock.pump()
        resp: AwsResponse | None = None
        try:
            for interceptor in self.sim.interceptors:
                resp = interceptor.before(req)
                if resp is not None:
                    break
            if resp is None:
                resp = self._call_moto(environ, req)
        except ConnectionAbortedError:
            raise
        except Exception:                        # noqa: BLE001 - the after hooks still see (and may refine) it
            log.exception("unhandled error in the embedded cloud (%s %s)", req.service, req.operation)
            resp = aws_error(req, 500, "InternalError", "We encountered an internal error. Please try again.")
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
        access_key, region, service = operations.credential(headers, query)
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
        if raw and service == "s3":
            params[RAW_PATH_PARAM] = raw.split("?", 1)[0]     # as sent: bad_requests checks its UTF-8
        secure = environ.get("wsgi.url_scheme") == "https" if self.sim.tls else None
        return AwsRequest(method=method, path=path, query=query, headers=headers, body=body,
                          service=service, region=region, operation=operation, params=params,
                          internal=headers.get(INTERNAL_HEADER) == "1", secure=secure, access_key=access_key)

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
                headers.add(k, v)
        return AwsResponse(status=captured.get("status", 500), headers=headers, body=body)

    @staticmethod
    def _send(resp: AwsResponse, start_response: Callable) -> Iterable[bytes]:
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = "Unknown"
        headers = [(k, v) for k, v in resp.headers.items() if k.lower() not in _HOP_BY_HOP | {"content-length"}]
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
        """``/_drkit/...``: see drills.cloud.control_api (typed errors: 404, 400, 500)."""
        status, document = control_api.handle(self.sim, environ.get("REQUEST_METHOD", "GET"),
                                              environ.get("PATH_INFO", "/"), _read_body(environ))
        payload = jsonio.canonical(document)
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def _internal_error(environ: dict[str, Any]) -> AwsResponse:
    """500 InternalError in the shape of the request's service (S3's XML when unknown)."""
    try:
        headers = Headers({k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")})
        _, service = operations.credential_scope(headers, parse_qs(environ.get("QUERY_STRING", "")))
    except Exception:                            # noqa: BLE001 - fall back to S3's shape
        service = None
    req = AwsRequest(method=environ.get("REQUEST_METHOD", "GET"), path=environ.get("PATH_INFO", "/"), query={},
                     headers=Headers(), body=b"", service=service or "s3", region=None, operation=None)
    return aws_error(req, 500, "InternalError", "We encountered an internal error. Please try again.")


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
