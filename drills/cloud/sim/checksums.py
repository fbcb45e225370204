"""S3 additional checksums are verified on upload, as S3 does.

moto stores whatever ``x-amz-checksum-sha256`` a client sends, even when it does not match
the body; S3 refuses the upload with ``BadDigest``. Checked here for PutObject and
UploadPart with a plain (not aws-chunked) body — what boto3 sends to an http:// endpoint,
where it computes the checksum before sending. SHA-256 and SHA-1 are checked; CRC checksums
need botocore[crt] and are left to moto.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error

_ALGORITHMS = {"x-amz-checksum-sha256": ("SHA256", hashlib.sha256), "x-amz-checksum-sha1": ("SHA1", hashlib.sha1)}


class ChecksumValidation(Interceptor):
    name = "checksums"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.reset()

    def reset(self) -> None:
        self.checked = 0
        self.refused = 0

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3" or req.operation not in ("PutObject", "UploadPart"):
            return None
        if "aws-chunked" in (req.headers.get("content-encoding") or ""):
            return None
        for header, (name, digest) in _ALGORITHMS.items():
            claimed = req.headers.get(header)
            if claimed is None:
                continue
            self.checked += 1
            actual = base64.b64encode(digest(req.body).digest()).decode()
            if claimed != actual:
                self.refused += 1
                return aws_error(req, 400, "BadDigest",
                                 f"The {name} you specified did not match the calculated checksum.")
        return None

    def status(self) -> dict[str, Any]:
        return {"checked": self.checked, "refused": self.refused}
