"""HTTP/1.1 keep-alive for the embedded cloud's server: one connection serves many requests.

werkzeug's development server closes every connection after one answer (``Connection:
close``) because it cannot tell where a request body ends; after each answer it also waits
10 ms for stray body bytes to discard. Every boto3 call then paid a new TCP connection, a new
server thread and that wait. This handler reads exactly the request's ``Content-Length``
(or its chunked body to the end), so the next request on the connection starts where it
should, and keeps the connection open as HTTP/1.1 allows (RFC 9112 section 9.3) — what AWS
endpoints do and what botocore's connection pool expects. A connection closes when the client
asks (``Connection: close``), when a body was not read to its end, when the application
failed or dropped it (a simulated region outage), or when it idles longer than
``IDLE_TIMEOUT_S`` (wall time: sockets, not the virtual clock).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.wsgi import LimitedStream

log = logging.getLogger(__name__)
_ACCESS_LOG = logging.getLogger("werkzeug")

IDLE_TIMEOUT_S = 300.0
_NO_BODY = {204, 304}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding"}
_DROPPED = (ConnectionError, socket.timeout)


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler (its header fix-ups), answering with keep-alive."""

    timeout = IDLE_TIMEOUT_S            # socketserver applies it to the connection's reads

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass                        # not a TCP socket (tests may hand a socket pair)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug formats each access-log line (IRI-decoding the path) before its logger
        # drops it; the embedded cloud keeps that logger at WARNING (no per-request log).
        if _ACCESS_LOG.isEnabledFor(logging.INFO):
            super().log_request(code, size)

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        body_stream = environ["wsgi.input"]
        if not environ.get("wsgi.input_terminated"):        # chunked bodies are DechunkedInput already
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True                # no way to find the next request
                length = 0
            body_stream = environ["wsgi.input"] = LimitedStream(self.rfile, length)
        answer: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            # The answer is buffered until the application returns: nothing is sent yet, so
            # a later call (with exc_info) simply replaces it (PEP 3333).
            answer["status"], answer["headers"] = status, list(headers)
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except _DROPPED:
            self.close_connection = True                    # dropped on purpose (outage) or by the peer
            return
        except Exception:                                   # noqa: BLE001 - a plain 500, as werkzeug answers
            log.exception("error on request %s %s", self.command, self.path)
            self.close_connection = True
            answer = {"status": "500 INTERNAL SERVER ERROR", "headers": [("Content-Type", "text/plain")]}
            chunks = [b"Internal Server Error"]
        if not self._body_consumed(body_stream):
            self.close_connection = True
        self._answer(answer["status"], answer["headers"], b"".join(chunks))

    @staticmethod
    def _body_consumed(stream: Any) -> bool:
        """Read what the application left of the body (bounded by its length): the next
        request line follows it. A chunked body not read to its end closes the connection."""
        if isinstance(stream, LimitedStream):
            stream.exhaust()
            return True
        return bool(getattr(stream, "_done", False))

    def _answer(self, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        bodyless = self.command == "HEAD" or code in _NO_BODY or 100 <= code < 200
        self.send_response(code, reason.strip())
        for key, value in headers:
            name = key.lower()
            if name in _HOP_BY_HOP or (name == "content-length" and not bodyless):
                continue
            self.send_header(key, value)
        if not bodyless:                                    # the length that frames the next answer
            self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Head and body in one write: two small writes on a kept-alive connection meet the
        # peer's delayed ACK (Nagle), ~40 ms per answer.
        head = getattr(self, "_headers_buffer", [])          # none for an HTTP/0.9 request
        self._headers_buffer = [*head, b"\r\n" if head else b"", data if not bodyless else b""]
        self.flush_headers()


class ConnectionRegistry:
    """The server's open connections, so that stopping the server also ends the idle ones
    (their threads otherwise wait for the next request until ``IDLE_TIMEOUT_S``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def close_all(self) -> None:
        with self._lock:
            open_now, self._open = self._open, set()
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)             # the handler's read returns: its thread ends
            except OSError:
                pass
