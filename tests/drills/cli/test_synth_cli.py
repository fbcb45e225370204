"""`drkit synth`: exit codes, human and JSON output."""

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


def test_synth_writes_the_set_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["synth", str(tmp_path / "set"), "--studies", "11", "--seed", "2"], capsys)
    assert code == 0, err
    assert out == ""
    assert "instances in 11 studies" in err and "by modality:" in err and "SM " in err
    assert (tmp_path / "set" / "manifest.json").is_file()


def test_synth_json_summary_matches_the_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["synth", str(tmp_path / "set"), "--studies", "11", "--json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    assert summary["instances"] == len(manifest["instances"])
    assert summary["bytes"] == sum(i["size"] for i in manifest["instances"])
    assert set(summary["byModality"]) == {"CT", "MR", "CR", "DX", "MG", "US", "XA", "ECG", "SM", "XC", "OP"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--studies", "0"], "--studies must be a whole number >= 1"),
        (["--scale", "0"], "--scale must be a number > 0"),
        (["--scale", "-2"], "--scale must be a number > 0"),
        (["--studies", "many"], "'many' is not a valid integer"),
    ],
)
def test_bad_arguments_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(["synth", str(tmp_path / "set"), *args], capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "set").exists()


def test_out_that_is_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("x")
    code, _, err = run(["synth", str(target), "--studies", "1"], capsys)
    assert code == 2
    assert "is a file" in err
