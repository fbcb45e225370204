"""Replica verification vs the tools engineers reach for: drkit's listing path, `rclone check
--one-way` and `aws s3 sync --dryrun`, on the same buckets with the same planted defects.

    python -m bench.verify_peers [--instances 10000] [--json FILE]

An embedded cloud (`drkit cloud serve`, its own process) gets the ``dev`` stack (`drkit up`);
N small objects (4 KiB, SSE-KMS, SHA-256 checksum) are put into the archive under
``dicom/<study>/<series>/<sop>.dcm`` and replicated by the simulation (virtual clock advanced
past the RTC threshold). Then three defects of each kind are planted in the replica through
the S3 API: *missing* (the replica version deleted by version id, governance bypass),
*altered* (a replica key overwritten with other bytes: a new version written directly) and
*extra* (a key only the replica holds). Each tool then runs as a child process; wall time, CPU
and peak RSS are that process's alone (``bench.measure``: a small launcher forks it, so this
process's RSS is not in the figure); the server's request counter (``/_drkit/status``
is not one) is not available, so requests are counted where the tool reports them: drkit from
its JSON counts, the peers not at all (their listing cost is one request per 1,000 keys too).

drkit runs twice: rungs 1, 3, 4 (listings only: parity, hierarchy, UID sets) and rungs 1-4 + 8
(adds a HEAD of every version on both sides: replication state and Object Lock parity, which
the peers do not check). "defects found" counts planted keys named in the tool's output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.measure import launcher_floor_mb, run_measured

PEERS_AWS = Path("/work/main/.venv/peers/bin/aws")
PER_KIND = 3


def _timed(cmd: list[str], env: dict[str, str] | None = None, timeout: int = 0) -> dict[str, Any]:
    """Wall, CPU (user + system) and peak RSS of ``cmd`` alone (bench.measure: through a small
    launcher, so this process's own RSS is not in the child's figure); the load average when the
    tool started and ended. ``timeout`` > 0 stops the tool (SIGTERM) after that many seconds."""
    load_before = os.getloadavg()
    r = run_measured(cmd, env=env, timeout=timeout)
    return r | {"loadAtStart": load_before, "loadAtEnd": os.getloadavg()}


def setup(instances: int, workdir: Path) -> dict[str, Any]:
    from drills.aws import Target
    from drills.cloud.control import HttpControl
    from drills.contracts import StackOutputs
    from drills.ingest.core import IngestDestination

    py = [sys.executable, "-c", "from drills.cli import main; main()"]
    server = subprocess.Popen(py + ["cloud", "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    endpoint = server.stdout.readline().decode().split("endpoint:", 1)[1].strip()      # type: ignore[union-attr]
    outputs_file = workdir / "outputs.json"
    subprocess.run(py + ["up", "--stack", "dev", "--endpoint", endpoint, "--outputs", str(outputs_file)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    outputs = StackOutputs.load(outputs_file)
    target = Target(endpoint=endpoint)
    dest = IngestDestination.from_outputs(outputs, target)
    s3 = target.client("s3", outputs.primaryRegion)
    body = os.urandom(4096)
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": dest.kms_key_id} if dest.kms_key_id else {}

    def put(i: int) -> None:
        s3.put_object(Bucket=outputs.archiveBucket, Key=f"dicom/2.25.{i // 100}/2.25.{i // 10}/2.25.{i}.dcm",
                      Body=body, ChecksumAlgorithm="SHA256", **extra)
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(instances)))
    put_seconds = time.perf_counter() - started
    advance_started = time.perf_counter()
    HttpControl(endpoint, timeout=7200).advance(timedelta(minutes=20).total_seconds())
    replica = target.client("s3", outputs.drRegion)
    planted: dict[str, list[str]] = {"missing": [], "altered": [], "extra": []}
    for n in range(PER_KIND):
        key = f"dicom/2.25.{(n * 100 + 1) // 100}/2.25.{(n * 100 + 1) // 10}/2.25.{n * 100 + 1}.dcm"
        vid = replica.head_object(Bucket=outputs.replicaBucket, Key=key)["VersionId"]
        replica.delete_object(Bucket=outputs.replicaBucket, Key=key, VersionId=vid, BypassGovernanceRetention=True)
        planted["missing"].append(key)
        i = n * 100 + 2
        key = f"dicom/2.25.{i // 100}/2.25.{i // 10}/2.25.{i}.dcm"
        replica.put_object(Bucket=outputs.replicaBucket, Key=key, Body=os.urandom(4096), **extra)
        planted["altered"].append(key)
        # UID root 2.26 is never a source key's (2.25.*): at >= 9,001 instances the earlier
        # dicom/2.25.9N/2.25.9N0/2.25.9N00.dcm was a source key, so the "extra" was a new version
        key = f"dicom/2.26.{n + 1}/2.26.{n + 1}0/2.26.{n + 1}00.dcm"
        replica.put_object(Bucket=outputs.replicaBucket, Key=key, Body=body, **extra)
        planted["extra"].append(key)
    return {"server": server, "endpoint": endpoint, "outputs": outputs, "outputsFile": outputs_file,
            "planted": planted, "putSeconds": round(put_seconds, 1),
            "setupSeconds": round(time.perf_counter() - advance_started + put_seconds, 1)}


def _found(text: str, planted: dict[str, list[str]]) -> dict[str, int]:
    return {kind: sum(1 for k in keys if k.rsplit("/", 1)[-1] in text) for kind, keys in planted.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--no-heads", action="store_true",
                        help="skip drkit's run with the HEAD rungs (2, 8): listings only, for large N")
    parser.add_argument("--tool-timeout", type=int, default=0, metavar="SECONDS",
                        help="stop a tool (SIGTERM) after SECONDS; its figures are then lower bounds "
                             "(rclone at 100k: > 12 minutes)")
    parser.add_argument("--json", dest="json_file", type=Path, default=Path("bench-verify-peers.json"))
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        env = setup(args.instances, Path(tmp))
        load_before_tools = os.getloadavg()
        o, endpoint, planted = env["outputs"], env["endpoint"], env["planted"]
        py = [sys.executable, "-c", "from drills.cli import main; main()"]
        base = py + ["verify", "--endpoint", endpoint, "--outputs", str(env["outputsFile"]), "--path", "listing",
                     "--json"]
        runs: dict[str, dict[str, Any]] = {}
        drkit_runs = [("drkit listing (rungs 1,3,4)", ["1", "3", "4"])]
        if not args.no_heads:
            drkit_runs.append(("drkit listing + HEADs (rungs 1-4,8)", ["1", "2", "3", "4", "8"]))
        for name, rungs in drkit_runs:
            r = _timed(base + [x for n in rungs for x in ("--rung", n)], timeout=args.tool_timeout)
            try:
                doc = json.loads(r["out"] or "{}")
            except json.JSONDecodeError:       # stopped by --tool-timeout: no document
                doc = {}
            counts = next((x["counts"] for x in doc.get("rungs", []) if x["rung"] == 1), {})
            heads = next((x["counts"].get("headRequests", 0) for x in doc.get("rungs", []) if x["rung"] == 2), 0)
            lists = counts.get("archive", {}).get("listRequests", 0) + counts.get("replica", {}).get("listRequests", 0)
            r["requestsPerInstance"] = round((lists + heads) / args.instances, 3)
            r["found"] = _found(r["out"], planted)
            runs[name] = r
        rclone_env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        for side, region in (("SRC", o.primaryRegion), ("DST", o.drRegion)):
            rclone_env.update({f"RCLONE_CONFIG_{side}_TYPE": "s3", f"RCLONE_CONFIG_{side}_PROVIDER": "Other",
                               f"RCLONE_CONFIG_{side}_ENDPOINT": endpoint, f"RCLONE_CONFIG_{side}_REGION": region,
                               f"RCLONE_CONFIG_{side}_ACCESS_KEY_ID": "testing",
                               f"RCLONE_CONFIG_{side}_SECRET_ACCESS_KEY": "testing",
                               f"RCLONE_CONFIG_{side}_FORCE_PATH_STYLE": "true"})
        r = _timed(["rclone", "check", "--one-way", f"src:{o.archiveBucket}/dicom", f"dst:{o.replicaBucket}/dicom"],
                   env=rclone_env, timeout=args.tool_timeout)
        r["requestsPerInstance"] = None
        r["found"] = _found(r["out"] + r["err"], planted)
        runs["rclone check --one-way"] = r
        aws_env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        aws_env.pop("AWS_CA_BUNDLE", None)
        r = _timed([str(PEERS_AWS), "s3", "sync", "--dryrun", "--endpoint-url", endpoint, "--region", o.drRegion,
                    f"s3://{o.archiveBucket}/dicom/",
                    f"s3://{o.replicaBucket}/dicom/"], env=aws_env, timeout=args.tool_timeout)
        r["requestsPerInstance"] = None
        r["found"] = _found(r["out"] + r["err"], planted)
        runs["aws s3 sync --dryrun"] = r
        env["server"].kill()          # the server's state is thrown away: no clean shutdown needed
        env["server"].wait(timeout=60)
    versions = {"rclone": subprocess.run(["rclone", "version"], capture_output=True, text=True).stdout.splitlines()[0],
                "aws": subprocess.run([str(PEERS_AWS), "--version"], capture_output=True, text=True).stdout.strip()}
    print(f"{args.instances:,} instances, {PER_KIND} planted per kind (missing / altered / extra); "
          f"simulated endpoint (moto on 127.0.0.1)")
    print(f"{'tool':<38} {'wall s':>7} {'cpu s':>6} {'RSS MB':>7} {'req/inst':>9} {'missing':>8} {'altered':>8} "
          f"{'extra':>6} {'exit':>5}")
    for name, r in runs.items():
        f = r["found"]
        print(f"{name:<38} {r['wallSeconds']:>7} {r['cpuSeconds']:>6} {r['peakRssMB']:>7} "
              f"{r['requestsPerInstance'] if r['requestsPerInstance'] is not None else '-':>9} "
              f"{f['missing']:>8} {f['altered']:>8} {f['extra']:>6} {r['exitCode']:>5}"
              f"{'  (timed out: lower bounds)' if r['timedOut'] else ''}")
    document = {"benchmark": "verify-peers", "instances": args.instances, "putSeconds": env["putSeconds"],
                "setupSeconds": env["setupSeconds"],
                "planted": planted, "versions": versions,
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "loadAtStart": load_at_start,
                             "loadBeforeTools": load_before_tools, "load": os.getloadavg(),
                             "launcherFloorMB": launcher_floor_mb()},
                "runs": {k: {x: y for x, y in v.items() if x not in ("out", "err")} | {"stderrTail": v["err"][-400:]}
                         for k, v in runs.items()}}
    args.json_file.write_text(json.dumps(document, indent=2))
    print(f"JSON: {args.json_file}")


if __name__ == "__main__":
    main()
