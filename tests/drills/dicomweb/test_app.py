"""The ASGI app in process (Starlette's TestClient) over an in-memory archive: metadata and
bulk data from the header bytes, the access log, and read-only regions. The embedded-cloud
tests (test_clients, test_conformance, ...) cover the same routes against S3 and DynamoDB."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator

import pydicom
import pytest
from pydicom.data import get_testdata_file
from starlette.testclient import TestClient

from drills.dicomweb.app import create_app
from drills.dicomweb.auth import TokenAuth
from drills.errors import UsageError
from drills.ingest.pseudonym import Pseudonymizer
from tests.helpers.dicomweb import ITEM

DATA = open(get_testdata_file("CT_small.dcm"), "rb").read()
DS = pydicom.dcmread(io.BytesIO(DATA))
KEY = b"k" * 32


class MemoryArchive:
    role, region = "primary", "local"

    def __init__(self, writable: bool = True) -> None:
        self.writable = writable
        self.item = replace(ITEM, study_instance_uid=DS.StudyInstanceUID, series_instance_uid=DS.SeriesInstanceUID,
                            sop_instance_uid=DS.SOPInstanceUID, sop_class_uid=DS.SOPClassUID,
                            transfer_syntax_uid=str(DS.file_meta.TransferSyntaxUID), size=len(DATA),
                            content_sha256=base64.b64encode(hashlib.sha256(DATA).digest()).decode(),
                            patient_id_hash=Pseudonymizer(KEY).hash(str(DS.PatientID)))

    def study_items(self, study):
        return [self.item] if study == self.item.study_instance_uid else []

    def all_items(self):
        return iter([self.item])

    def head(self, item):
        return {"ContentLength": len(DATA)}

    def open(self, item):
        return io.BytesIO(DATA)

    def pseudonymizer(self):
        return Pseudonymizer(KEY)


@pytest.fixture
def client():
    auth = TokenAuth.generate()
    with TestClient(create_app(MemoryArchive(), auth, public_url="https://pacs.example/dicomweb")) as c:
        c.headers["Authorization"] = f"Bearer {auth.issue('t')}"
        yield c


def _instance_url() -> str:
    return f"/studies/{DS.StudyInstanceUID}/series/{DS.SeriesInstanceUID}/instances/{DS.SOPInstanceUID}"


def test_metadata_from_header_bytes_with_bulk_data_uri(client):
    response = client.get(_instance_url() + "/metadata")
    assert response.status_code == 200 and response.headers["content-type"] == "application/dicom+json"
    [doc] = response.json()
    assert doc["00080018"]["Value"] == [DS.SOPInstanceUID]
    assert doc["00020010"]["Value"] == [str(DS.file_meta.TransferSyntaxUID)]
    uri = doc["7FE00010"]["BulkDataURI"]
    assert uri == "https://pacs.example/dicomweb" + _instance_url() + "/bulkdata/7FE00010"
    bulk = client.get(uri.removeprefix("https://pacs.example/dicomweb"))
    assert bulk.status_code == 200 and DS.PixelData in bulk.content
    assert bulk.headers["content-type"].startswith('multipart/related; type="application/octet-stream"')


def test_frames_are_cut_from_the_pixel_data(client):
    frame = client.get(_instance_url() + "/frames/1")
    assert frame.status_code == 200 and DS.PixelData in frame.content
    assert client.get(_instance_url() + "/frames/2").status_code == 404
    assert client.get(_instance_url() + "/frames/0").status_code == 400
    assert client.get(_instance_url() + "/frames/a").status_code == 400


def test_access_log_has_no_patient_identifier(client, caplog):
    with caplog.at_level(logging.INFO, logger="drkit.dicomweb.access"):
        found = client.get("/studies", params={"PatientID": str(DS.PatientID)})
    assert found.status_code == 200 and len(found.json()) == 1
    assert str(DS.PatientID) not in caplog.text
    [line] = [r.getMessage() for r in caplog.records if r.name == "drkit.dicomweb.access"]
    assert "GET /studies params=PatientID status=200" in line and "principal=sub-" in line


def test_read_only_region_refuses_stow():
    auth = TokenAuth.generate()
    with TestClient(create_app(MemoryArchive(writable=False), auth)) as c:
        response = c.post("/studies", content=b"--x--", headers={
            "Authorization": f"Bearer {auth.issue('t')}",
            "Content-Type": 'multipart/related; type="application/dicom"; boundary=x'})
    assert response.status_code == 403


def test_a_boundary_rfc_2046_does_not_allow_is_a_bad_request(client):
    """RFC 2046 §5.1.1 boundaries are ASCII; a latin-1 one was a UnicodeEncodeError (500)."""
    response = client.post("/studies", content=b"--b\xf6\r\n\r\nx\r\n--b\xf6--", headers={
        "Content-Type": 'multipart/related; type="application/dicom"; boundary=b\xf6'.encode("latin-1")})
    assert response.status_code == 400 and "boundary" in response.json()["error"]


class NoHashKey(MemoryArchive):
    def pseudonymizer(self):
        raise UsageError("no Secrets Manager secret tagged drkit:purpose=identifier-hash-key in local")


def test_a_missing_hash_key_answers_503_with_the_reason_not_a_crash(caplog):
    """PatientID matching needs the stack's hash key; without it the server says why (503)
    instead of failing inside Starlette (500 and a traceback); the PatientID is not logged."""
    auth = TokenAuth.generate()
    with TestClient(create_app(NoHashKey(), auth)) as c, caplog.at_level(logging.INFO, logger="drkit.dicomweb"):
        response = c.get("/studies", params={"PatientID": "PID-77"},
                         headers={"Authorization": f"Bearer {auth.issue('t')}"})
    assert response.status_code == 503 and "no Secrets Manager secret" in response.json()["error"]
    assert "PID-77" not in caplog.text and "Traceback" not in caplog.text


@contextmanager
def root_log() -> Iterator[list[str]]:
    """Messages that reach the root logger's handlers, as a server's log configuration sees
    them (caplog cannot tell: pytest attaches its handler to non-propagating loggers too)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(f"{record.name}: {record.getMessage()}")

    root, handler = logging.getLogger(), Collect(logging.DEBUG)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_stored_value_invalid_for_its_vr_is_left_out_by_tag_never_quoted(recwarn):
    """JSON carries DS values as numbers (PS3.18 F.2.3); an archived PatientSize "1x85" cannot
    be one. The metadata route leaves that element out and names its tag in a Warning (was:
    pydicom's ValueError quoting the value, a 500 with a traceback); the value reaches
    neither the response, the log nor a warning."""
    ds = pydicom.dcmread(io.BytesIO(DATA))
    ds.PatientSize = "1.85"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    bad = buffer.getvalue().replace(b"1.85", b"1x85")      # invalid, written without pydicom

    class BadSize(MemoryArchive):
        def __init__(self) -> None:
            super().__init__()
            self.item = replace(self.item, size=len(bad),
                                content_sha256=base64.b64encode(hashlib.sha256(bad).digest()).decode())

        def open(self, item):
            return io.BytesIO(bad)

    auth = TokenAuth.generate()
    with TestClient(create_app(BadSize(), auth)) as c, root_log() as log:
        response = c.get(_instance_url() + "/metadata", headers={"Authorization": f"Bearer {auth.issue('t')}"})
    assert response.status_code == 200
    [doc] = response.json()
    assert "00101020" not in doc and doc["00080018"]["Value"] == [DS.SOPInstanceUID]
    assert "left out: 00101020" in response.headers["warning"]
    assert "1x85" not in response.text + "\n".join(log) and any("drkit.dicomweb.access" in m for m in log)
    assert not [w for w in recwarn if "1x85" in str(w.message)]


def test_pydicom_reports_stay_out_of_the_log_once_an_app_is_made(recwarn):
    """pydicom warns *and* logs values it finds invalid, quoting them (pydicom.misc.warn_and_log)."""
    from pydicom.config import WARN
    from pydicom.valuerep import validate_value

    create_app(MemoryArchive(), TokenAuth.generate())
    with root_log() as log:
        validate_value("DA", "1961021A", WARN)
        logging.getLogger("drills.test").warning("reaches the root")
    assert log == ["drills.test: reaches the root"]
    assert not [w for w in recwarn if "1961021A" in str(w.message)]
