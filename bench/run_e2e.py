"""`drkit run` end to end on the default data set: is it under a minute on this machine?

    python -m bench.run_e2e [--rounds 3] [--studies 16] [--json]

Each round runs ``drkit run`` in a fresh process exactly as ``make demo`` does (embedded cloud
started in-process, stack ``dev`` deployed offline, the synthetic data set ingested, the
verification ladder before the drills, every built-in scenario, the ladder after them and the
final verification, the run dir written, report.json/html/pdf rendered and signed) and
measures its wall time from outside. From the run's journal it reports the simulated time the
drills covered, the exit code and the ladder's verdicts; from the run dir which reports
exist; the load average before and after each round says how busy the machine was. The drills' own durations are simulated (virtual clock): this
benchmark measures the machine, not AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_S = 60.0


def one_round(studies: int, out: Path) -> dict:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    env.setdefault("DRKIT_KEY_DIR", str(out.parent / "keys"))     # the runs' signing keys stay in the temp dir
    argv = [sys.executable, "-c", "from drills.cli import main; main()", "run", "--out", str(out),
            "--studies", str(studies)]
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    journal = json.loads((out / "journal.json").read_text())
    ladder = {key: f"{sum(r['status'] == 'passed' for r in rungs)}/{len(rungs)} passed"
              for key in ("steady_state_before", "steady_state_after", "ladder")
              for rungs in [((journal.get(key) or {}).get("rungs") or [])]}
    return {"wall_s": round(wall, 2), "exit_code": proc.returncode,
            "simulated_s": journal["duration_s"], "instances": journal["scope"]["instances"],
            "scenarios": {s["name"]: s["status"] for s in journal["scenarios"]}, "ladder": ladder,
            "reports": [n for n in ("report.json", "report.html", "report.pdf") if (out / n).is_file()],
            "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--studies", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="drkit-bench-run-") as tmp:
        for n in range(args.rounds):
            rounds.append(one_round(args.studies, Path(tmp) / f"run-{n}"))
            print(f"round {n + 1}: {rounds[-1]['wall_s']:.1f} s wall, exit {rounds[-1]['exit_code']}, "
                  f"load {rounds[-1]['load_average']['before']:.1f} -> {rounds[-1]['load_average']['after']:.1f}",
                  file=sys.stderr)
    walls = [r["wall_s"] for r in rounds]
    report = {"benchmark": "drkit run end to end (make demo)", "machine": {
                  "python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.system()},
              "studies": args.studies, "rounds": rounds, "wall_s": {"median": statistics.median(walls),
                                                                   "max": max(walls)},
              "limit_s": LIMIT_S, "under_limit": max(walls) < LIMIT_S,
              "note": "drill durations are simulated (virtual clock); wall time measures this machine"}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"drkit run, {args.studies} studies, {args.rounds} round(s): median {report['wall_s']['median']:.1f} s, "
              f"max {report['wall_s']['max']:.1f} s (limit {LIMIT_S:.0f} s) -> "
              f"{'OK' if report['under_limit'] else 'TOO SLOW'}")
    sys.exit(0 if report["under_limit"] and all(r["exit_code"] == 0 for r in rounds) else 1)


if __name__ == "__main__":
    main()
