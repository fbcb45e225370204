"""`drkit repair --threads`: the DuckDB threads of the reconciliation source and of each job's
report comparison (the option `drkit verify` has, declared once in drills/cli/common.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from drills.actions.repair import compare_tasks
from drills.cli import main
from drills.probes.batch_jobs import TaskResult


def run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("command", ["repair", "verify"])
@pytest.mark.parametrize("value", ["0", "65", "two", "1.5"])
def test_threads_outside_1_to_64_or_not_an_integer_exit_2(capsys, command: str, value: str) -> None:
    code, err = run(capsys, command, "--threads", value)
    assert code == 2, err
    assert "Invalid value for '--threads'" in err and "Traceback" not in err


def test_repair_and_verify_declare_the_same_threads_option_repair_defaults_to_one_thread_and_64mb() -> None:
    """Repair's defaults are the measured ones (docs/BENCHMARKS.md: 64MB with one thread kept
    10M versions per side, a million to repair, under 200 MiB; 256MB peaked near 500 MiB)."""
    from drills.cli.repair import repair
    from drills.cli.verify import verify

    def option(command, name):
        (param,) = [p for p in command.params if p.name == name]
        return param

    for command in (repair, verify):
        assert (option(command, "threads").type.min, option(command, "threads").type.max) == (1, 64)
    assert (option(verify, "threads").default, option(verify, "memory_limit").default) == (2, "256MB")
    assert (option(repair, "threads").default, option(repair, "memory_limit").default) == (1, "64MB")


class _Observed:
    """What ``_from_reconciliation`` reads of an Observation (no cloud behind it)."""

    def __init__(self, bucket: str) -> None:
        self.outputs = SimpleNamespace(archiveBucket=bucket)
        self.scope = "dicom/"
        self.clock = SimpleNamespace(now=lambda: datetime(2026, 11, 30, tzinfo=timezone.utc), simulated=False)

    def threshold(self) -> tuple[float, str]:
        return 15.0, "test"


@pytest.mark.parametrize("threads", [1, 3])
def test_the_reconciliation_source_runs_duckdb_with_the_threads_asked_for(monkeypatch, tmp_path: Path,
                                                                         duckdb_threads, threads: int) -> None:
    import drills.probes.inventory_path as inventory_path
    from drills.cli.repair import _from_reconciliation
    from drills.probes.inventory_report import load_local
    from drills.synth.inventory import generate_pair

    pair = generate_pair(tmp_path / "pair", 2000, per_kind=5)
    reports = load_local(pair.archive_manifest), load_local(pair.replica_manifest)
    monkeypatch.setattr(inventory_path, "fetch_reports", lambda obs, workdir: reports)
    duckdb_threads.clear()
    (tmp_path / "work").mkdir()
    plan = _from_reconciliation(_Observed(reports[0].source_bucket), "64MB", threads, tmp_path / "work")
    assert duckdb_threads == [("reconcile.duckdb", threads)]
    (batch,) = plan.ordered()
    assert batch.count == 10                                  # the 5 missing and 5 FAILED planted versions


@pytest.mark.parametrize("threads", [1, 3])
def test_a_jobs_report_is_compared_with_the_threads_asked_for(tmp_path: Path, duckdb_threads, threads: int) -> None:
    versions = [(f"dicom/{n}.dcm", f"v{n}") for n in range(4)]
    report = (TaskResult("b", key, version, "succeeded", "", "200", "Successful") for key, version in versions[:3])
    comparison = compare_tasks(iter(versions), report, tmp_path / "c", "64MB", threads=threads)
    assert duckdb_threads == [("checksums.duckdb", threads)]
    assert comparison.not_verified["archive"]["count"] == 1              # the unreported one
