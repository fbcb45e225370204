"""A report from a real ``drkit run`` journal with the verification ladder wired in
(``drkit run --studies 4``, kept as ``data/wired_run_journal.json``): the ladder before, after
and final, the configuration in force, the plan, the actor of each activity and the abort
conditions reach the report exactly as the journal has them, and the verdict is the run's."""

from __future__ import annotations

import html as html_module
import json
import re
import shutil
from pathlib import Path

import pytest

from drills.reports.journal import check_chain
from drills.reports.render import render_run

DATA = Path(__file__).parent / "data" / "wired_run_journal.json"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, str]:
    run_dir = tmp_path_factory.mktemp("wired") / "runs" / "run1"
    run_dir.mkdir(parents=True)
    shutil.copy(DATA, run_dir / "journal.json")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRKIT_KEY_DIR", str(tmp_path_factory.mktemp("keys")))
        render_run(run_dir, ("json", "html"))
    journal = json.loads(DATA.read_text())
    report = json.loads((run_dir / "report.json").read_text())
    text = html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (run_dir / "report.html").read_text())))
    return journal, report, text


def test_the_verdict_is_the_runs(rendered) -> None:
    journal, report, _ = rendered
    assert check_chain(journal["events"]).intact
    assert journal["exit_code"] == 0 and report["verdict"]["result"] == "passed"
    assert report["integrity"]["journal_attached"]          # nothing in the wired journal looks like PHI
    headline = report["data_integrity"]["headline"]
    assert headline["complete"] and headline["verified"] == headline["in_scope"] == journal["scope"]["instances"]


def test_every_ladder_pass_is_shown_rung_by_rung(rendered) -> None:
    journal, report, _ = rendered
    for key, shown in (("ladder", "ladder"), ("steady_state_before", "steady_state_before"),
                       ("steady_state_after", "steady_state_after")):
        rungs = journal[key]["rungs"]
        assert [(r["rung"], r["name"], r["status"]) for r in rungs] == \
            [(r["rung"], r["name"], r["status"]) for r in report["data_integrity"][shown]]
    rung9 = next(r for r in report["data_integrity"]["ladder"] if r["rung"] == 9)
    assert "section 4" in rung9["counts"]["checks"]          # rows shown once, in the configuration table


def test_the_configuration_in_force_is_the_journals(rendered) -> None:
    journal, report, text = rendered
    rows = journal["config_in_force"]["resources"]
    assert rows and report["configuration"]["rows"] == rows
    assert report["configuration"]["drift_count"] == 0
    assert "0 properties drifted" in text
    evidenced = {c["id"]: c for c in report["controls"]}
    assert evidenced["BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK"]["status"] == "evidenced"
    assert evidenced["17a-4(f)"]["status"].startswith("not applicable: the archive's Object Lock mode in force is "
                                                      "GOVERNANCE")


def test_rungs_are_cited_by_their_final_ladder_events(rendered) -> None:
    journal, report, _ = rendered
    final = {e["data"]["rung"]: e["seq"] for e in journal["events"] if e["type"] == "rung"}
    cited = [e for c in report["controls"] if c["id"] == "A1.3" for e in c["evidence"] if e["what"] in
             {r["name"] for r in journal["ladder"]["rungs"]}]
    assert cited and all(e["event"] == final[next(r["rung"] for r in journal["ladder"]["rungs"]
                                                  if r["name"] == e["what"])] for e in cited)


def test_actor_plan_and_abort_conditions_come_from_the_journal(rendered) -> None:
    journal, report, text = rendered
    ran = [a for a in report["timeline"]["activities"] if a["status"] != "skipped"]
    assert ran and {a["actor"] for a in ran} == {"embedded (moto test credentials)"}
    assert report["plan"]["included"] and report["plan"]["summary"]["stack"] == journal["plan"]["stack"]
    for scenario, shown in zip(journal["scenarios"], report["objectives"]["scenarios"]):
        assert shown["abort_conditions"] == scenario["abort_conditions"]
    assert "none recorded in the journal" not in text
