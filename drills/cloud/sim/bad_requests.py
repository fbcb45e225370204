"""Bad requests answered as S3 answers them, and never an HTML page.

- A request body that should be an XML document (PutBucketReplication,
  PutBucketLifecycleConfiguration, ... — every operation whose input payload is an XML
  structure) and is not well-formed: 400 ``MalformedXML`` (ErrorResponses.html, S3 error
  codes). A well-formed document moto or a behaviour cannot read (it fails with a 500)
  did not validate against the schema as far as S3 is concerned: 400 ``MalformedXML`` too.
- An object key longer than 1,024 bytes of UTF-8 (object-keys.html): 400
  ``KeyTooLongError`` for PutObject, CopyObject and CreateMultipartUpload.
- A key whose percent-decoded bytes are not UTF-8: 400 ``InvalidURI`` ("Couldn't parse
  the specified URI."), instead of being stored under a name with replacement characters.
- Any other answer with a 5xx status that is not shaped like the service's errors (moto's
  HTML "Internal Server Error" page): the service's ``InternalError`` shape, so the SDK
  raises a ClientError it can read. (The middleware turns an exception raised while
  handling a request into the same.)
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote_to_bytes

from drills.cloud import operations
from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error

MAX_KEY_BYTES = 1024
RAW_PATH_PARAM = "drkit:raw-path"     # set by the middleware: the request path as sent (percent-encoded)
_KEY_WRITES = ("PutObject", "CopyObject", "CreateMultipartUpload")
_MALFORMED = "The XML you provided was not well-formed or did not validate against our published schema"


@functools.lru_cache(maxsize=None)
def xml_payload(service: str, operation: str) -> bool:
    """Whether ``operation``'s request body is an XML document (a structure payload)."""
    model = operations._model(service)
    if model is None or model.protocol != "rest-xml" or operation not in model.operation_names:
        return False
    shape = model.operation_model(operation).input_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    return bool(payload) and shape.members[payload].type_name == "structure"


def _aws_shaped(req: AwsRequest, resp: AwsResponse) -> bool:
    if req.method == "HEAD":
        return True                      # no body either way
    content_type = (resp.headers.get("content-type") or "").lower()
    if "html" in content_type:
        return False
    head = resp.body.lstrip()[:200].lower()
    return not (head.startswith(b"<!doctype") or head.startswith(b"<html")) and bool(head)


class BadRequests(Interceptor):
    name = "bad_requests"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.refused: dict[str, int] = {}
        self.reshaped = 0

    def _refuse(self, req: AwsRequest, status: int, code: str, message: str) -> AwsResponse:
        self.refused[code] = self.refused.get(code, 0) + 1
        return aws_error(req, status, code, message)

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3" or not req.operation:
            return None
        raw = req.params.get(RAW_PATH_PARAM)
        if raw is not None:
            try:
                unquote_to_bytes(raw.encode("latin-1", "replace")).decode("utf-8")
            except UnicodeDecodeError:
                return self._refuse(req, 400, "InvalidURI", "Couldn't parse the specified URI.")
        if req.operation in _KEY_WRITES and req.key is not None and len(req.key.encode("utf-8")) > MAX_KEY_BYTES:
            return self._refuse(req, 400, "KeyTooLongError", "Your key is too long")
        if req.body.strip() and xml_payload("s3", req.operation):
            try:
                ET.fromstring(req.body)
            except ET.ParseError:
                return self._refuse(req, 400, "MalformedXML", _MALFORMED)
        return None

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if resp.status < 500 or resp.status == 503:
            return resp
        if req.service == "s3" and req.operation and req.body.strip() and xml_payload("s3", req.operation):
            self.reshaped += 1                   # moto (or a behaviour) could not read the document
            return self._refuse(req, 400, "MalformedXML", _MALFORMED)
        if _aws_shaped(req, resp):
            return resp
        self.reshaped += 1
        return aws_error(req, 500, "InternalError", "We encountered an internal error. Please try again.")

    def status(self) -> dict[str, Any]:
        return {"refused": dict(self.refused), "reshaped5xx": self.reshaped}

    def reset(self) -> None:
        self.refused.clear()
        self.reshaped = 0
