"""``drkit claims backfill`` (drills.cli.claims): exit codes 0 / 1 / 2 and the --json summary, on moto."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import put_index_item as put_item


def test_backfill_fills_claims_and_exits_0_with_json(drkit, ingest_env, shared_target, tmp_path: Path) -> None:
    for n in range(4):
        put_item(ingest_env, "1.2", "1.3", f"1.4.{n}")
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    code, out, err = drkit("claims", "backfill", "--target", "aws", "--outputs", str(outputs), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["index_items"], summary["claimed"], summary["conflicts"], summary["marker"]) == (4, 4, 0, "written")
    assert len(ingest_env.claims()) == 4 and ingest_env.claims_marker() is not None


def test_dry_run_writes_nothing(drkit, ingest_env, shared_target, tmp_path: Path) -> None:
    put_item(ingest_env, "1.2", "1.3", "1.4.1")
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    code, _, err = drkit("claims", "backfill", "--target", "aws", "--outputs", str(outputs), "--dry-run")
    assert code == 0 and "would claim 1" in err
    assert ingest_env.claims() == {} and ingest_env.claims_marker() is None


def test_conflict_between_two_index_items_exits_1_without_uids(drkit, ingest_env, shared_target,
                                                               tmp_path: Path) -> None:
    put_item(ingest_env, "1.2.1", "1.3.1", "1.4.77")
    put_item(ingest_env, "1.2.2", "1.3.2", "1.4.77")
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    code, out, err = drkit("claims", "backfill", "--target", "aws", "--outputs", str(outputs), "--json")
    assert code == 1, err
    summary = json.loads(out)
    assert summary["conflicts"] == 1 and "conflict: one SOP Instance UID held by item-" in err
    assert "1.4.77" not in out + err


def test_outputs_without_claims_table_exit_2(drkit, ingest_env, shared_target, tmp_path: Path) -> None:
    path = ingest_env.write_outputs(tmp_path / "outputs.json")
    raw = json.loads(path.read_text())
    raw.pop("claimsTable")
    path.write_text(json.dumps(raw))
    code, _, err = drkit("claims", "backfill", "--target", "aws", "--outputs", str(path))
    assert code == 2 and "claimsTable" in err and "Traceback" not in err


def test_bad_arguments_exit_2(drkit, ingest_env, shared_target, tmp_path: Path) -> None:
    outputs = ingest_env.write_outputs(tmp_path / "outputs.json")
    code, _, err = drkit("claims", "backfill", "--target", "aws", "--outputs", str(outputs), "--segments", "0")
    assert code == 2 and "--segments" in err
    code, _, err = drkit("claims", "backfill", "--target", "aws")
    assert code == 2 and "--outputs" in err
    for region in ("bad region!", "ap-south-1"):            # was: botocore's InvalidRegionError, exit 3
        code, _, err = drkit("claims", "backfill", "--target", "aws", "--outputs", str(outputs), "--region", region)
        assert code == 2 and f"--region {region!r}" in err and "eu-west-1 (primary)" in err, err
        assert "Traceback" not in err and "internal error" not in err
    code, _, err = drkit("claims", "backfill")
    assert code == 2 and "--endpoint" in err
