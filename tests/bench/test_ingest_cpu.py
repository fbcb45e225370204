"""bench.ingest_cpu runs end to end on a tiny data set, with the stub transport under the
latency model: the stub must answer every request ingest sends (a new request type made it
stop with "unexpected DynamoDB GetItem"), and the JSON must carry both measures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import REPO_ROOT


def test_the_stub_benchmark_runs_and_reports_both_measures(tmp_path: Path) -> None:
    out = tmp_path / "ingest_cpu.json"
    done = subprocess.run([sys.executable, "-m", "bench.ingest_cpu", "--studies", "2", "--rounds", "1", "--stub",
                           "--json", str(out)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert report["latencyTransport"] and report["sopInstanceUidClaims"].startswith("claims table")
    phases = [(row["model"], row["phase"]) for row in report["rows"]]
    assert len(phases) == 4 and {p for _, p in phases} == {"raw put_object", "ingest_files"}
    assert all(row["clientCpuMsPerInstance"] > 0 for row in report["rows"])
    assert report["clientCpuRatio"] > 0 and report["wallOverheadPercent"] is not None
