"""STOW-RS (PS3.18 §10.5): each part of a multipart/related request goes through the ingest
core (same validation, quarantine and index as every other way in), and the response lists
what was stored (ReferencedSOPSequence) and what was not (FailedSOPSequence, FailureReason).

Outcomes: ARCHIVED and DUPLICATE are stored; CONFLICT (same SOP Instance UID, different
bytes) is stored as a new version with the previous one kept, and reported with a Warning;
QUARANTINED fails with 0xC000 (cannot understand: the bytes sit in quarantine with their
reason); an instance of another study than the request's path fails with 0xA900 before it
reaches ingest; an infrastructure failure fails with 0x0110 (processing failure).
Status: 200 all stored, 202 some failed or a warning, 409 none stored (PS3.18 Table 10.5.3-1).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from drills.dicomweb import multipart
from drills.errors import InfraError
from drills.ingest.core import Ingestor, Outcome
from drills.ingest.reader import RejectedInput, read_header

CANNOT_UNDERSTAND = 0xC000
STUDY_MISMATCH = 0xA900           # data set does not match (the study of the request)
PROCESSING_FAILURE = 0x0110
NOT_DICOM_PART = 0xC000


@dataclass
class StowResult:
    referenced: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        if not self.referenced:
            return 409
        return 202 if self.failed or self.warnings else 200

    def document(self, study_url: str | None) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if study_url:
            doc["00081190"] = {"vr": "UR", "Value": [study_url]}
        if self.failed:
            doc["00081198"] = {"vr": "SQ", "Value": self.failed}
        if self.referenced:
            doc["00081199"] = {"vr": "SQ", "Value": self.referenced}
        return doc


def _ref(sop_class: str | None, sop_uid: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sop_class:
        out["00081150"] = {"vr": "UI", "Value": [sop_class]}
    if sop_uid:
        out["00081155"] = {"vr": "UI", "Value": [sop_uid]}
    return out


def store(ingestor: Ingestor, buf: Any, parts: list[multipart.Part], study_uid: str | None,
          base: str) -> StowResult:
    result = StowResult()
    for n, part in enumerate(parts, 1):
        media, _ = multipart.parse_content_type(part.content_type or "application/dicom")
        if media != "application/dicom":
            result.failed.append({"00081197": {"vr": "US", "Value": [NOT_DICOM_PART]}})
            result.warnings.append(f"part {n} is {media}, not application/dicom")
            continue
        data = bytes(buf[part.start:part.end])
        try:
            header = read_header(io.BytesIO(data), len(data))
        except RejectedInput:
            header = None
        if header is not None and study_uid and header.study_instance_uid != study_uid:
            result.failed.append({**_ref(header.sop_class_uid, header.sop_instance_uid),
                                  "00081197": {"vr": "US", "Value": [STUDY_MISMATCH]}})
            continue
        try:
            outcome = ingestor.ingest_bytes(data, source=f"stow-part-{n}")
        except InfraError:
            result.failed.append({**_ref(header and header.sop_class_uid, header and header.sop_instance_uid),
                                  "00081197": {"vr": "US", "Value": [PROCESSING_FAILURE]}})
            continue
        if outcome.outcome is Outcome.QUARANTINED:
            result.failed.append({**_ref(header and header.sop_class_uid, outcome.sop_instance_uid),
                                  "00081197": {"vr": "US", "Value": [CANNOT_UNDERSTAND]}})
            continue
        if header is None:          # ingest archived what the reader refused: never expected, never hidden
            result.failed.append({"00081197": {"vr": "US", "Value": [PROCESSING_FAILURE]}})
            continue
        ref = _ref(header.sop_class_uid, header.sop_instance_uid)
        ref["00081190"] = {"vr": "UR", "Value": [
            f"{base}/studies/{header.study_instance_uid}/series/{header.series_instance_uid}"
            f"/instances/{header.sop_instance_uid}"]}
        if outcome.outcome is Outcome.CONFLICT:
            result.warnings.append(f"part {n}: SOP Instance UID already stored with different bytes; "
                                   "stored as a new version, the previous version is kept")
        result.referenced.append(ref)
    return result
