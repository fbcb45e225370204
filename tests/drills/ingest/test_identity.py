"""An instance's content identity is its data set, whatever the file encoding."""

from __future__ import annotations

import copy
import io
from array import array

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian,
                         ImplicitVRLittleEndian)

from drills.errors import InvalidDicomError
from drills.ingest.identity import dataset_digest

from .conftest import build_dataset, to_bytes


def digest(data: bytes) -> bytes:
    return dataset_digest(io.BytesIO(data), len(data))


def encoded(ds: Dataset, ts) -> bytes:
    ds = copy.deepcopy(ds)
    ds.file_meta.TransferSyntaxUID = ts
    if ts == ExplicitVRBigEndian:     # pydicom writes PixelData bytes as given: swap the OW words (PS3.5 7.3)
        words = array("H", ds.PixelData)
        words.byteswap()
        ds.PixelData = words.tobytes()
    return to_bytes(ds)


@pytest.fixture
def instance() -> Dataset:
    ds = build_dataset(ExplicitVRLittleEndian)
    nested = Dataset()
    nested.CodeValue = "X"
    ds.ProcedureCodeSequence[0].ConceptNameCodeSequence = [nested]
    return ds


def test_one_data_set_in_every_uncompressed_transfer_syntax_has_one_digest(instance: Dataset) -> None:
    digests = {ts: digest(encoded(instance, ts)) for ts in
               (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian)}
    assert len(set(digests.values())) == 1, digests
    assert len({encoded(instance, ts) for ts in digests}) == 4          # while the files all differ


def test_another_file_meta_wrapper_is_the_same_content(instance: Dataset) -> None:
    original = encoded(instance, ExplicitVRLittleEndian)
    rewrapped = copy.deepcopy(instance)
    rewrapped.file_meta.ImplementationClassUID = "1.2.826.0.1.3680043.9.3811.2.1.0"   # as a gateway writes
    rewrapped.file_meta.SourceApplicationEntityTitle = "STORESCU"
    other = to_bytes(rewrapped)
    assert other != original and digest(other) == digest(original)


@pytest.mark.parametrize("change", ["value", "pixel", "nested", "element"])
def test_a_real_change_is_another_digest(instance: Dataset, change: str) -> None:
    changed = copy.deepcopy(instance)
    if change == "value":
        changed.StudyDate = "20240103"
    elif change == "pixel":
        pixels = bytearray(changed.PixelData)
        pixels[0] ^= 1
        changed.PixelData = bytes(pixels)
    elif change == "nested":
        changed.ProcedureCodeSequence[0].ConceptNameCodeSequence[0].CodeValue = "Y"
    else:
        changed.SeriesDescription = "added"
    assert digest(encoded(changed, ImplicitVRLittleEndian)) != digest(encoded(instance, ExplicitVRLittleEndian))


def test_not_dicom_is_refused() -> None:
    with pytest.raises(InvalidDicomError):
        digest(b"plain text" * 20)
