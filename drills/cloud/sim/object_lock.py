"""S3 Object Lock as AWS enforces it, where moto 5.2 does not (REFERENCE.md).

Rules (per object version; "now" is the simulation's VIRTUAL clock, never wall time):
- COMPLIANCE retention (retain-until in the future) can be extended but never shortened,
  removed or changed to GOVERNANCE: AccessDenied, whoever asks, bypass header or not.
- GOVERNANCE retention can be shortened, removed or its version deleted only with the
  header ``x-amz-bypass-governance-retention: true`` sent by a caller holding the
  ``s3:BypassGovernanceRetention`` permission (the root holds it; a role session only when its
  identity policies or the bucket policy allow it and nothing denies it: ``identity_policies``);
  changing it to COMPLIANCE or extending it needs no bypass.
- A delete WITH a version id (DeleteObject, or a DeleteObjects entry with VersionId) of a
  version under an active retention or a legal hold is refused (AccessDenied; per entry for
  DeleteObjects). A delete WITHOUT a version id only adds a delete marker and is allowed.
- Lock headers on a bucket without Object Lock: InvalidRequest. A retain-until date must
  be in the future and come with a mode: InvalidArgument.
- New versions (PutObject, CopyObject, multipart uploads) without lock headers get the
  bucket's default retention, counted from virtual now; multipart uploads keep the lock
  headers given to CreateMultipartUpload (moto drops both).
- GetObjectRetention (missing in moto) and GetObjectLegalHold are answered from moto's
  stored per-version lock state.

moto's own lock check uses wall time; when the virtual verdict differs, the version's lock
fields are swapped for the duration of moto's call and restored after it (the version is
gone if the delete succeeded). Internal requests (the simulation acting as AWS) obey the
same rules, except that a replicated retain-until date may already lie in the past.
"""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor, aws_error
from drills.cloud.sim.s3_versions import version_of
from drills.times import parse_time

MODES = ("GOVERNANCE", "COMPLIANCE")
BYPASS_HEADER = "x-amz-bypass-governance-retention"
MODE_HEADER = "x-amz-object-lock-mode"
UNTIL_HEADER = "x-amz-object-lock-retain-until-date"
HOLD_HEADER = "x-amz-object-lock-legal-hold"
_S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_MOTO_DATE = "%Y-%m-%dT%H:%M:%SZ"


def parse_lock_date(value: str | None) -> datetime | None:
    """A retain-until date as moto stores it (ISO-8601, 'Z' or offset) -> aware UTC datetime."""
    return parse_time(value.strip()) if value else None


