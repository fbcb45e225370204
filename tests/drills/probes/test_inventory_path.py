"""The inventory path (S3 Inventory reports reconciled by DuckDB) gives the listing path's rung
results and findings on the same planted defects.

S3 Inventory lists every version with IsLatest, IsDeleteMarker, Size, ReplicationStatus and the
Object Lock fields (AWS: "Amazon S3 Inventory list",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html#storage-inventory-contents),
which is what rungs 1-4 and 8 read from listings and HEADs.
"""

from __future__ import annotations

import base64
import hashlib
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Iterator

from drills.cloud.control import HttpControl
from drills.engine.model import Status
from drills.probes.inventory_path import run_inventory_ladder
from tests.drills.probes.plant import (replica_retention_shortened, replica_version_deleted, replication_failed,
                                       replication_paused)

RUNGS = [1, 2, 3, 4, 8]


def _reports(stack) -> None:
    reports = HttpControl(stack.cloud.endpoint).call("inventory", "generate", {})["reports"]
    assert {r["sourceBucket"] for r in reports} >= {stack.bucket("archive"), stack.bucket("replica")}


def _both(stack) -> tuple[dict, dict]:
    _reports(stack)
    listing = stack.ladder(*RUNGS)
    inventory = {r.rung: r for r in run_inventory_ladder(stack.ctx(), rungs=RUNGS, memory_limit="64MB")}
    return listing, inventory


@contextmanager
def written_into_replica(stack, key: str) -> Iterator[str]:
    """An object put straight into the DR bucket (no replica of any archive version)."""
    s3, bucket = stack.s3("replica"), stack.bucket("replica")
    body = b"not a replica"
    put = s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode())
    try:
        yield put["VersionId"]
    finally:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=put["VersionId"], BypassGovernanceRetention=True)


def test_a_healthy_stack_passes_the_inventory_rungs(healthy) -> None:
    listing, inventory = _both(healthy)
    assert all(r.status is Status.PASSED for r in inventory.values()), {
        n: (r.status, r.reason, [f.code for f in r.findings]) for n, r in inventory.items()}
    assert inventory[1].counts["archive"]["instances"] == listing[1].counts["archive"]["instances"] > 0
    assert inventory[1].counts["source"] == "s3-inventory"


def test_planted_defects_give_the_same_findings_on_both_paths(healthy) -> None:
    keys = [healthy.current(n) for n in range(4)]
    with ExitStack() as stack:
        stack.enter_context(replica_version_deleted(healthy, *keys[0]))
        stack.enter_context(replication_failed(healthy, keys[1][0]))
        stack.enter_context(replica_retention_shortened(healthy, *keys[2]))
        stack.enter_context(replication_paused(healthy, keys[3][0], minutes=30))
        stack.enter_context(written_into_replica(healthy, "dicom/2.25.1/2.25.2/2.25.3.dcm"))
        listing, inventory = _both(healthy)
    codes = {n: sorted(f.code for f in r.findings) for n, r in listing.items()}
    assert codes[1] == ["replica-extra-versions", "replica-missing-versions"]
    assert "replication-failed" in codes[2] and "replication-pending-over-threshold" in codes[2]
    assert codes[8] == ["replica-lock-weaker"]
    for n in RUNGS:
        assert inventory[n].status is listing[n].status, (n, inventory[n].reason)
        assert inventory[n].findings == listing[n].findings, n


def test_rungs_the_inventory_cannot_answer_are_not_verified_with_the_reason(healthy) -> None:
    results = {r.rung: r for r in run_inventory_ladder(healthy.ctx(), rungs=[5, 6, 7], checksums="heads")}
    assert all(r.status is Status.NOT_VERIFIED for r in results.values())
    assert "S3ComputeObjectChecksum" in results[5].reason and "--path listing" in results[7].reason


def test_no_report_yet_is_not_verified(healthy) -> None:
    """A bucket whose inventory configuration has delivered nothing cannot be reconciled."""
    s3 = healthy.s3()
    conf = s3.get_bucket_inventory_configuration(Bucket=healthy.bucket("archive"),
                                                 Id="all-versions-daily")["InventoryConfiguration"]
    dest = conf["Destination"]["S3BucketDestination"]
    conf["Destination"]["S3BucketDestination"] = {**dest, "Prefix": "inventory-elsewhere"}
    s3.put_bucket_inventory_configuration(Bucket=healthy.bucket("archive"), Id=conf["Id"],
                                          InventoryConfiguration=conf)
    try:
        result = run_inventory_ladder(healthy.ctx(), rungs=[1])[0]
    finally:
        conf["Destination"]["S3BucketDestination"] = dest
        s3.put_bucket_inventory_configuration(Bucket=healthy.bucket("archive"), Id=conf["Id"],
                                              InventoryConfiguration=conf)
    assert result.status is Status.NOT_VERIFIED and "no S3 Inventory report" in result.reason
