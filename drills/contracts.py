"""Contracts shared by the Pulumi program, the embedded cloud, ingest and the drills.

Changing anything here changes an interface another part of drkit (or a deployed stack)
relies on: the stack-output schema, the archive key layout, the study-index schema, the
object tags lifecycle rules filter on, and the quarantine reason codes.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from drills.errors import UsageError

# --------------------------------------------------------------------------- stack outputs

OUTPUTS_SCHEMA_VERSION = 2               # what this drkit writes
SUPPORTED_OUTPUTS_VERSIONS = (1, 2)      # what it reads: 2 adds hashKeySecretArn (required there)
OPTIONAL_OUTPUTS = {"hashKeySecretArn": 2}    # output -> first schemaVersion that requires it
_SECRET_ARN_RE = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9:/_+=.@-]+")


@dataclass(frozen=True)
class Objectives:
    """Recovery objectives declared by the stack (``drkit:objectives``)."""

    rpoMinutes: float
    rtoMinutes: float
    restoreHours: float


@dataclass(frozen=True)
class StackOutputs:
    """What ``pulumi stack output --json`` (AWS) and ``drkit up`` (embedded) both write."""

    schemaVersion: int
    primaryRegion: str
    drRegion: str
    archiveBucket: str
    replicaBucket: str
    landingBucket: str
    indexTable: str
    backupVault: str
    drBackupVault: str
    evidenceBucket: str
    multiRegionAccessPoint: str
    objectives: Objectives
    hashKeySecretArn: str | None = None
    """ARN of the Secrets Manager secret holding the identifier hash key (schemaVersion 2;
    absent in version 1 documents, where ingest falls back to finding it by tag)."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "outputs") -> "StackOutputs":
        """Validate a decoded outputs document; raise UsageError naming the bad field."""
        if not isinstance(data, Mapping):
            raise UsageError(f"{source}: expected a JSON object of stack outputs")
        names = [f.name for f in fields(cls)]
        if "schemaVersion" not in data:
            raise UsageError(f"{source}: missing stack output(s): schemaVersion")
        version = data["schemaVersion"]
        if isinstance(version, bool) or version not in SUPPORTED_OUTPUTS_VERSIONS:
            raise UsageError(
                f"{source}: schemaVersion {version!r} is not supported "
                f"(this drkit reads {', '.join(map(str, SUPPORTED_OUTPUTS_VERSIONS))})"
            )
        required = [n for n in names if OPTIONAL_OUTPUTS.get(n, 0) <= version]
        missing = [n for n in required if n not in data]
        if missing:
            raise UsageError(f"{source}: missing stack output(s): {', '.join(missing)}")
        for name in names:
            if name in ("schemaVersion", "objectives") or name not in data:
                continue
            if not isinstance(data[name], str) or not data[name]:
                raise UsageError(f"{source}: stack output {name!r} must be a non-empty string")
        arn = data.get("hashKeySecretArn")
        if arn is not None and not _SECRET_ARN_RE.fullmatch(arn):
            raise UsageError(f"{source}: stack output 'hashKeySecretArn' is not a Secrets Manager secret ARN")
        obj = data["objectives"]
        try:
            objectives = Objectives(**{f.name: float(obj[f.name]) for f in fields(Objectives)})
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"{source}: stack output 'objectives' needs numeric rpoMinutes, rtoMinutes, restoreHours"
            ) from exc
        values = {n: data[n] for n in names if n != "objectives" and n in data}
        return cls(**values, objectives=objectives)

    @classmethod
    def load(cls, path: Path) -> "StackOutputs":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise UsageError(f"{path}: no such outputs file") from exc
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
        return cls.from_mapping(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        if document["hashKeySecretArn"] is None:      # a version 1 document has no such output
            del document["hashKeySecretArn"]
        return document

    def write(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- archive layout

DICOM_PREFIX = "dicom/"
QUARANTINE_PREFIX = "quarantine/"
CHECKSUM_ALGORITHM = "SHA256"


def archive_key(study_uid: str, series_uid: str, sop_uid: str) -> str:
    """``dicom/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``."""
    return f"{DICOM_PREFIX}{study_uid}/{series_uid}/{sop_uid}.dcm"


def quarantine_key(content_sha256_hex: str) -> str:
    """Quarantined bytes live at ``quarantine/<sha256 of the bytes>.bin``; the reason sits
    beside them at ``quarantine/<sha256>.json`` (see QuarantineReason)."""
    return f"{QUARANTINE_PREFIX}{content_sha256_hex}.bin"


def quarantine_reason_key(content_sha256_hex: str) -> str:
    return f"{QUARANTINE_PREFIX}{content_sha256_hex}.json"


class QuarantineReason(str, Enum):
    """Machine-readable reasons an input was quarantined instead of archived."""

    NOT_DICOM = "not-dicom"                  # no DICM preamble / no parseable dataset
    TRUNCATED = "truncated"                  # file ends inside the header or pixel data
    MISSING_UID = "missing-uid"              # SOP Class/Instance, Study or Series UID absent
    INVALID_UID = "invalid-uid"              # a UID present but not a valid DICOM UID
    UNREADABLE_TRANSFER_SYNTAX = "unreadable-transfer-syntax"
    MISSING_META = "missing-file-meta"       # no File Meta Information group
    UNREADABLE = "unreadable"                # I/O error or any other parse failure
    INFLATED_TOO_LARGE = "inflated-too-large"  # a deflated data set inflates beyond the configured bound


# --------------------------------------------------------------------------- object tags

SPECIALTY_TAG = "drkit-specialty"            # lifecycle tier rules filter on this tag
MODALITY_TAG = "drkit-modality"


class Specialty(str, Enum):
    RADIOLOGY = "radiology"
    CARDIOLOGY = "cardiology"
    PATHOLOGY = "pathology"
    DERMATOLOGY = "dermatology"
    OPHTHALMOLOGY = "ophthalmology"
    OTHER = "other"


# Modality (0008,0060) → specialty. ECG waveforms carry modality ECG; echo is US.
MODALITY_SPECIALTY: dict[str, Specialty] = {
    **{m: Specialty.RADIOLOGY for m in ("CT", "MR", "CR", "DX", "MG", "PT", "NM", "RF", "IO", "PX")},
    **{m: Specialty.CARDIOLOGY for m in ("US", "XA", "ECG", "IVUS", "HD")},
    "SM": Specialty.PATHOLOGY,
    "XC": Specialty.DERMATOLOGY,
    **{m: Specialty.OPHTHALMOLOGY for m in ("OP", "OPT", "OPV", "OAM")},
}


def specialty_for(modality: str | None) -> Specialty:
    return MODALITY_SPECIALTY.get((modality or "").upper(), Specialty.OTHER)


# --------------------------------------------------------------------------- study index

INDEX_PARTITION_KEY = "StudyInstanceUID"     # S
INDEX_SORT_KEY = "SeriesSop"                 # S: "<SeriesInstanceUID>/<SOPInstanceUID>"


# SOP Instance UIDs are globally unique: a global secondary index finds every item that
# claims one (keys only), so a second study or series claiming it is reported as a conflict.
INDEX_SOP_GSI = "BySOPInstanceUID"
INDEX_SOP_GSI_KEY = "SOPInstanceUID"         # S

# The table's keys in the shape boto3's CreateTable takes (tests and tools that build an index).
INDEX_KEY_SCHEMA = [{"AttributeName": INDEX_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": INDEX_SORT_KEY, "KeyType": "RANGE"}]
INDEX_ATTRIBUTE_DEFINITIONS = [{"AttributeName": INDEX_PARTITION_KEY, "AttributeType": "S"},
                               {"AttributeName": INDEX_SORT_KEY, "AttributeType": "S"}]
INDEX_GLOBAL_SECONDARY_INDEXES = [{"IndexName": INDEX_SOP_GSI,
                                   "KeySchema": [{"AttributeName": INDEX_SOP_GSI_KEY, "KeyType": "HASH"}],
                                   "Projection": {"ProjectionType": "KEYS_ONLY"}}]
# The full table (keys and the SOP Instance UID index), as CreateTable keyword arguments.
INDEX_TABLE_DEFINITION: dict[str, Any] = {
    "KeySchema": INDEX_KEY_SCHEMA,
    "AttributeDefinitions": INDEX_ATTRIBUTE_DEFINITIONS + [{"AttributeName": INDEX_SOP_GSI_KEY, "AttributeType": "S"}],
    "GlobalSecondaryIndexes": INDEX_GLOBAL_SECONDARY_INDEXES,
}


def index_sort_key(series_uid: str, sop_uid: str) -> str:
    return f"{series_uid}/{sop_uid}"


# Attributes every index item carries besides the keys (names are the DynamoDB attribute names):
INDEX_ATTRIBUTES = (
    "SeriesInstanceUID",   # S
    "SOPInstanceUID",      # S
    "SOPClassUID",         # S
    "Modality",            # S
    "Specialty",           # S (Specialty value)
    "StudyDate",           # S, YYYYMMDD or "" when absent
    "Size",                # N, bytes
    "ChecksumSHA256",      # S, base64 as S3 reports x-amz-checksum-sha256
    "VersionId",           # S, archive object version id
    "Key",                 # S, archive object key
    "PatientIdHash",       # S, HMAC-SHA256 hex of PatientID (never the identifier itself)
    "AccessionHash",       # S, HMAC-SHA256 hex of AccessionNumber
    "TransferSyntaxUID",   # S
    "IngestedAt",          # S, UTC ISO-8601
)

# --------------------------------------------------------------------------- ingest Lambda

LAMBDA_HANDLER = "drills.ingest.handler.handler"
# Environment the IngestPipeline gives the function (and the embedded cloud reproduces):
ENV_ARCHIVE_BUCKET = "DRKIT_ARCHIVE_BUCKET"
ENV_INDEX_TABLE = "DRKIT_INDEX_TABLE"
ENV_KMS_KEY_ID = "DRKIT_KMS_KEY_ID"          # archive key for SSE-KMS puts
ENV_HASH_KEY_SECRET = "DRKIT_HASH_KEY_SECRET"  # Secrets Manager secret id holding the HMAC key
ENV_MAX_INFLATED_MIB = "DRKIT_MAX_INFLATED_MIB"  # optional: bound on inflated deflated data sets (MiB)

# The Secrets Manager secret holding the HMAC key for patient-identifier hashes is named by
# the ``hashKeySecretArn`` output (schemaVersion 2). It also carries these tags: with a
# version 1 outputs document `drkit ingest` and the gateway find it by tag, when only one
# secret in the account and region carries them.
HASH_KEY_SECRET_TAGS = {"drkit-purpose": "phi-hash-key"}
