"""`drkit verify`: exit codes, JSON on stdout, the table and findings on stderr."""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from drills.cli import main
from drills.cloud.server import EmbeddedCloud
from drills.deploy.engine import deploy
from drills.ingest.batch import ingest_files
from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.sources import collect
from drills.ingest.summary import IngestSummary
from drills.project import find_project
from drills.synth.dataset import generate

REPO = Path(__file__).resolve().parents[3]


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", *args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_unknown_rung_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "--rung", "bogus", "--project-dir", str(REPO))
    assert code == 2 and "unknown ladder rung 'bogus'" in err


def test_endpoint_without_outputs_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "--endpoint", "http://127.0.0.1:9", "--project-dir", str(REPO))
    assert code == 2 and "--outputs" in err


def test_missing_outputs_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "--endpoint", "http://127.0.0.1:9", "--outputs", str(tmp_path / "none.json"))
    assert code == 2 and "no such outputs file" in err


def test_an_endpoint_that_does_not_answer_is_an_infrastructure_error(tmp_path: Path, capsys) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({
        "schemaVersion": 1, "primaryRegion": "us-east-1", "drRegion": "us-west-2", "archiveBucket": "a",
        "replicaBucket": "r", "landingBucket": "l", "indexTable": "t", "backupVault": "v", "drBackupVault": "dv",
        "evidenceBucket": "e", "multiRegionAccessPoint": "m",
        "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 4}}))
    code, out, err = run(capsys, "--endpoint", "http://127.0.0.1:9", "--outputs", str(outputs))
    assert code == 3 and "does not answer" in err and out == ""


def test_negative_sample_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "--sample", "-1")
    assert code == 2 and "--sample" in err


def test_unknown_stack_is_a_usage_error_before_any_cloud_starts(capsys) -> None:
    code, _, err = run(capsys, "--stack", "nosuch", "--project-dir", str(REPO))
    assert code == 2 and "unknown stack 'nosuch'" in err


@pytest.mark.slow
def test_with_no_target_it_deploys_ingests_and_passes_every_rung(capsys) -> None:
    code, out, err = run(capsys, "--studies", "2", "--project-dir", str(REPO), "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["target"] == "embedded-simulated" and document["simulated"] is True
    assert [r["rung"] for r in document["rungs"]] == list(range(1, 10))
    assert {r["status"] for r in document["rungs"]} == {"passed"}
    assert "verdict: passed" in err


@pytest.mark.slow
def test_against_a_running_cloud_a_drifted_rule_exits_1_naming_it(tmp_path: Path, capsys) -> None:
    project = find_project(project_dir=REPO)
    with EmbeddedCloud() as cloud:
        outputs = deploy(project, "dev", cloud.target, cloud.sim).outputs
        outputs.write(tmp_path / "outputs.json")
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp) / "d", 2, 3)
            dest = IngestDestination.from_outputs(outputs, cloud.target)
            ingest_files(Ingestor(dest, Pseudonymizer.from_secret(cloud.target, dest.region)),
                         collect([Path(tmp) / "d"], exclude=["manifest.json"]).files, IngestSummary(simulated=True), 4)
        cloud.clock.advance(timedelta(minutes=20))
        args = ("--endpoint", cloud.endpoint, "--outputs", str(tmp_path / "outputs.json"), "--project-dir", str(REPO))
        code, out, err = run(capsys, *args, "--json")
        assert code == 0, err
        s3 = cloud.target.client("s3", outputs.primaryRegion)
        config = s3.get_bucket_replication(Bucket=outputs.archiveBucket)["ReplicationConfiguration"]
        next(r for r in config["Rules"] if r["ID"] == "dicom")["DeleteMarkerReplication"] = {"Status": "Disabled"}
        s3.put_bucket_replication(Bucket=outputs.archiveBucket, ReplicationConfiguration=config)
        code, out, err = run(capsys, *args, "--rung", "9", "--json")
    assert code == 1
    (rung,) = json.loads(out)["rungs"]
    assert rung["status"] == "failed"
    (finding,) = rung["findings"]
    assert finding["code"] == "drift-replication-delete-markers"
    assert finding["resource"] == f"{outputs.archiveBucket} replication rule 'dicom'"
    assert "replication-delete-markers" in err and outputs.archiveBucket in err
