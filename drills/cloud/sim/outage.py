"""Region outage: while a region is down, every call to it fails with a connection error.

Which region a request goes to:
- S3 requests that name an existing bucket go to the bucket's home region, whatever
  region the client signed for (a bucket lives in one region; reaching it through another
  regional endpoint does not help when its region is down). CopyObject also fails when
  the source bucket's region is down.
- Every other request goes to the region of its SigV4 credential scope. Global S3 calls
  (ListBuckets, CreateBucket signed for us-east-1) therefore fail only while the signing
  region (normally us-east-1) is down; unsigned requests have no region and never fail.

Internal requests (the simulation acting as AWS, e.g. a replication PUT into the DR
region) fail the same way. ``is_down(region)`` is a cheap query for other behaviours.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from drills.cloud.clock import SIMULATED
from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


class RegionOutage(Interceptor):
    """Fail every request to a region marked down (control actions ``down`` / ``up``)."""

    name = "outage"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.Lock()
        self._down: dict[str, datetime] = {}
        self._history: list[dict[str, str | None]] = []
        self.refused = 0

    # -- queries
    def is_down(self, region: str | None) -> bool:
        return region is not None and region in self._down

    def down_regions(self) -> list[str]:
        with self._lock:
            return sorted(self._down)

    # -- actions
    def take_down(self, region: str) -> dict[str, Any]:
        region = _check_region(region)
        with self._lock:
            since = self._down.setdefault(region, self.sim.clock.now())
            if not any(h["region"] == region and h["up"] is None for h in self._history):
                self._history.append({"region": region, "down": since.isoformat(), "up": None})
        return {"region": region, "down": True, "since": since.isoformat(), "label": SIMULATED}

    def bring_up(self, region: str) -> dict[str, Any]:
        region = _check_region(region)
        now = self.sim.clock.now()
        with self._lock:
            since = self._down.pop(region, None)
            for entry in self._history:
                if entry["region"] == region and entry["up"] is None:
                    entry["up"] = now.isoformat()
        result: dict[str, Any] = {"region": region, "down": False, "wasDown": since is not None}
        if since is not None:
            result["downSeconds"] = (now - since).total_seconds()
            result["label"] = SIMULATED
        return result

    # -- interceptor
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if not self._down:
            return None
        if any(self.is_down(region) for region in self._regions_of(req)):
            with self._lock:
                self.refused += 1
            return AwsResponse(status=503, headers=Headers(), drop_connection=True)
        return None

    def _regions_of(self, req: AwsRequest) -> list[str]:
        regions = [req.region] if req.region else []
        if req.service != "s3":
            return regions
        home = self._bucket_region(req.bucket)
        if home is not None:
            regions = [home]
        source = req.headers.get("x-amz-copy-source")
        if source:
            src_bucket = unquote(source).lstrip("/").split("/", 1)[0]
            src_home = self._bucket_region(src_bucket)
            if src_home is not None:
                regions.append(src_home)
        return regions

    def _bucket_region(self, bucket: str | None) -> str | None:
        if not bucket:
            return None
        found = self.sim.s3_backend().buckets.get(bucket)
        return getattr(found, "region_name", None)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"down": [{"region": r, "since": t.isoformat()} for r, t in sorted(self._down.items())],
                    "history": [dict(h) for h in self._history],
                    "refusedRequests": self.refused, "label": SIMULATED}

    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "down":
            return self.take_down(params.get("region"))
        if action == "up":
            return self.bring_up(params.get("region"))
        raise self.unknown_action(action)

    def reset(self) -> None:
        with self._lock:
            self._down.clear()
            self._history.clear()
            self.refused = 0


def _check_region(region: Any) -> str:
    if not isinstance(region, str) or not _REGION.match(region):
        raise ValueError(f"'region' must be an AWS region name such as us-east-1, got {region!r}")
    return region
