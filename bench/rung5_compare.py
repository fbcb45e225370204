"""Rung 5 at scale: the compute-checksum comparison (drills/probes/checksum_compare.py) over N
wanted versions, N index items and two N-row completion reports, with planted defects; wall
time, CPU and peak RSS of the comparison process alone (bench/measure.py).

The four input files are the ones rung 5 writes as it streams the index Scan pages and the
report rows (``write_versions``, ``IndexSink``, ``write_report`` layouts), generated here by
DuckDB (generation is not timed). The measured child loads them into DuckDB under
``--memory-limit``, writes the Batch Operations manifest (DuckDB's COPY, keys URL-encoded) and
compares; only counts and first labels come back.

    python -m bench.rung5_compare --rows 1000000 --memory-limit 64MB --json bench/rung5_compare-64MB.json

``--data-dir DIR`` keeps the generated files (``DIR/<rows>/``) for the next run, e.g. at another
memory limit; the comparison's database goes to a temporary folder either way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import launcher_floor_mb, run_measured

PLANTED = 100       # of each kind: archive mismatch, replica mismatch, index without checksum, failed replica task


def generate(folder: Path, rows: int) -> None:
    import duckdb

    con = duckdb.connect()
    key = "'dicom/1.2.' || (i // 1000) || '/1.3.' || (i // 10) || '/1.4.' || i || '.dcm'"
    digest = "to_base64(unhex(sha256(i::VARCHAR)))"
    bad = "to_base64(unhex(sha256(i::VARCHAR || 'x')))"
    src = f"FROM range({rows}) t(i)"
    opts = "(FORMAT CSV, HEADER false, FORCE_QUOTE *)"
    con.execute(f"COPY (SELECT {key}, 'v' || i {src}) TO '{folder / 'versions.csv'}' {opts}")
    con.execute(f"COPY (SELECT i + 1, {key}, 'v' || i, CASE WHEN i BETWEEN 2000 AND 2000 + {PLANTED} - 1 "
                f"THEN '' ELSE {digest} END {src}) TO '{folder / 'index.csv'}' {opts}")
    for side, lo in (("archive", 1000), ("replica", 3000)):
        value = f"CASE WHEN i BETWEEN {lo} AND {lo + PLANTED - 1} THEN {bad} ELSE {digest} END"
        failed = "i BETWEEN 4000 AND 4000 + %d - 1" % PLANTED if side == "replica" else "false"
        con.execute(f"COPY (SELECT i + 1, {key}, {key}, 'v' || i, CASE WHEN {failed} THEN 'failed' ELSE 'succeeded' "
                    f"END, CASE WHEN {failed} THEN '' ELSE {value} END, CASE WHEN {failed} THEN 'AccessDenied' "
                    f"ELSE '' END {src}) TO '{folder / (side + '.csv')}' {opts}")
    con.close()


def compare(folder: Path, work: Path, memory_limit: str, threads: int) -> None:
    """The measured child: load the files in ``folder`` into a database in ``work`` and
    compare, print the counts as JSON."""
    from drills.probes.checksum_compare import ChecksumTables

    with ChecksumTables(work, memory_limit=memory_limit, threads=threads) as tables:
        tables.choose(folder / "versions.csv", None, 0)
        tables.write_manifest("archive", work / "manifest.csv")     # as rung 5 does for each side
        tables.load_index(folder / "index.csv")
        for side in ("archive", "replica"):
            tables.load_report(side, folder / f"{side}.csv")
        c = tables.compare()
    print(json.dumps({"versions": c.versions, "matched": c.matched, "found": {k: v[0] for k, v in c.found.items()},
                      "notVerified": {s: v["count"] for s, v in c.not_verified.items()}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--memory-limit", default="64MB")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--data-dir", type=Path, help="keep the generated files here (DIR/<rows>/) for reuse")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        compare(args.child, args.work, args.memory_limit, args.threads)
        return
    runs = []
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="drkit-bench-rung5-") as tmp:
            folder = (args.data_dir / str(rows)) if args.data_dir else Path(tmp) / "data"
            if not (folder / "generated").exists():
                folder.mkdir(parents=True, exist_ok=True)
                generate(folder, rows)
                (folder / "generated").touch()
            size = sum(p.stat().st_size for p in folder.glob("*.csv"))
            load_at_start = os.getloadavg()
            measured = run_measured([sys.executable, "-m", "bench.rung5_compare", "--child", str(folder),
                                     "--work", str(Path(tmp) / "db"), "--memory-limit", args.memory_limit,
                                     "--threads", str(args.threads)])
            found = json.loads(measured.pop("out") or "{}")
            measured["err"] = measured["err"][-500:]
            expected = {"archive-mismatch": PLANTED, "replica-mismatch": PLANTED, "index-without-checksum": PLANTED}
            ok = (measured["exitCode"] == 0 and all(found.get("found", {}).get(k) == v for k, v in expected.items())
                  and found.get("notVerified", {}).get("replica") == PLANTED)
            runs.append({"rows": rows, "inputBytes": size, "memoryLimit": args.memory_limit, "threads": args.threads,
                         **measured, "result": found, "everyPlantedDefectFound": ok,
                         "loadAtStart": load_at_start, "loadAtEnd": os.getloadavg(),
                         "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            print(json.dumps(runs[-1]), flush=True)
    document = {"launcherFloorMB": launcher_floor_mb(), "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
