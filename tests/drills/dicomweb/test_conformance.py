"""PS3.18 conformance details over HTTP (httpx): authentication, media types, multipart
framing, status codes, Warning headers and paging — against the app on the embedded cloud.

PS3.18 §8.3.3/§10.6.3 (QIDO: 200, 204 no matches, 400 bad query), §10.4 (WADO: 404, 406),
§10.5.3 (STOW: 200/202/409, 415), §8.6 / RFC 7234 §5.5 (Warning: 299).
"""

from __future__ import annotations

import re

import httpx
import pytest
from pydicom.uid import generate_uid

from drills.dicomweb.auth import TokenAuth

pytestmark = pytest.mark.slow


@pytest.fixture
def http(served, primary_url):
    with httpx.Client(base_url=primary_url, headers=served.headers(), timeout=60) as client:
        yield client


def _studies(served) -> list[str]:
    return sorted({e.study_instance_uid for e in served.manifest.entries})


def test_nothing_is_served_anonymously(served, primary_url):
    with httpx.Client(base_url=primary_url) as anonymous:
        response = anonymous.get("/studies")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        other = TokenAuth.generate().issue("intruder")
        assert anonymous.get("/studies", headers={"Authorization": f"Bearer {other}"}).status_code == 401
        assert anonymous.get("/studies", headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401


def test_qido_media_type_and_no_match(http):
    response = http.get("/studies", headers={"Accept": "application/dicom+json"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/dicom+json"
    none = http.get("/studies", params={"StudyInstanceUID": "1.2.3.4.5.6.7"})
    assert none.status_code == 204 and none.content == b""
    assert http.get("/studies", headers={"Accept": "application/dicom+xml"}).status_code == 406


@pytest.mark.parametrize("params", [{"StudyDate": "2020-01-01"}, {"StudyDate": "20200102-20200101"},
                                    {"limit": "-1"}, {"offset": "x"}, {"NoSuchAttribute": "1"},
                                    {"includefield": "NotAKeyword"}])
def test_qido_bad_queries_are_400(http, params):
    response = http.get("/studies", params=params)
    assert response.status_code == 400
    assert response.headers["warning"].startswith("299 drkit-dicomweb ")


def test_qido_paging_with_warning(http, served):
    everything = [r["0020000D"]["Value"][0] for r in http.get("/studies").json()]
    assert everything == sorted(everything) and set(everything) >= set(_studies(served))
    first = http.get("/studies", params={"limit": "4"})
    assert "There are additional results that can be requested" in first.headers["warning"]
    pages = [http.get("/studies", params={"limit": "4", "offset": str(o)}) for o in range(0, len(everything), 4)]
    seen = [r["0020000D"]["Value"][0] for p in pages for r in p.json()]
    assert seen == everything
    assert "warning" not in pages[-1].headers
    assert http.get("/studies", params={"offset": str(len(everything))}).status_code == 204


def test_qido_date_range_and_includefield(http, served):
    results = http.get("/studies", params={"includefield": "StudyDate"}).json()
    dates = sorted(r["00080020"]["Value"][0] for r in results)
    low, high = dates[1], dates[-2]
    ranged = http.get("/studies", params={"StudyDate": f"{low}-{high}"}).json()
    assert sorted(r["00080020"]["Value"][0] for r in ranged) == [d for d in dates if low <= d <= high]
    open_ended = http.get("/studies", params={"StudyDate": f"{high}-"}).json()
    assert all(r["00080020"]["Value"][0] >= high for r in open_ended)
    response = http.get("/studies", params={"includefield": "PatientName"})
    assert response.status_code == 200 and "PatientName" in response.headers["warning"]
    assert all("00100010" not in r for r in response.json())
    ignored = http.get("/studies", params={"PatientName": "SYNTH*"})
    assert "not supported for matching" in ignored.headers["warning"]


def test_wado_multipart_framing(http, served):
    study = _studies(served)[0]
    response = http.get(f"/studies/{study}", headers={"Accept": 'multipart/related; type="application/dicom"'})
    assert response.status_code == 200
    content_type = response.headers["content-type"]
    assert content_type.startswith('multipart/related; type="application/dicom"; boundary=')
    boundary = content_type.rsplit("boundary=", 1)[1]
    body = response.content
    assert body.startswith(f"--{boundary}\r\n".encode()) and body.endswith(f"\r\n--{boundary}--\r\n".encode())
    heads = re.findall(rb"--" + boundary.encode() + rb"\r\n(.*?)\r\n\r\n", body, re.S)
    expected = [e for e in served.manifest.entries if e.study_instance_uid == study]
    assert len(heads) == len(expected)
    assert all(h.startswith(b"Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1") for h in heads)


def test_wado_status_codes(http, served):
    assert http.get("/studies/1.2.3.999").status_code == 404
    study = _studies(served)[0]
    assert http.get(f"/studies/{study}/series/1.2.3.999").status_code == 404
    assert http.get(f"/studies/{study}", headers={"Accept": "image/jpeg"}).status_code == 406
    jpeg = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'
    response = http.get(f"/studies/{study}", headers={"Accept": jpeg})
    assert response.status_code == 406 and "no transcoding" in response.headers["warning"]
    assert http.get(f"/studies/{study}/metadata", headers={"Accept": "application/dicom+xml"}).status_code == 406


def _stow_body(parts: list[tuple[str, bytes]], boundary: str = "stowboundary") -> tuple[bytes, dict]:
    body = b"".join(f"--{boundary}\r\nContent-Type: {ct}\r\n\r\n".encode() + data + b"\r\n" for ct, data in parts)
    body += f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                  "Accept": "application/dicom+json"}


def _new_instance(served) -> tuple[bytes, str, str]:
    import io

    import pydicom
    entry = next(e for e in served.manifest.entries if e.modality == "DX")
    ds = pydicom.dcmread(served.dataset / entry.path)       # a new study: the synthetic ones stay as made
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue(), ds.StudyInstanceUID, ds.SOPInstanceUID


def test_stow_status_codes_and_failure_reasons(http, served):
    assert http.post("/studies", content=b"x", headers={"Content-Type": "application/dicom"}).status_code == 415
    body, headers = _stow_body([("application/dicom", b"this is not DICOM at all" * 10)])
    refused = http.post("/studies", content=body, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xC000]
    data, study, sop = _new_instance(served)
    body, headers = _stow_body([("application/dicom", data), ("application/dicom", b"garbage" * 40)])
    mixed = http.post(f"/studies/{study}", content=body, headers=headers)
    assert mixed.status_code == 202
    doc = mixed.json()
    assert doc["00081199"]["Value"][0]["00081155"]["Value"] == [sop]
    assert doc["00081190"]["Value"][0].endswith(f"/studies/{study}")
    data, _, sop = _new_instance(served)
    body, headers = _stow_body([("application/dicom", data)])
    wrong = http.post("/studies/1.2.3.4.5", content=body, headers=headers)
    assert wrong.status_code == 409
    failed = wrong.json()["00081198"]["Value"][0]
    assert failed["00081155"]["Value"] == [sop] and failed["00081197"]["Value"] == [0xA900]
    body, headers = _stow_body([("application/dicom", data)], boundary="other")
    headers["Content-Type"] = headers["Content-Type"].replace("boundary=other", "boundary=missing")
    assert http.post("/studies", content=body, headers=headers).status_code == 400


def test_dr_is_read_only_unless_promoted(served, dr_url):
    data, study, _ = _new_instance(served)
    body, headers = _stow_body([("application/dicom", data)])
    with httpx.Client(base_url=dr_url, headers=served.headers()) as dr:
        response = dr.post("/studies", content=body, headers=headers)
    assert response.status_code == 403 and "read-only" in response.headers["warning"]
