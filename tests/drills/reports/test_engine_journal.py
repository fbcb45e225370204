"""A report from a real ``drkit run`` journal: the engine branch's run of region-failover and
replication-pause on the embedded cloud (commit e799f78, ``drkit run --out …``), kept as
``data/engine_run_journal.json``. Its hash chain checks with the reports' own code, and every
figure the report shows is the journal's."""

from __future__ import annotations

import html as html_module
import json
import re
import shutil
from pathlib import Path

import pytest

from drills.reports.html import show
from drills.reports.journal import check_chain, load_journal
from drills.reports.render import render_run
from drills.reports.verify import verify_run

DATA = Path(__file__).parent / "data" / "engine_run_journal.json"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict, str]:
    run_dir = tmp_path_factory.mktemp("engine") / "runs" / "run1"
    run_dir.mkdir(parents=True)
    shutil.copy(DATA, run_dir / "journal.json")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRKIT_KEY_DIR", str(tmp_path_factory.mktemp("keys")))
        render_run(run_dir, ("json", "html"))
    journal = json.loads(DATA.read_text())
    report = json.loads((run_dir / "report.json").read_text())
    text = html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (run_dir / "report.html").read_text())))
    return run_dir, journal, report, text


def test_the_engines_chain_checks_with_the_reports_code(rendered):
    run_dir, journal, report, _ = rendered
    assert load_journal(run_dir)["run_id"] == journal["run_id"]
    chain = check_chain(journal["events"])
    assert chain.intact and chain.head == journal["events"][-1]["hash"]
    assert report["integrity"]["journal_chain_intact"] is True
    assert verify_run(run_dir).intact


def test_every_measurement_phase_and_finding_is_the_journals(rendered):
    _, journal, report, text = rendered
    for scenario, shown in zip(journal["scenarios"], report["scenarios"]):
        assert shown["name"] == scenario["name"] and shown["status"] == scenario["status"]
        for m, r in zip(scenario["measurements"], shown["measurements"]):
            assert (r["name"], r["value"], r["unit"], r["objective"], r["met"]) == \
                (m["name"], m["value"], m["unit"], m["objective"], m["met"])
            assert f"{show(m['value'])} {m['unit']}" in text
        for p, r in zip(scenario["phases"], shown["phases"]):
            assert (r["name"], r["start"], r["end"], r["duration_s"]) == (p["name"], p["start"], p["end"], p["duration_s"])
            assert f"{p['name']} {p['start']} {p['end']} {show(p['duration_s'])}" in text
    assert [f["code"] for f in report["findings"]] == [f["code"] for f in journal["findings"]]
    assert report["scope"]["totals"]["instances"] == journal["scope"]["instances"]
    assert f"{journal['scope']['instances']:,}" in text


def test_what_the_journal_lacks_is_said(rendered):
    """This engine run predates the ladder's integration: no final rungs, no configuration in force."""
    _, journal, report, text = rendered
    assert not (journal.get("ladder") or {}).get("rungs") and not journal.get("config_in_force")
    assert report["verdict"]["result"] == "not verified"                 # scenarios passed; integrity unverified
    assert "No verification rung reported a count of verified instances" in text
    assert "The journal records no configuration in force: not verified." in text
