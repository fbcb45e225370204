"""Version listing at scale: does a ListObjectVersions page cost what it returns?

    python -m bench.list_versions [--versions 100000] [--repeat 30] [--baseline-versions 0] [--json]

1. an embedded cloud starts in this process; a versioned bucket gets ``--versions`` entries
   laid out like the archive (``dicom/<study>/<series>/<sop>.dcm``, 50 instances a study):
   every instance one version, every 10th a second version, every 20th a delete marker on
   top. They are written straight into moto's backend (the same code path a PUT ends in,
   so the key index is maintained as it would be), because 100k PUTs over HTTP take
   ~20 minutes here and this benchmark measures listing, not writing;
2. full listing: boto3's ``list_object_versions`` paginator (1,000 a page) over the whole
   bucket — versions + delete markers per second, wall and per CPU second of this process
   (server + SDK: botocore's parsing of LastModified dates is most of the client's share);
   then the same pages fetched over presigned GETs without SDK parsing ("raw": what the
   server costs);
3. page latency, ``--repeat`` times each: a prefix that matches nothing, one study's prefix
   (~55 entries), a page resumed from a ``KeyMarker`` in the middle of the bucket, and one
   page with ``Delimiter="/"`` at the top level;
4. ``--baseline-versions N`` (N > 0): the same on a bucket of N versions with the listing
   index switched off (moto 5.2's own ListObjectVersions), for comparison.

Figures are labelled "simulated endpoint (moto on 127.0.0.1)": they measure this machine
and moto, not AWS. Client and server share this process (and its GIL).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

LABEL = "simulated endpoint (moto on 127.0.0.1)"
REGION = "us-east-1"
PER_STUDY = 50


def _keys(count: int) -> Iterator[tuple[str, int]]:
    """(key, ordinal) of ``count`` instances in the archive layout."""
    for n in range(count):
        study, instance = divmod(n, PER_STUDY)
        yield f"dicom/1.2.826.0.1.{study:06d}/1.2.826.0.2.{study:06d}.1/1.2.826.0.3.{n:08d}.dcm", n


def populate(cloud: Any, bucket: str, versions: int) -> dict[str, int]:
    """Write about ``versions`` entries (versions + delete markers) into ``bucket``."""
    s3 = cloud.target.client("s3", REGION)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    backend = cloud.sim.s3_backend()
    # entries per instance: 1 + 1/10 + 1/20 = 1.15
    instances = max(1, int(versions / 1.15))
    counts = {"instances": 0, "versions": 0, "deleteMarkers": 0}
    for key, n in _keys(instances):
        backend.put_object(bucket, key, b"DICM" + n.to_bytes(4, "big"))
        counts["versions"] += 1
        if n % 10 == 0:
            backend.put_object(bucket, key, b"DICM2" + n.to_bytes(4, "big"))
            counts["versions"] += 1
        if n % 20 == 0:
            backend.delete_object(bucket, key)
            counts["deleteMarkers"] += 1
        counts["instances"] += 1
    return counts


def _timed(fn: Any, repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"medianMs": round(statistics.median(samples), 2),
            "p95Ms": round(samples[min(len(samples) - 1, int(0.95 * len(samples)))], 2),
            "maxMs": round(samples[-1], 2)}


def _raw_listing(s3: Any, bucket: str) -> tuple[int, int, float, float]:
    """The whole bucket page by page over presigned GETs, no SDK parsing: (entries, pages,
    wall s, CPU s of this process). Markers are read from the XML with a regex."""
    import re
    import urllib.request
    next_key = re.compile(rb"<NextKeyMarker>([^<]*)</NextKeyMarker>")
    next_version = re.compile(rb"<NextVersionIdMarker>([^<]*)</NextVersionIdMarker>")
    params: dict[str, str] = {"Bucket": bucket}
    entries = pages = 0
    wall, cpu = time.perf_counter(), time.process_time()
    while True:
        url = s3.generate_presigned_url("list_object_versions", Params=params)
        with urllib.request.urlopen(url) as resp:
            body = resp.read()
        pages += 1
        entries += body.count(b"<Version>") + body.count(b"<DeleteMarker>")
        key = next_key.search(body)
        if b"<IsTruncated>true</IsTruncated>" not in body or key is None:
            break
        from urllib.parse import unquote
        params = {"Bucket": bucket, "KeyMarker": unquote(key.group(1).decode())}
        version = next_version.search(body)
        if version is not None:
            params["VersionIdMarker"] = version.group(1).decode()
    return entries, pages, time.perf_counter() - wall, time.process_time() - cpu


def measure(cloud: Any, bucket: str, repeat: int, study_count: int) -> dict[str, Any]:
    s3 = cloud.target.client("s3", REGION)
    start, cpu = time.perf_counter(), time.process_time()
    listed = pages = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        listed += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        pages += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    import boto3
    from botocore.config import Config
    signer = boto3.client("s3", region_name=REGION, endpoint_url=cloud.endpoint,
                          config=Config(signature_version="s3v4"))      # SigV4: the region in the URL
    raw_entries, raw_pages, raw_wall, raw_cpu = _raw_listing(signer, bucket)
    middle = f"dicom/1.2.826.0.1.{study_count // 2:06d}/"
    one_study = f"dicom/1.2.826.0.1.{max(0, study_count // 3):06d}/"
    return {
        "fullListing": {"entries": listed, "pages": pages, "seconds": round(elapsed, 2),
                        "cpuSeconds": round(cpu, 2), "entriesPerSecond": round(listed / elapsed, 1),
                        "entriesPerCpuSecond": round(listed / cpu, 1)},
        "rawListing": {"entries": raw_entries, "pages": raw_pages, "seconds": round(raw_wall, 2),
                       "cpuSeconds": round(raw_cpu, 2), "entriesPerSecond": round(raw_entries / raw_wall, 1)},
        "emptyPrefixPage": _timed(lambda: s3.list_object_versions(Bucket=bucket, Prefix="dicom/9.9.9/"), repeat),
        "oneStudyPage": _timed(lambda: s3.list_object_versions(Bucket=bucket, Prefix=one_study), repeat),
        "keyMarkerPage": _timed(lambda: s3.list_object_versions(Bucket=bucket, KeyMarker=middle), repeat),
        "delimiterPage": _timed(lambda: s3.list_object_versions(Bucket=bucket, Prefix="dicom/", Delimiter="/",
                                                                MaxKeys=100), repeat),
    }


@contextmanager
def index_off(cloud: Any) -> Iterator[None]:
    """moto's own ListObjectVersions: the listing behaviour and the key index switched off."""
    from drills.cloud.sim import listing
    interceptors = cloud.sim.interceptors
    saved = list(interceptors)
    interceptors[:] = [i for i in interceptors if i.name != "listing"]
    listing.uninstall()
    try:
        yield
    finally:
        interceptors[:] = saved
        listing.install()


