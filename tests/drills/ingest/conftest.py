"""Fixtures for the ingest tests.

``ingest_env``: moto (``mock_aws``) with an archive bucket (versioning + Object Lock), a
study-index table with the contract's keys, the tagged hash-key secret and a KMS key;
``ingest_env.ingestor()`` builds an Ingestor on it. ``make_dicom(...)`` builds small valid
instances with pydicom; ``malformed`` maps every QuarantineReason to a named bad input.
"""

from __future__ import annotations

import array
import io
import json
import struct
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from moto import mock_aws
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.fileset import FileSet
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    UID,
    generate_uid,
)

from drills.aws import Target
from drills.contracts import (
    CLAIMS_COMPLETE_MARKER,
    CLAIMS_TABLE_DEFINITION,
    HASH_KEY_SECRET_TAGS,
    INDEX_TABLE_DEFINITION,
    OUTPUTS_SCHEMA_VERSION,
    QuarantineReason,
    StackOutputs,
)
from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.pseudonym import Pseudonymizer

REGION = "eu-west-1"
DEFLATE_BOMB_BYTES = 80 * 1024 * 1024      # beyond the default bound on inflated data sets
HASH_KEY = "k" * 32
PATIENT_ID = "PID-0042-SECRET"
PATIENT_NAME = "Doe^Jane"
ACCESSION = "ACC-777"


def new_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass
class IngestEnv:
    """The moto resources ingest writes to, and helpers to look at them."""

    target: Target
    region: str
    archive_bucket: str
    landing_bucket: str
    index_table: str
    secret_arn: str
    kms_key_id: str
    claims_table: str | None = None

    @property
    def s3(self) -> Any:
        return self.target.client("s3", self.region)

    @property
    def ddb(self) -> Any:
        return self.target.client("dynamodb", self.region)

    def destination(self, *, kms: bool = False, claims: bool = True) -> IngestDestination:
        """The env's archive and index; ``claims``: with the SOP Instance UID claims table
        (else claims are looked up through the index's GSI, as before the table existed)."""
        return IngestDestination(self.target, self.region, self.archive_bucket, self.index_table,
                                 self.kms_key_id if kms else None, self.claims_table if claims else None)

    def pseudonymizer(self) -> Pseudonymizer:
        return Pseudonymizer.from_secret(self.target, self.region)

    def ingestor(self, *, kms: bool = False, claims: bool = True, **kwargs: Any) -> Ingestor:
        return Ingestor(self.destination(kms=kms, claims=claims), self.pseudonymizer(), **kwargs)

    def claims(self) -> dict[str, tuple[str, str]]:
        """SOP Instance UID -> (StudyInstanceUID, SeriesSop) of every claim."""
        items = self.ddb.scan(TableName=self.claims_table, ConsistentRead=True)["Items"]
        return {i["SOPInstanceUID"]["S"]: (i["StudyInstanceUID"]["S"], i["SeriesSop"]["S"]) for i in items
                if i["SOPInstanceUID"]["S"] != CLAIMS_COMPLETE_MARKER}

    def claims_marker(self) -> dict[str, Any] | None:
        """The claims table's completeness marker item (plain values), or None."""
        item = self.ddb.get_item(TableName=self.claims_table, ConsistentRead=True,
                                 Key={"SOPInstanceUID": {"S": CLAIMS_COMPLETE_MARKER}}).get("Item")
        return {k: v["S"] for k, v in item.items()} if item else None

    def outputs(self) -> StackOutputs:
        return StackOutputs.from_mapping({
            "schemaVersion": OUTPUTS_SCHEMA_VERSION,
            "primaryRegion": self.region,
            "drRegion": "eu-central-1",
            "archiveBucket": self.archive_bucket,
            "replicaBucket": new_name("replica"),
            "landingBucket": self.landing_bucket,
            "indexTable": self.index_table,
            "backupVault": "vault",
            "drBackupVault": "dr-vault",
            "evidenceBucket": new_name("evidence"),
            "multiRegionAccessPoint": "mrap",
            "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12},
            "hashKeySecretArn": self.secret_arn,
            **({"claimsTable": self.claims_table} if self.claims_table else {}),
        })

    def write_outputs(self, path: Path) -> Path:
        self.outputs().write(path)
        return path

    def versions(self, key: str) -> list[dict[str, Any]]:
        response = self.s3.list_object_versions(Bucket=self.archive_bucket, Prefix=key)
        return [v for v in response.get("Versions", []) if v["Key"] == key]

    def get(self, key: str, version_id: str | None = None) -> bytes:
        args = {"Bucket": self.archive_bucket, "Key": key} | ({"VersionId": version_id} if version_id else {})
        return self.s3.get_object(**args)["Body"].read()

    def index_item(self, study: str, series: str, sop: str) -> dict[str, Any] | None:
        from drills.ingest.index import StudyIndex
        return StudyIndex(self.target, self.region, self.index_table).get(study, series, sop)

    def index_items(self) -> list[dict[str, Any]]:
        return self.ddb.scan(TableName=self.index_table)["Items"]

    def reason(self, sha256_hex: str) -> dict[str, Any]:
        return json.loads(self.get(f"quarantine/{sha256_hex}.json"))


