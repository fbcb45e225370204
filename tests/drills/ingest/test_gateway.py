"""The DIMSE gateway: C-ECHO, C-STORE into the Ingestor, statuses for quarantine and outages."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, _config
from pynetdicom.sop_class import Verification

from drills.contracts import QuarantineReason, archive_key
from drills.errors import InfraError, UsageError
from drills.ingest.core import IngestResult, Outcome
from drills.ingest.gateway import (
    CANNOT_UNDERSTAND,
    OUT_OF_RESOURCES,
    Gateway,
    storage_sop_classes,
    validate_ae_title,
)
from drills.synth.dataset import SOP_CLASSES, Manifest, generate

AE_TITLE = "DRKIT_TEST"


# --------------------------------------------------------------------------- fixtures


@dataclass
class Call:
    data: bytes
    source: str
    via: str   # "file" or "bytes"


class FakeIngestor:
    """Records exactly what the gateway hands over and answers with a chosen outcome."""

    def __init__(self, outcome: Outcome = Outcome.ARCHIVED, error: Exception | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def _answer(self, data: bytes, source: str, via: str) -> IngestResult:
        with self._lock:
            self.calls.append(Call(data, source, via))
        if self.error is not None:
            raise self.error
        reason = QuarantineReason.MISSING_UID if self.outcome is Outcome.QUARANTINED else None
        return IngestResult(outcome=self.outcome, source=source, size=len(data), header_bytes_read=0, reason=reason)

    def ingest_bytes(self, data: bytes, source: str) -> IngestResult:
        return self._answer(data, source, "bytes")

    def ingest_file(self, path: Path, source: str | None = None) -> IngestResult:
        return self._answer(Path(path).read_bytes(), source or str(path), "file")


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """One study per modality (the first studies of a synth set cover each once)."""
    return generate(tmp_path_factory.mktemp("gw") / "set", len(SOP_CLASSES), seed=11)


def one_per_modality(manifest: Manifest) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for entry in manifest.entries:
        found.setdefault(entry.modality, manifest.root / entry.path)
    return found


@pytest.fixture
def fake() -> FakeIngestor:
    return FakeIngestor()


@pytest.fixture
def gateway(fake: FakeIngestor):
    gw = Gateway(fake, ae_title=AE_TITLE, port=0).start()
    try:
        yield gw
    finally:
        gw.stop()


def associate(gw: Gateway, sop_classes: list[str], calling: str = "TEST_SCU"):
    scu = AE(ae_title=calling)
    scu.acse_timeout = scu.dimse_timeout = scu.network_timeout = 20
    for uid in sop_classes:
        scu.add_requested_context(uid, ExplicitVRLittleEndian)
    assoc = scu.associate("127.0.0.1", gw.port, ae_title=gw.ae_title)
    assert assoc.is_established, "association rejected"
    return assoc


def dataset_body(data: bytes) -> bytes:
    """The encoded data set after the preamble and File Meta group (explicit VR LE meta)."""
    assert data[128:132] == b"DICM"
    assert data[132:136] == b"\x02\x00\x00\x00"  # (0002,0000) group length, UL
    (group_length,) = struct.unpack("<I", data[140:144])
    return data[144 + group_length:]


# --------------------------------------------------------------------------- tests


def test_c_echo_succeeds(gateway: Gateway) -> None:
    assoc = associate(gateway, [Verification])
    try:
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()


def test_storage_sop_classes_cover_what_synth_writes() -> None:
    accepted = set(storage_sop_classes())
    assert {str(uid) for uid in SOP_CLASSES.values()} <= accepted
    assert len(accepted) > 100


def test_c_store_hands_the_exact_data_set_to_the_ingestor(
    gateway: Gateway, fake: FakeIngestor, synth_set: Manifest
) -> None:
    files = one_per_modality(synth_set)
    originals = {m: dcmread(p) for m, p in files.items()}
    assoc = associate(gateway, sorted({str(ds.SOPClassUID) for ds in originals.values()}))
    try:
        for modality, ds in originals.items():
            assert assoc.send_c_store(ds).Status == 0x0000, modality
    finally:
        assoc.release()
    assert len(fake.calls) == len(files)
    for call, (modality, path) in zip(fake.calls, files.items()):
        received = dcmread(io.BytesIO(call.data))
        original = originals[modality]
        assert received.SOPInstanceUID == original.SOPInstanceUID, modality
        assert received.file_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
        assert received.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert dataset_body(call.data) == dataset_body(path.read_bytes()), f"{modality}: data set changed in transit"
        assert call.source == "c-store:TEST_SCU"
        assert call.via == "file"  # spooled to disk, read back by ingest_file
    assert gateway.stats.snapshot()["archived"] == len(files)


def test_without_spooling_the_bytes_go_to_ingest_bytes(fake: FakeIngestor, synth_set: Manifest) -> None:
    path = one_per_modality(synth_set)["CT"]
    ds = dcmread(path)
    with Gateway(fake, ae_title=AE_TITLE, port=0, spool=False) as gw:
        assert _config.STORE_RECV_CHUNKED_DATASET is False
        assoc = associate(gw, [str(ds.SOPClassUID)])
        try:
            assert assoc.send_c_store(ds).Status == 0x0000
        finally:
            assoc.release()
    (call,) = fake.calls
    assert call.via == "bytes"
    assert dataset_body(call.data) == dataset_body(path.read_bytes())


def test_spool_switch_is_restored_after_stop(fake: FakeIngestor) -> None:
    before = _config.STORE_RECV_CHUNKED_DATASET
    with Gateway(fake, ae_title=AE_TITLE, port=0):
        assert _config.STORE_RECV_CHUNKED_DATASET is True
    assert _config.STORE_RECV_CHUNKED_DATASET is before


@pytest.mark.parametrize(
    ("outcome", "error", "status"),
    [
        (Outcome.DUPLICATE, None, 0x0000),
        (Outcome.CONFLICT, None, 0x0000),
        (Outcome.QUARANTINED, None, CANNOT_UNDERSTAND),
        (Outcome.ARCHIVED, InfraError("S3 PutObject failed: SlowDown"), OUT_OF_RESOURCES),
    ],
)
def test_outcomes_map_to_c_store_statuses(
    synth_set: Manifest, outcome: Outcome, error: Exception | None, status: int
) -> None:
    ingestor = FakeIngestor(outcome, error)
    ds = dcmread(one_per_modality(synth_set)["MR"])
    with Gateway(ingestor, ae_title=AE_TITLE, port=0) as gw:
        assoc = associate(gw, [str(ds.SOPClassUID)])
        try:
            response = assoc.send_c_store(ds)
        finally:
            assoc.release()
        snapshot = gw.stats.snapshot()
    assert response.Status == status
    assert len(ingestor.calls) == 1
    if status == CANNOT_UNDERSTAND:
        assert response.ErrorComment == "quarantined: missing-uid"
        assert snapshot["quarantined"] == 1
    if status == OUT_OF_RESOURCES:
        assert "not stored" in response.ErrorComment
        assert "SlowDown" not in response.ErrorComment
        assert snapshot["failed"] == 1


def test_wrong_called_ae_title_is_rejected(gateway: Gateway) -> None:
    scu = AE(ae_title="TEST_SCU")
    scu.add_requested_context(Verification)
    assoc = scu.associate("127.0.0.1", gateway.port, ae_title="SOMEONE_ELSE")
    assert assoc.is_rejected


def test_calling_ae_allow_list(fake: FakeIngestor) -> None:
    with Gateway(fake, ae_title=AE_TITLE, port=0, allowed_calling=["MODALITY1"]) as gw:
        scu = AE(ae_title="INTRUDER")
        scu.add_requested_context(Verification)
        assert scu.associate("127.0.0.1", gw.port, ae_title=AE_TITLE).is_rejected
        assoc = associate(gw, [Verification], calling="MODALITY1")
        assoc.release()


def test_port_in_use_is_a_usage_error(gateway: Gateway, fake: FakeIngestor) -> None:
    with pytest.raises(UsageError, match=f"port {gateway.port} on 127.0.0.1 is already in use"):
        Gateway(fake, ae_title=AE_TITLE, port=gateway.port).start()


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("A" * 17, "must not exceed 16 characters"),
        ("BAD\\AE", "backslash"),
        ("ÄRCHIV", "ASCII"),
    ],
)
def test_invalid_ae_titles(title: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        validate_ae_title(title)
    assert info.value.exit_code == 2
    assert "--ae-title" in str(info.value)


def test_stop_is_idempotent_and_frees_the_port(fake: FakeIngestor) -> None:
    gw = Gateway(fake, ae_title=AE_TITLE, port=0).start()
    port = gw.port
    gw.stop()
    gw.stop()
    again = Gateway(fake, ae_title=AE_TITLE, port=port).start()
    again.stop()


# --------------------------------------------------------------------------- the real Ingestor (moto)


def test_round_trip_into_the_archive(ingest_env, synth_set: Manifest) -> None:
    """The real Ingestor on moto (``ingest_env`` from this directory's conftest)."""
    ingestor, s3, bucket = ingest_env.ingestor(), ingest_env.s3, ingest_env.archive_bucket
    files = {m: p for m, p in one_per_modality(synth_set).items() if m in ("CT", "ECG", "SM", "OP")}
    originals = {m: dcmread(p) for m, p in files.items()}
    broken = Dataset()                      # a SOP instance without Study/Series UIDs
    broken.SOPClassUID, broken.SOPInstanceUID = SOP_CLASSES["CT"], generate_uid()
    broken.file_meta = originals["CT"].file_meta
    with Gateway(ingestor, ae_title=AE_TITLE, port=0) as gw:
        assoc = associate(gw, sorted({str(ds.SOPClassUID) for ds in originals.values()}))
        try:
            statuses = {m: assoc.send_c_store(ds).Status for m, ds in originals.items()}
            again = assoc.send_c_store(originals["CT"]).Status          # duplicate
            rejected = assoc.send_c_store(broken)
        finally:
            assoc.release()
        snapshot = gw.stats.snapshot()
    assert statuses == {m: 0x0000 for m in originals}
    assert again == 0x0000
    assert rejected.Status == CANNOT_UNDERSTAND and "missing-uid" in rejected.ErrorComment
    assert (snapshot["archived"], snapshot["duplicate"], snapshot["quarantined"]) == (len(originals), 1, 1)
    for modality, ds in originals.items():
        key = archive_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
        stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert dataset_body(stored) == dataset_body(files[modality].read_bytes()), modality
        assert dcmread(io.BytesIO(stored)).SOPInstanceUID == ds.SOPInstanceUID
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/")["Contents"]
    assert len(listed) == 2  # the bytes and their reason


# --------------------------------------------------------------------------- a real DICOM peer


def _dcmtk_storescu() -> str | None:
    """dcmtk's storescu (pynetdicom installs a script of the same name: skip that one)."""
    for candidate in (shutil.which("storescu"), "/usr/bin/storescu", "/usr/local/bin/storescu"):
        if not candidate or not Path(candidate).is_file():
            continue
        run = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=30)
        if "dcmtk" in (run.stdout + run.stderr).lower():
            return candidate
    return None


