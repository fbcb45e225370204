"""Contracts shared by the Pulumi program, the embedded cloud, ingest and the drills.

Changing anything here changes an interface another part of drkit (or a deployed stack)
relies on: the stack-output schema, the archive key layout, the study-index schema, the
object tags lifecycle rules filter on, the quarantine reason codes, and the opaque labels
that name things in logs, journals and reports.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from drills import jsonio
from drills.errors import UsageError

# --------------------------------------------------------------------------- stack outputs

OUTPUTS_SCHEMA_VERSION = 2               # what this drkit writes
SUPPORTED_OUTPUTS_VERSIONS = (1, 2)      # what it reads: 2 adds hashKeySecretArn (required there)
# output -> first schemaVersion that requires it (3: written now, required by no version yet)
OPTIONAL_OUTPUTS = {"hashKeySecretArn": 2, "batchOperationsRoleArn": 3, "claimsTable": 3}
# outputs a stack may leave out whatever its version (absent when the stack does not deploy them)
ABSENT_WHEN_NOT_DEPLOYED = ("attackerRoleArn", "attackerBypassRoleArn")
ROLE_OUTPUTS = ("batchOperationsRoleArn", *ABSENT_WHEN_NOT_DEPLOYED)
_ROLE_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9/_+=,.@-]+")
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
    batchOperationsRoleArn: str | None = None
    """ARN of the IAM role drkit's S3 Batch Operations jobs run as (compute checksum, Batch
    Replication, restore); optional: outputs written before it existed lack it."""
    claimsTable: str | None = None
    """DynamoDB table of SOP Instance UID claims (CLAIMS_* below), replicated like the index;
    optional: without it ingest checks claims through the index's SOP Instance UID GSI."""
    attackerRoleArn: str | None = None
    """ARN of the ransomware drill's attacker role (broad write/delete rights on this stack);
    absent when ``drkit:drill.attacker.enabled`` is false (production's default)."""
    attackerBypassRoleArn: str | None = None
    """ARN of the attacker role that also holds ``s3:BypassGovernanceRetention``; absent likewise."""

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
        required = [n for n in names if n not in ABSENT_WHEN_NOT_DEPLOYED and OPTIONAL_OUTPUTS.get(n, 0) <= version]
        missing = [n for n in required if n not in data]
        if missing:
            raise UsageError(f"{source}: missing stack output(s): {', '.join(missing)}")
        for name in names:
            if name in ("schemaVersion", "objectives") or name not in data:
                continue
            if not isinstance(data[name], str) or not data[name]:
                raise UsageError(f"{source}: stack output {name!r} must be a non-empty string")
        for output in ROLE_OUTPUTS:
            role = data.get(output)
            if role is not None and not _ROLE_ARN_RE.fullmatch(role):
                raise UsageError(f"{source}: stack output {output!r} is not an IAM role ARN")
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
        for optional in (*OPTIONAL_OUTPUTS, *ABSENT_WHEN_NOT_DEPLOYED):   # absent: older document, or not deployed
            if document[optional] is None:
                del document[optional]
        return document

    def write(self, path: Path) -> None:
        Path(path).write_text(jsonio.dump_text(self.to_dict()))


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


# --------------------------------------------------------------------------- opaque labels

OPAQUE_LABEL_HEX = 12       # hex digits of the SHA-256 an opaque label keeps


def opaque_label(prefix: str, value: str) -> str:
    """``<prefix>-<first 12 hex digits of the SHA-256 of value>``: names something whose value
    must not appear in logs, journals or reports (an archive key holding UIDs, a token's
    subject, a credential) yet stays the same label for the same value, so two reports
    can be compared. Unkeyed: for patient identifiers, which are guessable, the index uses
    the keyed hash (drills.ingest.pseudonym) instead."""
    return f"{prefix}-{hashlib.sha256(value.encode('utf-8')).hexdigest()[:OPAQUE_LABEL_HEX]}"


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


# --------------------------------------------------------------------------- SOP classes

