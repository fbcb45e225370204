"""`drkit run` (what `make demo` runs): scenarios validated first, the journal always written,
exit codes from the result; the two replication drills end to end on the embedded cloud."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from drills.cli import main
from drills.cli.run import run_drills
from drills.cloud.server import SimSettings
from drills.engine.journal import load, verify_chain
from drills.engine.scenario import builtin_names, resolve
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
    assert [p["scenario"] for p in plan] == builtin_names()
    assert {"region-failover", "replication-pause", "ransomware", "accidental-deletion"} <= set(builtin_names())
    touches = [t for p in plan for s in p["steps"] for t in s["touches"]]
    assert any("SubmitMultiRegionAccessPointRoutes" in t for t in touches)
    assert any("drkit-test-archivebucket under drills/" in t for t in touches)     # drill prefix only (canaries)
    assert "nothing was called that writes" in err
    assert not (tmp_path / "out").exists()


def test_scenarios_lists_the_built_ins_one_line_each(capsys) -> None:
    code, out, _ = _main(["scenarios"], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(builtin_names())
    assert [line.split()[0] for line in lines] == builtin_names()


# ----------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, Path]:
    """One ``drkit run`` in its own process, as ``make demo`` runs it (4 studies here): exit
    code, stdout (``--json``: the journal), stderr, run dir. Shared by the end-to-end tests."""
    run_dir = tmp_path_factory.mktemp("demo") / "runs" / "run"
    env = {k: v for k, v in os.environ.items() if k != "DRKIT_SIGNING_KEY"}
    env.update(PYTHONPATH=str(REPO), DRKIT_KEY_DIR=str(tmp_path_factory.mktemp("keys")))
    proc = subprocess.run([sys.executable, "-c", "from drills.cli import main; main()", "run", "--out", str(run_dir),
                           "--project-dir", str(REPO), "--json", "--studies", "4"],
                          env=env, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr, run_dir


def _verify(run_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", "from drills.cli import main; main()", "report", "verify",
                           str(run_dir)], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_drkit_run_passes_both_drills_on_the_dev_stack(demo_run) -> None:
    code, out, err, run_dir = demo_run
    assert code == 0, err
    document = json.loads(out)
    assert document == load(run_dir / "journal.json")
    assert verify_chain(document) == []
    assert document["target"]["kind"] == "embedded-simulated" and document["clock"] == "virtual"
    assert document["status"] == "completed" and document["exit_code"] == 0 and not document["deviated"]
    scenarios = {s["name"]: s for s in document["scenarios"]}
    assert set(scenarios) == set(builtin_names())
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
    # The embedded cloud evaluates the stack's alarms; the latency/pending ones are in the DR
    # region, where S3 publishes those metrics (S3 user guide, "Using S3 Replication metrics").
    assert detection and detection[0]["data"]["method"] == "cloudwatch-alarm"
    dr = "us-west-2"                                                    # stacks/Pulumi.dev.yaml drkit:drRegion
    assert detection[0]["data"]["alarms"] and all(a.startswith(f"{dr}/") for a in detection[0]["data"]["alarms"])
    back = [e for e in document["events"] if e["type"] == "alarms-back-to-ok"]
    assert back and back[0]["data"]["observed"] is True
    caught_up = scenarios["replication-pause"]["method"][-1]["output"]
    assert caught_up["replicated"] == caught_up["written_during_fault"] == 8 and caught_up["unaccounted"] == 0
    assert document["scope"]["instances"] > 0 and document["scope"]["by_specialty"]
    assert "2.25." not in json.dumps(document)        # no DICOM UIDs (let alone patient data) in the journal
    assert "run dir:" in err


@pytest.mark.slow
def test_drkit_run_records_the_ladder_config_in_force_plan_and_actor(demo_run) -> None:
    code, out, err, _ = demo_run
    document = json.loads(out)
    for key in ("steady_state_before", "steady_state_after", "ladder"):
        rungs = document[key]["rungs"]
        assert [r["rung"] for r in rungs] == list(range(1, 10)), key
        assert all(r["status"] == "passed" for r in rungs), (key, [r for r in rungs if r["status"] != "passed"])
    final = {e["data"]["rung"]: e for e in document["events"] if e["type"] == "rung"}
    assert sorted(final) == list(range(1, 10)) and all(e["data"]["phase"] == "final" for e in final.values())
    rows = document["config_in_force"]["resources"]
    checks = next(r for r in document["ladder"]["rungs"] if r["rung"] == 9)["counts"]["checks"]
    assert len(rows) >= len(checks) and not any(r["drift"] for r in rows)
    assert {"resource", "property", "declared", "observed", "drift"} == set(rows[0])
    archive = document["stack"]["outputs"]["archiveBucket"]
    assert {"resource": archive, "property": "object lock default retention mode", "declared": "GOVERNANCE",
            "observed": "GOVERNANCE", "drift": False} in rows
    assert document["plan"]["stack"] == "dev" and document["plan"]["restores"]
    activities = [a for s in document["scenarios"] for part in ("method", "rollbacks") for a in s[part]
                  if a["status"] != "skipped"]
    assert activities and {a["actor"] for a in activities} == {"embedded (moto test credentials)"}
    assert all(s["abort_conditions"] for s in document["scenarios"])
    assert "final verification: 9/9 rungs passed" in err


@pytest.mark.slow
def test_drkit_run_ends_with_signed_reports_that_verify_and_catch_one_flipped_byte(demo_run, tmp_path) -> None:
    """make demo ends by printing the report's path; ``drkit report verify`` on the run dir
    exits 0, and 1 once a single byte of the PDF is changed."""
    code, _, err, run_dir = demo_run
    assert code == 0, err
    for name in ("report.json", "report.html", "report.pdf", "manifest.json", "manifest.sig"):
        assert (run_dir / name).is_file(), name
    assert err.rstrip().splitlines()[-1] == f"report: {run_dir / 'report.pdf'}"
    assert f"report: {run_dir / 'report.html'}" in err
    report = json.loads((run_dir / "report.json").read_text())
    assert report["verdict"]["result"] == "passed" and report["data_integrity"]["headline"]["complete"]
    copy = tmp_path / "runs" / run_dir.name          # the shared run dir stays intact for other tests
    shutil.copytree(run_dir.parent, copy.parent)
    intact = _verify(copy)
    assert intact.returncode == 0, intact.stderr
    pdf = bytearray((copy / "report.pdf").read_bytes())
    pdf[len(pdf) // 2] ^= 0x01
    (copy / "report.pdf").write_bytes(bytes(pdf))
    altered = _verify(copy)
    assert altered.returncode == 1 and "report.pdf" in altered.stderr + altered.stdout


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


# ----------------------------------------------------------------------------- reports at the end of a run

def _finished_run(tmp_path: Path, code: int):
    from drills.engine.clock import WallClock
    from drills.engine.execute import RunJournal
    run_dir = tmp_path / "runs" / "run"
    rj = RunJournal("20260101T000000Z-abcdef", run_dir)
    rj.start(WallClock(), target={"kind": "embedded-simulated", "endpoint": None, "simulated": True})
    rj.finish("completed", code)
    return run_dir, rj


@pytest.mark.parametrize("drill_code, final_code", [(0, 3), (1, 1)])
def test_without_weasyprints_libraries_the_pdf_is_recorded_missing_and_the_rest_signed(
        tmp_path, monkeypatch, drill_code, final_code) -> None:
    """Missing system libraries: the journal says the PDF was not rendered, report.json and
    report.html are rendered and signed (verify exits 0), exit 3 unless the drill deviated."""
    import drills.reports
    from drills.cli.run import _render_reports
    from drills.errors import InfraError
    from drills.reports.verify import verify_run

    real = drills.reports.build_run_reports

    def no_pdf(run_dir, formats=("json", "html", "pdf"), key=None):
        if "pdf" in formats:
            raise InfraError("WeasyPrint cannot load its system libraries (libpango missing)")
        return real(run_dir, formats, key)

    monkeypatch.setattr(drills.reports, "build_run_reports", no_pdf)
    monkeypatch.setenv("DRKIT_KEY_DIR", str(tmp_path / "keys"))
    run_dir, rj = _finished_run(tmp_path, drill_code)
    code, paths = _render_reports(run_dir, rj, drill_code)
    assert code == final_code
    assert {p.name for p in paths} >= {"report.json", "report.html"} and not (run_dir / "report.pdf").exists()
    journal = load(run_dir / "journal.json")
    assert journal["exit_code"] == final_code and verify_chain(journal) == []
    (event,) = [e for e in journal["events"] if e["type"] == "reports-not-rendered"]
    assert event["data"]["formats"] == ["pdf"] and "libpango" in event["data"]["reason"]
    assert verify_run(run_dir).intact


def test_an_unusable_signing_key_leaves_the_run_unsigned_and_says_so(tmp_path, monkeypatch) -> None:
    from drills.cli.run import _render_reports
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    monkeypatch.setenv("DRKIT_SIGNING_KEY", str(bad))
    monkeypatch.setenv("DRKIT_KEY_DIR", str(tmp_path / "keys"))
    run_dir, rj = _finished_run(tmp_path, 0)
    code, paths = _render_reports(run_dir, rj, 0)
    assert code == 2 and paths == [] and not (run_dir / "manifest.sig").exists()
    journal = load(run_dir / "journal.json")
    assert journal["exit_code"] == 2 and journal["events"][-1]["type"] == "reports-not-rendered"


def _foreign_folder_key(folder: Path) -> None:
    """Someone else's folder: its signing-key.pub names a key whose private half is not here."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "signing-key.pub").write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def test_a_foreign_folder_key_after_the_cloud_stopped_is_recorded_on_the_held_virtual_clock(
        tmp_path, monkeypatch) -> None:
    """The reports are rendered after the embedded cloud stopped: the failure to sign is an
    event stamped with the virtual clock's last reading (simulated), not a crash (exit 3)."""
    from datetime import datetime, timedelta, timezone

    from drills.cli.run import _render_reports
    from drills.engine.clock import VirtualClock
    from drills.engine.execute import RunJournal
    from drills.errors import EndpointUnreachable

    class Control:
        now, up = datetime(2026, 1, 1, tzinfo=timezone.utc), True

        def advance(self, seconds: float) -> dict:
            if not self.up:
                raise EndpointUnreachable("the embedded cloud at http://127.0.0.1:1 does not answer")
            self.now += timedelta(seconds=seconds)
            return {"now": self.now.isoformat()}

    monkeypatch.setenv("DRKIT_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("DRKIT_SIGNING_KEY", raising=False)
    _foreign_folder_key(tmp_path / "runs")
    control = Control()
    run_dir = tmp_path / "runs" / "run"
    rj = RunJournal("20260101T000000Z-abcdef", run_dir)
    rj.start(VirtualClock(control), target={"kind": "embedded-simulated", "endpoint": None, "simulated": True})
    rj.clock.wait(600)
    rj.finish("completed", 0)
    rj.hold_clock()                                # what run_drills does before the cloud stops
    control.up = False
    code, paths = _render_reports(run_dir, rj, 0)
    assert code == 2 and paths == [] and not (run_dir / "manifest.json").exists()
    journal = load(run_dir / "journal.json")
    assert verify_chain(journal) == [] and journal["exit_code"] == 2 and journal["clock"] == "virtual"
    event = journal["events"][-1]
    assert event["type"] == "reports-not-rendered" and "private half is not on this machine" in event["data"]["reason"]
    assert event["time"] == journal["end"] == "2026-01-01T00:10:00.000Z"      # the last virtual reading


@pytest.mark.slow
def test_run_into_a_folder_signed_by_someone_else_exits_2_with_the_journal_intact(tmp_path, monkeypatch) -> None:
    """End to end: ``drkit run --out DIR`` where DIR's folder holds a foreign signing-key.pub."""
    monkeypatch.setenv("DRKIT_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("DRKIT_SIGNING_KEY", raising=False)
    _foreign_folder_key(tmp_path / "runs")
    run_dir = tmp_path / "runs" / "run"
    code = run_drills(resolve(["accidental-deletion"]), "20260101T000000Z-abcdef", run_dir,
                      find_project(project_dir=REPO), "dev", studies=2, sample=1)
    journal = load(run_dir / "journal.json")
    assert verify_chain(journal) == [] and journal["status"] == "completed"
    assert code == 2 and journal["exit_code"] == 2                # the drills passed; the key is the user's problem
    assert journal["events"][-1]["type"] == "reports-not-rendered"
    assert journal["events"][-1]["time"] == journal["end"]         # held virtual reading, no wall time
    assert not (run_dir / "manifest.json").exists()


def test_the_plan_is_not_included_without_a_project_and_says_why() -> None:
    from drills.cli.run import _plan
    assert "no Pulumi project" in _plan(None, "dev")["not_included"]
    assert _plan(find_project(project_dir=REPO), "dev")["stack"] == "dev"
