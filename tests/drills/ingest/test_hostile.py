"""Reconciliation over a hostile corpus: every entry planted in the folder appears in the
``drkit ingest`` report exactly once, with its expected outcome — none unaccounted for."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from .hostile import build


def accounted(report: dict) -> dict[str, list[tuple[str, str]]]:
    """label -> [(outcome, reason or message)] over every section of the full report."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for result in report["results"]:
        found[result["source"]].append((result["outcome"], result["reason"] or result["detail"]))
    for failure in report["failures"]:
        found[failure["source"]].append(("failed", failure["message"]))
    for entry in report["skipped"]:
        found[entry["source"]].append(("skipped", entry["reason"]))
    for entry in report["refused"]:
        found[entry["source"]].append(("refused", entry["reason"]))
    for label in report["missingFromDicomdir"]:
        found[label].append(("missing", ""))
    return found


@pytest.mark.slow
def test_every_planted_entry_is_accounted_for_with_its_outcome(ingest_env, shared_target, tmp_path: Path,
                                                             drkit) -> None:
    corpus = build(tmp_path / "hostile")
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    report_path = tmp_path / "report.json"
    code, out, err = drkit("ingest", "--target", "aws", "--outputs", str(outputs), "--json", "--out", str(report_path),
                          "--workers", "4", str(corpus.root))
    assert code == 2, err                                  # refused entries and a missing DICOMDIR reference
    report = json.loads(report_path.read_text())
    found = accounted(report)
    unaccounted = sorted(set(corpus.expected) - set(found))
    unexpected = sorted(set(found) - set(corpus.expected))
    assert not unaccounted and not unexpected, (unaccounted, unexpected)
    for label, expect in corpus.expected.items():
        assert len(found[label]) == 1, (label, found[label])          # each entry exactly once
        outcome, reason = found[label][0]
        assert outcome in expect.outcomes, (label, outcome, reason)
        assert expect.reason is None or expect.reason in reason, (label, reason)
    for kind, labels in corpus.groups:
        outcomes = Counter(found[label][0][0] for label in labels)
        assert outcomes == Counter({"archived": 1, kind: len(labels) - 1}), (kind, labels, outcomes)
    assert report["entriesMet"] + len(report["missingFromDicomdir"]) == len(corpus.expected)
    assert "\x1b" not in err and "bad/evil\\x1b[31mname\\n.dcm (not-dicom)" in err   # names printed escaped
    assert not report["failures"]
