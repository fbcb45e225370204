"""`drkit repair` at scale: planning from the inventory reconciliation and writing the S3 Batch
Operations manifest, then comparing a completion report with it, at N versions per side with
planted defects; wall time, CPU and peak RSS of that process alone (bench/measure.py).

    python -m bench.repair_scale [--rows 1000000 10000000] [--per-kind 100] [--memory-limit 64MB]
                                 [--threads 1] [--workdir DIR] [--json FILE]

For each size, DuckDB writes a pair of S3 Inventory reports (``drills.synth.inventory``, the
generator of bench/inventory_reconcile.py: ``--per-kind`` each of missing, altered, extra,
FAILED and unlocked replica versions; generation not timed). The measured child runs the code
`drkit repair` (no ``--findings``) runs on its reconciliation source:

1. ``drills.cli.repair._from_reconciliation`` — ``reconcile.cutoff_of``, ``reconcile.open_engine``
   (both reports into a DuckDB file under ``--memory-limit`` with ``--threads``; both default
   to the command's), ``reconcile.export_repair_manifest`` (DuckDB's COPY writes the Batch Replication
   manifest), ``repair_plan.from_manifest``;
2. ``Plan.write_manifests`` into the output folder (the files the command leaves in ``--out``);
3. ``drills.actions.repair.compare_tasks`` + ``record`` for each batch, as ``execute`` does
   after a job: the batch's versions streamed from its manifest and a completion report
   streamed row by row into DuckDB's comparison.

Excluded (they need the cloud; on the embedded cloud a report of 10M rows would sit in moto's
memory): the download of the two reports (``inventory_path.fetch_reports``, replaced in the
child by the same reports on disk), the job itself (``batch_jobs.run_job``: PutObject of the
manifest, CreateJob, waiting, DescribeJob), and reading the completion report from S3 — the
report compared in step 3 is one row per manifest row, "succeeded", echoing the manifest's
bucket, key and version as AWS's report does. The AWS-only drill-prefix check is not run.

Checked in this process afterwards, not timed: the manifest holds exactly the planted missing
and FAILED versions (every one, nothing else, each once, in the archive's bucket), its row
count equals the plan's, and the comparison found no failed task. A failed check: exit 1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator
from urllib.parse import unquote_plus

from bench.inventory_reconcile import generated_pair
from bench.measure import launcher_floor_mb, run_measured

REPAIRED = ("missing", "failed")          # planted kinds Batch Replication must copy
NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)      # the generated versions are from 2026-01-15


class _Observed:
    """What ``_from_reconciliation`` reads of an Observation, with no cloud behind it."""

    def __init__(self, archive_bucket: str) -> None:
        self.outputs = SimpleNamespace(archiveBucket=archive_bucket)
        self.scope = "dicom/"
        self.clock = SimpleNamespace(now=lambda: NOW, simulated=False)

    def threshold(self) -> tuple[float, str]:
        return 15.0, "bench"


def _succeeded(manifest: Path) -> Iterator[Any]:
    """A completion report in which every task of ``manifest`` succeeded (rows echo it)."""
    from drills.probes.batch_jobs import TaskResult

    with manifest.open(newline="", encoding="utf-8") as handle:
        for bucket, key, version in csv.reader(handle):
            yield TaskResult.from_row([bucket, key, version, "succeeded", "200", "", "Successful"])


def repair_child(archive: Path, replica: Path, out: Path, memory_limit: str, threads: int) -> None:
    """The measured child: plan, write the manifests to ``out``, compare a report with each;
    print counts and stage times as JSON."""
    import drills.probes.inventory_path as inventory_path
    from drills.actions.repair import Outcome, compare_tasks, record
    from drills.cli.repair import _from_reconciliation
    from drills.probes.inventory_report import load_local

    reports = load_local(archive), load_local(replica)
    inventory_path.fetch_reports = lambda obs, workdir: reports     # the S3 download, not measured
    stages: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="drkit-repair-") as tmp:                 # as the command
        plan = _from_reconciliation(_Observed(reports[0].source_bucket), memory_limit, threads, Path(tmp))
        stages["planSeconds"] = time.perf_counter() - started
        manifests = plan.write_manifests(out)
        stages["writeSeconds"] = time.perf_counter() - started - stages["planSeconds"]
        outcomes = []
        for b in plan.ordered():
            outcome = Outcome(b, "bench")
            record(outcome, compare_tasks(b.versions_iter(), _succeeded(manifests[(b.kind, b.side)]),
                                          Path(tmp) / f"compare-{b.kind}-{b.side}", memory_limit,
                                          threads=threads))
            outcomes.append(outcome)
        stages["compareSeconds"] = time.perf_counter() - started - stages["planSeconds"] - stages["writeSeconds"]
    print(json.dumps({"source": plan.source, "unlisted": plan.incomplete,
                      "batches": [{"kind": o.batch.kind, "side": o.batch.side, "bucket": o.batch.bucket,
                                   "versions": o.batch.count, "manifest": str(manifests[(o.batch.kind, o.batch.side)]),
                                   "failedTasks": o.failed_count} for o in outcomes],
                      **{k: round(v, 1) for k, v in stages.items()}}))


def check_manifest(result: dict[str, Any], planted: dict[str, list[str]]) -> dict[str, Any]:
    """The manifest against the planted defects: every one present, nothing else, once each."""
    wanted = {label for kind in REPAIRED for label in planted[kind]}
    batches = result.get("batches", [])
    rows, listed, buckets = 0, set(), set()
    for b in batches:
        with Path(b["manifest"]).open(newline="", encoding="utf-8") as handle:
            for bucket, key, version in csv.reader(handle):
                rows += 1
                buckets.add(bucket)
                listed.add(f"{unquote_plus(key)}@{version}")
    checks = {"planted": len(wanted), "manifestRows": rows, "plannedVersions": sum(b["versions"] for b in batches),
              "missingFromManifest": len(wanted - listed), "notPlanted": len(listed - wanted),
              "duplicateRows": rows - len(listed), "buckets": sorted(buckets),
              "batches": [f"{b['kind']}-{b['side']}" for b in batches],
              "failedTasks": sum(b["failedTasks"] for b in batches)}
    checks["ok"] = (checks["batches"] == ["replicate-archive"] and checks["buckets"] == ["archive-bucket"]
                    and rows == checks["plannedVersions"] == len(wanted) and listed == wanted
                    and not checks["failedTasks"] and not result.get("unlisted"))
    return checks


def run_one(rows: int, per_kind: int, memory_limit: str, threads: int, workdir: Path) -> dict[str, Any]:
    pair, generated = generated_pair(workdir / f"pair-{rows}", rows, per_kind)
    out = workdir / f"repair-{rows}"
    for stale in out.glob("*.csv"):
        stale.unlink()
    load_at_start = os.getloadavg()
    measured = run_measured([sys.executable, "-m", "bench.repair_scale", "--child", str(pair.archive_manifest),
                             str(pair.replica_manifest), "--out", str(out), "--memory-limit", memory_limit,
                             "--threads", str(threads)])
    result = json.loads(measured["out"]) if measured["exitCode"] == 0 and measured["out"].strip() else {}
    checks = check_manifest(result, pair.planted) if result else {"ok": False}
    return {"versionsPerSide": rows, "perKind": per_kind, "memoryLimit": memory_limit, "threads": threads,
            "exitCode": measured["exitCode"], "wallSeconds": measured["wallSeconds"],
            "cpuSeconds": measured["cpuSeconds"], "userCpuSeconds": measured["userCpuSeconds"],
            "peakRssMB": measured["peakRssMB"], "peakRssDecimalMB": round(measured["peakRssMB"] * 1.048576, 1),
            "stages": {k: v for k, v in result.items() if k.endswith("Seconds")},
            "generateSeconds": round(generated, 1),
            "dataBytes": sum(p.stat().st_size for p in pair.archive_manifest.parent.parent.glob("*/data.csv.gz")),
            "manifest": checks, "everyPlantedDefectInManifest": checks["ok"],
            "stderrTail": measured["err"][-600:] if not result else "",
            "loadAtStart": load_at_start, "loadAtEnd": os.getloadavg(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main() -> None:
    from drills.cli.repair import REPAIR_MEMORY_LIMIT, REPAIR_THREADS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--memory-limit", default=REPAIR_MEMORY_LIMIT, help="DuckDB's (default: drkit repair's)")
    parser.add_argument("--threads", type=int, default=REPAIR_THREADS, help="DuckDB's (default: drkit repair's)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/drkit-bench-repair"))
    parser.add_argument("--json", dest="json_file", type=Path, default=Path("bench-repair-scale.json"))
    parser.add_argument("--child", type=Path, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        repair_child(args.child[0], args.child[1], args.out, args.memory_limit, args.threads)
        return
    import duckdb

    machine = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
               "duckdb": duckdb.__version__, "loadAtStart": os.getloadavg(), "launcherFloorMB": launcher_floor_mb()}
    results = []
    for n in args.rows:
        results.append(run_one(n, args.per_kind, args.memory_limit, args.threads, args.workdir))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    machine["loadAtEnd"] = os.getloadavg()
    print(f"{'versions/side':>13} {'limit':>6} {'thr':>3} {'wall s':>7} {'cpu s':>6} {'peak RSS MiB':>12} {'MB':>6} "
          f"{'plan s':>7} {'write s':>7} {'compare s':>9} {'manifest rows':>13} {'planted in it':>13} {'others':>6}")
    for r in results:
        m, s = r["manifest"], r["stages"]
        print(f"{r['versionsPerSide']:>13,} {r['memoryLimit']:>6} {r['threads']:>3} {r['wallSeconds']:>7} "
              f"{r['cpuSeconds']:>6} "
              f"{r['peakRssMB']:>12} {r['peakRssDecimalMB']:>6} {s.get('planSeconds', '-'):>7} "
              f"{s.get('writeSeconds', '-'):>7} {s.get('compareSeconds', '-'):>9} {m.get('manifestRows', '-'):>13} "
              f"{'%s/%s' % (m['planted'] - m['missingFromManifest'], m['planted']) if 'planted' in m else '-':>13} "
              f"{m.get('notPlanted', '-'):>6}")
    args.json_file.write_text(json.dumps({"benchmark": "repair-scale", "machine": machine, "results": results},
                                         indent=2) + "\n")
    print(f"JSON: {args.json_file}")
    failed = [r["versionsPerSide"] for r in results if not r["everyPlantedDefectInManifest"]]
    if failed:
        print(f"FAILED: the manifest is not exactly the planted missing and FAILED versions at {failed} "
              "(see the JSON)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
