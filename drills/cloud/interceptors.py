"""What a simulated AWS behaviour sees and returns: one request, one response.

Each behaviour of the embedded cloud (region outage, Object Lock fidelity, replication,
lifecycle, backup jobs, ...) is an ``Interceptor`` the middleware calls around moto:
``before`` may answer instead of moto (refuse what AWS refuses, implement an operation
moto lacks); ``after`` observes what moto did (queue replication of a new version) and
may amend the response (add ``x-amz-replication-status``). Behaviours never poll buckets.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from werkzeug.datastructures import Headers

from drills import jsonio
from drills.cloud import operations
from drills.cloud.control_api import UnknownControl

if TYPE_CHECKING:
    from drills.cloud.simulation import Simulation

INTERNAL_HEADER = "x-drkit-internal"

# Headers are werkzeug's ``Headers``: case-insensitive lookup, ``h[k] = v`` replaces, ``add``
# keeps repeats; ``items()`` yields names as sent, so compare them with ``.lower()``.
__all__ = ["Headers", "INTERNAL_HEADER", "AwsRequest", "AwsResponse", "Interceptor", "aws_error"]


@dataclass
class AwsRequest:
    """One HTTP request to the embedded cloud, decoded as far as AWS semantics need."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    service: str | None          # SigV4 signing name: s3, dynamodb, backup, sqs, ...
    region: str | None
    operation: str | None        # botocore operation name: PutObject, PutItem, StartBackupJob ...
    params: dict[str, str] = field(default_factory=dict)   # URI parameters (Bucket, Key, backupVaultName ...)
    internal: bool = False       # sent by the simulation itself (see Simulation.internal_target)
    secure: bool | None = None   # came over TLS; None when the cloud serves plain HTTP only
    access_key: str | None = None   # the SigV4 credential's access key id (None: unsigned)
    # What behaviours resolve once per request and share (the caller, its condition context).
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def bucket(self) -> str | None:
        return self.params.get("Bucket") if self.service == "s3" else None

    @property
    def key(self) -> str | None:
        # The path was percent-decoded once already (WSGI PATH_INFO): a "%" in a key is literal.
        return self.params.get("Key") if self.service == "s3" else None

    @property
    def version_id(self) -> str | None:
        return (self.query.get("versionId") or [None])[0]

    def json(self) -> dict[str, Any]:
        """The body decoded as JSON (json / rest-json protocols); {} when empty."""
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))


@dataclass
class AwsResponse:
    status: int
    headers: Headers
    body: bytes = b""
    drop_connection: bool = False   # close the socket without answering (region outage)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> dict[str, Any]:
        return json.loads(self.body.decode("utf-8")) if self.body else {}

    @classmethod
    def json_body(cls, document: Any, status: int = 200) -> "AwsResponse":
        body = jsonio.dumps(document, indent=None).encode()
        return cls(status=status, headers=Headers({"Content-Type": "application/json",
                                                    "x-amzn-RequestId": str(uuid.uuid4())}), body=body)


def aws_error(req: AwsRequest, status: int, code: str, message: str, **extra: str) -> AwsResponse:
    """An error response shaped like the service's protocol, so boto3 raises ClientError
    with ``err["Code"] == code`` exactly as it would against AWS."""
    proto = operations.protocol(req.service)
    request_id = str(uuid.uuid4())
    if proto == "rest-xml":
        fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in extra.items())
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
                f"<Message>{escape(message)}</Message>{fields}<RequestId>{request_id}</RequestId></Error>")
        return AwsResponse(status, Headers({"Content-Type": "application/xml", "x-amz-request-id": request_id}),
                           body.encode())
    if proto in ("json", "rest-json"):
        prefix = operations.target_prefix(req.service)
        doc = {"__type": f"{prefix}#{code}" if prefix else code, "message": message, "Message": message, **extra}
        headers = Headers({"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id,
                           "x-amzn-ErrorType": code})
        return AwsResponse(status, headers, json.dumps(doc).encode())
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return AwsResponse(status, Headers({"Content-Type": "text/xml", "x-amzn-RequestId": request_id}), body.encode())


class Interceptor:
    """Base class of a simulated behaviour. Subclasses set ``name`` and override what they need."""

    name: str = "interceptor"

    def __init__(self, sim: "Simulation") -> None:
        self.sim = sim

    def before(self, req: AwsRequest) -> AwsResponse | None:
        """Answer the request instead of moto (return a response), or None to pass it on."""
        return None

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        """Observe or amend moto's (or an earlier interceptor's) response."""
        return resp

    def status(self) -> dict[str, Any]:
        """A JSON-able summary for ``drkit cloud status``."""
        return {}

    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Handle ``POST /_drkit/<name>/<action>`` with a JSON body. Raise
        ``self.unknown_action(action)`` for an action the behaviour does not have (404) and
        ValueError for invalid parameters (400); any other exception is a bug (500)."""
        raise self.unknown_action(action)

    def unknown_action(self, action: str) -> UnknownControl:
        return UnknownControl(f"behaviour {self.name!r} has no action {action!r}")

    def reset(self) -> None:
        """Forget all state (the cloud was reset)."""