SERVICES = ("s3", "dynamodb", "secretsmanager", "kms", "sqs")


@pytest.fixture(scope="session")
def moto_target() -> Target:
    """One Target for the session: building boto3 clients costs ~0.5 s each, and moto
    intercepts clients made before a mock starts, giving each test a fresh state."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        target = Target()
        for service in SERVICES:
            target.client(service, REGION)
    return target


@pytest.fixture
def ingest_env(moto_target: Target) -> Iterator[IngestEnv]:
    """Archive + landing buckets, study index, tagged hash-key secret and KMS key in moto."""
    with mock_aws():
        target = moto_target
        s3 = target.client("s3", REGION)
        archive, landing = new_name("archive"), new_name("landing")
        for bucket in (archive, landing):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION},
                             ObjectLockEnabledForBucket=bucket == archive)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        table = new_name("index")
        target.client("dynamodb", REGION).create_table(
            TableName=table,
            **INDEX_TABLE_DEFINITION,
            BillingMode="PAY_PER_REQUEST",
        )
        claims = new_name("claims")
        target.client("dynamodb", REGION).create_table(TableName=claims, **CLAIMS_TABLE_DEFINITION,
                                                       BillingMode="PAY_PER_REQUEST")
        secret = target.client("secretsmanager", REGION).create_secret(
            Name=new_name("drkit-hash-key"), SecretString=HASH_KEY,
            Tags=[{"Key": k, "Value": v} for k, v in HASH_KEY_SECRET_TAGS.items()],
        )
        key_id = target.client("kms", REGION).create_key(Description="archive")["KeyMetadata"]["KeyId"]
        yield IngestEnv(target, REGION, archive, landing, table, secret["ARN"], key_id, claims)


def put_index_item(env: IngestEnv, study: str, series: str, sop: str, conflicts: list[dict] | None = None) -> None:
    """An index item written directly (as an older version or a restore left it), no claim."""
    item = {"StudyInstanceUID": {"S": study}, "SeriesSop": {"S": f"{series}/{sop}"}, "SOPInstanceUID": {"S": sop},
            "VersionId": {"S": "v1"}}
    if conflicts:
        item["Conflicts"] = {"L": [{"M": {k: {"S": str(v)} for k, v in c.items()}} for c in conflicts]}
    env.ddb.put_item(TableName=env.index_table, Item=item)


class CountingClient:
    """Delegates to a real boto3 client and counts its operations."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: Counter = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def call(**kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(**kwargs)
        return call


# --------------------------------------------------------------------------- DICOM builders


def build_dataset(ts: UID = ExplicitVRLittleEndian, *, rows: int = 16, columns: int = 16, pixels: bool = True,
                  modality: str = "CT", **overrides: Any) -> Dataset:
    """A small CT instance (with a code sequence) in transfer syntax ``ts``."""
    sop = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ts
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = PATIENT_ID
    ds.PatientName = PATIENT_NAME
    ds.AccessionNumber = ACCESSION
    ds.Modality = modality
    ds.StudyDate = "20240102"
    code = Dataset()
    code.CodeValue = "CT-HEAD"
    code.CodingSchemeDesignator = "99LOCAL"
    ds.ProcedureCodeSequence = [code]
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    if pixels:
        if ts == JPEGBaseline8Bit:
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
            ds.PixelData = encapsulate([b"\xff\xd8" + bytes(range(200)) + b"\xff\xd9"])
            ds["PixelData"].VR = "OB"
        else:
            ds.PixelData = array.array("H", (i % 4096 for i in range(rows * columns))).tobytes()
            ds["PixelData"].VR = "OW"
    for name, value in overrides.items():
        if value is None:
            delattr(ds, name)
        else:
            setattr(ds, name, value)
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ts = ds.file_meta.TransferSyntaxUID
    if ts.is_transfer_syntax:
        ds.save_as(buffer, enforce_file_format=True)
    else:   # a transfer syntax pydicom does not know: encode as explicit VR little endian
        ds.save_as(buffer, enforce_file_format=True, implicit_vr=False, little_endian=True)
    return buffer.getvalue()


