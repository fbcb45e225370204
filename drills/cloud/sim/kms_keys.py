"""KMS key state, honoured by KMS and by S3 SSE-KMS (moto ignores it in both).

From the KMS developer guide ("Key states of AWS KMS keys": a disabled key or one pending
deletion cannot be used in cryptographic operations) and the S3 user guide ("Using
server-side encryption with AWS KMS keys"):

- KMS ``Encrypt`` / ``Decrypt`` / ``ReEncrypt`` / ``GenerateDataKey*`` with a key that is
  ``Disabled`` -> ``DisabledException``; ``PendingDeletion`` (or ``PendingReplicaDeletion``)
  -> ``KMSInvalidStateException``; unknown -> ``NotFoundException``.
- S3 writes that encrypt under a customer key (PutObject, CopyObject,
  CreateMultipartUpload, UploadPart, CompleteMultipartUpload: the request's
  ``x-amz-server-side-encryption-aws-kms-key-id``, else the bucket's default encryption
  key) and reads that decrypt (GetObject, and the source of CopyObject / UploadPartCopy)
  answer 400 ``KMS.DisabledException`` / ``KMS.KMSInvalidStateException`` /
  ``KMS.NotFoundException`` while the key is not usable. HeadObject needs no key.
  SSE-KMS under the AWS managed key (no key id) is not affected.
- An SSE-KMS object's ETag is not the MD5 of its data (S3 API reference, Object ``ETag``);
  moto reports the MD5, so it is replaced by an opaque digest on upload.

Replication uses the same check (``key_problem``): an SSE-KMS object whose source key, or
whose replica key, is unusable fails with ``SrcKmsKeyInvalidState`` / ``DstKmsKeyInvalidState``.
Multi-Region keys (``mrk-…``) encrypt and decrypt in every Region holding a replica:
that correction lives in ``drills.cloud.moto_fixes``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import unquote

from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor, aws_error
from drills.cloud.sim import key_locks
from drills.cloud.sim import replication_copy as copier

_KMS_OPS = {"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"}
_S3_WRITES = {"PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
_UNUSABLE = {"Disabled": ("DisabledException", "is disabled."),
             "PendingDeletion": ("KMSInvalidStateException", "is pending deletion."),
             "PendingReplicaDeletion": ("KMSInvalidStateException", "is pending replica deletion."),
             "Unavailable": ("KMSInvalidStateException", "is unavailable.")}


def resolve_key(sim: Any, key_ref: str | None, region: str | None) -> tuple[Any | None, str]:
    """(moto key or None, the ARN-ish name used in messages) for a key id, ARN or alias."""
    if not key_ref:
        return None, ""
    if key_ref.startswith("arn:"):
        region = key_ref.split(":")[3] or region
    if not region:
        return None, key_ref
    backend = sim.backend("kms", region)
    try:
        key_id = backend.any_id_to_key_id(key_ref)
    except (KeyError, AttributeError, TypeError):
        return None, key_ref
    key = backend.keys.get(key_id) if key_id else None
    return key, getattr(key, "arn", key_ref)


def key_problem(sim: Any, key_ref: str | None, region: str | None) -> tuple[str, str] | None:
    """(error code, message) if the key cannot be used now, None if it can (or is AWS managed)."""
    if not key_ref or key_ref in ("aws/s3", "alias/aws/s3"):
        return None
    key, name = resolve_key(sim, key_ref, region)
    if key is None:
        return "NotFoundException", f"Key '{name}' does not exist"
    unusable = _UNUSABLE.get(getattr(key, "key_state", "Enabled"))
    if unusable is None:
        return None
    return unusable[0], f"{name} {unusable[1]}"


class KmsKeyState(Interceptor):
    """Refuse cryptographic use of unusable keys, in KMS and in S3 SSE-KMS."""

    name = "kms"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.reset()

    def reset(self) -> None:
        self.refused: dict[str, int] = {}

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service == "kms" and req.operation in _KMS_OPS:
            return self._kms(req)
        if req.service == "s3" and req.bucket and req.key and not req.internal:
            return self._s3(req)
        return None

    # ------------------------------------------------------------------ KMS API
    def _kms(self, req: AwsRequest) -> AwsResponse | None:
        try:
            body = req.json()
        except ValueError:
            return None
        refs = [body.get("KeyId"), body.get("DestinationKeyId")]
        if req.operation in ("Decrypt", "ReEncrypt") and not body.get("KeyId") and not body.get("SourceKeyId"):
            refs.append(self._ciphertext_key(body.get("CiphertextBlob"), req.region))
        refs.append(body.get("SourceKeyId"))
        for ref in filter(None, refs):
            problem = key_problem(self.sim, ref, req.region)
            if problem is not None:
                return self._refuse(req, problem[0], problem[1])
        return None

    # ------------------------------------------------------------------ S3 SSE-KMS
    def _s3(self, req: AwsRequest) -> AwsResponse | None:
        refs: list[tuple[str | None, str | None]] = []
        region = self._bucket_region(req.bucket)
        if req.operation == "GetObject":
            refs.append(self._object_key(req.bucket, req.key, req.version_id))
        if req.operation in _S3_WRITES:
            refs.append((self._write_key(req), region))
        source = req.headers.get("x-amz-copy-source")
        if source and req.operation in ("CopyObject", "UploadPartCopy"):
            path, _, query = unquote(source).lstrip("/").partition("?versionId=")
            bucket, _, key = path.partition("/")
            refs.append(self._object_key(bucket, key, query or None))
        for ref, ref_region in refs:
            problem = key_problem(self.sim, ref, ref_region)
            if problem is not None:
                return self._refuse(req, f"KMS.{problem[0]}", problem[1])
        return None

    def _write_key(self, req: AwsRequest) -> str | None:
        if req.operation in ("UploadPart", "CompleteMultipartUpload"):
            upload_id = (req.query.get("uploadId") or [None])[0]
            found = copier.get_bucket(self.sim.s3_backend(), req.bucket)
            upload = found.multiparts.get(upload_id) if found is not None and upload_id else None
            return getattr(upload, "kms_key_id", None) if upload is not None else None
        algorithm = req.headers.get("x-amz-server-side-encryption")
        if algorithm is not None:
            return req.headers.get("x-amz-server-side-encryption-aws-kms-key-id") if algorithm.startswith("aws:kms") \
                else None
        found = copier.get_bucket(self.sim.s3_backend(), req.bucket)
        default = ((getattr(found, "encryption", None) or {}).get("Rule") or {}).get(
            "ApplyServerSideEncryptionByDefault") or {}
        return default.get("KMSMasterKeyID") if str(default.get("SSEAlgorithm", "")).startswith("aws:kms") else None

    def _object_key(self, bucket: str, key: str, version_id: str | None) -> tuple[str | None, str | None]:
        s3 = self.sim.s3_backend()
        if version_id:
            stored = copier.find_version(s3, bucket, key, version_id)
        else:
            found = copier.get_bucket(s3, bucket)
            versions = found.keys.getlist(key, []) if found is not None else []
            stored = versions[-1] if versions else None
        if stored is None or not str(getattr(stored, "encryption", "") or "").startswith("aws:kms"):
            return None, None
        return getattr(stored, "kms_key_id", None), self._bucket_region(bucket)

    def _bucket_region(self, bucket: str | None) -> str | None:
        found = copier.get_bucket(self.sim.s3_backend(), bucket or "")
        return getattr(found, "region_name", None) if found is not None else None

    def _refuse(self, req: AwsRequest, code: str, message: str) -> AwsResponse:
        self.refused[code] = self.refused.get(code, 0) + 1
        return aws_error(req, 400, code, message)

    # ------------------------------------------------------------------ SSE-KMS ETag
    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if (req.service == "s3" and resp.ok and req.key and req.operation in ("PutObject", "CopyObject")
                and str(resp.headers.get("x-amz-server-side-encryption", "")).startswith("aws:kms")):
            with key_locks.held((req.bucket, req.key)):     # no concurrent PUT disposes it meanwhile
                version_id = resp.headers.get("x-amz-version-id")
                stored = (copier.find_version(self.sim.s3_backend(), req.bucket, req.key, version_id)
                          if version_id and version_id != "null" else None)
                if stored is None:
                    found = copier.get_bucket(self.sim.s3_backend(), req.bucket)
                    versions = found.keys.getlist(req.key, []) if found is not None else []
                    stored = versions[-1] if versions else None
                if stored is not None and hasattr(stored, "_etag") and "-" not in str(stored.etag):
                    opaque = hashlib.md5(b"sse-kms\0" + str(stored.version_id).encode() + stored.value).hexdigest()
                    old = stored.etag
                    stored._etag = opaque
                    if "etag" in resp.headers:
                        resp.headers["etag"] = f'"{opaque}"'
                    if resp.body and old:
                        resp.body = resp.body.replace(old.strip('"').encode(), opaque.encode())
        return resp

    def status(self) -> dict[str, Any]:
        return {"refused": dict(self.refused)}

    def _ciphertext_key(self, blob: Any, region: str | None) -> str | None:
        """The key id inside a moto ciphertext blob (base64 in the JSON request); a
        multi-Region key's id is stored without its ``mrk-`` prefix (see moto_fixes)."""
        if not isinstance(blob, str) or not region:
            return None
        try:
            from moto.kms.utils import _deserialize_ciphertext_blob
            key_id = _deserialize_ciphertext_blob(base64.b64decode(blob)).key_id
        except Exception:  # noqa: BLE001 - not moto's format: KMS itself answers InvalidCiphertext
            return None
        keys = self.sim.backend("kms", region).keys
        if key_id not in keys and f"mrk-{key_id}" in keys:
            return f"mrk-{key_id}"
        return key_id if key_id in keys else None


