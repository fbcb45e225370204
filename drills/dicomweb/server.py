"""Run the DICOMweb app under uvicorn: in the foreground (``drkit dicomweb serve``) or in a
background thread of this process (``BackgroundServer``, for probes and tests)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from drills.errors import InfraError

START_TIMEOUT = 20.0


def config(app: Any, host: str, port: int, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                          lifespan="off", **extra)


class BackgroundServer:
    """``with BackgroundServer(app) as url:`` serves ``app`` on a free loopback port."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        if port == 0:
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(config(app, host, port))
        self._server.install_signal_handlers = lambda: None    # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, name="dicomweb", daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise InfraError(f"the DICOMweb server did not start on {self.url}")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: Any) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
