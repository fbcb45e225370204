"""The synthetic enterprise data set: valid DICOM per modality, de-identified, deterministic."""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.fileset import FileSet
from pydicom.uid import UID

from drills.contracts import specialty_for
from drills.errors import UsageError
from drills.synth.dataset import MANIFEST_NAME, MAX_SCALE, MODALITIES, SOP_CLASSES, Manifest, generate

# Enough studies that the weighted draws (after the one-per-modality opening) also show.
STUDIES, SEED = 14, 5

# The standard's SOP Class UIDs, spelled out so a wrong entry in SOP_CLASSES cannot pass.
EXPECTED_SOP_CLASS = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
    "US": "1.2.840.10008.5.1.4.1.1.3.1",
    "XA": "1.2.840.10008.5.1.4.1.1.12.1",
    "ECG": "1.2.840.10008.5.1.4.1.1.9.1.1",
    "SM": "1.2.840.10008.5.1.4.1.1.77.1.6",
    "XC": "1.2.840.10008.5.1.4.1.1.77.1.4",
    "OP": "1.2.840.10008.5.1.4.1.1.77.1.5.1",
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    return generate(tmp_path_factory.mktemp("synth") / "out", STUDIES, SEED)


@pytest.fixture(scope="module")
def parsed(dataset: Manifest) -> dict[str, object]:
    """Every instance fully read (pixel data included), keyed by manifest path."""
    return {e.path: dcmread(dataset.root / e.path) for e in dataset.entries}


def _digest_list(manifest: Manifest) -> list[tuple[str, str]]:
    return [(e.path, e.sha256) for e in manifest.entries]


# --------------------------------------------------------------------------- content


def test_every_modality_is_produced_with_its_sop_class(dataset: Manifest, parsed: dict) -> None:
    assert {e.modality for e in dataset.entries} == set(EXPECTED_SOP_CLASS) == set(MODALITIES)
    for entry in dataset.entries:
        ds = parsed[entry.path]
        expected = EXPECTED_SOP_CLASS[ds.Modality]
        assert ds.SOPClassUID == expected, entry.path
        assert ds.file_meta.MediaStorageSOPClassUID == expected, entry.path
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID, entry.path
        assert SOP_CLASSES[ds.Modality] == expected


def test_specialties_follow_the_modality_map(dataset: Manifest) -> None:
    for entry in dataset.entries:
        assert entry.specialty == specialty_for(entry.modality).value
        assert Path(entry.path).parts[0] == entry.specialty
    assert {e.specialty for e in dataset.entries} == {"radiology", "cardiology", "pathology", "dermatology", "ophthalmology"}


def test_pixel_data_length_matches_the_declared_geometry(parsed: dict) -> None:
    checked = 0
    for path, ds in parsed.items():
        if "PixelData" not in ds:
            continue
        frames = int(ds.get("NumberOfFrames", 1))
        expected = ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8 * frames
        assert len(ds.PixelData) == expected, path
        assert ds[0x7FE00010].VR == ("OW" if ds.BitsAllocated > 8 else "OB"), path
        checked += 1
    assert checked == sum(1 for ds in parsed.values() if ds.Modality != "ECG")


def test_ecg_is_a_twelve_lead_waveform(parsed: dict) -> None:
    ecgs = [ds for ds in parsed.values() if ds.Modality == "ECG"]
    assert ecgs
    for ds in ecgs:
        assert "PixelData" not in ds
        (group,) = ds.WaveformSequence
        assert group.NumberOfWaveformChannels == 12 == len(group.ChannelDefinitionSequence)
        assert 200 <= group.SamplingFrequency <= 1000 and group.NumberOfWaveformSamples <= 16384
        assert len(group.WaveformData) == 12 * group.NumberOfWaveformSamples * group.WaveformBitsAllocated // 8
        leads = [ch.ChannelSourceSequence[0].CodeValue for ch in group.ChannelDefinitionSequence]
        assert leads == ["2:1", "2:2", "2:61", "2:62", "2:63", "2:64", "2:3", "2:4", "2:5", "2:6", "2:7", "2:8"]


