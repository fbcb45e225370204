"""`drkit synth`: exit codes, human and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest



def test_synth_writes_the_set_and_prints_a_summary(drkit, tmp_path: Path) -> None:
    code, out, err = drkit("synth", str(tmp_path / "set"), "--studies", "11", "--seed", "2")
    assert code == 0, err
    assert out == ""
    assert "instances in 11 studies" in err and "by modality:" in err and "SM " in err
    assert (tmp_path / "set" / "manifest.json").is_file()


def test_synth_json_summary_matches_the_manifest(drkit, tmp_path: Path) -> None:
    code, out, err = drkit("synth", str(tmp_path / "set"), "--studies", "11", "--json")
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
def test_bad_arguments_exit_2_without_traceback(drkit, 
    tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = drkit("synth", str(tmp_path / "set"), *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "set").exists()


def test_out_that_is_a_file_exits_2(drkit, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("x")
    code, _, err = drkit("synth", str(target), "--studies", "1")
    assert code == 2
    assert "is a file" in err