def run(versions: int, repeat: int, baseline_versions: int) -> dict[str, Any]:
    from drills.cloud.server import EmbeddedCloud

    result: dict[str, Any] = {"label": LABEL, "machine": machine()}
    with EmbeddedCloud() as cloud:
        t0 = time.perf_counter()
        counts = populate(cloud, "bench-versions", versions)
        result["populateSeconds"] = round(time.perf_counter() - t0, 1)
        result["bucket"] = counts
        result["indexed"] = measure(cloud, "bench-versions", repeat, counts["instances"] // PER_STUDY)
        if baseline_versions > 0:
            counts = populate(cloud, "bench-baseline", baseline_versions)
            with index_off(cloud):
                result["baseline"] = {"bucket": counts,
                                      **measure(cloud, "bench-baseline", max(3, repeat // 10),
                                                counts["instances"] // PER_STUDY)}
    return result


def machine() -> dict[str, Any]:
    import boto3
    import moto
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "boto3": boto3.__version__, "moto": moto.__version__,
            "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--baseline-versions", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.versions < 1 or args.repeat < 1 or args.baseline_versions < 0:
        parser.error("--versions and --repeat must be >= 1, --baseline-versions >= 0")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    result = run(args.versions, args.repeat, args.baseline_versions)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{LABEL}; bucket {result['bucket']}; populated in {result['populateSeconds']} s")
        for name in ("indexed", "baseline"):
            if name in result:
                print(f"-- {name}: {json.dumps(result[name])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
