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


def test_an_unexpected_exception_exits_3_in_one_line_and_debug_shows_the_traceback(drkit, monkeypatch) -> None:
    import drills.synth.dataset as dataset

    def broken(*args, **kwargs):
        raise KeyError("a bug\nsecond line")

    monkeypatch.setattr(dataset, "generate", broken)
    code, _, err = drkit("synth", "--studies", "1", "/tmp/drkit-never-written")
    assert code == 3 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if "internal error" in line]
    assert line.startswith("drkit: internal error: KeyError") and "--debug" in line
    code, _, err = drkit("--debug", "synth", "--studies", "1", "/tmp/drkit-never-written")
    assert code == 3 and "Traceback" in err


def test_up_checks_outputs_and_endpoint_before_deploying(drkit, tmp_path) -> None:
    from pathlib import Path
    repo = str(Path(__file__).resolve().parents[3])
    code, _, err = drkit("up", "--project-dir", repo, "--outputs", "/nonexistent/o.json")
    assert code == 2 and "/nonexistent" in err and "does not exist" in err
    code, _, err = drkit("up", "--project-dir", repo, "--endpoint", "notaurl")
    assert code == 2 and "not an http(s) URL" in err
    code, _, err = drkit("ingest", str(tmp_path), "--endpoint", "notaurl", "--outputs", str(tmp_path / "o.json"))
    assert code == 2 and "Traceback" not in err


def test_the_entry_point_freezes_the_collector_before_the_process_ends(tmp_path) -> None:
    """Teardown of a finished run must not walk every object: the console entry point (no argv)
    freezes them first (the frozen count is read at exit, after main() returned)."""
    probe = ("import atexit, gc, sys; atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0)); "
             "from drills.cli import main; sys.argv = ['drkit', 'scenarios', '--help']; main()")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "frozen True"


def test_an_in_process_call_with_argv_leaves_the_collector_alone(drkit) -> None:
    import gc
    before = gc.get_freeze_count()
    code, _, _ = drkit("scenarios", "--help")
    assert code == 0
    assert gc.get_freeze_count() == before
