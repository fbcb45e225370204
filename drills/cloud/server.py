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

from pathlib import Path

from werkzeug.serving import BaseWSGIServer

from drills.aws import Target
from drills.cloud import moto_fixes, moto_models
from drills.cloud.middleware import SimulationMiddleware
from drills.cloud.control import DirectControl
from drills.cloud.sim import cloudwatch_fixes, sqs_clock
from drills.cloud.simulation import SimSettings, Simulation
from drills.cloud.tls import SniffingRequestHandler, SniffingWSGIServer, TlsFiles, ensure_certificates, server_context
from drills.errors import InfraError, UsageError

log = logging.getLogger(__name__)

__all__ = ["EmbeddedCloud", "SimSettings", "port_is_free"]

_active_lock = threading.Lock()
_active: "EmbeddedCloud | None" = None


class EmbeddedCloud:
    """moto + simulation served over HTTP on ``host:port`` (port 0 = a free port)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", settings: SimSettings | None = None,
                 tls_dir: Path | str | None = None) -> None:
        self.host = host
        self.requested_port = port
        self.tls_dir = Path(tls_dir) if tls_dir is not None else None
        self.tls: TlsFiles | None = None
        self.sim = Simulation(settings)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._target: Target | None = None

    # -- lifecycle
    def start(self) -> "EmbeddedCloud":
        global _active
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        with _active_lock:
            if _active is not None:
                raise InfraError("an embedded cloud is already running in this process (moto state is per process)")
            moto_models.share()                            # each service model parsed once, not twice
            _reset_moto()
            logging.getLogger("werkzeug").setLevel(logging.WARNING)   # no per-request access log on stderr
            app = SimulationMiddleware(_dispatcher(DomainDispatcherApplication)(create_backend_app), self.sim)
            if self.tls_dir is not None:
                self.tls = ensure_certificates(self.tls_dir, self.host)
            try:
                _probe_bind(self.host, self.requested_port)   # werkzeug would print and sys.exit(1)
                self._server = SniffingWSGIServer(self.host, self.requested_port, app,
                                                  handler=SniffingRequestHandler)
                if self.tls is not None:
                    self._server.tls_context = server_context(self.tls)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise UsageError(f"port {self.requested_port} on {self.host} is already in use",
                                     hint="pick another --port, or 0 for any free port") from exc
                if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
                    raise UsageError(f"cannot listen on {self.host}: {exc.strerror}") from exc
                raise InfraError(f"cannot listen on {self.host}:{self.requested_port}: {exc.strerror}") from exc
            self._server.daemon_threads = True
            self.sim.bind(self.endpoint, str(self.tls.ca) if self.tls else None)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="drkit-embedded-cloud", daemon=True)
            self._thread.start()
            moto_fixes.apply()
            cloudwatch_fixes.use_simulation(self.sim)      # metrics behaviours publish as runs
            sqs_clock.install(self.sim.clock.now)
            moto_fixes.use_clock(self.sim.clock.now)
            _active = self
        log.info("embedded cloud listening on %s", self.endpoint)
        return self

    def stop(self) -> None:
        global _active
        with _active_lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.connections.close_all()      # idle keep-alive connections end too
                self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server = None
            self._thread = None
            if _active is self:
                _active = None
                moto_fixes.undo()
                sqs_clock.uninstall()

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
        scheme = "https" if self.tls is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def ca_bundle(self) -> str | None:
        """The CA file clients need for the TLS endpoint (AWS_CA_BUNDLE), else None."""
        return str(self.tls.ca) if self.tls is not None else None

    @property
    def target(self) -> Target:
        """One Target per running cloud (it caches its boto3 clients)."""
        if self._target is None or self._target.endpoint != self.endpoint:
            self._target = Target(endpoint=self.endpoint, ca_bundle=self.ca_bundle)
        return self._target

    @property
    def clock(self):
        return self.sim.clock

    def control(self) -> DirectControl:
        """The control API of this cloud, called in-process (the same API ``HttpControl`` serves)."""
        return DirectControl(self.sim)


def _dispatcher(base: type) -> type:
    """moto's dispatcher with its host -> backend lookup remembered per host name.

    moto answers that lookup on every request by listing its package directory and trying
    the URL patterns of every backend in turn (~12 % of the server's time per request,
    py-spy); the answer depends on the host name alone ("s3.us-east-1.amazonaws.com", built
    from the request's SigV4 scope), so it is computed once per host."""

    class RememberingDispatcher(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._backend_by_host: dict[str, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host is None:
                return None
            try:
                return self._backend_by_host[host]
            except KeyError:
                backend = self._backend_by_host[host] = super().get_backend_for_host(host)
                return backend

    return RememberingDispatcher


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
