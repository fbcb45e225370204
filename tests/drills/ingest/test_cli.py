"""``drkit ingest``: exit codes, the --json summary, DICOMDIR and folders, end to end on moto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


from .conftest import build_dataset, to_bytes
from .conftest import write_fileset

REPO = Path(__file__).resolve().parents[3]


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
    assert code == 2 and "does not exist in ap-south-1" in err
    del document["hashKeySecretArn"]          # a version 1 document: found by tag, and not there
    outputs.write_text(json.dumps(document | {"schemaVersion": 1}))
    code, _, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), str(dataset_dir))
    assert code == 2 and "phi-hash-key" in err


def test_unwritable_out_is_refused_before_any_work(ingest_env, shared_target, dataset_dir: Path, tmp_path: Path,
                                                   drkit) -> None:
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    code, _, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), "--out",
                        str(tmp_path / "no-such-dir" / "r.json"), str(dataset_dir))
    assert code == 2 and "does not exist" in err
    assert not ingest_env.index_items(), "nothing was ingested"


def test_stack_is_not_a_report_label_and_refused_entries_exit_2(ingest_env, shared_target, dataset_dir: Path,
                                                               tmp_path: Path, drkit) -> None:
    import os
    os.mkfifo(dataset_dir / "pipe.dcm")
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    code, out, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), "--json", "--stack", "prod",
                          str(dataset_dir))
    summary = json.loads(out)
    assert code == 2 and "refused: inbox/pipe.dcm: a FIFO" in err
    assert "ignores --stack" in err and "stack" not in summary["destination"]
    assert summary["refused"] == [{"source": "inbox/pipe.dcm", "reason": "a FIFO, not a regular file: not opened",
                                   "refused": True}]
    assert summary["counts"]["archived"] == 5


def test_progress_lines_when_stderr_is_not_a_terminal() -> None:
    import io

    from drills.cli.ingest import ProgressLines
    from drills.ingest.summary import IngestSummary

    stream, now = io.StringIO(), [0.0]
    progress = ProgressLines(stream, IngestSummary(simulated=True), every=10, clock=lambda: now[0])
    for done, at in ((1, 1.0), (2, 5.0), (3, 12.0), (4, 13.0), (5, 14.0)):
        now[0] = at
        progress(done, 5)
    lines = stream.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == ["ingest: 3/5", "ingest: 5/5"]   # every 10 s, and the end


def test_piped_ingest_prints_progress_lines(ingest_env, shared_target, dataset_dir: Path, tmp_path: Path,
                                           drkit) -> None:
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    code, _, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), str(dataset_dir))
    assert code == 0 and "ingest: 7/7 (100%)" in err


def test_an_empty_folder_is_a_warning_not_a_silent_archived_0(ingest_env, shared_target, tmp_path: Path,
                                                               drkit) -> None:
    (tmp_path / "empty").mkdir()
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    code, out, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), "--json", str(tmp_path / "empty"))
    assert code == 0 and "warning: nothing to ingest" in err
    assert any("nothing to ingest" in w for w in json.loads(out)["warnings"])
