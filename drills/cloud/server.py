"""The embedded cloud: moto's server app behind the simulation middleware, on 127.0.0.1.

``EmbeddedCloud`` runs it in a background thread of this process (so the simulation can
reach moto's backends and run the ingest handler in-process). moto keeps its state per
process, so one embedded cloud runs per process at a time; starting one resets moto.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from drills.aws import Target
from drills.cloud import moto_fixes
from drills.cloud.middleware import SimulationMiddleware
from drills.cloud.control import DirectControl
from drills.cloud.simulation import SimSettings, Simulation
from drills.errors import InfraError, UsageError

log = logging.getLogger(__name__)

__all__ = ["EmbeddedCloud", "SimSettings", "port_is_free"]

_active_lock = threading.Lock()
_active: "EmbeddedCloud | None" = None


class EmbeddedCloud:
    """moto + simulation served over HTTP on ``host:port`` (port 0 = a free port)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", settings: SimSettings | None = None) -> None:
        self.host = host
        self.requested_port = port
        self.sim = Simulation(settings)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._target: Target | None = None

    # -- lifecycle
    def start(self) -> "EmbeddedCloud":
        global _active
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        with _active_lock:
            if _active is not None:
                raise InfraError("an embedded cloud is already running in this process (moto state is per process)")
            _reset_moto()
            logging.getLogger("werkzeug").setLevel(logging.WARNING)   # no per-request access log on stderr
            app = SimulationMiddleware(DomainDispatcherApplication(create_backend_app), self.sim)
            try:
                _probe_bind(self.host, self.requested_port)   # werkzeug would print and sys.exit(1)
                self._server = make_server(self.host, self.requested_port, app, threaded=True,
                                           request_handler=MotoRequestHandler)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise UsageError(f"port {self.requested_port} on {self.host} is already in use",
                                     hint="pick another --port, or 0 for any free port") from exc
                if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
                    raise UsageError(f"cannot listen on {self.host}: {exc.strerror}") from exc
                raise InfraError(f"cannot listen on {self.host}:{self.requested_port}: {exc.strerror}") from exc
            self._server.daemon_threads = True
            self.sim.bind(self.endpoint)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="drkit-embedded-cloud", daemon=True)
            self._thread.start()
            moto_fixes.apply()
            _active = self
        log.info("embedded cloud listening on %s", self.endpoint)
        return self

    def stop(self) -> None:
        global _active
        with _active_lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server = None
            self._thread = None
            if _active is self:
                _active = None
                moto_fixes.undo()

    def serve_forever(self) -> None:
        """Block serving requests (``drkit cloud serve``); returns after ``stop``/KeyboardInterrupt."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> "EmbeddedCloud":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- addressing
    @property
    def port(self) -> int:
        if self._server is None:
            raise InfraError("embedded cloud is not running")
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def target(self) -> Target:
        """One Target per running cloud (it caches its boto3 clients)."""
        if self._target is None or self._target.endpoint != self.endpoint:
            self._target = Target(endpoint=self.endpoint)
        return self._target

    @property
    def clock(self):
        return self.sim.clock

    def control(self) -> DirectControl:
        """The control API of this cloud, called in-process (the same API ``HttpControl`` serves)."""
        return DirectControl(self.sim)


def _reset_moto() -> None:
    """Forget every resource moto holds in this process (a fresh cloud)."""
    from moto.moto_api._internal.models import moto_api_backend
    moto_api_backend.reset()


def _probe_bind(host: str, port: int) -> None:
    """Raise the OSError that binding ``host:port`` would raise (as the server binds: SO_REUSEADDR)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
