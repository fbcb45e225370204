"""Index rebuild: header bytes read per instance against object size (header-only ranged reads).

    python -m bench.index_rebuild [--studies 16] [--scales 1 8] [--seed 7] [--json FILE]

For each data set (``--scales``: the pixel-data multiplier of ``drkit synth --scale``; 1 is
``drkit run``'s default data set, 8 the ingest benchmark's "larger instances"), a child
process runs ``drkit run index-loss --studies N --out DIR`` — the whole command: embedded
cloud, offline deploy, the synthetic data set ingested, the ladder before and after, the
scenario (the index rebuilt from the archive, then from the DR replica with the primary region
down), reports. The figures come from the run's journal.json: the ``rebuild-index`` action's
output and its ``header_bytes_ratio`` and ``rebuild_time`` measurements (simulated, virtual
clock: reads take no virtual time).

Two figures are not in the journal, so the child process measures them around the action
itself (it wraps the registered ``rebuild-index`` provider, nothing else changes): the wall time
of each rebuild step on this machine, and the AWS API calls the step sent (counted in botocore,
on the action's thread), from which ranged GETs and HEADs per instance follow. ``drkit run`` has
no size option; for scales other than 1 the child passes ``scale`` to the same generator
(``drills.synth.dataset.generate``, as ``drkit synth --scale`` does).

Everything runs on the embedded cloud (moto on 127.0.0.1): byte and request counts are what
the code sends and would be the same on AWS; the wall times measure this machine.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SCENARIO = "index-loss"
ACTION = "rebuild-index"
SCALED = {1.0: "default data set", 8.0: "larger instances (scale 8)"}


class JournalError(ValueError):
    """The journal lacks what the benchmark reads (the scenario did not run, or not to the end)."""


def rebuild_figures(journal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per rebuild source ("primary", "dr"): the figures the index-loss scenario recorded.

    Reads the ``rebuild-index`` activities' outputs and the ``header_bytes_ratio`` and
    ``rebuild_time`` measurements; raises ``JournalError`` naming what is missing."""
    scenario = next((s for s in journal.get("scenarios") or [] if s.get("name") == SCENARIO), None)
    if scenario is None:
        raise JournalError(f"the journal has no {SCENARIO} scenario")
    outputs = {a["output"]["source"]: a for a in scenario.get("method") or []
               if a.get("provider") == ACTION and (a.get("output") or {}).get("source")}
    measured: dict[tuple[str, str], dict[str, Any]] = {}
    for m in scenario.get("measurements") or []:
        source = (m.get("detail") or {}).get("source")
        if source and m.get("name") in ("header_bytes_ratio", "rebuild_time"):
            measured[(source, m["name"])] = m
    if not outputs:
        raise JournalError(f"the {SCENARIO} scenario recorded no {ACTION} step")
    figures = {}
    for source, activity in outputs.items():
        ratio, took = measured.get((source, "header_bytes_ratio")), measured.get((source, "rebuild_time"))
        if ratio is None or took is None:
            raise JournalError(f"the {source} rebuild recorded no header_bytes_ratio/rebuild_time measurement")
        out, detail = activity["output"], ratio["detail"]
        items = out["items"]
        figures[source] = {
            "status": activity["status"], "instances": items, "unreadable": out.get("unreadable", 0),
            "headerBytes": detail["header_bytes"], "objectBytes": detail["object_bytes"],
            "meanObjectBytes": round(detail["object_bytes"] / items, 1) if items else None,
            "headerBytesPerInstance": detail["per_instance_bytes"],
            "ratio": ratio["value"], "worstInstanceRatio": detail["worst_instance_ratio"],
            "rebuildTimeSimulatedS": took["value"], "rebuildTimeSimulated": bool(took.get("simulated")),
            "rebuildTimeNote": (took.get("detail") or {}).get("note", ""),
        }
    return figures


