"""Rungs 3 (DICOM hierarchy) and 4 (SOP Instance UID set difference), from keys."""

from __future__ import annotations

from drills.engine.model import Status
from drills.probes.hierarchy import parse_key
from tests.drills.probes.plant import replica_version_deleted


def test_parse_key_follows_the_archive_layout() -> None:
    assert parse_key("dicom/1.2/3.4/5.6.dcm", "dicom/") == ("1.2", "3.4", "5.6")
    for bad in ("dicom/1.2/3.4.dcm", "dicom/1.2/3.4/5.6", "other/1/2/3.dcm", "dicom//3.4/5.6.dcm"):
        assert parse_key(bad, "dicom/") is None


def test_a_missing_replica_instance_is_named_by_study_series_and_sop_uid(healthy) -> None:
    key, version = healthy.current(2)
    study, series, sop = parse_key(key, "dicom/")
    with replica_version_deleted(healthy, key, version):
        results = healthy.ladder(3, 4)
    hierarchy, sop_set = results[3], results[4]
    assert hierarchy.status is Status.FAILED and sop_set.status is Status.FAILED
    (mismatch,) = hierarchy.findings
    assert mismatch.code == "hierarchy-mismatch" and mismatch.resource == healthy.outputs.replicaBucket
    (study_row,) = mismatch.evidence["studies"]
    assert study_row["study"] == study
    assert study_row["replica"]["instances"] == study_row["archive"]["instances"] - 1
    (missing,) = sop_set.findings
    assert missing.code == "replica-missing-instances" and missing.resource == healthy.outputs.replicaBucket
    assert missing.evidence["bySeries"] == [{"study": study, "series": series, "sopInstanceUIDs": [sop], "count": 1}]
    assert sop_set.counts["missingInReplica"] == 1 and sop_set.counts["extraInReplica"] == 0
