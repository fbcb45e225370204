"""`drkit run` end to end on the default data set: is it under a minute on this machine?

    python -m bench.run_e2e [--rounds 3] [--studies 16] [--json] [--stages]

Each round runs ``drkit run`` in a fresh process exactly as ``make demo`` does (embedded cloud
started in-process, stack ``dev`` deployed offline, the synthetic data set ingested, the
verification ladder before the drills, every built-in scenario, the ladder after them and the
final verification, the run dir written, report.json/html/pdf rendered and signed) and
measures its wall time from outside. From the run's journal it reports the simulated time the
drills covered, the exit code, each scenario's status and the ladder's verdicts; from the run
dir which reports exist; the load averages (1, 5, 15 min) before and after each round say how
busy the machine was. The drills' own durations are simulated (virtual clock): this benchmark
measures the machine, not AWS.

``--stages``: the journal's step times are virtual, so where the wall time goes is measured in
the child process instead: it wraps the stages of ``drkit run`` (deploy, synthesis, ingest,
settling replication, each ladder pass, each scenario and each of its activities, the reports)
with wall-clock timers and otherwise runs the same command; the rest (interpreter start,
imports, CLI, journal writing) is the round's wall time minus the stages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

LIMIT_S = 60.0


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def summarise(journal: dict[str, Any]) -> dict[str, Any]:
    """What a round reports from the run's journal: exit code, covered (simulated) time,
    instances, each scenario's status and each ladder pass's verdict."""
    ladder = {key: f"{sum(r['status'] == 'passed' for r in rungs)}/{len(rungs)} passed"
              for key in ("steady_state_before", "steady_state_after", "ladder")
              for rungs in [((journal.get(key) or {}).get("rungs") or [])]}
    scenarios = {s["name"]: s["status"] for s in journal.get("scenarios") or []}
    return {"journal_exit_code": journal.get("exit_code"), "simulated_s": journal.get("duration_s"),
            "instances": (journal.get("scope") or {}).get("instances"), "scenarios": scenarios,
            "scenarios_passed": f"{sum(v == 'passed' for v in scenarios.values())}/{len(scenarios)}",
            "ladder": ladder}


def _timed(stages: list[dict[str, Any]], stage: str, fn: Callable[..., Any],
           label: Callable[..., str] | None = None) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            stages.append({"stage": stage, "name": label(*args, **kwargs) if label else stage,
                           "wall_s": round(time.perf_counter() - started, 3),
                           "cpu_s": round(time.process_time() - cpu, 3)})
    return wrapper


def _counted_activity(stages: list[dict[str, Any]], call: Callable[..., Any]) -> Callable[..., Any]:
    """Time each activity and count the AWS API calls and virtual-clock advances sent while it
    ran (activities run one at a time; any thread counts)."""
    import botocore.client

    from drills.cloud.control import HttpControl

    counts: dict[str, int] | None = None
    original_api, original_advance = botocore.client.BaseClient._make_api_call, HttpControl.advance

    def api(self: Any, operation: str, params: Any) -> Any:
        if counts is not None:
            counts["api_calls"] = counts.get("api_calls", 0) + 1
        return original_api(self, operation, params)

    def advance(self: Any, seconds: float) -> Any:
        if counts is not None:
            counts["clock_advances"] = counts.get("clock_advances", 0) + 1
        return original_advance(self, seconds)

    botocore.client.BaseClient._make_api_call, HttpControl.advance = api, advance

    def wrapper(run: Any, provider: Any, spec: Any) -> Any:
        nonlocal counts
        counts = {}
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return call(run, provider, spec)
        finally:
            stages.append({"stage": "activity", "name": f"{run.scenario.name}/{spec.name}",
                           "wall_s": round(time.perf_counter() - started, 3),
                           "cpu_s": round(time.process_time() - cpu, 3), **counts})
            counts = None
    return wrapper


def _child(out: Path, stages_file: Path, studies: int) -> None:
    """``drkit run`` in this process with its stages timed (wall clock and CPU)."""
    started_at = time.time()
    import drills.cli.rehearsal as rehearsal
    import drills.cli.run as run_cli
    from drills.cli import main
    from drills.engine import runner, verification

    stages: list[dict[str, Any]] = []
    for name in ("deploy", "generate", "_ingest", "_settle_replication"):
        setattr(rehearsal, name, _timed(stages, name.strip("_"), getattr(rehearsal, name)))
    rehearsal.EmbeddedCloud.__enter__ = _timed(stages, "embedded cloud start", rehearsal.EmbeddedCloud.__enter__)
    run_cli._plan = _timed(stages, "plan summary", run_cli._plan)
    verification.ladder_pass = _timed(stages, "ladder", verification.ladder_pass,
                                      lambda ctx, journal, phase, *a, **k: f"ladder {phase}")
    runner._run_one = _timed(stages, "scenario", runner._run_one, lambda ctx, scenario, *a, **k: scenario.name)
    runner._call = _counted_activity(stages, runner._call)
    run_cli._render_reports = _timed(stages, "reports", run_cli._render_reports)
    imported_at, imported_cpu = time.time(), time.process_time()
    try:
        sys.argv = ["drkit", "run", "--out", str(out), "--studies", str(studies)]
        main()                                    # as the console entry point calls it (no argv)
    finally:                                      # drkit's main always exits with the run's code
        stages_file.write_text(json.dumps({"started_at": started_at, "imported_at": imported_at,
                                           "imported_cpu_s": imported_cpu, "ended_at": time.time(),
                                           "ended_cpu_s": time.process_time(), "stages": stages}))


def stage_table(stages: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """Top-level stages (activities are inside their scenario) and the rest of the wall time."""
    top = [s for s in stages if s["stage"] != "activity"]
    accounted = sum(s["wall_s"] for s in top)
    activities = sorted((s for s in stages if s["stage"] == "activity"), key=lambda s: -s["cpu_s"])
    return {"stages": [{"name": s["name"], "wall_s": s["wall_s"], "cpu_s": s["cpu_s"]} for s in top],
            "other_s": round(wall_s - accounted, 2), "slowest_activities": activities[:8]}


def one_round(studies: int, out: Path, stages: bool) -> dict:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    env.setdefault("DRKIT_KEY_DIR", str(out.parent / "keys"))     # the runs' signing keys stay in the temp dir
    stages_file = out.parent / f"{out.name}-stages.json"
    argv = ([sys.executable, "-m", "bench.run_e2e", "--child", str(out), str(stages_file), "--studies", str(studies)]
            if stages else
            [sys.executable, "-c", "from drills.cli import main; main()", "run", "--out", str(out),
             "--studies", str(studies)])
    load_before = _load()
    spawned_at = time.time()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_after = _load()
    user = cpu_after.ru_utime - cpu_before.ru_utime
    system = cpu_after.ru_stime - cpu_before.ru_stime
    journal_file = out / "journal.json"
    if not journal_file.is_file():
        raise SystemExit(f"drkit run wrote no journal (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result = {"wall_s": round(wall, 2), "cpu_s": round(user + system, 2),
              "cpu_user_s": round(user, 2), "cpu_system_s": round(system, 2), "exit_code": proc.returncode,
              **summarise(json.loads(journal_file.read_text())),
              "reports": [n for n in ("report.json", "report.html", "report.pdf") if (out / n).is_file()],
              "load_average": {"before": load_before, "after": load_after}}
    if stages and stages_file.is_file():
        timed = json.loads(stages_file.read_text())
        start_s, exit_s = timed["imported_at"] - spawned_at, spawned_at + wall - timed["ended_at"]
        result["stages"] = {"start_and_imports_s": round(start_s, 2), "exit_s": round(exit_s, 2),
                            "start_and_imports_cpu_s": round(timed["imported_cpu_s"], 2),
                            "exit_cpu_s": round(user + system - timed["ended_cpu_s"], 2),
                            **stage_table(timed["stages"], wall - start_s - exit_s)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--studies", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--stages", action="store_true", help="time drkit run's stages (wall clock) in the child")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write the run dirs under DIR and keep them")
    parser.add_argument("--child", nargs=2, type=Path, metavar=("OUT", "STAGES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.studies)
        return
    rounds = []
    load_at_start = _load()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(args.keep)) if args.keep
          else tempfile.TemporaryDirectory(prefix="drkit-bench-run-")) as tmp:
        for n in range(args.rounds):
            rounds.append(one_round(args.studies, Path(tmp) / f"run-{n}", args.stages))
            r = rounds[-1]
            print(f"round {n + 1}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, exit {r['exit_code']}, scenarios passed "
                  f"{r['scenarios_passed']}, load {r['load_average']['before']} -> {r['load_average']['after']}",
                  file=sys.stderr)
            for s in (r.get("stages") or {}).get("stages", []):
                print(f"    {s['name']:<28} {s['wall_s']:>7.2f} s wall {s['cpu_s']:>7.2f} s CPU", file=sys.stderr)
            if r.get("stages"):
                print(f"    {'start + imports':<28} {r['stages']['start_and_imports_s']:>7.2f} s wall "
                      f"{r['stages']['start_and_imports_cpu_s']:>7.2f} s CPU\n"
                      f"    {'process exit':<28} {r['stages']['exit_s']:>7.2f} s wall "
                      f"{r['stages']['exit_cpu_s']:>7.2f} s CPU\n"
                      f"    {'other':<28} {r['stages']['other_s']:>7.2f} s", file=sys.stderr)
    walls = [r["wall_s"] for r in rounds]
    cpus = [r["cpu_s"] for r in rounds]
    report = {"benchmark": "drkit run end to end (make demo)", "machine": {
                  "python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.system(),
                  "platform": platform.platform()},
              "load_average": {"start": load_at_start, "end": _load()},
              "studies": args.studies, "rounds": rounds, "wall_s": {"median": statistics.median(walls),
                                                                   "max": max(walls)},
              "cpu_s": {"median": statistics.median(cpus), "max": max(cpus)},
              "limit_s": LIMIT_S, "under_limit": max(walls) < LIMIT_S,
              "note": "drill durations are simulated (virtual clock); wall time measures this machine"
                      + ("; --stages rounds carry the timing wrappers' own (small) cost" if args.stages else "")}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"drkit run, {args.studies} studies, {args.rounds} round(s): median {report['wall_s']['median']:.1f} s, "
              f"max {report['wall_s']['max']:.1f} s, CPU median {report['cpu_s']['median']:.1f} s (limit {LIMIT_S:.0f} s) -> "
              f"{'OK' if report['under_limit'] else 'TOO SLOW'}")
    sys.exit(0 if report["under_limit"] and all(r["exit_code"] == 0 for r in rounds) else 1)


if __name__ == "__main__":
    main()
