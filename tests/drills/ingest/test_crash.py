"""kill -9 in the middle of ``drkit ingest``, then the same ingest again: archive, index and
quarantine end consistent, and every repair the re-run makes is reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drills.aws import Target
from drills.contracts import INDEX_TABLE_DEFINITION, StackOutputs
from drills.ingest.index import StudyIndex

from .conftest import REGION, build_dataset, new_name, to_bytes

REPO = Path(__file__).resolve().parents[3]
VALID, BROKEN = 240, 40


def stack(target: Target, tmp_path: Path) -> Path:
    s3, ddb = target.client("s3", REGION), target.client("dynamodb", REGION)
    bucket, table = new_name("archive"), new_name("index")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **INDEX_TABLE_DEFINITION)
    secret = target.client("secretsmanager", REGION).create_secret(Name=new_name("hash-key"), SecretString="s" * 32)
    outputs = StackOutputs.from_mapping({
        "schemaVersion": 2, "primaryRegion": REGION, "drRegion": "eu-central-1", "archiveBucket": bucket,
        "replicaBucket": "r", "landingBucket": "l", "indexTable": table, "backupVault": "v", "drBackupVault": "dv",
        "evidenceBucket": "e", "multiRegionAccessPoint": "m",
        "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12}, "hashKeySecretArn": secret["ARN"]})
    path = tmp_path / "outputs.json"
    outputs.write(path)
    return path


def ingest(target: Target, outputs: Path, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    return subprocess.Popen(
        [sys.executable, "-c", "from drills.cli import main; main()", "ingest", "--target", "embedded",
         "--endpoint", target.endpoint, "--outputs", str(outputs), "--workers", "4", "--json", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def state(target: Target, outputs: StackOutputs) -> tuple[set[str], set[str]]:
    """(archive keys without an index item naming their current version, quarantine digests without a reason)."""
    s3 = target.client("s3", REGION)
    index = StudyIndex(target, REGION, outputs.indexTable)
    unindexed, unexplained, bins, reasons = set(), set(), set(), set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=outputs.archiveBucket):
        for version in page.get("Versions", []):
            key = version["Key"]
            if key.startswith("dicom/") and version["IsLatest"]:
                study, series, sop = key.removeprefix("dicom/").removesuffix(".dcm").split("/")
                item = index.get(study, series, sop)
                if item is None or item["VersionId"] != version["VersionId"]:
                    unindexed.add(key)
            elif key.endswith(".bin"):
                bins.add(key.removesuffix(".bin"))
            elif key.endswith(".json"):
                reasons.add(key.removesuffix(".json"))
    unexplained = bins - reasons
    return unindexed, unexplained


@pytest.mark.slow
def test_kill_9_mid_ingest_then_rerun_repairs_and_reports(moto_server: Target, tmp_path: Path) -> None:  # noqa: F811
    outputs_path = stack(moto_server, tmp_path)
    outputs = StackOutputs.load(outputs_path)
    folder = tmp_path / "inbox"
    folder.mkdir()
    for i in range(VALID):
        (folder / f"ct{i:04d}.dcm").write_bytes(to_bytes(build_dataset()))
    for i in range(BROKEN):
        (folder / f"cut{i:03d}.dcm").write_bytes(to_bytes(build_dataset())[:-100])
    s3 = moto_server.client("s3", REGION)

    first = ingest(moto_server, outputs_path, folder)
    deadline = time.monotonic() + 240
    while s3.list_objects_v2(Bucket=outputs.archiveBucket).get("KeyCount", 0) < 60:
        assert first.poll() is None, "the first ingest ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL

    unindexed, unexplained = state(moto_server, outputs)
    print(f"left by the crash: {len(unindexed)} unindexed, {len(unexplained)} quarantined without a reason")
    second = ingest(moto_server, outputs_path, folder)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    summary = json.loads(out)
    counts = summary["counts"]
    assert counts["archived"] + counts["duplicate"] == VALID and counts["quarantined"] == BROKEN
    assert counts["conflict"] == 0 and counts["failed"] == 0

    # every inconsistency the crash left is repaired, and each repair is reported
    assert state(moto_server, outputs) == (set(), set())
    reported = {r["source"]: r["repair"] for r in summary["repairs"]}
    assert sum(1 for r in reported.values() if r == "index item") == len(unindexed), (reported, unindexed)
    assert sum(1 for r in reported.values() if r == "quarantine reason") == len(unexplained), (reported, unexplained)
    assert len(reported) == len(unindexed) + len(unexplained)
    if reported:
        assert "repaired" in err
