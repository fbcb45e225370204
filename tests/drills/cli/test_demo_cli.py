"""`drkit demo` (what `make demo` runs) end to end on the embedded cloud."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.cli import main

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_demo_deploys_ingests_and_verifies_every_instance_in_the_replica(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--studies", "3", "--seed", "3", "--out", str(tmp_path / "demo"),
              "--project-dir", str(REPO), "--json"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    document = json.loads(out)
    assert document["target"] == "embedded-simulated"
    assert "pulumi up did not run" in document["engine"]
    archived = document["ingest"]["counts"]["archived"]
    assert archived == document["dataset"]["instances"] > 0
    replica = document["replication"]["replica"]
    assert replica == {"checked": archived, "verified": archived, "missing": 0, "mismatched": 0,
                       "sourceNotCompleted": 0}
    assert document["replication"]["label"] == "simulated"
    # the one non-DICOM file sent through the landing pipeline is quarantined, not lost
    assert document["pipeline"]["quarantined"] == 1
    # re-sent instances are duplicates: idempotent ingest writes no new version
    assert document["pipeline"]["newArchiveVersions"] == 0
    # index items: the ingest core's plus the pipeline's archived samples, synced to the DR table
    primary, dr = document["index"]["items"].values()
    assert primary == dr >= archived
    assert json.loads((tmp_path / "demo" / "demo.json").read_text())["verdict"] == "verified"
    assert (tmp_path / "demo" / "outputs.json").is_file()


def test_demo_refuses_a_file_as_out(tmp_path: Path, capsys) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(target), "--project-dir", str(REPO)])
    assert exit_info.value.code == 2
    assert "is a file" in capsys.readouterr().err
