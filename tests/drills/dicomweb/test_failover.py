"""Failover: with the primary region down (a simulated outage through the control protocol),
the DR region's DICOMweb app serves every study that had replicated, byte for byte, and
reports the study written just before the outage — not yet replicated — as absent (QIDO) /
404 (WADO), never a stand-in. Promoted, the DR app accepts STOW-RS into the DR region.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict

import httpx
import pydicom
import pytest
from pydicom.uid import generate_uid

from drills.dicomweb.server import BackgroundServer

pytestmark = pytest.mark.slow


def _new_study(served) -> tuple[bytes, pydicom.Dataset]:
    entry = next(e for e in served.manifest.entries if e.modality == "XC")
    ds = pydicom.dcmread(served.dataset / entry.path)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue(), ds


def test_dr_serves_every_replicated_study_while_primary_is_down(served, primary_url, dr_url):
    late_bytes, late = _new_study(served)
    stored = served.client(primary_url).store_instances([pydicom.dcmread(io.BytesIO(late_bytes))])
    assert stored.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == late.SOPInstanceUID
    control = served.cloud.control()
    control.outage(served.outputs.primaryRegion, True)       # no virtual time passes: the late study
    try:                                                       # has not replicated
        with httpx.Client(base_url=primary_url, headers=served.headers(), timeout=30) as primary:
            assert primary.get("/studies").status_code == 503  # the primary really is down
        client = served.client(dr_url)
        by_study = defaultdict(list)
        for e in served.manifest.entries:
            by_study[e.study_instance_uid].append(e.sha256)
        listed = {r["0020000D"]["Value"][0] for r in client.search_for_studies()}
        assert set(by_study) <= listed
        for study, hashes in by_study.items():
            parts = list(client._http_get_multipart(f"{dr_url}/studies/{study}"))
            assert sorted(hashlib.sha256(p).hexdigest() for p in parts) == sorted(hashes)
        with httpx.Client(base_url=dr_url, headers=served.headers(), timeout=30) as dr:
            response = dr.get(f"/studies/{late.StudyInstanceUID}")
            assert response.status_code == 404
            if late.StudyInstanceUID in listed:                # index replicated ahead of the bytes
                assert "not in the dr archive" in response.headers["warning"]
    finally:
        control.outage(served.outputs.primaryRegion, False)


def test_promoted_dr_accepts_stow_into_the_dr_region(served):
    data, ds = _new_study(served)
    with BackgroundServer(served.app("dr", promote=True)) as url:
        client = served.client(url)
        response = client.store_instances([pydicom.dcmread(io.BytesIO(data))])
        assert response.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
        [part] = list(client._http_get_multipart(f"{url}/studies/{ds.StudyInstanceUID}"))
        assert part == data
    s3 = served.cloud.target.client("s3", served.outputs.drRegion)
    key = f"dicom/{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"
    assert s3.head_object(Bucket=served.outputs.replicaBucket, Key=key)["ContentLength"] == len(data)
