"""``drkit report RUN_DIR`` and ``drkit report verify``: exit 0 intact, 1 naming the first
altered or missing artifact or event, 2 on bad input — never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.cli import main
from tests.drills.reports import journals


@pytest.fixture(autouse=True)
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRKIT_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("DRKIT_SIGNING_KEY", raising=False)
    return tmp_path / "keys"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return journals.write_run(tmp_path / "runs", journals.failing_journal())


def test_render_then_verify_then_tamper(run_dir, capsys):
    code, out, err = run(["report", str(run_dir), "--format", "json,html"], capsys)
    assert code == 0, err
    assert out.strip() == str(run_dir / "report.html")
    assert "signed with Ed25519 key SHA256:" in err and "signing-key.pub" in err and "verdict: failed" in err
    assert "embedded — every figure simulated" in err
    code, _, err = run(["report", "verify", str(run_dir)], capsys)
    assert code == 0 and "intact:" in err
    code, _, err = run(["report", "verify", str(run_dir.parent)], capsys)
    assert code == 0
    html = run_dir / "report.html"
    html.write_text(html.read_text().replace("1,980", "1,890"))
    code, _, err = run(["report", "verify", str(run_dir)], capsys)
    assert code == 1 and f"NOT INTACT: {run_dir.name}/report.html: altered" in err
    assert "Traceback" not in err


def test_verify_names_the_event(run_dir, capsys):
    run(["report", str(run_dir), "--format", "json"], capsys)
    path = run_dir / "journal.json"
    journal = json.loads(path.read_text())
    journal["events"][4]["time"] = "2026-12-01T09:00:01Z"
    path.write_text(json.dumps(journal))
    code, _, err = run(["report", "verify", str(run_dir)], capsys)
    assert code == 1 and "first altered event: event 4" in err
    code, out, _ = run(["report", "verify", str(run_dir), "--json"], capsys)
    result = json.loads(out)
    assert code == 1 and result["intact"] is False and "event 4" in result["problems"][0]


def test_verify_of_a_folder_with_no_signed_run_says_not_verified(run_dir, capsys):
    """Nothing signed, nothing verified: never "intact", exit 1 (the contract's failed verification)."""
    code, out, err = run(["report", "verify", str(run_dir.parent)], capsys)
    assert code == 1 and "intact:" not in err
    assert f"NOT VERIFIED: no run in {run_dir.parent} is signed, so nothing was verified" in err
    assert f"UNVERIFIED: {run_dir.name}: never signed (no manifest.json)" in err
    code, out, _ = run(["report", "verify", str(run_dir.parent), "--json"], capsys)
    result = json.loads(out)
    assert code == 1 and result["status"] == "not verified" and result["intact"] is False
    assert result["checked"] == [] and result["unverified"] == [f"{run_dir.name}: never signed (no manifest.json)"]


def test_verify_names_unsigned_runs_next_to_signed_ones(run_dir, capsys):
    run(["report", str(run_dir), "--format", "json"], capsys)
    late = journals.write_run(run_dir.parent, journals.passing_journal(run_id="20261215T090000Z-ee55ff",
                                                                        offset=15 * 86400.0))
    code, _, err = run(["report", "verify", str(run_dir.parent)], capsys)
    assert code == 1 and "intact:" not in err
    assert f"UNVERIFIED: {late.name}: never signed" in err
    assert f"NOT VERIFIED: 1 of 2 runs in {run_dir.parent} are unsigned" in err and run_dir.name in err


@pytest.mark.parametrize("argv, message", [
    (["report", "{absent}"], "not a directory"),
    (["report", "{empty}"], "no journal.json here"),
    (["report", "{garbage}"], "not strict JSON"),
    (["report", "{run}", "--format", "docx"], "unknown report format(s) docx"),
    (["report", "{run}", "--key", "{absent}"], "cannot be read"),
    (["report", "{run}", "--upload"], "--upload needs --outputs"),
    (["report", "verify", "{absent}"], "no such run dir or folder"),
    (["report", "verify", "{empty}"], "no run dirs here"),
])
def test_bad_input_exits_2(argv, message, run_dir, tmp_path, capsys):
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "journal.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    names = {"absent": tmp_path / "absent", "empty": tmp_path / "empty", "garbage": garbage, "run": run_dir}
    code, _, err = run([a.format(**names) for a in argv], capsys)
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_upload_from_the_cli(cloud, s3, bucket_name, run_dir, tmp_path, capsys):
    bucket = bucket_name("evidence")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(dict(journals.OUTPUTS, evidenceBucket=bucket)))
    code, out, err = run(["report", str(run_dir), "--format", "json", "--upload", "--outputs", str(outputs),
                          "--endpoint", cloud.endpoint], capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == f"s3://{bucket}/drill-runs/{run_dir.name}/"
    assert "under Object Lock GOVERNANCE until" in err
    # already signed: uploaded as it is, not re-rendered
    before = (run_dir / "manifest.json").read_bytes()
    code, out, err = run(["report", str(run_dir), "--upload", "--outputs", str(outputs), "--endpoint", cloud.endpoint],
                         capsys)
    assert code == 0, err
    assert (run_dir / "manifest.json").read_bytes() == before and not (run_dir / "report.pdf").exists()
    assert out.strip() == f"s3://{bucket}/drill-runs/{run_dir.name}/"
