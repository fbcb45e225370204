"""Run a tool as a grandchild and measure it alone: wall time, CPU and peak RSS.

``wait4``'s ``ru_maxrss`` of a direct child is not the child's own peak on Linux: the figure
survives ``execve`` (the kernel keeps the larger of the old and new address space's high-water
mark), and Python's ``subprocess`` starts children with ``vfork``, whose old address space *is*
the parent's — so a benchmark process that set up a cloud or generated data first puts its own
peak into every child's figure. Here a small launcher (``python -S``, ~10 MB) forks and execs
the tool and reports that grandchild's ``wait4`` rusage; the floor is the launcher's RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

_LAUNCHER = r"""
import json, os, signal, sys, time
report, timeout, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
timed_out = []
def stop(signum, frame):
    timed_out.append(True)
    os.kill(pid, signal.SIGTERM)
if timeout > 0:
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(timeout)
_, status, ru = os.wait4(pid, 0)
signal.alarm(0)
with open(report, "w") as fh:
    json.dump({"wall": time.perf_counter() - started, "user": ru.ru_utime, "sys": ru.ru_stime,
               "maxrssKiB": ru.ru_maxrss, "exit": os.waitstatus_to_exitcode(status),
               "timedOut": bool(timed_out)}, fh)
"""


def launcher_floor_mb() -> float:
    """Peak RSS of the launcher itself (the floor of every figure), in MB (MiB)."""
    return run_measured(["true"])["peakRssMB"]


def run_measured(cmd: list[str], env: dict[str, str] | None = None, stdout: Any = subprocess.PIPE,
                 stderr: Any = subprocess.PIPE, timeout: int = 0) -> dict[str, Any]:
    """Run ``cmd``; return wallSeconds, cpuSeconds (user + system), userCpuSeconds, peakRssMB
    (MiB, ``ru_maxrss`` / 1024), exitCode, timedOut, and out/err (bytes decoded) when piped.
    ``timeout`` > 0: the tool gets SIGTERM after that many seconds (``timedOut`` true; its
    figures are then lower bounds)."""
    with tempfile.NamedTemporaryFile(prefix="drkit-measure-", suffix=".json", delete=False) as fh:
        report = fh.name
    try:
        proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, report, str(int(timeout)), *cmd], env=env,
                                stdout=stdout, stderr=stderr)
        out, err = proc.communicate()
        with open(report) as fh:
            text = fh.read()
        figures = json.loads(text) if text else {"wall": 0.0, "user": 0.0, "sys": 0.0, "maxrssKiB": 0,
                                                  "exit": proc.returncode, "timedOut": False}
    finally:
        os.unlink(report)
    return {"wallSeconds": round(figures["wall"], 1), "cpuSeconds": round(figures["user"] + figures["sys"], 1),
            "userCpuSeconds": round(figures["user"], 1), "peakRssMB": round(figures["maxrssKiB"] / 1024, 1),
            "exitCode": figures["exit"], "timedOut": figures.get("timedOut", False),
            "out": (out or b"").decode(errors="replace"), "err": (err or b"").decode(errors="replace")}
