"""`drkit cloud serve` exits promptly on SIGTERM / Ctrl-C after heavy traffic (issue 16)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

# The serve command as `drkit cloud serve` runs it, in a child process whose cloud already
# holds the state heavy traffic leaves behind (40,000 object versions, written straight into
# moto's backend because 40,000 PUTs over HTTP take minutes here).
_CHILD = textwrap.dedent("""
    import sys
    from drills.cloud import server
    original_start = server.EmbeddedCloud.start

    def start(self):
        cloud = original_start(self)
        backend = cloud.sim.s3_backend()
        backend.create_bucket("heavy-traffic", "us-east-1")
        for n in range(40000):
            backend.put_object("heavy-traffic", f"dicom/{n // 50}/{n}.dcm", b"DICM" * 64)
        return cloud

    server.EmbeddedCloud.start = start
    from drills.cli import main
    sys.argv = ["drkit", "cloud", "serve", "--port", "0"]
    main()
""")


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_serve_exits_promptly_after_heavy_traffic(stop_signal: int) -> None:
    """After "stopped" the process ends at once (exit 0), however much state moto holds."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert first.startswith("endpoint: http://"), (first, proc.poll(), proc.stderr.read())
        sent = time.monotonic()
        proc.send_signal(stop_signal)
        _, err = proc.communicate(timeout=120)
        took = time.monotonic() - sent
        assert proc.returncode == 0, err
        assert "stopped" in err
        assert took < 4.0, f"exit took {took:.1f} s after the signal"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
