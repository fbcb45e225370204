"""Name the AWS operation behind a raw HTTP request, using botocore's own service models.

The middleware sees bytes on the wire; behaviours want "PutObjectRetention on bucket B,
key K, version V in us-west-2". Service and region come from the SigV4 credential scope;
the operation from the protocol: ``X-Amz-Target`` (json), ``Action`` (query), or the
method + URI template of the model (rest-xml / rest-json), most specific match first.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Mapping, NamedTuple
from urllib.parse import parse_qs, unquote

from botocore.exceptions import UnknownServiceError

from drills.aws import service_model

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_KEY_ONLY = re.compile(r"Credential=([^/,\s]+)/")

# SigV4 signing names that differ from botocore service model names.
_SIGNING_TO_MODEL = {"monitoring": "cloudwatch", "states": "stepfunctions", "execute-api": "apigateway",
                     "email": "ses", "events": "events", "lambda": "lambda"}


class Credential(NamedTuple):
    """The SigV4 credential of a request: access key id and scope (None where absent)."""

    access_key: str | None
    region: str | None
    service: str | None         # the signing name


def credential(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> Credential:
    """The credential of an Authorization header (``Credential=AKID/date/region/service/
    aws4_request``) or of a presigned URL's ``X-Amz-Credential``, read once per request."""
    auth = headers.get("authorization", "")
    match = _CREDENTIAL.search(auth)
    if match:
        return Credential(match.group(1), match.group(2), match.group(3))
    match = _KEY_ONLY.search(auth)
    if match:
        return Credential(match.group(1), None, None)
    parts = (query.get("X-Amz-Credential") or [""])[0].split("/")
    key = parts[0] or None
    return Credential(key, parts[2], parts[3]) if len(parts) == 5 else Credential(key, None, None)


def credential_scope(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> tuple[str | None, str | None]:
    """(region, signing service) from an Authorization header or a presigned URL."""
    _, region, service = credential(headers, query)
    return region, service


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    segments: tuple[str, ...]      # literal or "{Name}" / "{Name+}"
    query_keys: tuple[tuple[str, str | None], ...]
    headers: tuple[str, ...]       # required header members (lower-case), e.g. x-amz-copy-source
    score: int


def _model(service: str):
    try:
        return service_model(_SIGNING_TO_MODEL.get(service, service))
    except UnknownServiceError:
        return None


@functools.lru_cache(maxsize=None)
def _routes(service: str) -> tuple[_Route, ...]:
    model = _model(service)
    if model is None or model.protocol not in ("rest-xml", "rest-json"):
        return ()
    routes = []
    for op_name in model.operation_names:
        http = model.operation_model(op_name).http
        uri = http.get("requestUri", "/")
        path, _, qs = uri.partition("?")
        segments = tuple(s for s in path.split("/") if s)
        query_keys = []
        for part in filter(None, qs.split("&")):
            key, eq, value = part.partition("=")
            query_keys.append((key, value if eq else None))
        op = model.operation_model(op_name)
        headers: list[str] = []
        if op.input_shape is not None:
            required = set(op.input_shape.required_members)
            for member, shape in op.input_shape.members.items():
                if member not in required:
                    continue
                where = shape.serialization.get("location")
                if where == "querystring":
                    query_keys.append((shape.serialization.get("name", member), None))
                elif where == "header":
                    headers.append(shape.serialization.get("name", member).lower())
        literal = sum(1 for s in segments if not s.startswith("{"))
        score = literal * 10 + len(query_keys) * 100 + len(headers) * 50 + len(segments)
        routes.append(_Route(op_name, http.get("method", "GET"), segments, tuple(query_keys), tuple(headers), score))
    # Same URI, same score (GetBucketLifecycle vs GetBucketLifecycleConfiguration): prefer the current name.
    deprecated = {name for name in model.operation_names if model.operation_model(name).deprecated}
    routes.sort(key=lambda r: (-r.score, r.operation in deprecated))
    return tuple(routes)


def _match_path(segments: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, seg in enumerate(segments):
        if seg.startswith("{") and seg.endswith("+}"):
            if i >= len(parts):
                return None
            params[seg[1:-2]] = "/".join(parts[i:])
            return params
        if i >= len(parts):
            return None
        if seg.startswith("{"):
            params[seg[1:-1]] = parts[i]
        elif seg != parts[i]:
            return None
    return params if len(parts) == len(segments) else None


def resolve(service: str | None, method: str, path: str, query: Mapping[str, list[str]],
            headers: Mapping[str, str], body: bytes) -> tuple[str | None, dict[str, str]]:
    """Return (operation name, URI parameters) for the request, or (None, {}) if unknown.

    ``path`` should be the raw (still percent-encoded) path, so that an encoded "/" inside a
    parameter (a DynamoDB table ARN in a Backup URI) does not split it; parameter values
    come back decoded."""
    if not service:
        return None, {}
    target = headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1], {}
    model = _model(service)
    if model is None:
        return None, {}
    if model.protocol == "smithy-rpc-v2-cbor":           # POST /service/<name>/operation/<Operation>
        head, _, operation = path.rpartition("/operation/")
        return (operation or None, {}) if head.startswith("/service/") else (None, {})
    if model.protocol in ("query", "ec2"):
        action = (query.get("Action") or [None])[0]
        if action is None and body:
            try:
                action = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [None])[0]
            except ValueError:
                action = None
        return action, {}
    parts = [p for p in path.split("/") if p != ""]
    # Keys may contain "//"; keep empty segments after the first (bucket) for S3 keys.
    if service == "s3" and path.count("/") > 1:
        bucket, _, rest = path.lstrip("/").partition("/")
        parts = [bucket] + ([rest] if rest else [])
    for route in _routes(service):
        if route.method != method:
            continue
        if any(k not in query or (v is not None and (query.get(k) or [""])[0] != v) for k, v in route.query_keys):
            continue
        if any(h not in headers for h in route.headers):
            continue
        segs = route.segments
        if service == "s3" and len(segs) > 1 and segs[1].endswith("+}"):
            segs = (segs[0], segs[1])
        params = _match_path(segs, parts)
        if params is not None:
            return route.operation, {k: unquote(v) for k, v in params.items()}
    return None, {}


def protocol(service: str | None) -> str | None:
    model = _model(service) if service else None
    return model.protocol if model is not None else None


def target_prefix(service: str | None) -> str:
    """The JSON protocol's error-type namespace, e.g. ``com.amazonaws.dynamodb.v20120810``."""
    model = _model(service) if service else None
    if model is None:
        return ""
    prefix = model.metadata.get("targetPrefix", "")
    return prefix
