"""bench.run_e2e reads a run's journal and splits a round's wall time into stages."""

from __future__ import annotations

from bench.run_e2e import stage_table, summarise


def test_summarise_counts_every_scenario_and_each_ladder_pass() -> None:
    rungs = lambda *s: {"rungs": [{"status": x} for x in s]}     # noqa: E731
    journal = {"exit_code": 1, "duration_s": 12.5, "scope": {"instances": 85},
               "scenarios": [{"name": n, "status": st} for n, st in
                             [("region-failover", "passed"), ("ransomware", "passed"), ("index-loss", "deviated")]],
               "steady_state_before": rungs("passed", "passed"), "steady_state_after": rungs("passed", "failed"),
               "ladder": rungs("not_verified")}
    got = summarise(journal)
    assert got["scenarios"] == {"region-failover": "passed", "ransomware": "passed", "index-loss": "deviated"}
    assert got["scenarios_passed"] == "2/3"
    assert got["ladder"] == {"steady_state_before": "2/2 passed", "steady_state_after": "1/2 passed",
                             "ladder": "0/1 passed"}
    assert got["journal_exit_code"] == 1 and got["simulated_s"] == 12.5 and got["instances"] == 85


def test_stage_table_keeps_activities_out_of_the_sum_and_reports_the_rest() -> None:
    stages = [{"stage": "deploy", "name": "deploy", "wall_s": 10.0, "cpu_s": 6.0},
              {"stage": "activity", "name": "a/x", "wall_s": 3.0, "cpu_s": 1.0},
              {"stage": "activity", "name": "a/y", "wall_s": 4.0, "cpu_s": 2.0},
              {"stage": "scenario", "name": "a", "wall_s": 8.0, "cpu_s": 3.5}]
    got = stage_table(stages, 20.0)
    assert [s["name"] for s in got["stages"]] == ["deploy", "a"]
    assert [s["cpu_s"] for s in got["stages"]] == [6.0, 3.5]
    assert got["other_s"] == 2.0
    assert [a["name"] for a in got["slowest_activities"]] == ["a/y", "a/x"]
