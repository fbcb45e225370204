"""SSE-S3 as every bucket's base encryption, as S3 applies it since January 2023.

AWS (userguide/default-encryption-faq.html, UsingServerSideEncryption.html): "Amazon S3
now applies server-side encryption with Amazon S3 managed keys (SSE-S3) as the base level
of encryption for every bucket". A new object written without encryption headers into a
bucket without an encryption configuration is stored with SSE-S3 and PUT/GET/HEAD report
``x-amz-server-side-encryption: AES256``; GetBucketEncryption answers the default
configuration (AES256, BucketKeyEnabled false) instead of
ServerSideEncryptionConfigurationNotFoundError. moto 5.2 leaves such objects unencrypted
and answers the error. Buckets with their own configuration are left to moto.
"""

from __future__ import annotations

import uuid
from typing import Any

from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor

_WRITES = ("PutObject", "CopyObject", "CompleteMultipartUpload", "CreateMultipartUpload", "UploadPart")
_DEFAULT = ('<?xml version="1.0" encoding="UTF-8"?>\n<ServerSideEncryptionConfiguration '
            'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault>'
            "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
            "<BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>")


class DefaultEncryption(Interceptor):
    name = "default_encryption"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.applied = 0

    def _bucket(self, req: AwsRequest) -> Any:
        return self.sim.s3_backend().buckets.get(req.bucket or "")

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3" or req.operation != "GetBucketEncryption":
            return None
        bucket = self._bucket(req)
        if bucket is None or bucket.encryption:
            return None
        return AwsResponse(200, Headers({"Content-Type": "application/xml", "x-amz-request-id": str(uuid.uuid4())}),
                           _DEFAULT.encode())

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service != "s3" or req.operation not in _WRITES or not resp.ok:
            return resp
        if resp.headers.get("x-amz-server-side-encryption") or req.headers.get("x-amz-server-side-encryption"):
            return resp
        bucket = self._bucket(req)
        if bucket is None or bucket.encryption:
            return resp
        if req.operation in ("PutObject", "CopyObject", "CompleteMultipartUpload"):
            version_id = resp.headers.get("x-amz-version-id")
            versions = bucket.keys.getlist(req.key or "", default=[]) or []
            version = (next((v for v in versions if str(v.version_id) == version_id), None) if version_id
                       else (versions[-1] if versions else None))
            if version is None or not hasattr(version, "encryption") or version.encryption:
                return resp
            version.encryption = "AES256"
            self.applied += 1
        resp.headers["x-amz-server-side-encryption"] = "AES256"
        return resp

    def status(self) -> dict[str, Any]:
        return {"objectsEncryptedByDefault": self.applied}

    def reset(self) -> None:
        self.applied = 0
