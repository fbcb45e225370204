"""bench.repair_scale runs `drkit repair`'s reconciliation source end to end on a tiny pair of
inventory reports, and fails (exit 1) when the manifest is not exactly the planted versions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.repair_scale import check_manifest
from tests.helpers.paths import REPO_ROOT


def _bench(workdir: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.repair_scale", "--rows", "2000", "--per-kind", "5",
                           "--workdir", str(workdir), "--json", str(out)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)


def test_the_benchmark_finds_every_planted_version_in_the_manifest_and_fails_when_one_is_not(tmp_path: Path) -> None:
    done = _bench(tmp_path / "work", tmp_path / "repair.json")
    assert done.returncode == 0, done.stdout + done.stderr
    run = json.loads((tmp_path / "repair.json").read_text())["results"][0]
    assert run["exitCode"] == 0 and run["everyPlantedDefectInManifest"]
    assert (run["memoryLimit"], run["threads"]) == ("64MB", 1)              # drkit repair's defaults
    assert run["manifest"]["manifestRows"] == run["manifest"]["planted"] == 10     # 5 missing + 5 FAILED
    assert run["manifest"]["notPlanted"] == 0 and run["manifest"]["failedTasks"] == 0
    assert run["peakRssMB"] > 0 and run["cpuSeconds"] >= 0
    assert set(run["stages"]) == {"planSeconds", "writeSeconds", "compareSeconds"}
    assert "10/10" in done.stdout

    planted_file = tmp_path / "work" / "pair-2000" / "planted.json"      # reused by the next run
    planted = json.loads(planted_file.read_text())
    planted["missing"][0] = "dicom/2.25.9/2.25.9/2.25.9999.dcm@not-in-the-reports"
    planted_file.write_text(json.dumps(planted))
    again = _bench(tmp_path / "work", tmp_path / "again.json")
    assert again.returncode == 1, again.stdout + again.stderr
    checks = json.loads((tmp_path / "again.json").read_text())["results"][0]["manifest"]
    assert (checks["missingFromManifest"], checks["notPlanted"], checks["ok"]) == (1, 1, False)


def test_check_manifest_counts_absent_foreign_and_duplicate_rows(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("archive-bucket,dicom/a+b.dcm,v1\narchive-bucket,dicom/c.dcm,v2\n"
                        "archive-bucket,dicom/c.dcm,v2\narchive-bucket,dicom/x.dcm,v9\n")
    result = {"batches": [{"kind": "replicate", "side": "archive", "versions": 4, "manifest": str(manifest),
                           "failedTasks": 0}]}
    planted = {"missing": ["dicom/a b.dcm@v1", "dicom/c.dcm@v2"], "failed": ["dicom/d.dcm@v3"]}
    got = check_manifest(result, planted)
    assert (got["planted"], got["manifestRows"], got["missingFromManifest"], got["notPlanted"],
            got["duplicateRows"], got["ok"]) == (3, 4, 1, 1, 1, False)
    manifest.write_text("archive-bucket,dicom/a+b.dcm,v1\narchive-bucket,dicom/c.dcm,v2\n"
                        "archive-bucket,dicom/d.dcm,v3\n")
    result["batches"][0]["versions"] = 3
    assert check_manifest(result, planted)["ok"]
    result["batches"][0]["failedTasks"] = 1
    assert not check_manifest(result, planted)["ok"]
