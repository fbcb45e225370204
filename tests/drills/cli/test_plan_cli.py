"""`drkit plan`: the two tables, JSON, charts, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(autouse=True)
def _in_repo(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo_root)


def test_prod_prints_year_and_restore_tables(capsys):
    code, out, err = run(["plan", "--stack", "prod", "--growth", "40TB/yr", "--years", "10"], capsys)
    assert code == 1, err                      # Deep Archive priors cannot come back within 12 h
    assert "prices: drkit-list-prices" in out and "confirm before quoting" in out
    years = [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert years == [str(y) for y in range(1, 11)]
    assert "DEEP_ARCHIVE" in out and "all Standard cum." in out
    assert "priors of the last 2 years" in out and "n/a: DEEP_ARCHIVE" in out
    assert "Flags:" in out


def test_json_and_charts(tmp_path: Path, capsys):
    code, out, err = run(["plan", "--stack", "dev", "--growth", "2TB/yr", "--years", "2", "--json",
                          "--out", str(tmp_path)], capsys)
    assert code == 1
    plan = json.loads(out)
    assert plan["assumptions"]["growthBytesPerYear"] == 2 * 10**12 and len(plan["years"]) == 2
    assert "Year by year" in err
    assert json.loads((tmp_path / "plan.json").read_text()) == plan
    for name in ("bytes-per-class.png", "cost-per-year.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_objective_met_exits_0(capsys):
    """eu: restoreHours 24; a year of priors holds Deep Archive pathology (Standard: within 12 h)."""
    code, out, err = run(["plan", "--stack", "eu", "--growth", "1TB/yr", "--years", "1",
                          "--slice", "priors:1y"], capsys)
    assert code == 0, out + err
    assert "Flags:" not in out


@pytest.mark.parametrize(("args", "message"), [
    (["--growth", "lots"], "--growth"),
    (["--slice", "yesterday"], "--slice"),
    (["--stack", "nope"], "unknown stack"),
    (["--prices", "missing.json"], "cannot read the price table"),
    (["--mix", "missing.yaml"], "cannot read the mix"),
])
def test_bad_input_exits_2(args, message, capsys):
    code, out, err = run(["plan", *args], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_bad_mix_and_price_files_exit_2(tmp_path: Path, capsys):
    mix = tmp_path / "mix.yaml"
    mix.write_text("modalities:\n  CT: {share: -1, objects: [{count: 1, bytes: 1MB}]}\n")
    code, _, err = run(["plan", "--mix", str(mix)], capsys)
    assert code == 2 and "modalities.CT.share" in err
    prices = tmp_path / "prices.yaml"
    prices.write_text("name: x\ndate: today\ncurrency: USD\nsource: me\nregions: {us-east-1: {}}\n")
    code, _, err = run(["plan", "--prices", str(prices)], capsys)
    assert code == 2 and "regions.us-east-1" in err
