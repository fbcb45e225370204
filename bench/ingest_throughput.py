"""Ingest throughput: the Ingestor against a plain boto3 upload of the same files.

    python -m bench.ingest_throughput [--studies 40] [--scale 1] [--workers 8] [--rounds 3]
                                      [--request-costs 120] [--json]

1. ``drkit synth`` writes a mixed data set (the same one ``drkit run`` ingests);
2. an embedded cloud (``drkit cloud serve`` in its own process, so server and client do
   not share a GIL; ``--in-process`` runs it in this one) gets a plain bucket, and an
   archive bucket (versioning + Object Lock) with a study index table;
3. local: ``read_header`` + ``digest_stream`` of every file, no network (the CPU the
   Ingestor adds per instance);
4. raw: ``put_object`` of every file into the plain bucket, ``--workers`` threads;
5. ingest: ``Ingestor.ingest_file`` of every file, same threads (conditional checksummed
   PUT, group-committed index write per instance), then every index item counted;
6. re-ingest: the same files again, every one a DUPLICATE (SQS redelivery, a re-run);
7. request costs: each request kind ingest can send, timed alone on the same cloud with
   the same threads (``--request-costs`` requests each; 0 skips it).

Reports instances/s, MB/s, the ingest overhead over the raw upload, requests per instance,
CPU per instance of this process and (cloud in its own process, Linux) of the cloud's
process, and header bytes read per instance. Figures from the embedded cloud are labelled
"simulated endpoint (moto on 127.0.0.1)": they measure this machine and moto, not AWS.
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
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from botocore.exceptions import ClientError

LABEL = "simulated endpoint (moto on 127.0.0.1)"
REGION = "us-east-1"


# --------------------------------------------------------------------------- the cloud


@contextmanager
def embedded_cloud(in_process: bool) -> Iterator[tuple[str, int | None]]:
    """An embedded cloud's endpoint URL and process id (None when in this process), in this
    process or in a `drkit cloud serve` child."""
    if in_process:
        from drills.cloud.server import EmbeddedCloud

        with EmbeddedCloud() as cloud:
            yield cloud.endpoint, None
        return
    proc = subprocess.Popen(
        [sys.executable, "-c", "from drills.cli import main; main()", "cloud", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("endpoint: "):
            raise SystemExit(f"drkit cloud serve did not start (said {line!r})")
        yield line.removeprefix("endpoint: "), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def count_requests(client: Any, counts: Counter) -> None:
    """Count every HTTP request the client sends, by operation."""
    client.meta.events.register("before-send", lambda request, **_: counts.update([_operation(request)]))


def _operation(request: Any) -> str:
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.decode() if isinstance(target, bytes) else str(target)
    return f"s3:{request.method}"


# --------------------------------------------------------------------------- the phases


def process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) used so far by process ``pid``; None if unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(items: list[Any], workers: int, work: Callable[[Any], Any],
          server_pid: int | None = None) -> tuple[float, float, float | None, list[Any]]:
    """Wall seconds, this process's CPU seconds, the cloud process's CPU seconds (None when
    unknown) and the results of ``work`` over ``items``."""
    server = process_cpu(server_pid)
    cpu, started = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(work, items))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    server_after = process_cpu(server_pid)
    server_cpu = server_after - server if server is not None and server_after is not None else None
    return wall, cpu, server_cpu, results


def phase(name: str, runs: list[tuple[float, float, float | None]], files: list[Path], total_bytes: int,
          requests: Counter | None = None) -> dict:
    """One table row from the median run (wall seconds, client and server CPU seconds)."""
    seconds = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    row: dict[str, Any] = {
        "phase": name,
        "seconds": round(seconds, 3),
        "allRuns": [round(r[0], 3) for r in runs],
        "instancesPerSecond": round(len(files) / seconds, 1),
        "mbPerSecond": round(total_bytes / seconds / 1e6, 2),
        "clientCpuMsPerInstance": round(cpu / len(files) * 1000, 2),
        "serverCpuMsPerInstance": None,
    }
    if all(r[2] is not None for r in runs):
        row["serverCpuMsPerInstance"] = round(statistics.median(r[2] for r in runs) / len(files) * 1000, 2)
    if requests is not None:
        row["requestsPerInstance"] = {op: round(n / len(files) / len(runs), 2) for op, n in sorted(requests.items())}
    return row


def run(args: argparse.Namespace) -> dict[str, Any]:
    from drills.aws import Target
    from drills.contracts import CHECKSUM_ALGORITHM, INDEX_PARTITION_KEY, INDEX_SORT_KEY
    from drills.ingest.checksum import digest_stream
    from drills.ingest.core import IngestDestination, Ingestor, Outcome
    from drills.ingest.pseudonym import Pseudonymizer
    from drills.ingest.reader import read_header
    from drills.synth.dataset import generate

    with tempfile.TemporaryDirectory(prefix="drkit-bench-") as scratch:
        manifest = generate(Path(scratch) / "set", args.studies, args.seed, args.scale)
        files = manifest.paths()
        total = manifest.total_bytes
        results: dict[str, Any] = {
            "label": LABEL,
            "command": "python -m bench.ingest_throughput " + " ".join(sys.argv[1:]),
            "machine": machine(),
            "dataSet": {**{k: v for k, v in manifest.summary().items() if k not in ("root", "manifest")},
                        "meanInstanceBytes": round(total / len(files))},
            "workers": args.workers,
            "rounds": args.rounds,
            "cloud": "in-process" if args.in_process else "separate process (drkit cloud serve)",
            "phases": [],
        }

        def local(path: Path) -> None:
            with path.open("rb") as fp:
                size = os.fstat(fp.fileno()).st_size
                read_header(fp, size)
                fp.seek(0)
                digest_stream(fp, size)

        runs = [timed(files, 1, local)[:3] for _ in range(args.rounds)]
        results["phases"].append(phase("local: read_header + SHA-256, 1 thread", runs, files, total))

        raw_runs, same_put_runs, ingest_runs, duplicate_runs = [], [], [], []
        raw_requests, same_put_requests = Counter(), Counter()
        ingest_requests, duplicate_requests = Counter(), Counter()
        with embedded_cloud(args.in_process) as (endpoint, server_pid):
            target = Target(endpoint=endpoint)
            s3 = target.client("s3", REGION)
            ddb = target.client("dynamodb", REGION)
            requests: Counter = Counter()
            count_requests(s3, requests)
            count_requests(ddb, requests)
            from drills.ingest.clients import ingest_client   # the clients ingest writes through
            count_requests(ingest_client(target, "s3", REGION), requests)
            count_requests(ingest_client(target, "dynamodb", REGION), requests)
            for _ in range(args.rounds):
                raw_bucket, archive, table = _fresh_buckets(s3, ddb, INDEX_PARTITION_KEY, INDEX_SORT_KEY)
                requests.clear()

                def raw(path: Path, bucket: str = raw_bucket) -> None:
                    s3.put_object(Bucket=bucket, Key=f"raw/{path.relative_to(manifest.root).as_posix()}",
                                  Body=path.read_bytes())

                raw_runs.append(timed(files, args.workers, raw, server_pid)[:3])
                raw_requests += requests
                requests.clear()

                def same_put(path: Path, bucket: str = archive) -> None:
                    s3.put_object(Bucket=bucket, Key=f"put/{path.relative_to(manifest.root).as_posix()}",
                                  Body=path.read_bytes(), ChecksumAlgorithm=CHECKSUM_ALGORITHM,
                                  ContentType="application/dicom", Tagging="drkit-specialty=x&drkit-modality=y")

                same_put_runs.append(timed(files, args.workers, same_put, server_pid)[:3])
                same_put_requests += requests
                requests.clear()

                dest = IngestDestination(target=target, region=REGION, archive_bucket=archive, index_table=table)
                ingestor = Ingestor(dest, Pseudonymizer(os.urandom(32)))
                wall, cpu, server_cpu, outcomes = timed(files, args.workers, ingestor.ingest_file, server_pid)
                ingest_runs.append((wall, cpu, server_cpu))
                ingest_requests += requests
                counts = Counter(r.outcome for r in outcomes)
                if counts[Outcome.ARCHIVED] != len(files):
                    raise SystemExit(f"expected every instance archived, got {dict(counts)}")
                indexed = _count_items(ddb, table)
                if indexed != len(files):
                    raise SystemExit(f"expected {len(files)} index items, found {indexed}")
                requests.clear()
                wall, cpu, server_cpu, again = timed(files, args.workers, ingestor.ingest_file, server_pid)
                duplicate_runs.append((wall, cpu, server_cpu))
                duplicate_requests += requests
                counts = Counter(r.outcome for r in again)
                if counts[Outcome.DUPLICATE] != len(files):
                    raise SystemExit(f"expected every instance a duplicate the second time, got {dict(counts)}")
            if args.request_costs:
                results["requestCosts"] = request_costs(s3, ddb, args.request_costs, args.workers,
                                                        INDEX_PARTITION_KEY, INDEX_SORT_KEY, server_pid)

        results["phases"] += [
            phase(f"raw put_object, plain bucket, {args.workers} threads", raw_runs, files, total, raw_requests),
            phase(f"same PUT as ingest (SHA-256, tags, versioned+locked), {args.workers} threads",
                  same_put_runs, files, total, same_put_requests),
            phase(f"Ingestor.ingest_file, {args.workers} threads", ingest_runs, files, total, ingest_requests),
            phase(f"Ingestor.ingest_file again (all duplicates), {args.workers} threads", duplicate_runs, files,
                  total, duplicate_requests),
        ]
        header_bytes = [r.header_bytes_read for r in outcomes]
        sizes = [p.stat().st_size for p in files]
        results["headerBytesRead"] = {
            "mean": round(statistics.mean(header_bytes)),
            "max": max(header_bytes),
            "meanShareOfInstance": round(statistics.mean(h / s for h, s in zip(header_bytes, sizes)), 4),
        }
        results["machine"]["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
        raw_s = results["phases"][1]["seconds"]
        ingest_s = results["phases"][3]["seconds"]
        results["overheadPercent"] = round((ingest_s - raw_s) / raw_s * 100, 1)
        raw_cpu = results["phases"][1]["clientCpuMsPerInstance"]
        results["clientCpuOverheadPercent"] = round(
            (results["phases"][3]["clientCpuMsPerInstance"] - raw_cpu) / raw_cpu * 100, 1)
        return results


def _count_items(ddb: Any, table: str) -> int:
    count, args = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        page = ddb.scan(**args)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def request_costs(s3: Any, ddb: Any, n: int, workers: int, pk: str, sk: str,
                  server_pid: int | None) -> list[dict[str, Any]]:
    """Wall, client CPU and cloud-process CPU milliseconds per request of each request kind
    ingest sends, ``n`` requests each from ``workers`` threads, on a fresh bucket and table (index
    items shaped like ingest's)."""
    _, archive, table = _fresh_buckets(s3, ddb, pk, sk)
    body = os.urandom(90_000)
    put_args = {"ChecksumAlgorithm": "SHA256", "ContentType": "application/dicom",
                "Tagging": "drkit-specialty=x&drkit-modality=y"}

    def item(prefix: str, i: int) -> dict[str, Any]:
        attrs = {pk: {"S": f"1.2.826.0.1.{prefix}.{i // 7}"}, sk: {"S": f"1.2.826.0.2.{i // 7}/1.2.826.0.3.{i}"}}
        for name in ("SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Modality", "Specialty", "StudyDate",
                     "ChecksumSHA256", "VersionId", "Key", "PatientIdHash", "AccessionHash",
                     "TransferSyntaxUID", "IngestedAt", "ContentSHA256", "ChecksumType"):
            attrs[name] = {"S": f"{name}-{i}-" + "x" * 40}
        attrs["Size"] = {"N": str(90_000 + i)}
        return attrs

    def key(attrs: dict[str, Any]) -> dict[str, Any]:
        return {pk: attrs[pk], sk: attrs[sk]}

    def conditional_put(prefix: str) -> Callable[[int], None]:
        def work(i: int) -> None:
            try:
                s3.put_object(Bucket=archive, Key=f"{prefix}/{i}", Body=body, IfNoneMatch="*", **put_args)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "PreconditionFailed":
                    raise
        return work

    def update(i: int) -> None:
        attrs = item("u", i)
        names = {f"#a{j}": name for j, name in enumerate(a for a in attrs if a not in (pk, sk))}
        ddb.update_item(TableName=table, Key=key(attrs),
                        UpdateExpression="SET " + ", ".join(f"{n} = :v{n[2:]}" for n in names),
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues={f":v{n[2:]}": attrs[a] for n, a in names.items()})

    kinds: list[tuple[str, int, Callable[[int], None]]] = [
        ("s3 PutObject 90 kB (SHA-256, tags)", 1,
         lambda i: s3.put_object(Bucket=archive, Key=f"plain/{i}", Body=body, **put_args)),
        ("s3 PutObject If-None-Match: * (new key)", 1, conditional_put("cond")),
        ("s3 PutObject If-None-Match: * -> 412", 1, conditional_put("cond")),
        ("s3 HeadObject", 1, lambda i: s3.head_object(Bucket=archive, Key=f"plain/{i}", ChecksumMode="ENABLED")),
        ("dynamodb UpdateItem (SET 16 attributes)", 1, update),
        ("dynamodb PutItem attribute_not_exists", 1,
         lambda i: ddb.put_item(TableName=table, Item=item("p", i), ConditionExpression="attribute_not_exists(#k)",
                                ExpressionAttributeNames={"#k": pk})),
        ("dynamodb GetItem (consistent, item present)", 1,
         lambda i: ddb.get_item(TableName=table, Key=key(item("p", i)), ConsistentRead=True)),
    ]
    for k in (4, 8, 25):
        kinds.append((f"dynamodb BatchGetItem {k} absent keys (as ingest)", k,
                      lambda i, k=k: ddb.batch_get_item(RequestItems={table: {
                          "ConsistentRead": True, "Keys": [key(item("absent", i * k + j)) for j in range(k)],
                          "ProjectionExpression": "#p, #s", "ExpressionAttributeNames": {"#p": pk, "#s": sk}}})))
        kinds.append((f"dynamodb BatchWriteItem {k} puts", k,
                      lambda i, k=k: ddb.batch_write_item(RequestItems={table: [
                          {"PutRequest": {"Item": item(f"b{k}", i * k + j)}} for j in range(k)]})))
    rows = []
    for name, per, work in kinds:
        count = max(workers * 2, n // per)
        wall, client_cpu, server_cpu, _ = timed(list(range(count)), workers, work, server_pid)
        rows.append({"request": name, "itemsPerRequest": per, "requests": count,
                     "msPerRequest": round(wall / count * 1000, 2),
                     "msPerItem": round(wall / count / per * 1000, 2),
                     "clientCpuMsPerRequest": round(client_cpu / count * 1000, 2),
                     "serverCpuMsPerRequest": None if server_cpu is None else round(server_cpu / count * 1000, 2)})
    return rows


def _fresh_buckets(s3: Any, ddb: Any, pk: str, sk: str) -> tuple[str, str, str]:
    """A plain bucket, an archive bucket (versioning + Object Lock) and an index table."""
    suffix = uuid.uuid4().hex[:8]
    raw_bucket, archive, table = f"bench-raw-{suffix}", f"bench-archive-{suffix}", f"bench-index-{suffix}"
    s3.create_bucket(Bucket=raw_bucket)
    s3.create_bucket(Bucket=archive, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket=archive, VersioningConfiguration={"Status": "Enabled"})
    from drills.contracts import INDEX_TABLE_DEFINITION   # keys and the SOP Instance UID GSI ingest queries

    assert [k["AttributeName"] for k in INDEX_TABLE_DEFINITION["KeySchema"]] == [pk, sk]
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **INDEX_TABLE_DEFINITION)
    for i in range(20):  # warm up connections and moto's code paths
        s3.put_object(Bucket=raw_bucket, Key=f"warmup/{i}", Body=b"x" * 1024)
    return raw_bucket, archive, table


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import boto3
    import moto
    import pydicom

    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "os": platform.platform(),
        "boto3": boto3.__version__,
        "moto": moto.__version__,
        "pydicom": pydicom.__version__,
    }


