"""The console entry point maps errors to DESIGN.md's exit codes, never a traceback."""

from __future__ import annotations

import subprocess
import sys


from drills.cli import COMMANDS


def test_every_registered_command_imports_and_has_help(drkit) -> None:
    for name in COMMANDS:
        code, _, _ = drkit(name, "--help")
        assert code == 0, name


def test_unknown_command_and_bad_option_exit_2(drkit) -> None:
    code, _, err = drkit("nope")
    assert code == 2 and "No such command" in err
    code, _, err = drkit("synth", "--studies", "many", "out")
    assert code == 2 and "many" in err


def test_drkit_error_becomes_a_message_and_its_code(drkit, tmp_path) -> None:
    code, _, err = drkit("up", "--project-dir", str(tmp_path))
    assert code == 2
    assert "drkit: error:" in err and "Pulumi.yaml" in err
    assert "Traceback" not in err


def test_console_entry_point_in_a_real_process(tmp_path) -> None:
    """The same path the `drkit` console script takes (drills.cli:main), in a child process."""
    proc = subprocess.run([sys.executable, "-c", "from drills.cli import main; main()", "ingest", str(tmp_path / "absent"),
                           "--outputs", str(tmp_path / "o.json"), "--endpoint", "http://127.0.0.1:9"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "absent" in proc.stderr and "Traceback" not in proc.stderr
