"""Reconciling two inventory reports in bounded memory (drills.probes.reconcile) on a generated
pair in AWS's CSV layout (drills.synth.inventory) with planted defects."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from drills.engine.model import Status
from drills.errors import InfraError
from drills.probes.inventory_report import load_local
from drills.probes.reconcile import Facts, reconcile_reports
from drills.synth.inventory import generate_pair

NOW = Facts(now=datetime(2026, 11, 30, tzinfo=timezone.utc))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return generate_pair(tmp_path_factory.mktemp("inventory"), 60_000, per_kind=5)


def _labels(results, code: str) -> set[str]:
    found = [f for r in results for f in r.findings if f.code == code]
    assert len(found) == 1, code
    return {label.split(" ")[0] for label in found[0].evidence["labels"]}


def test_every_planted_defect_is_found_under_a_small_memory_limit(pair, tmp_path):
    results = reconcile_reports(load_local(pair.archive_manifest), load_local(pair.replica_manifest), NOW,
                                memory_limit="24MB", threads=1, temp_dir=str(tmp_path))
    by = {r.rung: r for r in results}
    assert all(r.status is Status.FAILED for r in results)
    assert _labels(results, "replica-missing-versions") == set(pair.planted["missing"]) | set(pair.planted["failed"])
    assert _labels(results, "replica-size-mismatch") == set(pair.planted["altered"])
    assert _labels(results, "replica-extra-versions") == set(pair.planted["extra"])
    assert _labels(results, "replication-failed") == set(pair.planted["failed"])
    assert _labels(results, "replica-lock-weaker") == set(pair.planted["unlocked"])
    assert by[1].counts["archive"]["instances"] == 60_000
    assert by[1].counts["replica"]["instances"] == 60_000 - 10 + 5
    assert by[4].counts["missingInReplica"] == 10 and by[4].counts["extraInReplica"] == 5


def test_a_memory_limit_too_small_to_work_is_an_error_not_a_pass(pair, tmp_path):
    with pytest.raises(InfraError, match="reconciliation"):
        reconcile_reports(load_local(pair.archive_manifest), load_local(pair.replica_manifest), NOW,
                          memory_limit="1MB", threads=1, temp_dir=str(tmp_path))


def test_duckdb_joins_every_shared_statement_on_the_fingerprints():
    """The shared statements join versions on key + version_id (Athena runs them so); DuckDB's
    rewrite must leave no string join of versions or SOP UIDs behind (else a 10M-row join holds
    the strings again), and must keep the absence tests on the joined side."""
    import re

    from drills.probes.reconcile import SQL_DIR, fingerprint_joins, sql

    for path in sorted(SQL_DIR.glob("*.sql")):
        if path.stem in ("athena_inventory_table", "normalize.athena"):
            continue
        text = fingerprint_joins(sql(path.stem))
        assert not re.search(r"\b[a-z]\.(key|version_id|study|series|sop) = [a-z]\.", text), path.name
        assert not re.search(r"\b[a-z]\.(key|sop) IS (NOT )?NULL", text), path.name
    assert fingerprint_joins("LEFT JOIN replica r ON r.key = a.key AND r.version_id = a.version_id "
                             "WHERE r.key IS NULL") == "LEFT JOIN replica r ON r.fp = a.fp WHERE r.fp IS NULL"


def test_fingerprint_and_string_joins_find_the_same(pair, tmp_path):
    """The same reconciliation with DuckDB joining the strings (as Athena does) and joining the
    fingerprints: identical rung results."""
    from datetime import timedelta

    from drills.probes import reconcile

    archive, replica = load_local(pair.archive_manifest), load_local(pair.replica_manifest)
    now, facts = NOW.now, NOW
    results = {}
    for fingerprints in (True, False):
        engine = reconcile.open_engine(archive, replica, "dicom/", now - timedelta(minutes=15), now,
                                       memory_limit="64MB", temp_dir=str(tmp_path / f"db-{fingerprints}"), threads=1)
        engine.fingerprints = fingerprints
        try:
            results[fingerprints] = [reconcile.RUNG_BUILDERS[n](engine, facts, archive.source_bucket,
                                                                replica.source_bucket) for n in reconcile.ANSWERS]
        finally:
            engine.close()
    assert results[True] == results[False]
    assert any(r.findings for r in results[True])
