"""drills/cloud/keepalive.py: the embedded cloud's server keeps HTTP/1.1 connections open and
frames every answer, so one connection serves many requests (RFC 9112 section 9.3,
https://www.rfc-editor.org/rfc/rfc9112#section-9.3 — persistence; section 6.3 — message
body length) and closes it when the client asks, when a body cannot be framed, or when the
server stops."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest

from drills.cloud.tls import SniffingRequestHandler, SniffingWSGIServer


def _app(environ, start_response):
    """Answers with the method, path and how many body bytes it read; ``/ignore`` reads none,
    ``/fail`` raises, ``/head`` claims a 5-byte body for HEAD."""
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("application bug")
    read = b"" if path == "/ignore" else environ["wsgi.input"].read()
    body = f"{environ['REQUEST_METHOD']} {path} read={len(read)}".encode()
    headers = [("Content-Type", "text/plain")]
    if environ["REQUEST_METHOD"] == "HEAD":
        headers.append(("Content-Length", "5"))
        body = b""
    start_response("200 OK", headers)
    return [body]


@pytest.fixture()
def server():
    srv = SniffingWSGIServer("127.0.0.1", 0, _app, handler=SniffingRequestHandler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.connections.close_all()
    srv.server_close()


def _connection(srv) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=5)
    conn.connect()
    return conn


def _ask(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp, resp.read()


def test_many_requests_share_one_connection(server) -> None:
    conn = _connection(server)
    sock = conn.sock
    answers = [_ask(conn, "POST", f"/n{n}", body=b"x" * n) for n in range(5)]
    assert [body for _, body in answers] == [f"POST /n{n} read={n}".encode() for n in range(5)]
    assert all(resp.getheader("Connection") is None for resp, _ in answers)
    assert conn.sock is sock                              # http.client reconnects only when closed
    assert len(server.connections) == 1
    conn.close()


def test_a_body_the_application_did_not_read_is_skipped_not_taken_for_the_next_request(server) -> None:
    conn = _connection(server)
    resp, body = _ask(conn, "PUT", "/ignore", body=b"GET /smuggled HTTP/1.1\r\n\r\n")
    assert body == b"PUT /ignore read=0"
    resp, body = _ask(conn, "GET", "/next")
    assert body == b"GET /next read=0"
    conn.close()


def test_head_answer_keeps_its_length_and_sends_no_body(server) -> None:
    conn = _connection(server)
    resp, body = _ask(conn, "HEAD", "/object")
    assert resp.status == 200 and resp.getheader("Content-Length") == "5" and body == b""
    assert _ask(conn, "GET", "/after")[1] == b"GET /after read=0"     # no stray bytes on the wire
    conn.close()


def test_client_asking_to_close_gets_its_connection_closed(server) -> None:
    with socket.create_connection(server.server_address, timeout=5) as sock:
        sock.sendall(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(4096):                   # ends only when the server closes
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head and body == b"GET /last read=0"


def test_chunked_body_is_read_to_its_end(server) -> None:
    conn = _connection(server)
    conn.putrequest("POST", "/chunked")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    resp = conn.getresponse()
    assert resp.read() == b"POST /chunked read=5"
    assert _ask(conn, "GET", "/again")[1] == b"GET /again read=0"
    conn.close()


def test_application_failure_is_a_500_and_closes_the_connection(server) -> None:
    conn = _connection(server)
    resp, body = _ask(conn, "GET", "/fail")
    assert resp.status == 500 and resp.getheader("Connection") == "close"
    conn.close()


def test_stopping_the_server_ends_idle_connections(server) -> None:
    conn = _connection(server)
    assert _ask(conn, "GET", "/one")[1] == b"GET /one read=0"
    sock = conn.sock
    server.connections.close_all()
    sock.settimeout(5)
    assert sock.recv(1) == b""                            # EOF: the server's thread let go
    conn.close()


def test_the_embedded_cloud_reuses_boto3_connections(cloud, s3, bucket_name) -> None:
    """boto3 (urllib3's pool) sends its calls over the same connection."""
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    accepted = []
    original = cloud._server.process_request

    def counting(request, client_address):
        accepted.append(client_address)
        return original(request, client_address)

    cloud._server.process_request = counting
    try:
        for n in range(10):
            s3.put_object(Bucket=bucket, Key=f"k{n}", Body=b"data")
        assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 10
    finally:
        del cloud._server.process_request
    assert len(accepted) <= 1                             # at most one new connection for 11 calls


def test_access_log_lines_are_written_only_when_the_werkzeug_logger_wants_them(server, caplog) -> None:
    import logging

    conn = _connection(server)
    with caplog.at_level(logging.WARNING, logger="werkzeug"):
        _ask(conn, "GET", "/quiet")
    assert not [r for r in caplog.records if "/quiet" in r.getMessage()]
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        _ask(conn, "GET", "/loud")
    assert [r for r in caplog.records if '"GET /loud HTTP/1.1" 200' in r.getMessage()]
    conn.close()
