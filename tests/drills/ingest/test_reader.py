"""The header reader: valid encodings parse, every malformed input gets its reason, and
only the header is read."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from drills.contracts import QuarantineReason
from drills.ingest.reader import PREFIX_BYTES, HeaderStream, RejectedInput, read_header

from .conftest import ACCESSION, PATIENT_ID, PATIENT_NAME, VALID_SYNTAXES, build_dataset, damaged, to_bytes


def header_of(data: bytes):
    return read_header(io.BytesIO(data), len(data))


@pytest.mark.parametrize("name", sorted(VALID_SYNTAXES))
def test_valid_encodings_parse(name: str) -> None:
    ds = build_dataset(VALID_SYNTAXES[name], modality="MR")
    header = header_of(to_bytes(ds))
    assert header.sop_instance_uid == ds.SOPInstanceUID
    assert header.study_instance_uid == ds.StudyInstanceUID
    assert header.series_instance_uid == ds.SeriesInstanceUID
    assert header.sop_class_uid == ds.SOPClassUID
    assert header.transfer_syntax_uid == VALID_SYNTAXES[name]
    assert header.modality == "MR"
    assert header.study_date == "20240102"
    assert header.patient_id == PATIENT_ID
    assert header.accession_number == ACCESSION


def test_repr_keeps_patient_identifiers_out(make_dicom) -> None:
    text = repr(header_of(make_dicom()))
    assert PATIENT_ID not in text and ACCESSION not in text and PATIENT_NAME not in text


def test_malformed_inputs_get_their_reason(malformed) -> None:
    covered = set()
    for name, (reason, data) in malformed.items():
        with pytest.raises(RejectedInput) as info:
            header_of(data)
        assert info.value.quarantine_reason is reason, f"{name}: {info.value.detail}"
        assert info.value.reason == reason.value
        covered.add(reason)
    assert covered == set(QuarantineReason), "a fixture for every quarantine reason"


def test_header_read_stops_before_large_pixel_data() -> None:
    data = to_bytes(build_dataset(rows=512, columns=1024))        # 1 MiB of pixels
    header = header_of(data)
    assert len(data) > 1024 * 1024
    assert header.header_bytes_read <= PREFIX_BYTES + 4096, header.header_bytes_read


@pytest.mark.parametrize("cut", [1, 2, 511, 1024 * 1024 - 8])
def test_file_cut_inside_large_pixel_data_is_truncated(cut: int) -> None:
    data = to_bytes(build_dataset(rows=512, columns=1024))
    with pytest.raises(RejectedInput) as info:
        header_of(data[:-cut])
    assert info.value.quarantine_reason is QuarantineReason.TRUNCATED
    assert info.value.bytes_read < 128 * 1024, "found without reading the pixel data"


def test_cut_inside_an_element_header_is_truncated(make_dicom) -> None:
    data = make_dicom(ImplicitVRLittleEndian)
    pixel = data.index(struct.pack("<HH", 0x7FE0, 0x0010))
    with pytest.raises(RejectedInput) as info:
        header_of(data[: pixel + 5])
    assert info.value.quarantine_reason is QuarantineReason.TRUNCATED


def test_a_header_larger_than_the_prefix_is_read_in_more_blocks() -> None:
    ds = build_dataset(ExplicitVRLittleEndian)
    ds.ImageComments = "x" * 900                                  # under DEFER_SIZE: really read
    ds.add_new(0x00091010, "LO", "private")
    ds.add_new(0x00091100, "UT", "y" * (200 * 1024))                # skipped by defer_size, inside the header
    header = header_of(to_bytes(ds))
    assert header.sop_instance_uid == ds.SOPInstanceUID


def test_header_stream_counts_what_it_fetches() -> None:
    raw = io.BytesIO(bytes(range(256)) * 2048)                    # 512 KiB
    stream = HeaderStream(raw, len(raw.getvalue()))
    assert stream.read(4) == bytes([0, 1, 2, 3])
    assert stream.bytes_fetched == PREFIX_BYTES                   # the first read fetches the prefix
    stream.seek(400_000)
    assert stream.read(8) == bytes((400_000 + i) % 256 for i in range(8))
    assert stream.bytes_fetched == PREFIX_BYTES + 4096            # a seek fetches a small block
    stream.seek(0)
    stream.read(16)
    assert stream.read(0) == b""
    stream.seek(len(raw.getvalue()) + 10)
    assert stream.read(8) == b""                                  # past the end reads nothing


def test_trailing_zero_padding_is_accepted_other_trailing_bytes_are_not(make_dicom) -> None:
    data = make_dicom()
    assert header_of(data + b"\0" * 3).sop_instance_uid
    with pytest.raises(RejectedInput) as info:
        header_of(data + b"\x01\x02\x03")
    assert info.value.quarantine_reason is QuarantineReason.TRUNCATED


def parse_sources(monkeypatch) -> list:
    """What read_header hands to pydicom, call by call."""
    from drills.ingest import reader

    sources: list = []
    real = reader.read_dataset

    def spy(source, *args, **kwargs):
        sources.append(type(source).__name__)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(reader, "read_dataset", spy)
    return sources


def test_a_header_inside_the_prefix_is_read_from_the_walk_without_more_fetches(monkeypatch) -> None:
    """A plain header (no undefined-length element before the pixels) needs no pydicom parse:
    the walk's values make the data set; nothing more is fetched."""
    sources = parse_sources(monkeypatch)
    data = to_bytes(build_dataset(rows=512, columns=1024))        # header in the prefix, 1 MiB of pixels
    before = header_of(data)
    assert sources == []
    assert before.header_bytes_read <= PREFIX_BYTES + 4096       # the walk's fetches, nothing for the values


