"""`drkit repair`: findings of `drkit verify --json` -> S3 Batch Operations manifests and jobs ->
`drkit verify` clean again, on a running embedded cloud; and its usage errors.

AWS: "Replicating existing objects with S3 Batch Replication"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html) replicates
objects that were never replicated or whose replication FAILED (live replication never retries
them, REFERENCE.md); "Specifying a manifest" (batch-ops-create-job.html): CSV Bucket,Key,VersionId
with URL-encoded keys; "Examples: S3 Batch Operations completion reports"
(batch-ops-examples-reports.html): per-task results.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from drills.cli import main
from drills.cloud.control import HttpControl
from tests.drills.probes.conftest import DeployedStack
from tests.drills.probes.plant import replica_version_deleted, replication_failed
from tests.helpers.stacks import ingested_stack

REPO = Path(__file__).resolve().parents[3]


def run(capsys, command: str, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([command, *args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_malformed_findings_exit_2_before_any_cloud(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "findings.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "repair", "--findings", str(bad))
    assert code == 2 and "not a JSON document" in err


def test_an_unknown_kind_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "repair", "--kind", "resurrect")
    assert code == 2 and "resurrect" in err


def test_a_bad_memory_limit_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "repair", "--memory-limit", "lots")
    assert code == 2 and "256MB" in err


def test_restore_without_findings_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "repair", "--kind", "restore")
    assert code == 2 and "--findings" in err


def test_embedded_without_an_endpoint_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "repair")
    assert code == 2 and "--endpoint" in err


def _aws_outputs(path: Path) -> Path:
    path.write_text(json.dumps({
        "schemaVersion": 1, "primaryRegion": "us-east-1", "drRegion": "us-west-2", "archiveBucket": "a",
        "replicaBucket": "r", "landingBucket": "l", "indexTable": "t", "backupVault": "v", "drBackupVault": "dv",
        "evidenceBucket": "e", "multiRegionAccessPoint": "m",
        "batchOperationsRoleArn": "arn:aws:iam::123456789012:role/batch",
        "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 4}}))
    return path


def test_on_aws_archive_data_outside_the_drill_prefix_needs_allow_prod(capsys, tmp_path: Path) -> None:
    """Checked before any AWS call: the outputs name no real stack and no credentials are needed."""
    findings = tmp_path / "f.json"
    findings.write_text(json.dumps({"command": "verify", "rungs": [{"rung": 2, "findings": [
        {"code": "replication-failed", "severity": "critical", "resource": "a",
         "evidence": {"count": 1, "labels": ["dicom/1/2/3.dcm@v1"]}}]}]}))
    code, _, err = run(capsys, "repair", "--target", "aws", "--outputs", str(_aws_outputs(tmp_path / "o.json")),
                       "--findings", str(findings), "--out", str(tmp_path / "r"), "--project-dir", str(REPO))
    assert code == 2 and "outside the drill prefix" in err and "--allow-prod" in err
    assert not (tmp_path / "r").exists(), "nothing is written before the refusal"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    with ingested_stack(3, 5) as it:
        folder = tmp_path_factory.mktemp("repair")
        it.outputs.write(folder / "outputs.json")
        yield DeployedStack(it.cloud, it.project, it.outputs, it.manifest, it.project.stack_config("dev")), folder


def _target(stack: DeployedStack, folder: Path) -> list[str]:
    return ["--endpoint", stack.cloud.endpoint, "--outputs", str(folder / "outputs.json"), "--project-dir", str(REPO)]


def _verify(capsys, stack, folder) -> tuple[int, dict]:
    code, out, err = run(capsys, "verify", *_target(stack, folder), "--path", "listing", "--rung", "1",
                         "--rung", "2", "--json")
    return code, json.loads(out)


def _jobs(stack: DeployedStack) -> int:
    return len(stack.cloud.target.client("s3control", stack.outputs.primaryRegion).list_jobs(
        AccountId="123456789012")["Jobs"])


@pytest.mark.slow
def test_verify_repair_verify_clears_missing_and_failed_replicas(capsys, deployed, tmp_path: Path) -> None:
    stack, folder = deployed
    missing = stack.current(0)
    failed_key, _ = stack.current(1)
    control = HttpControl(stack.cloud.endpoint)
    with replica_version_deleted(stack, *missing), replication_failed(stack, failed_key) as failed_version:
        stack.cloud.clock.advance(timedelta(minutes=20))
        code, before = _verify(capsys, stack, folder)
        assert code == 1
        codes = {f["code"] for r in before["rungs"] for f in r["findings"]}
        assert {"replica-missing-versions", "replication-failed"} <= codes
        findings = tmp_path / "findings.json"
        findings.write_text(json.dumps(before))
        control.call("replication", "clear_failures", {"bucket": stack.bucket("archive")})   # the cause, fixed

        jobs_before = _jobs(stack)
        code, out, err = run(capsys, "repair", *_target(stack, folder), "--findings", str(findings), "--dry-run",
                             "--out", str(tmp_path / "plan"), "--json")
        assert code == 0 and json.loads(out)["status"] == "planned" and _jobs(stack) == jobs_before
        manifest = (tmp_path / "plan" / "repair-replicate-archive.csv").read_text().splitlines()
        assert sorted(manifest) == sorted([f"{stack.bucket('archive')},{missing[0]},{missing[1]}",
                                           f"{stack.bucket('archive')},{failed_key},{failed_version}"])

        code, out, err = run(capsys, "repair", *_target(stack, folder), "--findings", str(findings),
                             "--out", str(tmp_path / "repair"), "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["status"] == "complete" and result["simulated"] is True
        (replicate,) = result["repairs"]
        assert replicate["kind"] == "replicate" and replicate["versions"] == 2
        assert replicate["job"]["status"] == "Complete" and replicate["job"]["succeeded"] == 2
        assert replicate["failedTasks"]["count"] == 0
        assert json.loads((tmp_path / "repair" / "repair.json").read_text()) == result
        assert "Complete" in err

        stack.cloud.clock.advance(timedelta(minutes=20))            # Batch Replication's copies land
        code, after = _verify(capsys, stack, folder)
        try:
            assert code == 0, [f for r in after["rungs"] for f in r["findings"]]
        finally:   # the planted archive version goes on exit: its repaired copy too
            stack.s3("replica").delete_object(Bucket=stack.bucket("replica"), Key=failed_key,
                                              VersionId=failed_version, BypassGovernanceRetention=True)


@pytest.mark.slow
def test_without_findings_the_inventory_reconciliation_names_every_version(capsys, deployed, tmp_path: Path,
                                                                          duckdb_threads) -> None:
    """``--threads 3`` reaches both DuckDB connections: the reconciliation's and the job report's."""
    stack, folder = deployed
    missing = stack.current(2)
    with replica_version_deleted(stack, *missing):
        HttpControl(stack.cloud.endpoint).call("inventory", "generate", {})
        duckdb_threads.clear()
        code, out, err = run(capsys, "repair", *_target(stack, folder), "--out", str(tmp_path), "--json",
                             "--threads", "3")
        assert code == 0, err
        assert sorted(c for c in duckdb_threads if c[0] in ("reconcile.duckdb", "checksums.duckdb")) == [
            ("checksums.duckdb", 3), ("reconcile.duckdb", 3)]
        result = json.loads(out)
        assert result["source"].startswith("reconciliation")
        (replicate,) = result["repairs"]
        assert replicate["versions"] == 1 and replicate["job"]["succeeded"] == 1
        stack.cloud.clock.advance(timedelta(minutes=20))
        head = stack.s3("replica").head_object(Bucket=stack.bucket("replica"), Key=missing[0], VersionId=missing[1])
        assert head["ReplicationStatus"] == "REPLICA"


@pytest.mark.slow
def test_a_task_that_fails_makes_the_repair_incomplete(capsys, deployed, tmp_path: Path) -> None:
    stack, folder = deployed
    key, _ = stack.current(0)
    doc = {"command": "verify", "rungs": [{"rung": 2, "findings": [
        {"code": "replication-failed", "severity": "critical", "resource": stack.bucket("archive"),
         "evidence": {"count": 1, "labels": [f"{key}@no-such-version"]}}]}]}
    findings = tmp_path / "f.json"
    findings.write_text(json.dumps(doc))
    code, out, err = run(capsys, "repair", *_target(stack, folder), "--findings", str(findings),
                         "--out", str(tmp_path / "r"), "--json")
    assert code == 1
    (replicate,) = json.loads(out)["repairs"]
    assert replicate["failedTasks"]["count"] == 1 and replicate["failedTasks"]["labels"] == [f"{key}@no-such-version"]
    assert "task failed" in err


@pytest.mark.slow
def test_findings_of_another_stack_are_refused(capsys, deployed, tmp_path: Path) -> None:
    stack, folder = deployed
    doc = {"command": "verify", "rungs": [{"rung": 2, "findings": [
        {"code": "replication-failed", "severity": "critical", "resource": "another-stacks-archive",
         "evidence": {"count": 1, "labels": ["dicom/1/2/3.dcm@v1"]}}]}]}
    findings = tmp_path / "f.json"
    findings.write_text(json.dumps(doc))
    code, _, err = run(capsys, "repair", *_target(stack, folder), "--findings", str(findings), "--out", str(tmp_path))
    assert code == 2 and "another stack" in err


def _findings(path: Path, code: str, resource: str, labels: list[str], rung: int) -> Path:
    path.write_text(json.dumps({"command": "verify", "rungs": [{"rung": rung, "findings": [
        {"code": code, "severity": "info", "resource": resource,
         "evidence": {"count": len(labels), "labels": labels}}]}]}))
    return path


@pytest.mark.slow
def test_restore_initiates_the_tier_restore_of_cold_versions(capsys, deployed, tmp_path: Path) -> None:
    """S3InitiateRestoreObject through Batch Operations: the version becomes readable only after
    the tier's time (REFERENCE.md: Flexible Retrieval Bulk 5-12 h)."""
    stack, folder = deployed
    s3, bucket, key = stack.s3(), stack.bucket("archive"), "drills/repair-test/cold.dcm"
    version = s3.put_object(Bucket=bucket, Key=key, Body=b"cold bytes", StorageClass="GLACIER")["VersionId"]
    try:
        findings = _findings(tmp_path / "f.json", "archive-versions-cold", bucket, [f"{key}@{version}"], 6)
        code, out, err = run(capsys, "repair", *_target(stack, folder), "--findings", str(findings), "--kind",
                             "restore", "--restore-tier", "BULK", "--restore-days", "2", "--out", str(tmp_path / "r"),
                             "--json")
        assert code == 0, err
        (restore,) = json.loads(out)["repairs"]
        assert restore["kind"] == "restore" and restore["job"]["succeeded"] == 1
        assert 'ongoing-request="true"' in s3.head_object(Bucket=bucket, Key=key, VersionId=version)["Restore"]
        stack.cloud.clock.advance(timedelta(hours=13))
        assert 'ongoing-request="false"' in s3.head_object(Bucket=bucket, Key=key, VersionId=version)["Restore"]
    finally:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)


@pytest.mark.slow
def test_checksum_recomputes_and_names_the_copy_that_differs_from_the_index(capsys, deployed, tmp_path: Path) -> None:
    from tests.drills.probes.plant import replica_bytes_altered

    stack, folder = deployed
    bad, good = stack.current(0), stack.current(1)
    findings = _findings(tmp_path / "f.json", "replica-checksum-mismatch", stack.bucket("replica"),
                         [f"{bad[0]}@{bad[1]}", f"{good[0]}@{good[1]}"], 5)
    with replica_bytes_altered(stack, *bad):
        code, out, err = run(capsys, "repair", *_target(stack, folder), "--findings", str(findings), "--kind",
                             "checksum", "--out", str(tmp_path / "r"), "--json")
    assert code == 1, err
    (checksum,) = json.loads(out)["repairs"]
    assert (checksum["side"], checksum["job"]["operation"]) == ("replica", "S3ComputeObjectChecksum")
    assert checksum["checksums"] == {"matchIndex": 1, "mismatchCount": 1, "mismatch": [f"{bad[0]}@{bad[1]}"]}
