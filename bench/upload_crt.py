"""Bulk upload: s3transfer's classic TransferManager vs its CRT transfer manager (awscrt).

    python -m bench.upload_crt [--small 300] [--small-kib 256] [--large 6] [--large-mib 24]
                               [--rounds 2] [--json bench/upload_crt.json]

An indication only: the endpoint is the embedded cloud (``drkit cloud serve``, moto on
127.0.0.1, its own process) on the same two cores as the client, so the server's per-request
and per-byte cost, not the client, bounds both. On AWS the CRT client's advantages (many
connections over several S3 IPs, DNS load-balancing, automatic part sizing to a throughput
target, native checksums) cannot show here.

Both managers upload the same files (``--small`` of ``--small-kib`` KiB, DICOM-instance-like,
and ``--large`` of ``--large-mib`` MiB, multipart at 8 MiB parts) into a fresh bucket:
- classic: ``s3transfer.manager.TransferManager`` over a boto3 client (what
  ``client.upload_file`` uses with ``TransferConfig(preferred_transfer_client="classic")``),
  10 threads, 8 MiB threshold and parts;
- crt: ``s3transfer.crt.CRTTransferManager`` over ``create_s3_crt_client`` with a botocore
  request serializer pointed at the endpoint. boto3's own ``preferred_transfer_client="crt"``
  path cannot be used here: ``boto3.crt`` builds its request serializer with
  ``endpoint_url=None`` (it always addresses AWS), so it would ignore the embedded endpoint.
Wall time, this process's CPU (``getrusage``, including the CRT's native threads) and the
cloud process's CPU; every object's size is checked afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from bench.ingest_throughput import LABEL, REGION, embedded_cloud, machine, process_cpu

MIB = 1024 * 1024


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def classic_uploader(endpoint: str) -> tuple[Callable[[Path, str, str], Any], Callable[[], None]]:
    import boto3
    from botocore.config import Config
    from s3transfer.manager import TransferConfig, TransferManager

    client = boto3.client("s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=Config(max_pool_connections=16))
    manager = TransferManager(client, TransferConfig(max_request_concurrency=10, multipart_threshold=8 * MIB,
                                                     multipart_chunksize=8 * MIB))
    return (lambda path, bucket, key: manager.upload(str(path), bucket, key)), manager.shutdown


def crt_uploader(endpoint: str) -> tuple[Callable[[Path, str, str], Any], Callable[[], None]]:
    import botocore.session
    from awscrt.auth import AwsCredentialsProvider
    from botocore.config import Config
    from s3transfer.crt import BotocoreCRTRequestSerializer, CRTTransferManager, create_s3_crt_client

    session = botocore.session.get_session()
    session.set_credentials("testing", "testing")
    crt_client = create_s3_crt_client(REGION, AwsCredentialsProvider.new_static("testing", "testing"),
                                      part_size=8 * MIB, use_ssl=False)
    serializer = BotocoreCRTRequestSerializer(session, {"region_name": REGION, "endpoint_url": endpoint,
                                                        "config": Config(s3={"addressing_style": "path"})})
    manager = CRTTransferManager(crt_client, serializer)
    return (lambda path, bucket, key: manager.upload(str(path), bucket, key)), lambda: manager.shutdown()


def run(args: argparse.Namespace) -> dict[str, Any]:
    import boto3

    load_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="drkit-crt-") as scratch:
        files: list[Path] = []
        for i in range(args.small):
            p = Path(scratch) / f"s{i}.dcm"
            p.write_bytes(os.urandom(args.small_kib * 1024))
            files.append(p)
        for i in range(args.large):
            p = Path(scratch) / f"l{i}.bin"
            p.write_bytes(os.urandom(args.large_mib * MIB))
            files.append(p)
        total = sum(p.stat().st_size for p in files)
        runs: dict[str, list[dict[str, float]]] = {"classic": [], "crt": []}
        with embedded_cloud(False) as (endpoint, server_pid):
            check = boto3.client("s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                                 aws_secret_access_key="testing")
            for _ in range(args.rounds):
                for name, factory in (("classic", classic_uploader), ("crt", crt_uploader)):
                    bucket = f"bench-{name}-{uuid.uuid4().hex[:8]}"
                    check.create_bucket(Bucket=bucket)
                    upload, shutdown = factory(endpoint)
                    upload(files[0], bucket, "warmup").result()
                    server, cpu, started = process_cpu(server_pid), _cpu(), time.perf_counter()
                    futures = [upload(p, bucket, f"data/{p.name}") for p in files]
                    for f in futures:
                        f.result()
                    wall, cpu = time.perf_counter() - started, _cpu() - cpu
                    server_after = process_cpu(server_pid)
                    shutdown()
                    sizes = {o["Key"]: o["Size"] for page in check.get_paginator("list_objects_v2").paginate(
                        Bucket=bucket, Prefix="data/") for o in page.get("Contents", [])}
                    wrong = [p.name for p in files if sizes.get(f"data/{p.name}") != p.stat().st_size]
                    if wrong:
                        raise SystemExit(f"{name}: {len(wrong)} objects missing or of the wrong size")
                    runs[name].append({"wall": wall, "cpu": cpu,
                                       "server": None if server is None or server_after is None
                                       else server_after - server})
    rows = []
    for name, rs in runs.items():
        wall = statistics.median(r["wall"] for r in rs)
        servers = [r["server"] for r in rs if r["server"] is not None]
        rows.append({"manager": name, "seconds": round(wall, 2), "allRuns": [round(r["wall"], 2) for r in rs],
                     "mbPerSecond": round(total / wall / 1e6, 1),
                     "objectsPerSecond": round(len(files) / wall, 1),
                     "clientCpuSeconds": round(statistics.median(r["cpu"] for r in rs), 2),
                     "cloudCpuSeconds": round(statistics.median(servers), 2) if servers else None})
    import awscrt
    import s3transfer
    m = machine()
    m.update({"awscrt": awscrt.__version__, "s3transfer": s3transfer.__version__, "loadAverageAtStart": load_start,
              "loadAverageAtEnd": [round(x, 2) for x in os.getloadavg()]})
    return {"label": LABEL + " - an indication only", "command": "python -m bench.upload_crt " + " ".join(sys.argv[1:]),
            "machine": m, "files": {"small": args.small, "smallKiB": args.small_kib, "large": args.large,
                                    "largeMiB": args.large_mib, "bytes": total},
            "rounds": args.rounds, "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--small-kib", type=int, default=256)
    parser.add_argument("--large", type=int, default=6)
    parser.add_argument("--large-mib", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", dest="json_file", type=Path, default=Path("bench/upload_crt.json"))
    args = parser.parse_args(argv)
    if min(args.small, args.large) < 0 or args.small + args.large < 1 or args.rounds < 1 or args.small_kib < 1 \
            or args.large_mib < 1:
        parser.error("need at least one file, sizes >= 1, --rounds >= 1")
    res = run(args)
    f = res["files"]
    print(f"{f['small']} x {f['smallKiB']} KiB + {f['large']} x {f['largeMiB']} MiB = {f['bytes'] / 1e6:.0f} MB, "
          f"median of {res['rounds']}; {res['label']}; load {res['machine']['loadAverageAtStart']} -> "
          f"{res['machine']['loadAverageAtEnd']}")
    print(f"{'manager':<8} {'wall s':>7} {'MB/s':>6} {'obj/s':>6} {'client cpu s':>13} {'cloud cpu s':>12}")
    for r in res["rows"]:
        print(f"{r['manager']:<8} {r['seconds']:>7} {r['mbPerSecond']:>6} {r['objectsPerSecond']:>6} "
              f"{r['clientCpuSeconds']:>13} {r['cloudCpuSeconds'] if r['cloudCpuSeconds'] is not None else '-':>12}")
    args.json_file.write_text(json.dumps(res, indent=2) + "\n")
    print(f"JSON: {args.json_file}")


if __name__ == "__main__":
    main()