def combine(figures: dict[str, dict[str, Any]], timings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The journal's figures with the child's wall time and request counts per source."""
    rows = {}
    for source, fig in figures.items():
        timed = timings.get(source) or {}
        calls = timed.get("calls") or {}
        n = fig["instances"]
        rows[source] = {**fig, "wallS": timed.get("wallS"), "calls": calls,
                        "rangedGetBytes": timed.get("rangedGetBytes"), "objectsReadWhole": timed.get("objectsReadWhole"),
                        "rangedGetsPerInstance": round(calls.get("GetObject", 0) / n, 2) if n and timed else None,
                        "headsPerInstance": round(calls.get("HeadObject", 0) / n, 2) if n and timed else None}
    return rows


def _child(out: Path, timings_file: Path, studies: int, scale: float, seed: int) -> None:
    """Run ``drkit run index-loss`` in this process with the rebuild step timed and counted."""
    import botocore.client

    from drills.cli import main
    from drills.engine import registry

    timings: dict[str, dict[str, Any]] = {}
    counting: dict[int, dict[str, int]] = {}              # thread id -> operation -> calls
    original_call = botocore.client.BaseClient._make_api_call

    def counted_call(self: Any, operation: str, params: Any) -> Any:
        calls = counting.get(threading.get_ident())
        if calls is not None:
            calls[operation] = calls.get(operation, 0) + 1
        return original_call(self, operation, params)

    botocore.client.BaseClient._make_api_call = counted_call
    from drills.actions import index_rebuild as rebuild_module
    original_read = rebuild_module.RangedObject.read
    fetched: dict[int, dict[tuple, list[int]]] = {}     # thread id -> object version -> [size, bytes received]

    def counted_read(self: Any, n: int = -1) -> bytes:
        data = original_read(self, n)
        streams = fetched.get(threading.get_ident())
        if streams is not None:
            version = (self._bucket, self._key, self._version)     # not id(self): ids are reused
            streams.setdefault(version, [self.size, 0])[1] += len(data)
        return data

    rebuild_module.RangedObject.read = counted_read
    provider = registry.get("action", ACTION)
    assert provider is not None, f"no {ACTION} action registered"

    def timed(run: Any, source: str) -> Any:
        calls: dict[str, int] = {}
        streams: dict[tuple, list[int]] = {}
        counting[threading.get_ident()] = calls
        fetched[threading.get_ident()] = streams
        started = time.perf_counter()
        try:
            return provider.fn(run, source=source)
        finally:
            wall = time.perf_counter() - started
            counting.pop(threading.get_ident(), None)
            fetched.pop(threading.get_ident(), None)
            timings[source] = {"wallS": round(wall, 3), "calls": calls,
                               "rangedGetBytes": sum(got for _, got in streams.values()),
                               "objectsReadWhole": sum(got >= size for size, got in streams.values())}

    timed.__doc__ = provider.fn.__doc__
    registry.action(ACTION, provider.arguments, required=list(provider.required), disruptive=provider.disruptive,
                    plan=provider.plan)(timed)
    if scale != 1.0:
        import drills.cli.rehearsal as rehearsal
        rehearsal.generate = functools.partial(rehearsal.generate, scale=scale)
    try:
        main(["run", SCENARIO, "--out", str(out), "--studies", str(studies), "--seed", str(seed)])
    finally:                                      # drkit's main always exits with the run's code
        timings_file.write_text(json.dumps(timings))


def run_one(studies: int, scale: float, seed: int, tmp: Path) -> dict[str, Any]:
    out, timings_file = tmp / f"run-scale-{scale:g}", tmp / f"timings-scale-{scale:g}.json"
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    env.setdefault("DRKIT_KEY_DIR", str(tmp / "keys"))     # the run's signing key stays in the temp dir
    argv = [sys.executable, "-m", "bench.index_rebuild", "--child", str(out), str(timings_file),
            "--studies", str(studies), "--scale", str(scale), "--seed", str(seed)]
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()
    journal_file = out / "journal.json"
    if not journal_file.is_file():
        raise SystemExit(f"drkit run {SCENARIO} (scale {scale:g}) wrote no journal (exit {proc.returncode}):\n"
                         f"{proc.stderr[-2000:]}")
    journal = json.loads(journal_file.read_text())
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
    return {"dataSet": SCALED.get(scale, f"scale {scale:g}"), "scale": scale, "studies": studies, "seed": seed,
            "exitCode": proc.returncode, "runWallS": round(wall, 1),
            "scenarioStatus": next((s["status"] for s in journal["scenarios"] if s["name"] == SCENARIO), None),
            "sources": combine(rebuild_figures(journal), timings),
            "loadAverage": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]}}


def table(results: list[dict[str, Any]]) -> str:
    head = (f"{'data set':<28} {'from':<8} {'inst':>5} {'mean obj B':>11} {'hdr B/inst':>11} {'ratio':>6} "
            f"{'worst':>6} {'GET/inst':>8} {'HEAD/inst':>9} {'sim s':>6} {'wall s':>7}")
    lines = [head, "-" * len(head)]
    for r in results:
        for source, s in r["sources"].items():
            get = "-" if s["rangedGetsPerInstance"] is None else f"{s['rangedGetsPerInstance']:.2f}"
            heads = "-" if s["headsPerInstance"] is None else f"{s['headsPerInstance']:.2f}"
            wall = "-" if s["wallS"] is None else f"{s['wallS']:.2f}"
            lines.append(f"{r['dataSet']:<28} {source:<8} {s['instances']:>5} {s['meanObjectBytes']:>11,.0f} "
                         f"{s['headerBytesPerInstance']:>11,.0f} {s['ratio']:>6.3f} {s['worstInstanceRatio']:>6.3f} "
                         f"{get:>8} {heads:>9} {s['rebuildTimeSimulatedS']:>6.0f} {wall:>7}")
    for r in results:
        for source, s in r["sources"].items():
            if s["rangedGetBytes"] is not None:
                lines.append(f"{r['dataSet']}, {source}: bytes received by the ranged GETs {s['rangedGetBytes']:,} "
                             f"({'equal to' if s['rangedGetBytes'] == s['headerBytes'] else 'NOT equal to'} the "
                             f"journal's header bytes); {s['objectsReadWhole']} of {s['instances']} objects read "
                             f"whole (every byte fetched)")
    lines.append("sim s: rebuild time on the virtual clock (simulated; reads take no virtual time). "
                 "wall s: the rebuild step on this machine, embedded cloud (moto on 127.0.0.1).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=16)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 8.0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", dest="json_file", type=Path, default=Path("bench-index-rebuild.json"))
    parser.add_argument("--child", nargs=2, type=Path, metavar=("OUT", "TIMINGS"), help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.studies, args.scale, args.seed)
        return
    if args.studies < 1 or any(s <= 0 for s in args.scales):
        parser.error("--studies must be >= 1 and every --scales value > 0")
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="drkit-bench-rebuild-") as tmp:
        results = [run_one(args.studies, scale, args.seed, Path(tmp)) for scale in args.scales]
    machine = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
               "loadAtStart": [round(x, 2) for x in load_at_start],
               "loadAtEnd": [round(x, 2) for x in os.getloadavg()]}
    print(table(results))
    for r in results:
        print(f"{r['dataSet']}: drkit run {SCENARIO} exit {r['exitCode']}, scenario {r['scenarioStatus']}, "
              f"{r['runWallS']:.1f} s wall for the whole run")
    args.json_file.write_text(json.dumps({
        "benchmark": "index-rebuild", "machine": machine, "results": results,
        "note": "embedded cloud (moto on 127.0.0.1); rebuildTimeSimulatedS is virtual-clock time (simulated); "
                "wallS is the rebuild step's wall time on this machine"}, indent=2))
    print(f"JSON: {args.json_file}")
    sys.exit(0 if all(r["exitCode"] == 0 for r in results) else 1)


if __name__ == "__main__":
    main()
