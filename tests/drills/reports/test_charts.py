"""Charts: matplotlib PNGs embedded as data: URIs, drawn only when the journal has the data."""

from __future__ import annotations

import base64
import copy

from drills.reports import charts, history
from drills.reports.canonical import canonical, sha256_hex
from drills.reports.journal import check_chain
from drills.reports.model import build_report
from tests.drills.reports import journals

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def report_of(journal: dict, folder: history.Folder | None = None) -> dict:
    return build_report(journal, chain=check_chain(journal["events"]), journal_sha256=sha256_hex(canonical(journal)),
                        folder=folder or history.Folder(), integrity_inputs={}, artifacts=[])


def decode(uri: str) -> bytes:
    assert uri.startswith("data:image/png;base64,")
    return base64.b64decode(uri.split(",", 1)[1])


def test_all_four_charts_with_history(failing, passing, tmp_path):
    folder = history.Folder(runs=[history.Sibling(tmp_path / "a", passing)])
    drawn = charts.render_all(report_of(failing, folder))
    assert set(drawn) == {"lag", "timeline", "objectives", "trend"}
    for name, uri in drawn.items():
        png = decode(uri)
        assert png.startswith(PNG_MAGIC) and len(png) > 5000, name


def test_no_data_no_chart(passing):
    journal = copy.deepcopy(passing)
    for scenario in journal["scenarios"]:
        scenario.pop("replication_lag_s", None)
        scenario["measurements"] = [m for m in scenario["measurements"] if m["objective"] is None]
        scenario["phases"] = []
        for part in ("steady_state_before", "method", "rollbacks", "steady_state_after"):
            scenario[part] = []
    report = report_of(journals.seal(journal))
    assert charts.render_all(report) == {"lag": None, "timeline": None, "objectives": None, "trend": None}