@pytest.fixture
def make_dicom() -> Callable[..., bytes]:
    """``make_dicom(ts=ExplicitVRLittleEndian, rows=16, columns=16, **attributes) -> bytes``;
    an attribute set to None is removed."""

    def make(ts: UID = ExplicitVRLittleEndian, **kwargs: Any) -> bytes:
        return to_bytes(build_dataset(ts, **kwargs))

    return make


VALID_SYNTAXES = {
    "explicit-le": ExplicitVRLittleEndian,
    "implicit-le": ImplicitVRLittleEndian,
    "deflated": DeflatedExplicitVRLittleEndian,
    "explicit-be": ExplicitVRBigEndian,
    "jpeg-encapsulated": JPEGBaseline8Bit,
}


def _bare_dataset() -> bytes:
    """A data set without preamble, DICM or File Meta (implicit VR, as old files are)."""
    ds = build_dataset(ImplicitVRLittleEndian)
    del ds.file_meta
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=True, little_endian=True)
    return buffer.getvalue()


def _without_transfer_syntax(valid: bytes) -> bytes:
    """DICM present, then a File Meta group that lacks (0002,0010); data set follows."""
    ds = build_dataset(ExplicitVRLittleEndian)
    del ds.file_meta
    body = io.BytesIO()
    ds.save_as(body, implicit_vr=False, little_endian=True)   # data set only, no meta
    element = struct.pack("<HH2sH", 0x0002, 0x0002, b"UI", len(CTImageStorage) + 1) + CTImageStorage.encode() + b"\0"
    return bytes(128) + b"DICM" + element + body.getvalue()


def _replace_uid(data: bytes, old: str, new: str) -> bytes:
    assert len(old) == len(new), "keep element lengths"
    return data.replace(old.encode(), new.encode())


def _nested_items(depth: int) -> bytes:
    """A valid meta, then ``depth`` nested undefined-length sequences (beyond the walker's cap)."""
    valid = to_bytes(build_dataset(ImplicitVRLittleEndian, pixels=False, Rows=None, Columns=None))
    meta_end = valid.index(b"\x08\x00")   # first data set element (group 0008, little endian)
    nest = b""
    for _ in range(depth):
        nest += struct.pack("<HHL", 0x0040, 0x0275, 0xFFFFFFFF) + struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
    for _ in range(depth):
        nest += struct.pack("<HHL", 0xFFFE, 0xE00D, 0) + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    return valid[:meta_end] + nest + valid[meta_end:]


def deflate_bomb(inflated_bytes: int) -> bytes:
    """A deflated-transfer-syntax instance whose data set inflates to ``inflated_bytes``
    (a valid CT header, then a private OB element of zeros), compressed ~1000:1."""
    import zlib
    ds = build_dataset(DeflatedExplicitVRLittleEndian, pixels=False, Rows=None, Columns=None)
    file = io.BytesIO()
    ds.save_as(file, enforce_file_format=True)
    whole = file.getvalue()
    del ds.file_meta
    header = io.BytesIO()
    ds.save_as(header, implicit_vr=False, little_endian=True)            # data set only, not deflated
    meta_end = 144 + struct.unpack("<L", whole[140:144])[0]
    pad = max(0, inflated_bytes - len(header.getvalue()) - 12)
    pad -= pad % 2
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = squeeze.compress(header.getvalue() + struct.pack("<HH2sHL", 0x0029, 0x1010, b"OB", 0, pad))
    zeros = bytes(1024 * 1024)
    for start in range(0, pad, len(zeros)):
        body += squeeze.compress(zeros[: min(len(zeros), pad - start)])
    return whole[:meta_end] + body + squeeze.flush()


