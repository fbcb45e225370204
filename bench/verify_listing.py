"""Verification ladder cost: requests per instance and time per rung.

    python -m bench.verify_listing [--studies 16] [--sample 3] [--json]

An embedded cloud in this process gets the ``dev`` stack (offline deploy) and the synthetic
data set; replication runs on the virtual clock; then the ladder runs with a fresh Target
whose botocore session counts every request by service and operation. Reports, per rung, the
wall time, and overall the requests per archived instance by operation — the listing rungs
must cost one ListObjectVersions per 1,000 keys per bucket, never a download.

Figures are from moto on 127.0.0.1 (labelled "simulated endpoint"): they measure this
machine and moto, not AWS. Request counts are the same on AWS.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

LABEL = "simulated endpoint (moto on 127.0.0.1)"


class RequestCounter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model: Any, event_name: str = "", **_: Any) -> None:
        service = event_name.split(".")[1] if "." in event_name else "?"
        with self._lock:
            self.counts[f"{service}:{model.name}"] += 1


def measure(studies: int, sample: int) -> dict[str, Any]:
    from drills.aws import Target
    from drills.cli.verify import _ingest_synthetic
    from drills.cloud.server import EmbeddedCloud
    from drills.deploy.engine import deploy
    from drills.probes.ladder import LadderContext, run_ladder
    from drills.project import find_project

    project = find_project()
    with EmbeddedCloud() as cloud, tempfile.TemporaryDirectory() as tmp:
        outputs = deploy(project, "dev", cloud.target, cloud.sim).outputs
        instances = _ingest_synthetic(cloud.target, outputs, Path(tmp), studies)
        cloud.clock.advance(timedelta(minutes=20))

        counter = RequestCounter()
        target = Target(endpoint=cloud.endpoint)
        target.session().events.register("before-call", counter)   # before any client exists

        class Clock:
            simulated = True

            def now(self):
                return cloud.clock.now()

        ctx = LadderContext(target=target, outputs=outputs, clock=Clock(), stack="dev",
                            declared=project.stack_config("dev"))
        timings: dict[str, float] = {}
        started = last = time.perf_counter()

        def progress(rung: Any, result: Any) -> None:
            nonlocal last
            now = time.perf_counter()
            timings[f"{rung.number} {rung.name} ({result.status.value})"] = round(now - last, 3)
            last = now

        run_ladder(ctx, sample=sample, seed=1, progress=progress)
        total = time.perf_counter() - started
    per_instance = {op: round(n / instances, 3) for op, n in sorted(counter.counts.items())}
    return {"label": LABEL, "instances": instances, "studies": studies, "samplePerSpecialty": sample,
            "seconds": round(total, 2), "secondsPerRung": timings, "requests": dict(sorted(counter.counts.items())),
            "requestsPerInstance": per_instance,
            "totalRequestsPerInstance": round(sum(counter.counts.values()) / instances, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=16)
    parser.add_argument("--sample", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.studies, args.sample)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['instances']} instances, ladder {result['seconds']} s ({LABEL})")
    for rung, seconds in result["secondsPerRung"].items():
        print(f"  {rung:45s} {seconds:7.3f} s")
    print(f"requests per instance: {result['totalRequestsPerInstance']}")
    for op, n in result["requestsPerInstance"].items():
        print(f"  {op:45s} {n:7.3f}  ({result['requests'][op]})")


if __name__ == "__main__":
    main()
