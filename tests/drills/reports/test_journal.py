"""The journal's event hash chain (JOURNAL.md): recomputed, and the first broken event named."""

from __future__ import annotations

import copy

from drills.reports.journal import check_chain, event_hash


def test_intact_chain(passing):
    chain = check_chain(passing["events"])
    assert chain.intact and chain.events == len(passing["events"]) and chain.head == passing["events"][-1]["hash"]
    assert passing["events"][0]["prev"] == "0" * 64
    assert event_hash(passing["events"][3]) == passing["events"][3]["hash"]


def test_edited_event_is_named(passing):
    events = copy.deepcopy(passing["events"])
    events[7]["data"]["status"] = "passed-ish"
    chain = check_chain(events)
    assert not chain.intact and chain.first_bad == 7 and "event 7" in chain.reason


def test_removed_event_is_named(passing):
    events = copy.deepcopy(passing["events"])
    del events[4]
    chain = check_chain(events)
    assert chain.first_bad == 5 and "removed or reordered" in chain.reason


def test_rechained_suffix_breaks_the_link(passing):
    events = copy.deepcopy(passing["events"])
    events[9]["data"]["status"] = "failed"
    events[9]["hash"] = event_hash(events[9])          # a forger re-hashes the event but not its successor
    chain = check_chain(events)
    assert chain.first_bad == 10 and "'prev'" in chain.reason


def test_empty_journal_is_not_intact():
    chain = check_chain([])
    assert not chain.intact and chain.reason == "the journal has no events"