def test_an_undefined_length_sequence_is_parsed_by_pydicom_from_memory(monkeypatch) -> None:
    """pydicom parses an undefined-length sequence item by item (and may refuse it): such a
    header goes through its parse, from the bytes fetched already."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    sources = parse_sources(monkeypatch)
    ds = build_dataset()
    item = Dataset()
    item.CodeValue = "121"
    ds.ProcedureCodeSequence = Sequence([item])
    ds["ProcedureCodeSequence"].is_undefined_length = True
    header = header_of(to_bytes(ds))
    assert sources == ["BytesIO"] and header.sop_instance_uid == ds.SOPInstanceUID


def _outcome(data: bytes):
    try:
        return read_header(io.BytesIO(data), len(data))
    except RejectedInput as rejected:
        return (rejected.quarantine_reason, rejected.detail, rejected.bytes_read)


def _both_ways(data: bytes, monkeypatch):
    """read_header's outcome with the walk's values, then through pydicom's parse alone."""
    from drills.ingest import reader

    walked = _outcome(data)
    with monkeypatch.context() as patch:
        patch.setattr(reader, "_walked_dataset", lambda *args: None)
        parsed = _outcome(data)
    return walked, parsed


def test_the_walks_values_give_what_pydicoms_parse_gives(tmp_path, monkeypatch) -> None:
    """Every instance of the synthetic data set (every modality, encodings, character sets)
    and of the hostile corpus reads to the same header — or the same refusal — both ways."""
    from drills.synth.dataset import generate

    from . import hostile

    manifest = generate(tmp_path / "synth", 12, 7, 0.25)
    hostile.build(tmp_path / "hostile")
    paths = [p for p in sorted((tmp_path / "hostile").rglob("*")) if p.is_file()] + list(manifest.paths())
    assert len(paths) > 50
    walked_count = 0
    for path in paths:
        data = path.read_bytes()
        walked, parsed = _both_ways(data, monkeypatch)
        assert walked == parsed, path.name
        walked_count += not isinstance(walked, tuple)
    assert walked_count > 40          # most of them are valid: the comparison covers real headers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=damaged())
def test_damaged_inputs_read_the_same_both_ways(data: bytes, monkeypatch) -> None:
    walked, parsed = _both_ways(data, monkeypatch)
    assert walked == parsed


def test_a_header_beyond_the_prefix_is_parsed_through_the_stream(monkeypatch) -> None:
    sources = parse_sources(monkeypatch)
    ds = build_dataset(ExplicitVRLittleEndian)
    ds.add_new(0x00091010, "LO", "private")
    ds.add_new(0x00091100, "UT", "y" * (200 * 1024))                # skipped by seeking: not in the prefix
    header = header_of(to_bytes(ds))
    assert sources == ["HeaderStream"] and header.sop_instance_uid == ds.SOPInstanceUID


def test_header_stream_head_serves_only_fetched_bytes() -> None:
    raw = io.BytesIO(bytes(range(256)) * 1024)                    # 256 KiB
    stream = HeaderStream(raw, len(raw.getvalue()))
    assert stream.head(10) is None                                # nothing fetched yet
    stream.read(8)
    assert stream.head(100) == raw.getvalue()[:100]
    stream.seek(200_000)
    stream.read(8)                                                # the buffer moves on; the head stays
    fetched = stream.bytes_fetched
    assert stream.head(PREFIX_BYTES) == raw.getvalue()[:PREFIX_BYTES]
    assert stream.head(PREFIX_BYTES + 1) is None
    assert stream.bytes_fetched == fetched


def test_any_failure_inside_the_reader_is_a_quarantine_reason(monkeypatch) -> None:
    """What the reader cannot read is quarantined, never lost: an unexpected error (here a
    ValueError from inside the walk) becomes UNREADABLE naming only its type; an OSError
    (the input could not be read) is left to the caller."""
    from drills.ingest import reader

    data = to_bytes(build_dataset())

    def broken(*args, **kwargs):
        raise ValueError("a value quoting PID-0042-SECRET")

    monkeypatch.setattr(reader, "_check_structure", broken)
    with pytest.raises(RejectedInput) as info:
        read_header(io.BytesIO(data), len(data))
    assert info.value.quarantine_reason is QuarantineReason.UNREADABLE
    assert info.value.detail == "the header cannot be read (ValueError)"

    def unreadable(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(reader, "_check_structure", unreadable)
    with pytest.raises(OSError):
        read_header(io.BytesIO(data), len(data))