# The storage SOP class drkit writes per modality (``drkit synth``) and the gateway accepts
# on top of pynetdicom's list. UIDs from DICOM PS3.4 Annex B.5 (Standard SOP Classes).
STORAGE_SOP_CLASSES: dict[str, str] = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",               # CT Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",               # MR Image Storage
    "CR": "1.2.840.10008.5.1.4.1.1.1",               # Computed Radiography Image Storage
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",             # Digital X-Ray Image Storage - For Presentation
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",             # Digital Mammography X-Ray Image Storage - For Presentation
    "US": "1.2.840.10008.5.1.4.1.1.3.1",             # Ultrasound Multi-frame Image Storage
    "XA": "1.2.840.10008.5.1.4.1.1.12.1",            # X-Ray Angiographic Image Storage
    "ECG": "1.2.840.10008.5.1.4.1.1.9.1.1",          # 12-lead ECG Waveform Storage
    "SM": "1.2.840.10008.5.1.4.1.1.77.1.6",          # VL Whole Slide Microscopy Image Storage
    "XC": "1.2.840.10008.5.1.4.1.1.77.1.4",          # VL Photographic Image Storage
    "OP": "1.2.840.10008.5.1.4.1.1.77.1.5.1",        # Ophthalmic Photography 8 Bit Image Storage
}


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


# SOP Instance UID claims: one item per SOP Instance UID in a table of its own, naming the
# index item (StudyInstanceUID, SeriesSop) that holds the UID. Ingest reads a group's claims
# in the group commit's BatchGetItem and claims new UIDs in the same TransactWriteItems that
# creates their index items, each claim conditional on attribute_not_exists: of two ingesters
# claiming one UID for different studies exactly one succeeds, the other records a conflict.
CLAIMS_PARTITION_KEY = "SOPInstanceUID"      # S
CLAIMS_STUDY = "StudyInstanceUID"            # S: the claiming index item's partition key
CLAIMS_SERIES_SOP = "SeriesSop"              # S: ... and its sort key
# The completeness marker: one item of the claims table whose key cannot be a SOP Instance UID
# (UIDs are digits and dots only, PS3.5 §9). Present once every index item's UID is claimed —
# written by ingest into an empty stack, by `drkit claims backfill` after filling an upgraded
# one. Ingest trusts the claims only while it is present; every reader of the table skips it.
CLAIMS_COMPLETE_MARKER = "drkit:claims-complete"
CLAIMS_MARKER_WRITTEN_AT = "WrittenAt"       # S: UTC ISO-8601
CLAIMS_MARKER_WRITTEN_BY = "WrittenBy"       # S: what wrote it ("ingest: empty index", "drkit claims backfill")
CLAIMS_TABLE_DEFINITION: dict[str, Any] = {
    "KeySchema": [{"AttributeName": CLAIMS_PARTITION_KEY, "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": CLAIMS_PARTITION_KEY, "AttributeType": "S"}],
}


def index_sort_key(series_uid: str, sop_uid: str) -> str:
    return f"{series_uid}/{sop_uid}"


@dataclass(frozen=True)
class IndexConflict:
    """One ``Conflicts`` entry: the instance was re-sent with a different data set, or (``kind``
    SOP_UID_REUSED) another study or series claims its SOP Instance UID (``other_key``)."""

    detected_at: str                  # DetectedAt, UTC ISO-8601
    previous_version_id: str = ""     # PreviousVersionId
    previous_checksum_sha256: str = ""  # PreviousChecksumSHA256
    previous_size: int = 0            # PreviousSize
    version_id: str = ""              # VersionId (the new version)
    checksum_sha256: str = ""         # ChecksumSHA256 (of the new version)
    kind: str = ""                    # Kind: "" (content changed) or SOP_UID_REUSED
    other_key: str = ""               # OtherKey: the archive key of the other claim

    def to_item(self) -> dict[str, Any]:
        item = {attr: getattr(self, name) for name, attr in _CONFLICT_ATTRIBUTES}
        return {k: v for k, v in item.items() if v != "" or k not in _OPTIONAL_CONFLICT_ATTRIBUTES}

    @classmethod
    def from_item(cls, raw: Mapping[str, Any]) -> "IndexConflict":
        return cls(**{name: (_as_int(raw.get(attr)) if name == "previous_size" else str(raw.get(attr, "")))
                      for name, attr in _CONFLICT_ATTRIBUTES})