def test_whole_slide_images_are_tiled_full_pyramids(parsed: dict) -> None:
    slides: dict[str, list] = defaultdict(list)
    for ds in parsed.values():
        if ds.Modality == "SM":
            slides[ds.SeriesInstanceUID].append(ds)
    assert slides
    for levels in slides.values():
        levels.sort(key=lambda d: d.InstanceNumber)
        assert [d.ImageType[3] for d in levels] == ["NONE", "RESAMPLED"]
        for ds in levels:
            assert ds.DimensionOrganizationType == "TILED_FULL"
            assert ds.ImageType[2] == "VOLUME"
            across = math.ceil(ds.TotalPixelMatrixColumns / ds.Columns)
            down = math.ceil(ds.TotalPixelMatrixRows / ds.Rows)
            assert ds.NumberOfFrames == across * down
            assert ds.PhotometricInterpretation == "RGB" and ds.SamplesPerPixel == 3
            assert ds.OpticalPathSequence[0].ICCProfile[36:40] == b"acsp"  # an ICC profile header
        base, resampled = levels
        assert resampled.TotalPixelMatrixColumns == base.TotalPixelMatrixColumns // 2
        assert len({d.FrameOfReferenceUID for d in levels}) == 1


def test_cross_sectional_series_have_image_geometry(parsed: dict) -> None:
    series: dict[str, list] = defaultdict(list)
    for ds in parsed.values():
        if ds.Modality in ("CT", "MR"):
            series[ds.SeriesInstanceUID].append(ds)
    assert series
    for slices in series.values():
        assert len({tuple(s.ImagePositionPatient) for s in slices}) == len(slices)
        assert len({s.FrameOfReferenceUID for s in slices}) == 1
        for s in slices:
            assert list(s.ImageOrientationPatient) == [1, 0, 0, 0, 1, 0]
            assert len(s.PixelSpacing) == 2 and float(s.SliceThickness) > 0


def test_headers_look_like_an_enterprise_archive(dataset: Manifest, parsed: dict) -> None:
    numbers: dict[str, list[int]] = defaultdict(list)
    for ds in parsed.values():
        assert re.fullmatch(r"20(1[2-9]|2[0-5])\d{4}", ds.StudyDate)
        assert ds.StudyDescription and ds.Manufacturer and ds.InstitutionName
        assert ds.SeriesNumber >= 1
        numbers[ds.SeriesInstanceUID].append(ds.InstanceNumber)
        for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
            assert UID(uid).is_valid and str(uid).startswith("2.25.")
    for instance_numbers in numbers.values():
        assert sorted(instance_numbers) == list(range(1, len(instance_numbers) + 1))
    years = {ds.StudyDate[:4] for ds in parsed.values()}
    assert len(years) >= 3, "study dates should spread over years"
    assert len({e.sop_instance_uid for e in dataset.entries}) == len(dataset.entries)


def _person_names(ds) -> list[str]:
    names = []
    for element in ds.iterall():
        if element.VR == "PN" and element.value:
            names.append(str(element.value))
    return names


def test_no_real_looking_phi(parsed: dict) -> None:
    for path, ds in parsed.items():
        assert re.fullmatch(r"SYNTH\^PATIENT\^\d{4}", str(ds.PatientName)), path
        assert re.fullmatch(r"SYNTH-\d{4}", ds.PatientID), path
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethod
        assert not ds.get("PatientBirthDate")
        assert all(name.startswith("SYNTH^") for name in _person_names(ds)), path
        for keyword in ("PatientAddress", "PatientTelephoneNumbers", "OtherPatientIDs", "PatientMotherBirthName"):
            assert keyword not in ds, (path, keyword)


# --------------------------------------------------------------------------- manifest


def test_manifest_matches_the_files_on_disk(dataset: Manifest, parsed: dict) -> None:
    on_disk = sorted(p.relative_to(dataset.root).as_posix() for p in dataset.root.rglob("*")
                     if p.is_file() and p.name != MANIFEST_NAME)
    assert on_disk == sorted(e.path for e in dataset.entries)
    for entry in dataset.entries:
        data = (dataset.root / entry.path).read_bytes()
        assert entry.size == len(data)
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        ds = parsed[entry.path]
        assert (entry.sop_instance_uid, entry.series_instance_uid, entry.study_instance_uid, entry.modality) == (
            ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.Modality)
    assert Manifest.load(dataset.root) == dataset
    summary = dataset.summary()
    assert summary["instances"] == len(dataset.entries) and summary["studies"] == STUDIES
    assert sum(summary["byModality"].values()) == len(dataset.entries)


