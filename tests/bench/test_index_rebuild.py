"""bench.index_rebuild reads the index-loss scenario's figures from a run journal."""

from __future__ import annotations

import pytest

from bench.index_rebuild import JournalError, combine, rebuild_figures, table


def _rebuild(source: str, items: int, header: int, objects: int, worst: float) -> tuple[dict, list[dict]]:
    activity = {"name": f"rebuild-{source}", "provider": "rebuild-index", "status": "passed",
                "output": {"source": source, "items": items, "unreadable": 0, "header_bytes": header,
                           "object_bytes": objects}}
    measurements = [
        {"name": "rebuild_time", "value": 0.0, "simulated": True,
         "detail": {"source": source, "items": items, "note": "reads take no time on the virtual clock"}},
        {"name": "header_bytes_ratio", "value": round(header / objects, 4), "simulated": True, "unit": "ratio",
         "detail": {"source": source, "header_bytes": header, "object_bytes": objects,
                    "per_instance_bytes": round(header / items, 1), "worst_instance_ratio": worst}},
    ]
    return activity, measurements


def _journal(*sources: str) -> dict:
    method, measurements = [{"name": "index-before", "provider": "index-snapshot", "output": {"items": 4}}], []
    for n, source in enumerate(sources):
        activity, measured = _rebuild(source, 4, 1000 * (n + 1), 8000, 0.5)
        method.append(activity)
        measurements += measured
    measurements.append({"name": "rpo", "value": 3.0, "detail": {}})          # another drill's measure: ignored
    return {"scenarios": [{"name": "ransomware", "method": [], "measurements": []},
                          {"name": "index-loss", "method": method, "measurements": measurements}]}


def test_reads_each_rebuild_source_from_activities_and_measurements() -> None:
    figures = rebuild_figures(_journal("primary", "dr"))
    assert sorted(figures) == ["dr", "primary"]
    primary = figures["primary"]
    assert primary["instances"] == 4
    assert primary["headerBytes"] == 1000 and primary["objectBytes"] == 8000
    assert primary["meanObjectBytes"] == 2000.0
    assert primary["headerBytesPerInstance"] == 250.0
    assert primary["ratio"] == 0.125 and primary["worstInstanceRatio"] == 0.5
    assert primary["rebuildTimeSimulatedS"] == 0.0 and primary["rebuildTimeSimulated"] is True
    assert figures["dr"]["headerBytes"] == 2000


def test_missing_scenario_or_measurement_is_a_clear_error() -> None:
    with pytest.raises(JournalError, match="no index-loss scenario"):
        rebuild_figures({"scenarios": [{"name": "ransomware", "method": [], "measurements": []}]})
    journal = _journal("primary")
    journal["scenarios"][1]["measurements"] = [m for m in journal["scenarios"][1]["measurements"]
                                               if m["name"] != "header_bytes_ratio"]
    with pytest.raises(JournalError, match="primary rebuild recorded no"):
        rebuild_figures(journal)
    journal = _journal()
    with pytest.raises(JournalError, match="no rebuild-index step"):
        rebuild_figures(journal)


def test_combine_adds_wall_time_and_requests_per_instance_only_when_measured() -> None:
    figures = rebuild_figures(_journal("primary", "dr"))
    timings = {"primary": {"wallS": 1.5, "calls": {"GetObject": 8, "HeadObject": 4, "PutItem": 4},
                           "rangedGetBytes": 1000, "objectsReadWhole": 1}}
    rows = combine(figures, timings)
    assert rows["primary"]["rangedGetsPerInstance"] == 2.0 and rows["primary"]["headsPerInstance"] == 1.0
    assert rows["primary"]["wallS"] == 1.5 and rows["primary"]["rangedGetBytes"] == 1000
    assert rows["dr"]["wallS"] is None and rows["dr"]["rangedGetsPerInstance"] is None
    text = table([{"dataSet": "default data set", "sources": rows}])
    assert "equal to the journal's header bytes" in text and "1 of 4 objects read whole" in text