SOP_UID_REUSED = "SOPInstanceUIDReused"   # IndexConflict.kind: another study/series claims the UID
_OPTIONAL_CONFLICT_ATTRIBUTES = frozenset({"Kind", "OtherKey"})
_CONFLICT_ATTRIBUTES = (
    ("detected_at", "DetectedAt"), ("previous_version_id", "PreviousVersionId"),
    ("previous_checksum_sha256", "PreviousChecksumSHA256"), ("previous_size", "PreviousSize"),
    ("version_id", "VersionId"), ("checksum_sha256", "ChecksumSHA256"), ("kind", "Kind"), ("other_key", "OtherKey"),
)


@dataclass(frozen=True)
class IndexItem:
    """One study-index item: an archived instance, as ingest writes it and probes read it.

    ``to_item`` gives the DynamoDB attributes (names below; numbers as int), ``from_item``
    reads them back (from boto3's deserialized form: numbers may be Decimal). An attribute
    ingest always writes but the stored item lacks is read as empty and named in ``missing``.
    """

    study_instance_uid: str           # StudyInstanceUID (partition key)
    series_instance_uid: str          # SeriesInstanceUID
    sop_instance_uid: str             # SOPInstanceUID
    sop_class_uid: str                # SOPClassUID
    modality: str                     # Modality
    specialty: str                    # Specialty (a Specialty value)
    study_date: str                   # StudyDate, YYYYMMDD or "" when absent
    size: int                         # Size, bytes
    checksum_sha256: str              # ChecksumSHA256: base64, as S3 reports x-amz-checksum-sha256
    version_id: str                   # VersionId: archive object version id ("null" if unversioned)
    key: str                          # Key: archive object key
    patient_id_hash: str              # PatientIdHash: HMAC-SHA256 hex of PatientID (never the identifier)
    accession_hash: str               # AccessionHash: HMAC-SHA256 hex of AccessionNumber
    transfer_syntax_uid: str          # TransferSyntaxUID
    ingested_at: str                  # IngestedAt: UTC ISO-8601
    content_sha256: str               # ContentSHA256: full-object SHA-256, base64 (= ChecksumSHA256 for one PUT)
    checksum_type: str                # ChecksumType: FULL_OBJECT, COMPOSITE, or "" (no S3 checksum)
    part_size: int | None = None      # PartSize (COMPOSITE only: recomputes S3's checksum)
    part_count: int | None = None     # PartCount (COMPOSITE only)
    conflicts: tuple[IndexConflict, ...] = ()   # Conflicts (appended by the index, never overwritten)
    conflict_count: int = 0           # ConflictCount
    hash_key_version: str = ""        # HashKeyVersion: the hash-key secret's version that made the two hashes
    missing: tuple[str, ...] = field(default=(), compare=False)   # attributes the stored item lacks

    @property
    def sort_key(self) -> str:
        return index_sort_key(self.series_instance_uid, self.sop_instance_uid)

    def to_item(self) -> dict[str, Any]:
        """The attributes to write. ``Conflicts``/``ConflictCount`` only when there are some,
        ``PartSize``/``PartCount`` only for COMPOSITE checksums."""
        item: dict[str, Any] = {INDEX_PARTITION_KEY: self.study_instance_uid, INDEX_SORT_KEY: self.sort_key}
        item.update({attr: getattr(self, name) for name, attr in _ITEM_ATTRIBUTES})
        if self.part_size is not None:
            item["PartSize"], item["PartCount"] = self.part_size, self.part_count
        if self.conflicts:
            item["Conflicts"] = [c.to_item() for c in self.conflicts]
            item["ConflictCount"] = self.conflict_count
        if self.hash_key_version:
            item["HashKeyVersion"] = self.hash_key_version
        return item

    @classmethod
    def from_item(cls, raw: Mapping[str, Any]) -> "IndexItem":
        """Read a stored item; ValueError when even its keys are missing."""
        if not raw.get(INDEX_PARTITION_KEY) or not raw.get(INDEX_SORT_KEY):
            raise ValueError(f"index item without {INDEX_PARTITION_KEY}/{INDEX_SORT_KEY}")
        series, _, sop = str(raw[INDEX_SORT_KEY]).partition("/")
        values: dict[str, Any] = {}
        for name, attr in _ITEM_ATTRIBUTES:
            value = raw.get(attr)
            values[name] = _as_int(value) if name == "size" else ("" if value is None else str(value))
        values["series_instance_uid"] = values["series_instance_uid"] or series
        values["sop_instance_uid"] = values["sop_instance_uid"] or sop
        conflicts = tuple(IndexConflict.from_item(c) for c in raw.get("Conflicts") or ())
        return cls(study_instance_uid=str(raw[INDEX_PARTITION_KEY]), **values,
                   part_size=_as_int(raw["PartSize"]) if raw.get("PartSize") is not None else None,
                   part_count=_as_int(raw["PartCount"]) if raw.get("PartCount") is not None else None,
                   conflicts=conflicts, conflict_count=_as_int(raw.get("ConflictCount")),
                   hash_key_version=str(raw.get("HashKeyVersion") or ""),
                   missing=tuple(attr for _, attr in _ITEM_ATTRIBUTES if attr not in raw))