def _xml_date(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _bypass_header(req: AwsRequest) -> bool:
    return str(req.headers.get(BYPASS_HEADER, "")).strip().lower() == "true"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(elem: ET.Element, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


class ObjectLockFidelity(Interceptor):
    """Refuse what S3 Object Lock refuses; answer lock reads moto lacks."""

    name = "object_lock"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.Lock()
        self._swaps: dict[int, list[tuple[Any, dict[str, Any]]]] = {}
        self._uploads: dict[str, dict[str, str]] = {}    # multipart upload id -> lock headers
        self.refusals: Counter[str] = Counter()
        self.defaults_applied = 0

    # ------------------------------------------------------------------ moto state
    def _bucket(self, name: str | None) -> Any:
        return self.sim.s3_backend().buckets.get(name) if name else None

    _find_version = staticmethod(version_of)

    @staticmethod
    def _is_marker(version: Any) -> bool:
        return not hasattr(version, "lock_mode")

    def _now(self) -> datetime:
        return self.sim.clock.now()

    def _active_retention(self, version: Any) -> tuple[str, datetime] | None:
        mode = getattr(version, "lock_mode", None)
        until = parse_lock_date(getattr(version, "lock_until", None))
        if mode in MODES and until is not None and until > self._now():
            return mode, until
        return None

    def _bypass(self, req: AwsRequest) -> bool:
        """The bypass header is set AND the caller holds s3:BypassGovernanceRetention."""
        if not _bypass_header(req):
            return False
        try:
            identity = self.sim["identity_policies"]
        except KeyError:                  # identities not enforced: the header alone decides
            return True
        return identity.permits(req, "s3:BypassGovernanceRetention")

    def delete_refusal(self, version: Any, bypass: Any) -> str | None:
        """Why deleting this version is refused now, or None if allowed. ``bypass``: a bool, or a
        callable asked only when the version is under GOVERNANCE retention."""
        if self._is_marker(version):
            return None
        if getattr(version, "lock_legal_status", None) == "ON":
            return "the object version is under a legal hold"
        active = self._active_retention(version)
        if active is None:
            return None
        mode, until = active
        if mode == "COMPLIANCE":
            return f"the object version is under COMPLIANCE retention until {until.isoformat()}"
        if not (bypass() if callable(bypass) else bypass):
            return (f"the object version is under GOVERNANCE retention until {until.isoformat()}; "
                    f"deleting it needs {BYPASS_HEADER}: true")
        return None

    def _refuse(self, req: AwsRequest, status: int, code: str, message: str) -> AwsResponse:
        with self._lock:
            self.refusals[f"{req.operation}:{code}"] += 1
        return aws_error(req, status, code, message)

    def _swap(self, req: AwsRequest, version: Any, **fields: Any) -> None:
        """Set lock fields for moto's call only; ``after`` puts the originals back."""
        original = {name: getattr(version, name) for name in fields}
        for name, value in fields.items():
            setattr(version, name, value)
        with self._lock:
            self._swaps.setdefault(id(req), []).append((version, original))

    # ------------------------------------------------------------------ before
    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "s3" or not req.bucket:
            return None
        handler = {
            "PutObjectRetention": self._put_retention,
            "GetObjectRetention": self._get_retention,
            "PutObjectLegalHold": self._put_legal_hold,
            "GetObjectLegalHold": self._get_legal_hold,
            "DeleteObject": self._delete_object,
            "DeleteObjects": self._delete_objects,
            "PutObject": self._check_lock_headers,
            "CopyObject": self._check_lock_headers,
            "CreateMultipartUpload": self._check_lock_headers,
            "PutBucketVersioning": self._put_versioning,
            "PutObjectLockConfiguration": self._put_lock_configuration,
        }.get(req.operation or "")
        if handler is None:
            return None
        bucket = self._bucket(req.bucket)
        if bucket is None:
            return None            # moto answers NoSuchBucket
        return handler(req, bucket)

    def _version_or_error(self, req: AwsRequest, bucket: Any) -> tuple[Any, AwsResponse | None]:
        version = self._find_version(bucket, req.key or "", req.version_id)
        if version is None:
            if req.version_id:
                return None, aws_error(req, 404, "NoSuchVersion", "The specified version does not exist.")
            return None, aws_error(req, 404, "NoSuchKey", "The specified key does not exist.")
        if self._is_marker(version):
            if req.version_id:
                return None, aws_error(req, 405, "MethodNotAllowed",
                                       "The specified method is not allowed against this resource.")
            return None, aws_error(req, 404, "NoSuchKey", "The specified key does not exist.")
        return version, None

    def _lock_required(self, req: AwsRequest, bucket: Any) -> AwsResponse | None:
        if not bucket.object_lock_enabled:
            return aws_error(req, 400, "InvalidRequest", "Bucket is missing Object Lock Configuration")
        return None

    def _put_retention(self, req: AwsRequest, bucket: Any) -> AwsResponse | None:
        if (error := self._lock_required(req, bucket)) is not None:
            return error
        version, error = self._version_or_error(req, bucket)
        if error is not None:
            return error
        try:
            root = ET.fromstring(req.body) if req.body.strip() else None
        except ET.ParseError:
            return aws_error(req, 400, "MalformedXML", "The XML you provided was not well-formed")
        if root is None or _local(root.tag) != "Retention":
            return aws_error(req, 400, "MalformedXML", "The XML you provided was not well-formed")
        mode = _child_text(root, "Mode") or None
        until_text = _child_text(root, "RetainUntilDate") or None
        if (mode is None) != (until_text is None) or (mode is not None and mode not in MODES):
            return aws_error(req, 400, "MalformedXML", "The XML you provided was not well-formed")
        try:
            until = parse_lock_date(until_text)
        except ValueError:
            return aws_error(req, 400, "InvalidArgument", f"invalid RetainUntilDate {until_text!r}")
        if until is not None and until <= self._now() and not req.internal:
            return aws_error(req, 400, "InvalidArgument", "The retain until date must be in the future!")

        active = self._active_retention(version)
        if active is not None:
            old_mode, old_until = active
            weaker = mode is None or until is None or until < old_until
            if old_mode == "COMPLIANCE" and (weaker or mode != "COMPLIANCE"):
                return self._refuse(req, 403, "AccessDenied",
                                    "Access Denied: a COMPLIANCE retention cannot be shortened, removed "
                                    "or changed to GOVERNANCE")
            if old_mode == "GOVERNANCE" and weaker and not self._bypass(req):
                return self._refuse(req, 403, "AccessDenied",
                                    f"Access Denied: shortening a GOVERNANCE retention needs {BYPASS_HEADER}: true")
        if mode is None:          # removal (moto cannot parse an empty <Retention/>)
            version.lock_mode = None
            version.lock_until = None
            return AwsResponse(200, Headers({"x-amz-request-id": str(uuid.uuid4())}))
        return None

    def _put_legal_hold(self, req: AwsRequest, bucket: Any) -> AwsResponse | None:
        if (error := self._lock_required(req, bucket)) is not None:
            return error
        _, error = self._version_or_error(req, bucket)
        if error is not None:
            return error
        try:
            status = _child_text(ET.fromstring(req.body), "Status")
        except ET.ParseError:
            status = None
        if status not in ("ON", "OFF"):
            return aws_error(req, 400, "MalformedXML", "The XML you provided was not well-formed")
        return None

    def _xml(self, req: AwsRequest, version: Any, body: str) -> AwsResponse:
        headers = Headers({"Content-Type": "application/xml", "x-amz-request-id": str(uuid.uuid4())})
        if str(version.version_id) != "null":
            headers["x-amz-version-id"] = str(version.version_id)
        return AwsResponse(200, headers, ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode())

    def _get_retention(self, req: AwsRequest, bucket: Any) -> AwsResponse:
        if (error := self._lock_required(req, bucket)) is not None:
            return error
        version, error = self._version_or_error(req, bucket)
        if error is not None:
            return error
        until = parse_lock_date(version.lock_until)
        if version.lock_mode not in MODES or until is None:
            return aws_error(req, 404, "NoSuchObjectLockConfiguration",
                             "The specified object does not have a ObjectLock configuration")
        return self._xml(req, version, f'<Retention xmlns="{_S3_NS}"><Mode>{version.lock_mode}</Mode>'
                                       f"<RetainUntilDate>{_xml_date(until)}</RetainUntilDate></Retention>")

    def _get_legal_hold(self, req: AwsRequest, bucket: Any) -> AwsResponse:
        if (error := self._lock_required(req, bucket)) is not None:
            return error
        version, error = self._version_or_error(req, bucket)
        if error is not None:
            return error
        if version.lock_legal_status not in ("ON", "OFF"):
            return aws_error(req, 404, "NoSuchObjectLockConfiguration",
                             "The specified object does not have a ObjectLock configuration")
        return self._xml(req, version, f'<LegalHold xmlns="{_S3_NS}"><Status>{version.lock_legal_status}'
                                       "</Status></LegalHold>")

    def _delete_object(self, req: AwsRequest, bucket: Any) -> AwsResponse | None:
        if req.version_id is None:
            return None           # adds a delete marker: always allowed
        version = self._find_version(bucket, req.key or "", req.version_id)
        if version is None or self._is_marker(version):
            return None
        reason = self.delete_refusal(version, lambda: self._bypass(req))
        if reason is not None:
            return self._refuse(req, 403, "AccessDenied", f"Access Denied: {reason}")
        if version.lock_mode is not None:      # allowed in virtual time; moto checks wall time
            self._swap(req, version, lock_mode=None, lock_until=None)
        return None

    def _delete_objects(self, req: AwsRequest, bucket: Any) -> AwsResponse | None:
        try:
            root = ET.fromstring(req.body)
        except ET.ParseError:
            return None           # moto answers MalformedXML
        allowed: list[bool] = []

        def bypass() -> bool:            # asked once, and only if some entry is under GOVERNANCE
            if not allowed:
                allowed.append(self._bypass(req))
            return allowed[0]

        for entry in root:
            if _local(entry.tag) != "Object":
                continue
            key, version_id = _child_text(entry, "Key"), _child_text(entry, "VersionId")
            if not key or not version_id:
                continue
            version = self._find_version(bucket, key, version_id)
            if version is None or self._is_marker(version):
                continue
            if self.delete_refusal(version, bypass) is not None:
                with self._lock:
                    self.refusals["DeleteObjects:AccessDenied"] += 1
                self._swap(req, version, lock_legal_status="ON")      # moto then refuses this entry
            elif version.lock_mode is not None:
                self._swap(req, version, lock_mode=None, lock_until=None)
        return None

    def _check_lock_headers(self, req: AwsRequest, bucket: Any) -> AwsResponse | None:
        mode, until_text, hold = (req.headers.get(h) for h in (MODE_HEADER, UNTIL_HEADER, HOLD_HEADER))
        if mode is None and until_text is None and hold is None:
            return None
        if not bucket.object_lock_enabled:
            return self._refuse(req, 400, "InvalidRequest", "Bucket is missing Object Lock Configuration")
        if (mode is None) != (until_text is None):
            return aws_error(req, 400, "InvalidArgument",
                             f"{UNTIL_HEADER} and {MODE_HEADER} must both be supplied")
        if mode is not None and mode not in MODES:
            return aws_error(req, 400, "InvalidArgument", "Unknown wormMode directive.")
        if hold is not None and hold not in ("ON", "OFF"):
            return aws_error(req, 400, "InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'")
        if until_text is not None:
            try:
                until = parse_lock_date(until_text)
            except ValueError:
                return aws_error(req, 400, "InvalidArgument", f"invalid {UNTIL_HEADER} {until_text!r}")
            if until is not None and until <= self._now() and not req.internal:
                return aws_error(req, 400, "InvalidArgument", "The retain until date must be in the future!")
        return None

    def _put_lock_configuration(self, req: AwsRequest, bucket: Any) -> AwsResponse | None:
        """Object Lock cannot be turned off: ``ObjectLockEnabled`` accepts only ``Enabled``
        (S3 API reference, ObjectLockConfiguration), so anything else does not validate
        against the schema -> 400 MalformedXML (moto answers "InvalidBucket")."""
        try:
            root = ET.fromstring(req.body) if req.body.strip() else None
        except ET.ParseError:
            return None           # moto answers MalformedXML
        if root is None:
            return None
        enabled = _child_text(root, "ObjectLockEnabled")
        if bucket.object_lock_enabled and enabled != "Enabled":
            return self._refuse(req, 400, "MalformedXML", "The XML you provided was not well-formed or did not "
                                                          "validate against our published schema")
        return None

    def _put_versioning(self, req: AwsRequest, bucket: Any) -> AwsResponse | None:
        if bucket.object_lock_enabled and b"Suspended" in req.body:
            return self._refuse(req, 409, "InvalidBucketState",
                                "An Object Lock configuration is present on this bucket, "
                                "so the versioning state cannot be changed.")
        return None

    # ------------------------------------------------------------------ after
    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        with self._lock:
            swaps = self._swaps.pop(id(req), None)
        if swaps:
            self._restore(req, swaps)
        if req.service != "s3" or not resp.ok:
            return resp
        if req.operation in ("PutObject", "CopyObject"):
            self._apply_lock(req.bucket, req.key, resp.headers.get("x-amz-version-id"),
                             {h: req.headers.get(h) for h in (MODE_HEADER, UNTIL_HEADER, HOLD_HEADER)})
        elif req.operation == "CreateMultipartUpload":
            self._remember_upload(req, resp)
        elif req.operation == "CompleteMultipartUpload":
            upload_id = (req.query.get("uploadId") or [""])[0]
            with self._lock:
                given = self._uploads.pop(upload_id, {})
            self._apply_lock(req.bucket, req.key, resp.headers.get("x-amz-version-id"), given)
        elif req.operation == "AbortMultipartUpload":
            with self._lock:
                self._uploads.pop((req.query.get("uploadId") or [""])[0], None)
        return resp

    def _restore(self, req: AwsRequest, swaps: list[tuple[Any, dict[str, Any]]]) -> None:
        bucket = self._bucket(req.bucket)
        for version, original in swaps:
            still_there = bucket is not None and any(
                v is version for v in bucket.keys.getlist(version.name, default=[]))
            if still_there:
                for name, value in original.items():
                    setattr(version, name, value)

    def _remember_upload(self, req: AwsRequest, resp: AwsResponse) -> None:
        given = {h: req.headers.get(h) for h in (MODE_HEADER, UNTIL_HEADER, HOLD_HEADER) if req.headers.get(h)}
        try:
            upload_id = _child_text(ET.fromstring(resp.body), "UploadId")
        except ET.ParseError:
            upload_id = None
        if upload_id:
            with self._lock:
                self._uploads[upload_id] = given

    def _apply_lock(self, bucket_name: str | None, key: str | None, version_id: str | None,
                    given: dict[str, str | None]) -> None:
        """Give a new version its explicit lock, or the bucket default counted from virtual now."""
        bucket = self._bucket(bucket_name)
        if bucket is None or not bucket.object_lock_enabled or key is None:
            return
        version = self._find_version(bucket, key, version_id)
        if version is None or self._is_marker(version):
            return
        if given.get(HOLD_HEADER):
            version.lock_legal_status = given[HOLD_HEADER]
        if given.get(MODE_HEADER) and given.get(UNTIL_HEADER):
            version.lock_mode = given[MODE_HEADER]
            version.lock_until = given[UNTIL_HEADER]
        elif bucket.default_lock_mode:
            days = int(bucket.default_lock_days or 0) + 365 * int(bucket.default_lock_years or 0)
            version.lock_mode = bucket.default_lock_mode
            version.lock_until = (self._now() + timedelta(days=days)).strftime(_MOTO_DATE)
            with self._lock:
                self.defaults_applied += 1

    # ------------------------------------------------------------------ reporting
    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"refusals": dict(self.refusals), "defaultRetentionsApplied": self.defaults_applied,
                    "openMultipartLocks": len(self._uploads)}

    def reset(self) -> None:
        with self._lock:
            self._swaps.clear()
            self._uploads.clear()
            self.refusals.clear()
            self.defaults_applied = 0
