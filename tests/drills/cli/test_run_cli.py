"""`drkit run` (what `make demo` runs): scenarios validated first, the journal always written,
exit codes from the result; the two replication drills end to end on the embedded cloud."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from drills.cli import main
from drills.cli.run import run_drills
from drills.cloud.server import SimSettings
from drills.engine.journal import load, verify_chain
from drills.engine.scenario import resolve
from drills.project import find_project

REPO = Path(__file__).resolve().parents[3]


def _main(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def _outputs_file(tmp_path: Path) -> Path:
    from tests.drills.engine.conftest import outputs
    path = tmp_path / "outputs.json"
    outputs().write(path)
    return path


# ----------------------------------------------------------------------------- before anything runs

def test_an_invalid_scenario_exits_2_naming_the_field_and_writes_nothing(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    doc = yaml.safe_load((REPO / "drills/scenarios/region-failover.yaml").read_text())
    doc["method"][1]["arguments"]["region"] = "moon"
    bad.write_text(yaml.safe_dump(doc))
    code, _, err = _main(["run", str(bad), "--out", str(tmp_path / "run"), "--project-dir", str(REPO)], capsys)
    assert code == 2 and "method[1].arguments.region" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_aws_needs_outputs_and_allow_prod_for_disruptive_drills(tmp_path, capsys) -> None:
    code, _, err = _main(["run", "--target", "aws"], capsys)
    assert code == 2 and "--outputs" in err
    code, _, err = _main(["run", "region-failover", "--target", "aws", "--outputs", str(_outputs_file(tmp_path))],
                         capsys)
    assert code == 2 and "--allow-prod" in err


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(["run", "--target", "aws", "--outputs", str(_outputs_file(tmp_path)), "--allow-prod",
                            "--dry-run", "--json", "--project-dir", str(REPO)], capsys)
    assert code == 0, err
    plan = json.loads(out)["plan"]
    assert [p["scenario"] for p in plan] == ["region-failover", "replication-pause"]
    touches = [t for p in plan for s in p["steps"] for t in s["touches"]]
    assert any("SubmitMultiRegionAccessPointRoutes" in t for t in touches)
    assert any("drkit-test-archivebucket under drills/" in t for t in touches)     # drill prefix only
    assert "nothing was called that writes" in err
    assert not (tmp_path / "out").exists()


def test_scenarios_lists_the_built_ins_one_line_each(capsys) -> None:
    code, out, _ = _main(["scenarios"], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("region-failover ") and lines[1].startswith("replication-pause ")


# ----------------------------------------------------------------------------- end to end

@pytest.mark.slow
def test_drkit_run_passes_both_drills_on_the_dev_stack(tmp_path, capsys) -> None:
    code, out, err = _main(["run", "--out", str(tmp_path / "run"), "--project-dir", str(REPO), "--json",
                            "--studies", "4"], capsys)
    assert code == 0, err
    document = json.loads(out)
    assert document == load(tmp_path / "run" / "journal.json")
    assert verify_chain(document) == []
    assert document["target"]["kind"] == "embedded-simulated" and document["clock"] == "virtual"
    assert document["status"] == "completed" and document["exit_code"] == 0 and not document["deviated"]
    scenarios = {s["name"]: s for s in document["scenarios"]}
    assert set(scenarios) == {"region-failover", "replication-pause"}
    assert all(s["status"] == "passed" for s in scenarios.values())
    failover = {m["name"]: m for m in scenarios["region-failover"]["measurements"]}
    assert failover["rto"]["objective"] == 3600 and failover["rto"]["met"] and failover["rto"]["simulated"]
    assert failover["rpo"]["objective"] == 900 and failover["rpo"]["met"]
    assert {p["name"] for p in scenarios["region-failover"]["phases"]} >= {
        "detect", "fail over", "first study served", "all verified", "protection restored",
        "first study served (DICOMweb)", "all served (DICOMweb)"}
    pause = {m["name"]: m for m in scenarios["replication-pause"]["measurements"]}
    assert pause["detection_time"]["met"] and pause["convergence_time"]["met"]
    detection = [e for e in document["events"] if e["type"] == "detection"]
    assert detection and detection[0]["data"]["method"] in ("cloudwatch-alarm", "replication-status")
    caught_up = scenarios["replication-pause"]["method"][-1]["output"]
    assert caught_up["replicated"] == caught_up["written_during_fault"] == 8 and caught_up["unaccounted"] == 0
    assert document["scope"]["instances"] > 0 and document["scope"]["by_specialty"]
    assert "2.25." not in json.dumps(document)        # no DICOM UIDs (let alone patient data) in the journal
    assert "run dir:" in err


def _stack(tmp_path: Path, name: str, **changes: Any) -> Any:
    """A copy of the project whose stack ``name`` is dev with ``changes`` (drkit: keys)."""
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    for item in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / item, root / item)
    config = yaml.safe_load((REPO / "stacks/Pulumi.dev.yaml").read_text())
    for key, value in changes.items():
        merged = config["config"].get(f"drkit:{key}")
        config["config"][f"drkit:{key}"] = {**merged, **value} if isinstance(merged, dict) else value
    (root / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(config))
    return find_project(project_dir=root)


def _failover(tmp_path: Path, project: Any, stack: str, settings: SimSettings | None = None) -> tuple[int, dict]:
    run_dir = tmp_path / "run"
    code = run_drills(resolve(["region-failover"]), "20260101T000000Z-abcdef", run_dir, project, stack,
                      studies=3, settings=settings)
    document = load(run_dir / "journal.json")
    assert verify_chain(document) == []
    (scenario,) = document["scenarios"]
    return code, scenario


@pytest.mark.slow
def test_rtc_off_with_a_slow_replication_tail_breaches_the_rpo(tmp_path) -> None:
    project = _stack(tmp_path, "nortc", replication={"rtc": False})
    slow = SimSettings(seed=7, replication_lag={"tail_fraction": 0.6, "tail_min_seconds": 1800,
                                                "tail_max_seconds": 3600, "max_seconds": 3600})
    code, scenario = _failover(tmp_path, project, "nortc", slow)
    assert code == 1 and scenario["status"] == "failed"
    rpo = next(m for m in scenario["measurements"] if m["name"] == "rpo")
    assert rpo["met"] is False and rpo["value"] > 900 and rpo["detail"]["lost_count"] > 0
    assert all(item["label"].startswith(("canary-", "instance-")) for item in rpo["detail"]["lost"])
    assert scenario["steady_state_before"][0]["status"] == "passed"    # breached by the drill, not before it


@pytest.mark.slow
def test_an_impossible_rto_makes_region_failover_exit_1(tmp_path) -> None:
    project = _stack(tmp_path, "fastrto", objectives={"rtoMinutes": 1})
    code, scenario = _failover(tmp_path, project, "fastrto")
    assert code == 1
    measured = {m["name"]: m for m in scenario["measurements"]}
    assert measured["rto"]["objective"] == 60 and measured["rto"]["met"] is False
    assert measured["rpo"]["met"] is True


@pytest.mark.slow
def test_delete_marker_replication_off_is_seen_by_the_consistency_check(tmp_path) -> None:
    project = _stack(tmp_path, "nomarkers", replication={"deleteMarkers": False})
    code, scenario = _failover(tmp_path, project, "nomarkers")
    assert code == 1
    check = next(a for a in scenario["method"] if a["name"] == "dr-consistent-with-primary")
    assert check["status"] == "failed" and check["output"]["served_after_delete"] == 1
    assert any(f["code"] == "dr-serves-deleted-objects" for f in scenario["findings"])