def render(results: dict[str, Any]) -> str:
    data = results["dataSet"]
    lines = [
        f"data set: {data['instances']} instances, {data['studies']} studies, {data['bytes'] / 1e6:.1f} MB "
        f"(mean {data['meanInstanceBytes'] / 1e3:.0f} kB); cloud: {results['cloud']}",
        f"{'phase':<72} {'s':>7} {'inst/s':>8} {'MB/s':>7} {'cpu ms':>7} {'srv ms':>7}  requests/instance",
    ]
    for row in results["phases"]:
        reqs = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in row.get("requestsPerInstance", {}).items())
        server = row["serverCpuMsPerInstance"]
        lines.append(f"{row['phase']:<72} {row['seconds']:>7.2f} {row['instancesPerSecond']:>8.1f} "
                     f"{row['mbPerSecond']:>7.2f} {row['clientCpuMsPerInstance']:>7.2f} "
                     f"{'-' if server is None else f'{server:.2f}':>7}  {reqs}")
    hb = results["headerBytesRead"]
    lines += [
        f"ingest overhead over raw upload: {results['overheadPercent']}% wall clock, "
        f"{results['clientCpuOverheadPercent']}% client CPU ({LABEL})",
        f"header bytes read per instance: mean {hb['mean']}, max {hb['max']} "
        f"({hb['meanShareOfInstance'] * 100:.1f}% of an instance on average)",
    ]
    if results.get("requestCosts"):
        lines.append(f"request costs, {results['workers']} threads ({LABEL}):")
        for r in results["requestCosts"]:
            server = r["serverCpuMsPerRequest"]
            lines.append(f"  {r['request']:<48} {r['msPerRequest']:>7.2f} ms/request {r['msPerItem']:>7.2f} ms/item"
                         f"  client CPU {r['clientCpuMsPerRequest']:.2f}"
                         + ("" if server is None else f", cloud CPU {server:.2f} ms/request"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the timed phases; the median is reported")
    parser.add_argument("--request-costs", type=int, default=120, metavar="N",
                        help="time N requests of each kind ingest sends (0: skip)")
    parser.add_argument("--in-process", action="store_true", help="run the embedded cloud in this process")
    parser.add_argument("--json", action="store_true", help="results as JSON on stdout")
    args = parser.parse_args(argv)
    results = run(args)
    print(render(results), file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
