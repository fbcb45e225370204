"""Load: 8 concurrent dicomweb-client sessions retrieving every study; a multipart-uploaded
(COMPOSITE checksum) large instance through the embedded cloud; and memory that stays
bounded while the app streams a 1 GiB series.

The 1 GiB series is served from a stand-in archive (bytes generated on the fly, their
SHA-256 computed beforehand): the embedded cloud keeps objects in this process's memory,
so only a source outside it shows what the *app* holds. Scale: ``DRKIT_DICOMWEB_LOAD_MIB``
(default 1024).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pydicom
import pytest
from pydicom.uid import generate_uid

from drills.dicomweb.app import create_app
from drills.dicomweb.auth import TokenAuth
from drills.dicomweb.server import BackgroundServer
from tests.helpers.dicomweb import ITEM

pytestmark = pytest.mark.slow
CLIENTS = 8
SERIES_MIB = int(os.environ.get("DRKIT_DICOMWEB_LOAD_MIB", "1024"))
INSTANCES = 4
BLOCK = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(32 * 1024))   # 1 MiB


def test_eight_concurrent_clients_retrieve_every_study(served, primary_url):
    by_study = defaultdict(list)
    for e in served.manifest.entries:
        by_study[e.study_instance_uid].append(e.sha256)

    def one_client(n: int) -> int:
        client = served.client(primary_url)
        studies = sorted(by_study)
        count = 0
        for study in studies[n % len(studies):] + studies[:n % len(studies)]:
            parts = list(client._http_get_multipart(f"{primary_url}/studies/{study}", stream=True))
            assert sorted(hashlib.sha256(p).hexdigest() for p in parts) == sorted(by_study[study])
            count += len(parts)
        return count

    with ThreadPoolExecutor(CLIENTS) as pool:
        counts = list(pool.map(one_client, range(CLIENTS)))
    assert counts == [len(served.manifest.entries)] * CLIENTS


def test_large_multipart_uploaded_instance_round_trips(served, primary_url):
    """~40 MB: stored through STOW-RS (ingest uploads it in parts: S3 keeps a COMPOSITE
    checksum, the index the full-object SHA-256), retrieved byte for byte."""
    entry = next(e for e in served.manifest.entries if e.modality == "CT")
    ds = pydicom.dcmread(served.dataset / entry.path)
    frame = ds.Rows * ds.Columns * 2
    ds.NumberOfFrames = 1280
    ds.PixelData = (BLOCK * (frame * 1280 // len(BLOCK) + 1))[:frame * 1280]
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()      # a study of its own
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    data = out.getvalue()
    client = served.client(primary_url)
    client.store_instances([pydicom.dcmread(io.BytesIO(data))])
    [part] = list(client._http_get_multipart(
        f"{primary_url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}", stream=True))
    assert hashlib.sha256(part).digest() == hashlib.sha256(data).digest()


class _Generated(io.RawIOBase):
    """``size`` bytes of BLOCK repeated, produced on demand."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        out = (BLOCK * (n // len(BLOCK) + 1))[:n]
        self.left -= n
        return out


class _GeneratedArchive:
    role, region, writable = "stand-in", "local", False

    def __init__(self, items, size: int) -> None:
        self.items, self.size = items, size

    def study_items(self, study):
        return [i for i in self.items if i.study_instance_uid == study]

    def head(self, item):
        return {"ContentLength": self.size}

    def open(self, item):
        return _Generated(self.size)


def _rss() -> int:
    with open("/proc/self/statm") as fp:
        return int(fp.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_stays_bounded_while_streaming_a_large_series():
    size = SERIES_MIB * 1024 * 1024 // INSTANCES
    digest = hashlib.sha256()
    generated = _Generated(size)
    while chunk := generated.read(8 * 1024 * 1024):
        digest.update(chunk)
    sha = base64.b64encode(digest.digest()).decode()
    items = [replace(ITEM, sop_instance_uid=f"1.2.3.{n}", key=f"dicom/1.2/1.2.3/1.2.3.{n}.dcm",
                     content_sha256=sha, size=size) for n in range(INSTANCES)]
    auth = TokenAuth.generate()
    app = create_app(_GeneratedArchive(items, size), auth)
    peak = {"rss": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["rss"] = max(peak["rss"], _rss())
            time.sleep(0.01)

    with BackgroundServer(app) as url:
        baseline = _rss()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        received = 0
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {auth.issue('load')}"}
        with httpx.stream("GET", f"{url}/studies/1.2/series/1.2.3", headers=headers, timeout=120) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received += len(chunk)
        done.set()
        sampler.join()
    elapsed = time.monotonic() - started
    assert received > SERIES_MIB * 1024 * 1024
    growth = peak["rss"] - baseline
    print(f"streamed {received / 2**20:.0f} MiB in {elapsed:.1f} s; peak RSS growth {growth / 2**20:.1f} MiB")
    assert growth < 64 * 1024 * 1024, f"RSS grew by {growth / 2**20:.0f} MiB while streaming"
