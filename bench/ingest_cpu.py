"""Ingest at scale (issue #13): client CPU per instance, and wall clock under a latency model.

    python -m bench.ingest_cpu [--studies 20] [--workers 8] [--rounds 3]
                               [--s3-ms 30] [--ddb-ms 10] [--stub] [--json bench/ingest_cpu.json]

The embedded cloud (``drkit cloud serve``) runs in its own process, so this process's CPU
time (``resource.getrusage(RUSAGE_SELF)``, user + system, all threads) is the client's alone:
boto3, the Ingestor's header read, SHA-256 and index writes. Two measures, each over the
same ``drkit synth`` data set, raw first then ingest, ``--rounds`` times (medians reported):

(a) client CPU per instance: ingest as ``drkit ingest`` runs it (``drills.ingest.batch.
    ingest_files``: ``--workers`` threads each take an instance up to its upload, the index
    writes follow in groups beside the uploads) vs a raw ``put_object`` of the same file's
    bytes into a plain bucket (``--workers`` threads). Target: ≤ 1.5×.
(b) wall clock under a latency model: every HTTP request the client sends first waits a
    fixed simulated latency on the client side (a botocore ``before-send`` hook that sleeps,
    so it costs no CPU): ``--s3-ms`` per S3 request, ``--ddb-ms`` per DynamoDB request.
    The overhead of ingest over the raw upload then shows whether the index writes are
    pipelined behind the uploads (added to the critical path they would cost one DynamoDB
    round trip per instance at least). Target: ≤ 25 %.
    The defaults come from AWS's documented figures: S3 "Best Practices Design Patterns:
    Optimizing Amazon S3 Performance", *Timeouts and Retries for Latency-Sensitive
    Applications*: for small requests (< 512 KB) "median latencies [are] often in the tens
    of milliseconds" -> 30 ms; DynamoDB: "single-digit millisecond performance at any scale"
    (the DynamoDB product description) -> 10 ms, the top of that range, which is the
    unfavourable end for ingest (its extra requests are DynamoDB's).
    The embedded cloud's own service time (moto, on the same two cores) adds to every
    request on top of the model; its CPU per instance is reported so it can be read off.
    ``--stub`` removes it: under the model the hook answers each request on the client after
    the delay (PutObject echoes the SHA-256 sent, DynamoDB reads find nothing, writes
    succeed), so the wall time is the model plus the client's CPU; measure (a) still uses
    the embedded cloud (the no-latency rows).

Figures are labelled "simulated endpoint (moto on 127.0.0.1)".
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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import uuid
from typing import Any, Callable, Iterator

from bench.ingest_throughput import (LABEL, REGION, _count_items, _fresh_buckets, count_requests, embedded_cloud,
                                     machine, process_cpu)

S3_DOC = ("https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/"
          "timeouts-and-retries-for-latency-sensitive-applications.html")
INGEST = "ingest_files"          # drkit ingest's path: drills.ingest.batch.ingest_files
DDB_DOC = "https://aws.amazon.com/dynamodb/ (\"single-digit millisecond performance at any scale\")"


def client_cpu() -> float:
    """CPU seconds (user + system, every thread) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(items: list[Any], workers: int, work: Callable[[Any], Any], server_pid: int | None,
          batch: Callable[[list[Any]], list[Any]] | None = None) -> dict[str, Any]:
    """Run ``work`` over ``items`` on ``workers`` threads (or ``batch(items)``, which brings
    its own threads): wall and client CPU, and the embedded cloud's CPU."""
    server = process_cpu(server_pid)
    cpu, started = client_cpu(), time.perf_counter()
    if batch is not None:
        results = batch(items)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(work, items))
    wall, cpu = time.perf_counter() - started, client_cpu() - cpu
    server_after = process_cpu(server_pid)
    return {"wall": wall, "cpu": cpu, "server": None if server is None or server_after is None else server_after - server,
            "results": results}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def stub_response(service: str, request: Any) -> Any:
    """A well-formed success response for the requests ingest and the raw upload send, built
    without any server: PutObject echoes the SHA-256 the client sent and gets a version id;
    DynamoDB reads find nothing (every instance new), writes succeed with nothing unprocessed."""
    from botocore.awsrequest import AWSResponse

    if service == "s3":
        if request.method != "PUT":
            raise SystemExit(f"stub transport: unexpected S3 {request.method} {request.url}")
        headers = {"ETag": '"0123456789abcdef0123456789abcdef"', "x-amz-version-id": uuid.uuid4().hex}
        for name in ("x-amz-checksum-sha256", "x-amz-checksum-crc32"):
            if request.headers.get(name):
                value = request.headers[name]
                headers[name] = value.decode() if isinstance(value, bytes) else value
        return AWSResponse(request.url, 200, headers, _Raw(b""))
    target = request.headers.get("X-Amz-Target", b"")
    op = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
    body = json.loads(request.body or b"{}")
    replies = {"Query": {"Items": [], "Count": 0, "ScannedCount": 0},
               "BatchGetItem": {"Responses": {t: [] for t in body.get("RequestItems", {})}, "UnprocessedKeys": {}},
               "BatchWriteItem": {"UnprocessedItems": {}},
               "TransactWriteItems": {},
               "PutItem": {}, "UpdateItem": {},
               # the claims-completeness check, once per Ingestor: no marker, empty tables (a new stack)
               "GetItem": {}, "Scan": {"Items": [], "Count": 0, "ScannedCount": 0}}
    if op not in replies:
        raise SystemExit(f"stub transport: unexpected DynamoDB {op}")
    return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0",
                                          "x-amzn-RequestId": uuid.uuid4().hex},
                       _Raw(json.dumps(replies[op]).encode()))


