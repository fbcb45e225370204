"""``drkit ingest``: exit codes, the --json summary, DICOMDIR and folders, end to end on moto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


from .conftest import build_dataset, to_bytes
from .test_sources import write_fileset

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def shared_target(ingest_env, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--target aws`` resolves as usual, then reuses the session's moto Target (its boto3
    clients are built already; moto intercepts them either way)."""
    import drills.cli.common as command

    real = command.resolve_target

    def resolve(target: str, endpoint: str | None):
        resolved = real(target, endpoint)
        return ingest_env.target if not resolved.simulated else resolved

    monkeypatch.setattr(command, "resolve_target", resolve)


@pytest.fixture
def dataset_dir(tmp_path: Path, malformed) -> Path:
    root = tmp_path / "inbox"
    (root / "ct").mkdir(parents=True)
    for i in range(3):
        (root / "ct" / f"{i}.dcm").write_bytes(to_bytes(build_dataset()))
    (root / "junk.txt").write_bytes(malformed["not-dicom-text"][1])
    (root / "cut.dcm").write_bytes(malformed["truncated-pixel-data"][1])
    write_fileset(root / "media", count=2)
    return root


def test_nonexistent_path_exits_2_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-study"
    done = subprocess.run(
        [sys.executable, "-c", "from drills.cli import main; main()", "ingest", str(missing)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert done.returncode == 2
    assert str(missing) in done.stderr and "no such file or directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_embedded_without_endpoint_explains_what_is_needed(drkit, tmp_path: Path) -> None:
    code, _, err = drkit("ingest", str(tmp_path))
    assert code == 2
    assert "--endpoint" in err and "drkit cloud serve" in err and "--outputs" in err and "drkit up" in err


def test_aws_target_without_outputs_exits_2(drkit, tmp_path: Path) -> None:
    code, _, err = drkit("ingest", "--target", "aws", str(tmp_path))
    assert code == 2 and "--outputs" in err


def test_ingest_folder_with_dicomdir_json_summary(drkit, ingest_env, shared_target, dataset_dir: Path, tmp_path: Path) -> None:
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    report = tmp_path / "report.json"
    code, out, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), "--json", "--workers", "3",
                          "--out", str(report), str(dataset_dir))
    assert code == 0, err
    summary: dict[str, Any] = json.loads(out)
    assert summary["counts"] == {"archived": 5, "duplicate": 0, "conflict": 0, "quarantined": 2, "failed": 0}
    assert summary["quarantinedByReason"] == {"not-dicom": 1, "truncated": 1}
    assert summary["inputs"] == 7 and summary["exitCode"] == 0
    assert summary["destination"]["archiveBucket"] == ingest_env.archive_bucket
    assert summary["rates"]["instancesPerSecond"] > 0 and summary["rates"]["label"]
    assert {p["source"] for p in summary["problems"]} == {"inbox/junk.txt", "inbox/cut.dcm"}
    assert "quarantined" in err and "archived 5" in err
    full = json.loads(report.read_text())
    assert len(full["results"]) == 7
    assert len(ingest_env.index_items()) == 5

    code, out, _ = drkit("ingest", "--target", "aws", "--outputs", str(outputs), "--json",
                        "--exclude", "*.txt", str(dataset_dir))
    assert code == 0
    again = json.loads(out)
    assert again["counts"]["duplicate"] == 5 and again["counts"]["archived"] == 0
    assert again["counts"]["quarantined"] == 1 and again["excluded"] == 1


def test_dicomdir_with_missing_reference_exits_2(drkit, ingest_env, shared_target, tmp_path: Path) -> None:
    dicomdir = write_fileset(tmp_path / "media", count=2)
    sorted((tmp_path / "media").rglob("IM*"))[0].unlink()
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    code, out, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), "--json", str(dicomdir))
    assert code == 2
    summary = json.loads(out)
    assert summary["counts"]["archived"] == 1 and len(summary["missingFromDicomdir"]) == 1
    assert "missing:" in err


def test_infrastructure_failure_exits_3(drkit, ingest_env, shared_target, dataset_dir: Path, tmp_path: Path) -> None:
    document = ingest_env.outputs().to_dict() | {"indexTable": "no-such-table"}
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(document))
    code, out, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), "--json", "--workers", "1",
                          str(dataset_dir))
    assert code == 3
    summary = json.loads(out)
    assert summary["counts"]["failed"] >= 1 and summary["failures"][0]["kind"] == "infrastructure"
    assert summary["inputs"] == 7
    assert "ResourceNotFoundException" in err


def test_missing_hash_key_secret_exits_2(drkit, ingest_env, shared_target, dataset_dir: Path, tmp_path: Path) -> None:
    document = ingest_env.outputs().to_dict() | {"primaryRegion": "ap-south-1"}
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(document))
    code, _, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), str(dataset_dir))
    assert code == 2 and "phi-hash-key" in err
