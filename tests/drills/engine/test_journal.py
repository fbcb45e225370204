"""The journal: strict JSON, hash-chained events, a verifier that catches an edited event."""

from __future__ import annotations

import copy
import json
import math

import pytest

from drills.engine.journal import GENESIS, Journal, canonical, event_hash, load, verify_chain


def _journal() -> Journal:
    times = iter(f"2026-01-01T00:00:0{n}.000Z" for n in range(10))
    journal = Journal("20260101T000000Z-abcdef", lambda: next(times))
    journal.event("run-started", data={"target": "embedded-simulated"})
    journal.event("activity-started", scenario="s", activity="a", data={"n": 1})
    journal.event("run-ended", data={"status": "completed"})
    return journal


def test_events_chain_from_genesis_and_verify(tmp_path) -> None:
    journal = _journal()
    events = journal.events
    assert events[0]["prev"] == GENESIS
    assert all(e["prev"] == p["hash"] for p, e in zip(events, events[1:]))
    assert all(e["hash"] == event_hash(e) for e in events)
    path = journal.write(tmp_path)
    document = load(path)
    assert document["schema"] == "drkit-journal/1"
    assert verify_chain(document) == []


def test_an_edited_event_breaks_the_chain(tmp_path) -> None:
    document = load(_journal().write(tmp_path))
    edited = copy.deepcopy(document)
    edited["events"][1]["data"]["n"] = 2
    assert verify_chain(edited) == ["event 1: hash does not match its content (edited?)"]
    # re-hashing the edited event does not help: the next event's prev no longer matches
    edited["events"][1]["hash"] = event_hash(edited["events"][1])
    assert verify_chain(edited) == ["event 2: prev does not match the hash of event 1"]


def test_a_removed_event_breaks_the_chain(tmp_path) -> None:
    document = load(_journal().write(tmp_path))
    del document["events"][1]
    problems = verify_chain(document)
    assert problems and problems[0].startswith("event 1")


def test_an_empty_chain_does_not_verify() -> None:
    assert verify_chain({"events": []}) == ["the journal has no events"]


def test_strict_json_refuses_nan_and_unencodable_values(tmp_path) -> None:
    journal = _journal()
    with pytest.raises(ValueError):
        journal.event("measurement", data={"value": math.nan})
    with pytest.raises(TypeError):
        journal.event("measurement", data={"value": object()})
    assert len(journal.events) == 3                      # nothing half-appended
    (tmp_path / "j.json").write_text('{"value": NaN}')
    with pytest.raises(ValueError):
        load(tmp_path / "j.json")


def test_canonical_form_is_sorted_compact_utf8() -> None:
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode("utf-8")
    assert json.loads(canonical({"x": [1, 2]})) == {"x": [1, 2]}
