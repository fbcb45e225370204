"""The DICOM JSON model (PS3.18 Annex F): QIDO results from index items, and instance
metadata from the archived header with bulk data by URI.

The index holds no patient identifiers in clear (PatientID and AccessionNumber only as
keyed hashes), so QIDO results carry the attributes the index can state truthfully:
UIDs, dates, modalities, SOP class, counts and the retrieve URL — never PatientID.
"""

from __future__ import annotations

from typing import Any, BinaryIO, Callable, Iterable

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.datadict import dictionary_VR

from drills.contracts import IndexItem

BULK_THRESHOLD = 1024          # values longer than this (bytes) go out as BulkDataURI

# keyword -> (tag as 8 hex digits, VR)
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "StudyDate": ("00080020", "DA"),
    "ModalitiesInStudy": ("00080061", "CS"),
    "Modality": ("00080060", "CS"),
    "SOPClassUID": ("00080016", "UI"),
    "SOPInstanceUID": ("00080018", "UI"),
    "AvailableTransferSyntaxUID": ("00083002", "UI"),
    "RetrieveURL": ("00081190", "UR"),
    "StudyInstanceUID": ("0020000D", "UI"),
    "SeriesInstanceUID": ("0020000E", "UI"),
    "NumberOfStudyRelatedSeries": ("00201206", "IS"),
    "NumberOfStudyRelatedInstances": ("00201208", "IS"),
    "NumberOfSeriesRelatedInstances": ("00201209", "IS"),
}
TAG_KEYWORD = {tag: kw for kw, (tag, _) in ATTRIBUTES.items()}

# What each level returns by default (PS3.18 Table 10.6.3-3/-4/-5, as far as the index knows)
LEVEL_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "study": ("StudyInstanceUID", "StudyDate", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
              "NumberOfStudyRelatedInstances", "RetrieveURL"),
    "series": ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "NumberOfSeriesRelatedInstances",
               "RetrieveURL"),
    "instance": ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Modality",
                 "AvailableTransferSyntaxUID", "RetrieveURL"),
}


def element(keyword: str, value: Any) -> tuple[str, dict[str, Any]]:
    """(tag, JSON element) for one attribute of ATTRIBUTES; empty values have no Value."""
    tag, vr = ATTRIBUTES[keyword]
    values = value if isinstance(value, (list, tuple)) else [value]
    values = [v for v in values if v not in (None, "")]
    if vr == "IS":
        values = [int(v) for v in values]
    return tag, ({"vr": vr, "Value": values} if values else {"vr": vr})


def study_result(items: list[IndexItem], base: str, fields: Iterable[str]) -> dict[str, Any]:
    first = items[0]
    values = {
        "StudyInstanceUID": first.study_instance_uid,
        "StudyDate": first.study_date,
        "ModalitiesInStudy": sorted({i.modality for i in items if i.modality}),
        "NumberOfStudyRelatedSeries": len({i.series_instance_uid for i in items}),
        "NumberOfStudyRelatedInstances": len(items),
        "RetrieveURL": f"{base}/studies/{first.study_instance_uid}",
    }
    return _result(values, fields)


def series_result(items: list[IndexItem], base: str, fields: Iterable[str]) -> dict[str, Any]:
    first = items[0]
    values = {
        "StudyInstanceUID": first.study_instance_uid, "StudyDate": first.study_date,
        "SeriesInstanceUID": first.series_instance_uid, "Modality": first.modality,
        "NumberOfSeriesRelatedInstances": len(items),
        "RetrieveURL": f"{base}/studies/{first.study_instance_uid}/series/{first.series_instance_uid}",
    }
    return _result(values, fields)


def instance_result(item: IndexItem, base: str, fields: Iterable[str]) -> dict[str, Any]:
    values = {
        "StudyInstanceUID": item.study_instance_uid, "StudyDate": item.study_date,
        "SeriesInstanceUID": item.series_instance_uid, "SOPInstanceUID": item.sop_instance_uid,
        "SOPClassUID": item.sop_class_uid, "Modality": item.modality,
        "AvailableTransferSyntaxUID": item.transfer_syntax_uid,
        "RetrieveURL": (f"{base}/studies/{item.study_instance_uid}/series/{item.series_instance_uid}"
                        f"/instances/{item.sop_instance_uid}"),
    }
    return _result(values, fields)


def _result(values: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    out = dict(element(kw, values[kw]) for kw in fields if kw in values)
    return dict(sorted(out.items()))


BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def instance_metadata(stream: BinaryIO, bulk_uri: Callable[[str], str]) -> tuple[dict[str, Any], list[str]]:
    """The JSON model of one archived instance — long binary values of the top-level data set
    (pixel data, waveform-free blobs) by URI (``bulk_uri(tag)``), everything nested inline —
    and the tags left out because their stored value cannot be converted for its VR (a DS
    that is no number: JSON carries DS as numbers, PS3.18 F.2.3). Such a value is reported
    by tag only, never quoted. ``stream`` is a seekable copy of the object."""
    ds = pydicom.dcmread(stream, defer_size=BULK_THRESHOLD)
    bulk = [(tag, vr) for tag, vr, length in map(lambda t: _raw(ds, t), list(ds.keys()))
            if vr in BINARY_VRS and length > BULK_THRESHOLD]
    for tag, _ in bulk:
        del ds[tag]
    document: dict[str, Any] = {}
    invalid: list[str] = []
    for tag in list(ds.keys()):
        key = f"{tag:08X}"
        # element by element, as Dataset.to_json_dict does, but without its
        # suppress_invalid_tags (which switches pydicom to strict reading process-wide) and
        # without its log line quoting the value. pydicom meets an invalid stored value with
        # many exception types (ValueError, TypeError, OverflowError, ...): any of them
        # leaves this one element out.
        try:
            document[key] = ds[tag].to_json_dict(None, 1 << 62)
        except Exception:  # noqa: BLE001
            invalid.append(key)
    for tag, vr in bulk:
        document[f"{tag:08X}"] = {"vr": vr, "BulkDataURI": bulk_uri(f"{tag:08X}")}
    meta = ds.file_meta
    if "TransferSyntaxUID" in meta:    # not part of the data set, but clients need it (PS3.18 F.2)
        document["00020010"] = {"vr": "UI", "Value": [str(meta.TransferSyntaxUID)]}
    return dict(sorted(document.items())), invalid


def _raw(ds: pydicom.Dataset, tag: Any) -> tuple[Any, str, int]:
    """(tag, VR, value length) without reading a deferred value; undefined length counts as
    long (encapsulated pixel data)."""
    elem = ds.get_item(tag)
    if isinstance(elem, RawDataElement):
        length = elem.length if elem.length != 0xFFFFFFFF else 1 << 62
        vr = elem.VR or dictionary_VR(tag).split(" or ")[-1]     # implicit VR: the dictionary's
        return tag, str(vr), length
    value = elem.value
    return tag, str(elem.VR), len(value) if isinstance(value, (bytes, bytearray)) else 0



