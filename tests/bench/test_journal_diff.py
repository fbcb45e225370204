"""bench/journal_diff.py: differences between two journals, without run ids, hashes and times."""

import json

from bench.journal_diff import differences, main, meaningful


def _journal(status: str = "passed", lost: int = 10) -> dict:
    return {"run_id": "r1", "start": "2026-11-30T10:00:00Z",
            "events": [{"hash": "aa", "prev": "00", "time": "t1", "data": {"lost_bytes": lost}}],
            "scenarios": [{"name": "s", "status": status, "start": "x", "findings": [{"code": "c"}]}]}


def test_only_run_ids_hashes_and_times_differ_is_no_difference() -> None:
    other = _journal()
    other.update(run_id="r2", start="2026-11-30T11:00:00Z")
    other["events"][0].update(hash="bb", prev="11", time="t2")
    assert meaningful(differences(_journal(), other)) == []


def test_status_figure_and_findings_differences_are_reported() -> None:
    other = _journal(status="failed", lost=11)
    other["scenarios"][0]["findings"].append({"code": "d"})
    got = {path for path, _, _ in meaningful(differences(_journal(), other))}
    assert got == {"/events[0]/data/lost_bytes", "/scenarios[0]/status", "/scenarios[0]/findings/<length>"}


def test_exit_codes(tmp_path) -> None:
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_text(json.dumps(_journal()))
    b.write_text(json.dumps(_journal()))
    c.write_text(json.dumps(_journal(status="failed")))
    assert main([str(a), str(b)]) == 0
    assert main([str(a), str(c)]) == 1
    assert main([str(a), str(tmp_path / "missing.json")]) == 2
