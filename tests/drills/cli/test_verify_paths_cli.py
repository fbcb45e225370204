"""`drkit verify --path`: the inventory path from the CLI, reports on disk, and its usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.cli import main
from drills.synth.inventory import generate_pair

REPO = Path(__file__).resolve().parents[3]


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", *args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return generate_pair(tmp_path_factory.mktemp("inventory"), 3_000, per_kind=2)


def test_athena_path_on_the_embedded_cloud_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "--path", "athena", "--project-dir", str(REPO))
    assert code == 2 and "--target aws" in err


def test_athena_path_needs_a_results_location(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "--path", "athena", "--target", "aws", "--outputs", str(tmp_path / "o.json"))
    assert code == 2 and "--athena-output" in err


def test_a_bad_memory_limit_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "--memory-limit", "lots")
    assert code == 2 and "256MB" in err


def test_one_manifest_alone_is_a_usage_error(capsys, pair) -> None:
    code, _, err = run(capsys, "--archive-manifest", str(pair.archive_manifest))
    assert code == 2 and "--replica-manifest" in err


def test_reports_on_disk_are_not_read_on_the_listing_path(capsys, pair) -> None:
    code, _, err = run(capsys, "--archive-manifest", str(pair.archive_manifest), "--replica-manifest",
                       str(pair.replica_manifest), "--path", "listing")
    assert code == 2 and "inventory path" in err


def test_reports_on_disk_exit_1_with_every_planted_defect_in_json(capsys, pair) -> None:
    code, out, err = run(capsys, "--archive-manifest", str(pair.archive_manifest), "--replica-manifest",
                         str(pair.replica_manifest), "--json", "--memory-limit", "64MB")
    assert code == 1
    document = json.loads(out)
    assert document["path"] == "inventory" and [r["rung"] for r in document["rungs"]] == [1, 2, 3, 4, 8]
    rung1 = document["rungs"][0]
    codes = {f["code"]: f["evidence"]["count"] for f in rung1["findings"]}
    assert codes == {"replica-missing-versions": 4, "replica-size-mismatch": 2, "replica-extra-versions": 2}
    assert "replica-lock-weaker" in err


@pytest.mark.slow
def test_inventory_path_on_a_fresh_embedded_stack_passes(capsys) -> None:
    code, out, err = run(capsys, "--path", "inventory", "--studies", "2", "--rung", "1", "--rung", "2",
                         "--rung", "8", "--json", "--project-dir", str(REPO))
    assert code == 0, err
    document = json.loads(out)
    assert document["path"] == "inventory" and all(r["status"] == "passed" for r in document["rungs"])
    assert "S3 Inventory report(s) written" in err


def test_a_batch_role_that_is_not_a_role_arn_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "--checksums", "batch", "--batch-role-arn", "my-role")
    assert code == 2 and "not an IAM role ARN" in err


@pytest.mark.slow
def test_inventory_path_answers_rung_5_with_compute_checksum_jobs(capsys) -> None:
    code, out, err = run(capsys, "--path", "inventory", "--studies", "2", "--rung", "5", "--json",
                         "--checksum-sample", "4", "--seed", "3", "--project-dir", str(REPO))
    assert code == 0, err
    (rung5,) = json.loads(out)["rungs"]
    assert rung5["status"] == "passed" and rung5["counts"]["method"] == "s3-batch-compute-checksum"
    assert rung5["counts"]["versions"] == rung5["counts"]["matched"] == 4
    assert [j["status"] for j in rung5["counts"]["jobs"]] == ["Complete", "Complete"]
    assert "Batch" in err and "verdict: passed" in err
