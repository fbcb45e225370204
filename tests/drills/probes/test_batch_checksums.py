"""Rung 5 at scale (drills/probes/batch_checksums.py): S3 Batch Operations compute-checksum jobs
over the current versions, their completion reports compared with the study index.

AWS: "Compute checksums" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-compute-checksums.html)
computes checksums of stored objects "without downloading or restoring" them; "Examples: S3 Batch
Operations completion reports" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html):
"For Compute checksum jobs, the completion report contains checksum values for every object", and
failed tasks carry their error code — which here make the versions *not verified*, never passed.
"""

from __future__ import annotations

from dataclasses import replace

from drills.cloud.control import HttpControl
from drills.engine.model import Status
from drills.probes.batch_checksums import BatchSettings
from drills.probes.inventory_path import run_inventory_ladder
from tests.drills.probes.plant import replica_bytes_altered, replica_version_deleted


def _inventory_rung5(stack, **settings):
    HttpControl(stack.cloud.endpoint).call("inventory", "generate", {})
    return run_inventory_ladder(stack.ctx(), rungs=[5], batch=BatchSettings(**settings))[0]


def test_a_healthy_stack_passes_with_two_complete_jobs(healthy) -> None:
    result = _inventory_rung5(healthy)
    assert result.status is Status.PASSED, (result.reason, result.findings)
    c = result.counts
    assert c["method"] == "s3-batch-compute-checksum"
    assert c["matched"] == c["versions"] == c["indexItems"] > 0
    assert [(j["region"], j["status"], j["tasks"], j["succeeded"]) for j in c["jobs"]] == [
        (healthy.outputs.primaryRegion, "Complete", c["versions"], c["versions"]),
        (healthy.outputs.drRegion, "Complete", c["versions"], c["versions"])]
    assert all("/drkit-batch/verify/" in j["manifest"] for j in c["jobs"])


def test_altered_replica_bytes_are_found_that_stored_checksums_miss(healthy) -> None:
    """Replication copies the stored checksum as metadata: a HEAD still shows the right value
    while the bytes differ. S3 recomputing the hash finds it; both paths name the version."""
    key, version = healthy.current(1)
    with replica_bytes_altered(healthy, key, version):
        heads = healthy.ladder(5)[5]
        listing = healthy.ladder(5, checksums="batch")[5]
        inventory = _inventory_rung5(healthy)
    assert heads.status is Status.PASSED
    for result in (listing, inventory):
        assert result.status is Status.FAILED
        (finding,) = result.findings
        assert finding.code == "replica-checksum-mismatch"
        assert finding.evidence["labels"] == [f"{key}@{version}"]
    assert listing.findings == inventory.findings


def test_a_version_the_job_failed_on_is_not_verified_with_its_error_code(healthy) -> None:
    key, version = healthy.current(2)
    with replica_version_deleted(healthy, key, version):
        result = healthy.ladder(5, checksums="batch")[5]
    assert result.status is Status.NOT_VERIFIED, result.findings
    failed = result.counts["notVerified"]["replica"]
    assert failed["count"] == 1 and failed["labels"] == [f"{key}@{version}"]
    (code,) = failed["errors"]
    assert code and code in result.reason and "1 replica version(s) not verified" in result.reason
    assert result.counts["notVerified"]["archive"]["count"] == 0


def test_a_sample_checks_that_many_versions_reproducibly(healthy) -> None:
    first = _inventory_rung5(healthy, sample=3, seed=7)
    again = _inventory_rung5(healthy, sample=3, seed=7)
    assert first.status is Status.PASSED and first.counts["versions"] == first.counts["matched"] == 3
    assert first.counts["seed"] == 7
    manifests = [healthy.s3().get_object(Bucket=j["manifest"].split("/")[2],
                                         Key=j["manifest"].split("/", 3)[3])["Body"].read()
                 for j in (first.counts["jobs"][0], again.counts["jobs"][0])]
    assert manifests[0] == manifests[1] and len(manifests[0].splitlines()) == 3


def test_without_a_batch_role_the_rung_is_not_verified(healthy) -> None:
    ctx = healthy.ctx(outputs=replace(healthy.outputs, batchOperationsRoleArn=None))
    HttpControl(healthy.cloud.endpoint).call("inventory", "generate", {})
    (result,) = run_inventory_ladder(ctx, rungs=[5])
    assert result.status is Status.NOT_VERIFIED and "batchOperationsRoleArn" in result.reason