def test_manifest_load_rejects_foreign_json(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text('{"instances": []}')
    with pytest.raises(UsageError, match="not a manifest written by drkit synth"):
        Manifest.load(tmp_path)


# --------------------------------------------------------------------------- determinism and scale


def test_same_seed_gives_byte_identical_files(dataset: Manifest, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", STUDIES, SEED)
    assert _digest_list(again) == _digest_list(dataset)
    for entry in dataset.entries[:5]:
        assert (again.root / entry.path).read_bytes() == (dataset.root / entry.path).read_bytes()


def test_different_seed_gives_different_data(dataset: Manifest, tmp_path: Path) -> None:
    other = generate(tmp_path / "other", STUDIES, SEED + 1)
    assert not {e.sha256 for e in other.entries} & {e.sha256 for e in dataset.entries}
    assert not {e.sop_instance_uid for e in other.entries} & {e.sop_instance_uid for e in dataset.entries}


def test_fewer_studies_are_a_prefix_of_more(dataset: Manifest, tmp_path: Path) -> None:
    fewer = generate(tmp_path / "fewer", STUDIES - 3, SEED)
    assert set(_digest_list(fewer)) < set(_digest_list(dataset))


def test_scale_multiplies_pixel_bytes_and_keeps_uids(dataset: Manifest, tmp_path: Path) -> None:
    bigger = generate(tmp_path / "bigger", STUDIES, SEED, scale=4.0)
    small = {e.sop_instance_uid: e for e in dataset.entries}
    assert set(small) == {e.sop_instance_uid for e in bigger.entries}
    for entry in bigger.entries:
        before = small[entry.sop_instance_uid]
        if entry.modality == "ECG":
            assert entry.size == before.size  # waveforms are not scaled
        else:
            assert entry.size > 2.5 * before.size, entry.path
    assert 3.0 < bigger.total_bytes / dataset.total_bytes < 4.5


# --------------------------------------------------------------------------- DICOMDIR and OUT handling


def test_dicomdir_lists_every_instance(tmp_path: Path) -> None:
    manifest = generate(tmp_path / "media", len(MODALITIES), SEED, dicomdir=True)
    fs = FileSet(dcmread(tmp_path / "media" / "DICOMDIR"))
    assert {i.SOPInstanceUID for i in fs} == {e.sop_instance_uid for e in manifest.entries}
    for instance in fs:
        assert Path(instance.path).is_file()
    for entry in manifest.entries:
        assert re.fullmatch(r"PT\d{6}/ST\d{6}/SE\d{6}/(IM|WV)\d{6}", entry.path)
        assert hashlib.sha256((manifest.root / entry.path).read_bytes()).hexdigest() == entry.sha256
    assert not [p for p in manifest.root.iterdir() if p.name.startswith(".synth-")], "staging left behind"


def test_rerun_replaces_an_earlier_synth_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(out, STUDIES, SEED)
    smaller = generate(out, len(MODALITIES), SEED)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    assert files == sorted(e.path for e in smaller.entries)


@pytest.mark.parametrize(
    ("studies", "scale", "message"),
    [
        (0, 1.0, "--studies must be a whole number >= 1"),
        (-3, 1.0, "--studies must be a whole number >= 1"),
        (True, 1.0, "--studies must be a whole number >= 1"),
        (2, 0.0, "--scale must be a number > 0"),
        (2, -1.0, "--scale must be a number > 0"),
        (2, float("nan"), "--scale must be a number > 0"),
        (2, float("inf"), "--scale must be a number > 0"),
        (2, MAX_SCALE * 2, "above the limit"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, studies: int, scale: float, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        generate(tmp_path / "out", studies, SEED, scale)
    assert info.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "file.dcm"
    target.write_bytes(b"x")
    with pytest.raises(UsageError, match="is a file"):
        generate(target, 1, SEED)


def test_foreign_non_empty_out_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not empty"):
        generate(tmp_path, 1, SEED)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


# --------------------------------------------------------------------------- a standards validator


@pytest.mark.peer
def test_dicom3tools_dciodvfy_finds_no_errors(dataset: Manifest) -> None:
    """dicom3tools' IOD validator checks every module of every modality's IOD."""
    if not shutil.which("dciodvfy"):
        pytest.skip("dciodvfy (dicom3tools) not installed: apt-get install dicom3tools")
    first = {}
    for entry in dataset.entries:
        first.setdefault(entry.modality, entry)
    for modality, entry in sorted(first.items()):
        run = subprocess.run(["dciodvfy", str(dataset.root / entry.path)], capture_output=True, timeout=60)
        report = (run.stdout + run.stderr).decode("latin-1")
        problems = [line for line in report.splitlines() if line.startswith(("Error", "Warning"))]
        assert not problems, f"{modality} {entry.path}:\n" + "\n".join(problems)