# (field, DynamoDB attribute) for every attribute ingest writes on every item besides the keys.
_ITEM_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("series_instance_uid", "SeriesInstanceUID"), ("sop_instance_uid", "SOPInstanceUID"),
    ("sop_class_uid", "SOPClassUID"), ("modality", "Modality"), ("specialty", "Specialty"),
    ("study_date", "StudyDate"), ("size", "Size"), ("checksum_sha256", "ChecksumSHA256"),
    ("version_id", "VersionId"), ("key", "Key"), ("patient_id_hash", "PatientIdHash"),
    ("accession_hash", "AccessionHash"), ("transfer_syntax_uid", "TransferSyntaxUID"),
    ("ingested_at", "IngestedAt"), ("content_sha256", "ContentSHA256"), ("checksum_type", "ChecksumType"),
)

# Attributes every index item carries besides the keys (names are the DynamoDB attribute names).
INDEX_ATTRIBUTES = tuple(attr for _, attr in _ITEM_ATTRIBUTES)


def _as_int(value: Any) -> int:
    return int(value) if value not in (None, "") else 0

# --------------------------------------------------------------------------- ingest Lambda

LAMBDA_HANDLER = "drills.ingest.handler.handler"
# Environment the IngestPipeline gives the function (and the embedded cloud reproduces):
ENV_ARCHIVE_BUCKET = "DRKIT_ARCHIVE_BUCKET"
ENV_INDEX_TABLE = "DRKIT_INDEX_TABLE"
ENV_CLAIMS_TABLE = "DRKIT_CLAIMS_TABLE"      # optional: SOP Instance UID claims table
ENV_KMS_KEY_ID = "DRKIT_KMS_KEY_ID"          # archive key for SSE-KMS puts
ENV_HASH_KEY_SECRET = "DRKIT_HASH_KEY_SECRET"  # Secrets Manager secret id holding the HMAC key
ENV_MAX_INFLATED_MIB = "DRKIT_MAX_INFLATED_MIB"  # optional: bound on inflated deflated data sets (MiB)

# The Secrets Manager secret holding the HMAC key for patient-identifier hashes is named by
# the ``hashKeySecretArn`` output (schemaVersion 2). It also carries these tags: with a
# version 1 outputs document `drkit ingest` and the gateway find it by tag, when only one
# secret in the account and region carries them.
HASH_KEY_SECRET_TAGS = {"drkit-purpose": "phi-hash-key"}


# --------------------------------------------------------------------------- synthetic data set

# drills.synth writes MANIFEST_NAME beside its instances with "generator": SYNTH_GENERATOR;
# ingest recognises it as drkit's own file, not an input.
SYNTH_MANIFEST_NAME = "manifest.json"
SYNTH_GENERATOR = "drkit synth"