class Latency:
    """A fixed simulated latency per request, by service, slept in the sending thread; with
    ``stub`` the response is then made up on the client (no server at all)."""

    def __init__(self, stub: bool = False) -> None:
        self.seconds: dict[str, float] = {}
        self.delayed: Counter = Counter()
        self.stub = stub

    def attach(self, client: Any, service: str) -> None:
        def hook(request: Any, **_: Any) -> Any:
            delay = self.seconds.get(service, 0.0)
            if delay:
                self.delayed.update([service])
                time.sleep(delay)
            return stub_response(service, request) if self.stub and self.seconds else None
        client.meta.events.register(f"before-send.{service}", hook)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from drills.aws import Target
    from drills.contracts import CLAIMS_TABLE_DEFINITION, INDEX_PARTITION_KEY, INDEX_SORT_KEY
    from drills.ingest.batch import ingest_files
    from drills.ingest.clients import ingest_client
    from drills.ingest.core import IngestDestination, Ingestor, Outcome
    from drills.ingest.pseudonym import Pseudonymizer
    from drills.ingest.sources import InputFile
    from drills.ingest.summary import IngestSummary
    from drills.synth.dataset import generate

    started_load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="drkit-bench-") as scratch:
        manifest = generate(Path(scratch) / "set", args.studies, args.seed, args.scale)
        files = manifest.paths()
        total = manifest.total_bytes
        latency = Latency(stub=args.stub)
        models = [("no added latency", {}),
                  (f"S3 {args.s3_ms:g} ms, DynamoDB {args.ddb_ms:g} ms per request",
                   {"s3": args.s3_ms / 1000, "dynamodb": args.ddb_ms / 1000})]
        rows: dict[str, dict[str, list]] = {}
        requests: Counter = Counter()
        per_phase_requests: dict[str, Counter] = {}
        with embedded_cloud(False) as (endpoint, server_pid):
            target = Target(endpoint=endpoint)
            s3 = target.client("s3", REGION)
            ddb = target.client("dynamodb", REGION)
            # the raw side's clients and the ones ingest writes through (drills.ingest.clients)
            for client, service in ((s3, "s3"), (ddb, "dynamodb"), (ingest_client(target, "s3", REGION), "s3"),
                                    (ingest_client(target, "dynamodb", REGION), "dynamodb")):
                count_requests(client, requests)
                latency.attach(client, service)
            for model_name, seconds in models:
                for _ in range(args.rounds):
                    latency.seconds = {}
                    raw_bucket, archive, table = _fresh_buckets(s3, ddb, INDEX_PARTITION_KEY, INDEX_SORT_KEY)
                    claims = None
                    if args.claims:
                        claims = f"{table}-claims"
                        ddb.create_table(TableName=claims, BillingMode="PAY_PER_REQUEST", **CLAIMS_TABLE_DEFINITION)
                    latency.seconds = seconds
                    ingestor = Ingestor(IngestDestination(target=target, region=REGION, archive_bucket=archive,
                                                          index_table=table, claims_table=claims),
                                        Pseudonymizer(os.urandom(32)))

                    def raw(path: Path, bucket: str = raw_bucket) -> None:
                        s3.put_object(Bucket=bucket, Key=f"raw/{path.relative_to(manifest.root).as_posix()}",
                                      Body=path.read_bytes())

                    def ingest(paths: list[Path], ingestor: Ingestor = ingestor) -> list[Any]:
                        summary = IngestSummary(simulated=True)
                        ingest_files(ingestor, [InputFile(p, p.name) for p in paths], summary, args.workers)
                        if summary.failures:
                            raise SystemExit(f"ingest failed: {summary.failures[0].message}")
                        return summary.results

                    for phase, work, batch in (("raw put_object", raw, None), (INGEST, None, ingest)):
                        requests.clear()
                        latency.delayed.clear()
                        m = timed(files, args.workers, work, server_pid, batch)
                        key = f"{model_name} | {phase}"
                        rows.setdefault(key, {"wall": [], "cpu": [], "server": []})
                        for k in ("wall", "cpu", "server"):
                            rows[key][k].append(m[k])
                        per_phase_requests[key] = Counter(requests)
                        if seconds and sum(latency.delayed.values()) != sum(requests.values()):
                            raise SystemExit(f"latency hook missed requests: {dict(latency.delayed)} vs "
                                             f"{dict(requests)}")
                        if phase == INGEST:
                            counts = Counter(r.outcome for r in m["results"])
                            if counts[Outcome.ARCHIVED] != len(files):
                                raise SystemExit(f"expected every instance archived, got {dict(counts)}")
                    latency.seconds = {}
                    indexed = len(files) if seconds and args.stub else _count_items(ddb, table)
                    if indexed != len(files):
                        raise SystemExit(f"expected {len(files)} index items, found {indexed}")

    n = len(files)
    table_rows = []
    for key, r in rows.items():
        model_name, phase = key.split(" | ")
        wall = statistics.median(r["wall"])
        servers = [s for s in r["server"] if s is not None]
        table_rows.append({
            "model": model_name, "phase": phase,
            "seconds": round(wall, 3), "allRuns": [round(w, 3) for w in r["wall"]],
            "instancesPerSecond": round(n / wall, 1),
            "clientCpuMsPerInstance": round(statistics.median(r["cpu"]) / n * 1000, 3),
            "clientCpuMsAllRuns": [round(c / n * 1000, 3) for c in r["cpu"]],
            "serverCpuMsPerInstance": round(statistics.median(servers) / n * 1000, 3) if servers else None,
            "requestsPerInstance": {op: round(c / n, 3) for op, c in sorted(per_phase_requests[key].items())},
        })

    def row(model: str, phase: str) -> dict[str, Any]:
        return next(x for x in table_rows if x["model"] == model and x["phase"] == phase)

    none_model, lat_model = models[0][0], models[1][0]
    cpu_ratio = (row(none_model, INGEST)["clientCpuMsPerInstance"]
                 / row(none_model, "raw put_object")["clientCpuMsPerInstance"])
    lat_raw, lat_ingest = row(lat_model, "raw put_object")["seconds"], row(lat_model, INGEST)["seconds"]
    overhead = (lat_ingest - lat_raw) / lat_raw * 100
    # per-round ratios, so noise across rounds is visible
    cpu_ratios = [i / r for i, r in zip(rows[f"{none_model} | {INGEST}"]["cpu"],
                                        rows[f"{none_model} | raw put_object"]["cpu"])]
    overheads = [(i - r) / r * 100 for i, r in zip(rows[f"{lat_model} | {INGEST}"]["wall"],
                                                   rows[f"{lat_model} | raw put_object"]["wall"])]
    m = machine()
    m["loadAverageAtStart"] = started_load
    m["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "label": LABEL,
        "command": "python -m bench.ingest_cpu " + " ".join(sys.argv[1:]),
        "machine": m,
        "dataSet": {"instances": n, "bytes": total, "meanInstanceBytes": round(total / n), "studies": args.studies,
                    "seed": args.seed, "scale": args.scale},
        "workers": args.workers, "rounds": args.rounds,
        "sopInstanceUidClaims": ("claims table: read in the group commit's BatchGetItem, written in its "
                                 "TransactWriteItems" if args.claims else "index GSI Query per new instance"),
        "latencyTransport": ("stub: responses made up on the client after the delay, no server" if args.stub
                             else "embedded cloud: the delay, then the real request"),
        "latencyModel": {"s3Ms": args.s3_ms, "dynamodbMs": args.ddb_ms, "s3Source": S3_DOC, "dynamodbSource": DDB_DOC,
                         "how": "botocore before-send hook sleeps in the sending thread (no CPU), every request"},
        "rows": table_rows,
        "clientCpuRatio": round(cpu_ratio, 3), "clientCpuRatioPerRound": [round(x, 3) for x in cpu_ratios],
        "clientCpuTarget": 1.5, "clientCpuMet": cpu_ratio <= 1.5,
        "wallOverheadPercent": round(overhead, 1), "wallOverheadPercentPerRound": [round(x, 1) for x in overheads],
        "wallOverheadTarget": 25, "wallOverheadMet": overhead <= 25,
    }


