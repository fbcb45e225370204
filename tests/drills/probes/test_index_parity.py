"""Rung 7 (index <-> archive, DR replica table <-> replica bucket)."""

from __future__ import annotations

from drills.engine.model import Status
from tests.drills.probes.plant import orphan_index_item, replica_version_deleted


def test_an_orphan_index_item_fails_the_rung_naming_the_table(healthy) -> None:
    with orphan_index_item(healthy) as key:
        result = healthy.ladder(7)[7]
    assert result.status is Status.FAILED
    orphans = {f.code: f for f in result.findings}
    finding = orphans["primary-index-orphan-items"]
    assert finding.resource == f"{healthy.outputs.indexTable} ({healthy.outputs.primaryRegion})"
    assert finding.evidence["labels"] == [f"{key}@no-such-version"]
    assert result.counts["primary"]["orphanItems"] == 1
    assert healthy.ladder(7)[7].status is Status.PASSED       # undone (and synced to the DR table)


def test_a_replica_instance_missing_leaves_the_dr_table_item_orphaned(healthy) -> None:
    key, version = healthy.current(0)
    with replica_version_deleted(healthy, key, version):
        result = healthy.ladder(7)[7]
    assert result.status is Status.FAILED
    (finding,) = result.findings
    assert finding.code == "dr-index-orphan-items"
    assert finding.resource == f"{healthy.outputs.indexTable} ({healthy.outputs.drRegion})"
    assert finding.evidence["labels"] == [f"{key}@{version}"]
