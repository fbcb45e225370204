"""S3 Multi-Region Access Points: the control plane drills use for failover.

moto has no Multi-Region Access Points, and the stock s3control client puts the account id
into the host name (``123456789012.s3-control...``), which a loopback endpoint does not
resolve: ``drills.aws.Target`` turns host-prefix injection off for s3control on the
embedded cloud (the account id still travels in ``x-amz-account-id``), and the middleware
tells s3control requests (signed for ``s3``) by their ``/v20180820/`` path.

Emulated operations (Amazon S3 API reference, S3 Control):
- CreateMultiRegionAccessPoint (asynchronous: answers a RequestTokenARN; the access point
  is READY at once here), DescribeMultiRegionAccessPointOperation, GetMultiRegionAccessPoint,
  ListMultiRegionAccessPoints;
- GetMultiRegionAccessPointRoutes and SubmitMultiRegionAccessPointRoutes: "A value of 0
  indicates a passive status ... 100 indicates an active status ... At least one Region
  must be active at all times. ... The routing configurations of any Regions that aren't
  specified remain unchanged." Route changes must be submitted to one of the five failover
  control Regions (us-east-1, us-west-2, ap-southeast-2, ap-northeast-1, eu-west-1). An ARN
  that names no access point is a 400 (failover controls errors page). A new access point
  starts with every Region active (100).
Not emulated: the data plane (requests addressed to the access point's alias/ARN need
SigV4A); AWS's "up to 2 minutes for your changes to take effect" is a drill's wait, not
modelled here. Drills address the bucket of the active route directly.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from drills.cloud.clock import SIMULATED
from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor, aws_error

API_PREFIX = "/v20180820/"
CONTROL_REGIONS = ("us-east-1", "us-west-2", "ap-southeast-2", "ap-northeast-1", "eu-west-1")
_NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"


class MultiRegionAccessPoints(Interceptor):
    """Create/get/list Multi-Region Access Points; get/submit their routes."""

    name = "mrap"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.Lock()
        self.points: dict[str, dict[str, Any]] = {}        # name -> access point
        self.operations: dict[str, dict[str, Any]] = {}    # request token ARN -> async operation
        self.route_changes = 0

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3control" or not req.path.startswith(API_PREFIX):
            return None
        rest = req.path[len(API_PREFIX):]
        try:
            if req.method == "POST" and rest == "async-requests/mrap/create":
                return self._create(req)
            if req.method == "GET" and rest.startswith("async-requests/mrap/"):
                return self._describe_operation(req, unquote(rest[len("async-requests/mrap/"):]))
            if rest.startswith("mrap/instances/") and rest.endswith("/routes"):
                mrap = unquote(rest[len("mrap/instances/"):-len("/routes")])
                if req.method == "GET":
                    return self._get_routes(req, mrap)
                if req.method == "PATCH":
                    return self._submit_routes(req, mrap)
            if req.method == "GET" and rest == "mrap/instances":
                return self._list(req)
            if req.method == "GET" and rest.startswith("mrap/instances/"):
                return self._get(req, unquote(rest[len("mrap/instances/"):]))
        except _Refused as exc:
            return aws_error(req, exc.status, exc.code, exc.message)
        return aws_error(req, 501, "NotImplemented", f"S3 Control {req.method} /{rest} is not emulated")

    # ------------------------------------------------------------------ access points
    def _create(self, req: AwsRequest) -> AwsResponse:
        root = ET.fromstring(req.body)
        details = _child(root, "Details")
        name = _text(details, "Name")
        if not name:
            raise _Refused(400, "InvalidRequest", "Details.Name is required")
        account = req.headers.get("x-amz-account-id", self.sim.account_id)
        regions = []
        s3 = self.sim.s3_backend()
        for region in _children(_child(details, "Regions"), "Region"):
            bucket = _text(region, "Bucket")
            found = s3.buckets.get(bucket)
            if found is None:
                raise _Refused(400, "InvalidRequest", f"bucket {bucket} does not exist")
            regions.append({"Bucket": bucket, "Region": found.region_name, "BucketAccountId": account})
        if not regions:
            raise _Refused(400, "InvalidRequest", "at least one Region is required")
        with self._lock:
            if name in self.points:
                raise _Refused(409, "MultiRegionAccessPointAlreadyExists", f"{name} already exists")
            alias = _alias(account, name)
            pab = {k: (_text(_child(details, "PublicAccessBlock"), k) or "true").lower() == "true"
                   for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
            self.points[name] = {"Name": name, "Alias": alias, "Account": account,
                                 "Arn": f"arn:aws:s3::{account}:accesspoint/{alias}",
                                 "CreatedAt": self.sim.clock.now(), "Status": "READY", "Regions": regions,
                                 "PublicAccessBlock": pab, "Routes": {r["Bucket"]: 100 for r in regions}}
            token = f"arn:aws:s3:{req.region}:{account}:async-request/mrap/create/{uuid.uuid4().hex}"
            self.operations[token] = {"name": name, "created": self.sim.clock.now(), "regions": regions}
        return _xml("CreateMultiRegionAccessPointResult", f"<RequestTokenARN>{escape(token)}</RequestTokenARN>")

    def _describe_operation(self, req: AwsRequest, token: str) -> AwsResponse:
        with self._lock:
            op = self.operations.get(token)
        if op is None:
            raise _Refused(404, "NoSuchAsyncRequest", f"request {token} does not exist")
        regions = "".join(f"<Region><Name>{escape(r['Region'])}</Name><RequestStatus>SUCCEEDED</RequestStatus></Region>"
                          for r in op["regions"])
        body = (f"<AsyncOperation><CreationTime>{op['created'].isoformat()}</CreationTime>"
                f"<Operation>CreateMultiRegionAccessPoint</Operation><RequestTokenARN>{escape(token)}</RequestTokenARN>"
                f"<RequestStatus>SUCCEEDED</RequestStatus><ResponseDetails><MultiRegionAccessPointDetails><Regions>"
                f"{regions}</Regions></MultiRegionAccessPointDetails></ResponseDetails></AsyncOperation>")
        return _xml("DescribeMultiRegionAccessPointOperationResult", body)

    def _report(self, point: dict[str, Any]) -> str:
        pab = "".join(f"<{k}>{str(v).lower()}</{k}>" for k, v in point["PublicAccessBlock"].items())
        regions = "".join(f"<Region><Bucket>{escape(r['Bucket'])}</Bucket><Region>{r['Region']}</Region>"
                          f"<BucketAccountId>{r['BucketAccountId']}</BucketAccountId></Region>" for r in point["Regions"])
        return (f"<Name>{escape(point['Name'])}</Name><Alias>{point['Alias']}</Alias>"
                f"<CreatedAt>{point['CreatedAt'].isoformat()}</CreatedAt><PublicAccessBlock>{pab}</PublicAccessBlock>"
                f"<Status>{point['Status']}</Status><Regions>{regions}</Regions>")

    def _get(self, req: AwsRequest, name: str) -> AwsResponse:
        return _xml("GetMultiRegionAccessPointResult", f"<AccessPoint>{self._report(self._point(name))}</AccessPoint>")

    def _list(self, req: AwsRequest) -> AwsResponse:
        with self._lock:
            points = list(self.points.values())
        items = "".join(f"<AccessPoint>{self._report(p)}</AccessPoint>" for p in points)
        return _xml("ListMultiRegionAccessPointsResult", f"<AccessPoints>{items}</AccessPoints>")

    def _point(self, name_or_arn: str) -> dict[str, Any]:
        """By name, alias or ARN (``arn:aws:s3::<account>:accesspoint/<alias>``)."""
        with self._lock:
            for point in self.points.values():
                if name_or_arn in (point["Name"], point["Alias"], point["Arn"]):
                    return point
        raise _Refused(400, "InvalidRequest",
                       f"{name_or_arn!r} is not the ARN of a Multi-Region Access Point "
                       "(arn:aws:s3::account-id:accesspoint/MultiRegionAccessPoint_alias)")

    # ------------------------------------------------------------------ routes
    def _routes_xml(self, point: dict[str, Any]) -> str:
        region_of = {r["Bucket"]: r["Region"] for r in point["Regions"]}
        return "".join(f"<Route><Bucket>{escape(b)}</Bucket><Region>{region_of[b]}</Region>"
                       f"<TrafficDialPercentage>{dial}</TrafficDialPercentage></Route>"
                       for b, dial in point["Routes"].items())

    def _get_routes(self, req: AwsRequest, mrap: str) -> AwsResponse:
        self._control_region(req)
        point = self._point(mrap)
        with self._lock:
            routes = self._routes_xml(point)
        return _xml("GetMultiRegionAccessPointRoutesResult", f"<Mrap>{escape(mrap)}</Mrap><Routes>{routes}</Routes>")

    def _submit_routes(self, req: AwsRequest, mrap: str) -> AwsResponse:
        self._control_region(req)
        point = self._point(mrap)
        root = ET.fromstring(req.body)
        updates: dict[str, int] = {}
        by_region = {r["Region"]: r["Bucket"] for r in point["Regions"]}
        for route in _children(_child(root, "RouteUpdates"), "Route"):
            bucket = _text(route, "Bucket") or by_region.get(_text(route, "Region") or "")
            if bucket not in point["Routes"]:
                raise _Refused(400, "InvalidRequest", f"route names no bucket or Region of {point['Name']}")
            try:
                dial = int(_text(route, "TrafficDialPercentage") or "")
            except ValueError as exc:
                raise _Refused(400, "InvalidRequest", "TrafficDialPercentage must be an integer") from exc
            if not 0 <= dial <= 100:
                raise _Refused(400, "InvalidRequest", "TrafficDialPercentage must be between 0 and 100")
            updates[bucket] = dial
        with self._lock:
            merged = {**point["Routes"], **updates}
            if not any(d > 0 for d in merged.values()):
                raise _Refused(400, "InvalidRequest", "At least one Region must be active at all times")
            point["Routes"] = merged
            self.route_changes += 1
        return AwsResponse(200, Headers({"x-amz-request-id": uuid.uuid4().hex}), b"")

    @staticmethod
    def _control_region(req: AwsRequest) -> None:
        if req.region not in CONTROL_REGIONS:
            raise _Refused(400, "InvalidRequest", f"route changes go to the failover control Regions "
                                                  f"({', '.join(CONTROL_REGIONS)}), not {req.region}")

    # ------------------------------------------------------------------ reporting
    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"accessPoints": [{"name": p["Name"], "routes": dict(p["Routes"])} for p in self.points.values()],
                    "routeChanges": self.route_changes, "notEmulated": ["data plane (SigV4A requests to the alias)"],
                    "label": SIMULATED}

    def reset(self) -> None:
        with self._lock:
            self.points.clear()
            self.operations.clear()
            self.route_changes = 0


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _alias(account: str, name: str) -> str:
    """AWS generates 13 lowercase base32 characters + ".mrap"; derived stably here."""
    digest = hashlib.sha256(f"{account}:{name}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:13] + ".mrap"


def _xml(root: str, inner: str) -> AwsResponse:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{_NS}">{inner}</{root}>'
    return AwsResponse(200, Headers({"Content-Type": "application/xml", "x-amz-request-id": uuid.uuid4().hex}),
                       body.encode())


def _strip(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element | None, name: str) -> ET.Element | None:
    if node is None:
        return None
    for child in node:
        if _strip(child.tag) == name:
            return child
    return None


def _children(node: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in (node if node is not None else []) if _strip(c.tag) == name]


def _text(node: ET.Element | None, name: str) -> str | None:
    child = _child(node, name)
    return child.text.strip() if child is not None and child.text else None