def render(res: dict[str, Any]) -> str:
    d = res["dataSet"]
    lines = [f"{d['instances']} instances, {d['bytes'] / 1e6:.1f} MB, {res['workers']} threads, "
             f"median of {res['rounds']}; {LABEL}; load {res['machine']['loadAverageAtStart']} -> "
             f"{res['machine']['loadAverageAtEnd']}; SOP Instance UIDs: {res['sopInstanceUidClaims']}",
             f"{'latency model':<40} {'phase':<22} {'wall s':>7} {'inst/s':>7} {'client cpu ms/inst':>19} "
             f"{'cloud cpu ms/inst':>18}  requests/instance"]
    for r in res["rows"]:
        reqs = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in r["requestsPerInstance"].items())
        srv = r["serverCpuMsPerInstance"]
        lines.append(f"{r['model']:<40} {r['phase']:<22} {r['seconds']:>7.2f} {r['instancesPerSecond']:>7.1f} "
                     f"{r['clientCpuMsPerInstance']:>19.2f} {'-' if srv is None else f'{srv:.2f}':>18}  {reqs}")
    lines.append(f"(a) client CPU ingest / raw: {res['clientCpuRatio']}x (per round {res['clientCpuRatioPerRound']}); "
                 f"target <= 1.5x: {'met' if res['clientCpuMet'] else 'NOT met'}")
    lines.append(f"(b) wall overhead under the latency model: {res['wallOverheadPercent']}% "
                 f"(per round {res['wallOverheadPercentPerRound']}); target <= 25%: "
                 f"{'met' if res['wallOverheadMet'] else 'NOT met'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--s3-ms", type=float, default=30.0, help="simulated latency per S3 request")
    parser.add_argument("--ddb-ms", type=float, default=10.0, help="simulated latency per DynamoDB request")
    parser.add_argument("--no-claims", dest="claims", action="store_false",
                        help="no claims table: SOP Instance UIDs checked by a GSI Query per instance (the old path)")
    parser.add_argument("--stub", action="store_true",
                        help="under the latency model, answer every request on the client after the delay "
                             "(no server): wall = the model + client CPU, free of the embedded cloud's service time")
    parser.add_argument("--json", dest="json_file", type=Path, default=Path("bench/ingest_cpu.json"))
    args = parser.parse_args(argv)
    if args.studies < 1 or args.workers < 1 or args.rounds < 1 or args.s3_ms < 0 or args.ddb_ms < 0:
        parser.error("--studies, --workers and --rounds must be >= 1, latencies >= 0")
    results = run(args)
    print(render(results))
    args.json_file.write_text(json.dumps(results, indent=2) + "\n")
    print(f"JSON: {args.json_file}")


if __name__ == "__main__":
    main()
