"""drills/actions/repair_plan.py: findings of `drkit verify --json` -> versions per repair kind and
bucket -> S3 Batch Operations CSV manifests.

AWS: "Specifying a manifest" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html#specify-batchjob-manifest):
CSV rows Bucket,Key[,VersionId], object keys URL-encoded. "Replicating existing objects with S3
Batch Replication" (s3-batch-replication-batch.html) covers never-replicated and FAILED objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.actions.repair_plan import from_findings, load_findings, outside
from drills.errors import UsageError

BUCKETS = {"archive": "drkit-dev-archive-1", "replica": "drkit-dev-replica-2"}
K1, K2, K3 = "dicom/1.2/3.4/5.6.dcm", "dicom/1.2/3.4/5.7.dcm", "dicom/9 9/1/2.dcm"


def finding(code: str, resource: str, labels: list[str], count: int | None = None, severity: str = "critical"):
    return {"code": code, "severity": severity, "resource": resource, "message": "m",
            "evidence": {"count": len(labels) if count is None else count, "labels": labels}}


def document(*findings_by_rung: tuple[int, list[dict]]) -> dict:
    return {"command": "verify", "rungs": [{"rung": n, "name": "x", "status": "failed", "findings": f}
                                           for n, f in findings_by_rung]}


def test_replicate_gathers_missing_and_failed_versions_once_from_the_archive() -> None:
    doc = document((1, [finding("replica-missing-versions", BUCKETS["replica"], [f"{K1}@v1", f"{K2}@v2"])]),
                   (2, [finding("replication-failed", BUCKETS["archive"], [f"{K2}@v2"]),
                        finding("replica-version-missing", BUCKETS["replica"], [f"{K1}@v1"])]))
    plan = from_findings(doc, BUCKETS, ["replicate"])
    (batch,) = plan.ordered()
    assert (batch.kind, batch.side, batch.bucket) == ("replicate", "archive", BUCKETS["archive"])
    assert list(batch.rows()) == [(BUCKETS["archive"], K1, "v1"), (BUCKETS["archive"], K2, "v2")]
    assert batch.codes == {"replica-missing-versions", "replication-failed", "replica-version-missing"}
    assert plan.incomplete == 0


def test_kinds_not_asked_for_are_left_out_and_sides_follow_the_finding() -> None:
    doc = document((5, [finding("replica-checksum-mismatch", BUCKETS["replica"], [f"{K1}@v1"]),
                        finding("checksum-absent", BUCKETS["archive"], [f"{K2}@v2", f"replica:{K3}@v3"])]),
                   (6, [finding("archive-versions-cold", BUCKETS["archive"], [f"{K3}@v3"], severity="info")]))
    plan = from_findings(doc, BUCKETS, ["checksum", "restore"])
    got = {(b.kind, b.side): sorted(b.versions) for b in plan.ordered()}
    assert got == {("restore", "archive"): [(K3, "v3")], ("checksum", "archive"): [(K2, "v2")],
                   ("checksum", "replica"): [(K1, "v1"), (K3, "v3")]}
    assert from_findings(doc, BUCKETS, ["replicate"]).ordered() == []


def test_versions_counted_but_not_named_make_the_plan_incomplete() -> None:
    doc = document((2, [finding("replication-failed", BUCKETS["archive"], [f"{K1}@v1"], count=25)]))
    plan = from_findings(doc, BUCKETS, ["replicate"])
    assert plan.incomplete == 24 and len(plan.ordered()[0].versions) == 1


def test_findings_no_kind_repairs_are_counted_not_repaired() -> None:
    doc = document((8, [finding("replica-lock-weaker", BUCKETS["replica"], [f"{K1}@v1"])]),
                   (1, [finding("delete-markers-not-replicated", BUCKETS["replica"], [f"{K1}@v1"], severity="info")]))
    plan = from_findings(doc, BUCKETS, ["replicate", "restore", "checksum"])
    assert plan.ordered() == [] and plan.ignored == {"replica-lock-weaker": 1}


def test_manifests_url_encode_keys(tmp_path: Path) -> None:
    doc = document((1, [finding("replica-missing-versions", BUCKETS["replica"], [f"{K3}@v3"])]))
    written = from_findings(doc, BUCKETS, ["replicate"]).write_manifests(tmp_path)
    assert written[("replicate", "archive")].read_text() == f"{BUCKETS['archive']},dicom/9+9/1/2.dcm,v3\n"


def test_outside_names_versions_not_under_the_drill_prefix() -> None:
    doc = document((1, [finding("replica-missing-versions", BUCKETS["replica"],
                                [f"{K1}@v1", "drills/run-1/a.dcm@v9"])]))
    plan = from_findings(doc, BUCKETS, ["replicate"])
    assert list(outside(plan, "drills/")) == [f"{K1}@v1"]


@pytest.mark.parametrize("doc, message", [
    (document((1, [finding("replica-missing-versions", "someone-elses-bucket", [f"{K1}@v1"])])), "another stack"),
    (document((1, [finding("replica-missing-versions", BUCKETS["replica"], ["no-version-here"])])), "KEY@VERSION"),
    (document((1, [finding("replica-missing-versions", BUCKETS["replica"], [f"{K1}@"])])), "KEY@VERSION"),
    (document((1, [{"severity": "high"}])), "has no \"code\""),
    ({"rungs": [{"rung": 1, "findings": "oops"}]}, "\"findings\" list"),
    (document((1, [{**finding("replication-failed", BUCKETS["archive"], []), "evidence": {"labels": "x"}}])),
     "evidence"),
])
def test_malformed_findings_are_usage_errors(doc: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        from_findings(doc, BUCKETS, ["replicate", "restore", "checksum"])


@pytest.mark.parametrize("text, message", [("{not json", "not a JSON document"), ("[1, 2]", "no \"rungs\" list"),
                                           ('{"command": "verify"}', "no \"rungs\" list")])
def test_a_findings_file_that_is_not_verify_output_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_findings(path)
    with pytest.raises(UsageError, match="no such findings file"):
        load_findings(tmp_path / "none.json")


def test_verify_output_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(json.dumps({"command": "verify", "rungs": []}))
    assert load_findings(path)["rungs"] == []