@pytest.mark.peer
def test_dcmtk_storescu_stores_every_modality(gateway: Gateway, fake: FakeIngestor, synth_set: Manifest) -> None:
    storescu = _dcmtk_storescu()
    if storescu is None:
        pytest.skip("dcmtk's storescu is not installed (apt-get install dcmtk)")
    files = one_per_modality(synth_set)
    run = subprocess.run(
        [storescu, "--required", "-aet", "DCMTK_SCU", "-aec", gateway.ae_title,
         "127.0.0.1", str(gateway.port), *map(str, files.values())],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    received = {dcmread(io.BytesIO(c.data)).SOPInstanceUID: c for c in fake.calls}
    for modality, path in files.items():
        original = dcmread(path, stop_before_pixels=True)
        call = received[original.SOPInstanceUID]
        assert call.source == "c-store:DCMTK_SCU"
        assert dataset_body(call.data) == dataset_body(path.read_bytes()), modality


@pytest.mark.peer
def test_a_study_resent_through_storescu_in_explicit_and_implicit_vr_is_all_duplicates(
        ingest_env, synth_set: Manifest) -> None:
    """Ingested from disk, then sent by dcmtk's storescu as implicit VR (-xi: storescu
    re-encodes), then as explicit VR (-xe): one archived version per instance, every re-send
    a duplicate, the stored bytes those first received."""
    storescu = _dcmtk_storescu()
    if storescu is None:
        pytest.skip("dcmtk's storescu is not installed (apt-get install dcmtk)")
    first_ct = next(e for e in synth_set.entries if e.modality == "CT")
    study = [synth_set.root / e.path for e in synth_set.entries if e.study_instance_uid == first_ct.study_instance_uid]
    ingestor = ingest_env.ingestor()
    from_disk = [ingestor.ingest_file(p, p.name) for p in study]
    assert {r.outcome for r in from_disk} == {Outcome.ARCHIVED}
    with Gateway(ingestor, ae_title=AE_TITLE, port=0) as gw:
        for syntax in ("-xi", "-xe"):
            run = subprocess.run([storescu, "--required", syntax, "-aet", "DCMTK_SCU", "-aec", gw.ae_title,
                                  "127.0.0.1", str(gw.port), *map(str, study)],
                                 capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stderr
        snapshot = gw.stats.snapshot()
    assert (snapshot["duplicate"], snapshot["conflict"], snapshot["archived"]) == (2 * len(study), 0, 0), snapshot
    for path, result in zip(study, from_disk):
        assert len(ingest_env.versions(result.key)) == 1
        assert ingest_env.get(result.key) == path.read_bytes()


class UnhealthyIngestor(FakeIngestor):
    def check_health(self) -> None:
        raise InfraError("head s3://archive: endpoint unreachable")


def test_c_echo_reflects_storage_health() -> None:
    """C-ECHO status 0x0110 Processing failure (PS3.7 9.1.5.1.4) while no C-STORE could be archived."""
    with Gateway(UnhealthyIngestor(), ae_title=AE_TITLE, port=0) as gw:
        assoc = associate(gw, [Verification])
        try:
            assert assoc.send_c_echo().Status == 0x0110
        finally:
            assoc.release()


def test_listening_beyond_loopback_without_allow_list_or_tls_is_warned(fake: FakeIngestor) -> None:
    assert Gateway(fake, host="127.0.0.1").exposure_warnings() == []
    warnings = Gateway(fake, host="0.0.0.0").exposure_warnings()
    assert any("--allow-calling" in w for w in warnings) and any("--tls-cert" in w for w in warnings)
    assert Gateway(fake, host="::1").exposure_warnings() == []


def test_tls_gateway_accepts_a_tls_association(fake: FakeIngestor, tmp_path: Path) -> None:
    import ssl
    from drills.ingest.gateway import tls_context
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    with Gateway(fake, ae_title=AE_TITLE, port=0, ssl_context=tls_context(cert, key)) as gw:
        client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert))
        scu = AE(ae_title="TLS_SCU")
        scu.add_requested_context(Verification)
        assoc = scu.associate("127.0.0.1", gw.port, ae_title=gw.ae_title, tls_args=(client, "localhost"))
        try:
            assert assoc.is_established and assoc.send_c_echo().Status == 0x0000
        finally:
            assoc.release()
        plain = AE(ae_title="PLAIN_SCU")
        plain.add_requested_context(Verification)
        plain.acse_timeout = plain.network_timeout = 5
        refused = plain.associate("127.0.0.1", gw.port, ae_title=gw.ae_title)
        assert not refused.is_established
    with pytest.raises(UsageError, match="TLS"):
        tls_context(tmp_path / "none.pem", key)