@pytest.fixture
def malformed() -> dict[str, tuple[QuarantineReason, bytes]]:
    """One named bad input per QuarantineReason (name -> (expected reason, bytes))."""
    good = build_dataset(ExplicitVRLittleEndian)
    valid = to_bytes(good)
    bad_uid = "1.2.03." + "9" * (len(good.StudyInstanceUID) - 7)     # leading zero: invalid
    unknown_ts = "1.2.3.4.5.6.7.8.9.1999"                                # valid UID, not a TS
    ts_data = to_bytes(build_dataset(ExplicitVRLittleEndian))
    pixel_start = ts_data.index(struct.pack("<HH", 0x7FE0, 0x0010))
    deflated = to_bytes(build_dataset(DeflatedExplicitVRLittleEndian))
    corrupt_deflate = bytearray(deflated)
    data_set_start = 144 + struct.unpack("<L", deflated[140:144])[0]    # after (0002,0000) group length
    corrupt_deflate[data_set_start + 4:data_set_start + 12] = b"\xff" * 8
    return {
        "not-dicom-text": (QuarantineReason.NOT_DICOM, b"this is a radiology report, not an image\n" * 20),
        "not-dicom-empty": (QuarantineReason.NOT_DICOM, b""),
        "missing-sop-instance-uid": (QuarantineReason.MISSING_UID, to_bytes(build_dataset(SOPInstanceUID=""))),
        "missing-study-uid": (QuarantineReason.MISSING_UID, to_bytes(build_dataset(StudyInstanceUID=None))),
        "missing-series-uid": (QuarantineReason.MISSING_UID, to_bytes(build_dataset(SeriesInstanceUID=None))),
        "invalid-study-uid": (QuarantineReason.INVALID_UID, _replace_uid(valid, good.StudyInstanceUID, bad_uid)),
        "truncated-pixel-data": (QuarantineReason.TRUNCATED, valid[:-100]),
        "truncated-before-pixel-data": (QuarantineReason.TRUNCATED, ts_data[:pixel_start]),
        "truncated-deflate": (QuarantineReason.TRUNCATED, deflated[: len(deflated) // 2]),
        "unreadable-transfer-syntax": (
            QuarantineReason.UNREADABLE_TRANSFER_SYNTAX,
            to_bytes(build_dataset(UID(unknown_ts))),
        ),
        "missing-file-meta-bare-dataset": (QuarantineReason.MISSING_META, _bare_dataset()),
        "missing-transfer-syntax": (QuarantineReason.MISSING_META, _without_transfer_syntax(valid)),
        "unreadable-nesting": (QuarantineReason.UNREADABLE, _nested_items(40)),
        "unreadable-deflate": (QuarantineReason.UNREADABLE, bytes(corrupt_deflate)),
        "deflate-bomb": (QuarantineReason.INFLATED_TOO_LARGE, deflate_bomb(DEFLATE_BOMB_BYTES)),
    }


@pytest.fixture
def shared_target(ingest_env, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--target aws`` resolves as usual, then reuses the session's moto Target (its boto3
    clients are built already; moto intercepts them either way)."""
    import drills.cli.common as command

    real = command.resolve_target

    def resolve(target: str, endpoint: str | None):
        resolved = real(target, endpoint)
        return ingest_env.target if not resolved.simulated else resolved

    monkeypatch.setattr(command, "resolve_target", resolve)


# ---------------------------------------------------------------- moto in its own process

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def moto_server() -> Iterator[Target]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("moto server did not start")
                time.sleep(0.2)
        yield Target(endpoint=f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=30)


def write_fileset(root: Path, count: int = 3) -> Path:
    """A DICOM File-set written by pydicom: DICOMDIR plus ``count`` instances."""
    fileset = FileSet()
    for i in range(count):
        fileset.add(build_dataset(StudyTime="101010", StudyID="1", SeriesNumber=1, InstanceNumber=i + 1))
    fileset.write(root)
    return root / "DICOMDIR"


# --------------------------------------------------------------------------- fuzzing

FUZZ_BASES = [to_bytes(build_dataset(ts)) for ts in VALID_SYNTAXES.values()]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid instance, maybe cut short, with up to 8 bytes overwritten."""
    data = bytearray(draw(st.sampled_from(FUZZ_BASES)))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    for _ in range(draw(st.integers(0, 8))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    return bytes(data)
