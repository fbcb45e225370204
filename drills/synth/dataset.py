"""A synthetic, de-identified enterprise DICOM data set, byte-identical for a given seed.

Radiology (CT, MR, CR, DX, MG), cardiology (US echo cine, XA, 12-lead ECG waveform),
pathology (SM whole-slide, TILED_FULL pyramid), dermatology (XC photographs) and
ophthalmology (OP fundus photographs), written as DICOM Part-10 files under
``OUT/<specialty>/study-NNNN/series-NN/NNNN.dcm`` (or, with ``dicomdir=True``, as a
DICOM File-set: ``OUT/DICOMDIR`` + ``PTxxxxxx/STxxxxxx/SExxxxxx/IMxxxxxx``) with
``OUT/manifest.json`` listing every instance's UIDs, size and SHA-256.

Determinism: study ``k`` is built from its own generator seeded by ``(seed, k)``, so a
larger ``studies`` count adds studies without changing the earlier ones. The first
studies cover every modality once (in a seed-dependent order); later ones follow the
specialty and modality weights below. ``scale`` multiplies pixel data bytes (about
linearly: matrix sides grow with its square root); ECG waveforms are not scaled.
At ``scale=1`` matrices are small (CT/MR 128², MG 256×208) so the default set stays at
a few hundred instances; ``scale=16`` gives clinical CT/MR matrices (512²).

Every patient is obviously synthetic (``SYNTH^PATIENT^0007``, ``SYNTH-0007``), carries
no birth date, and every instance says ``PatientIdentityRemoved = YES``.
"""

from __future__ import annotations

import array
import functools
import hashlib
import io
import json
import math
import random
import shutil
import struct
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.tag import Tag
from pydicom.uid import UID, ExplicitVRLittleEndian

from drills import __version__
from drills.contracts import STORAGE_SOP_CLASSES, Specialty, specialty_for
from drills.errors import UsageError

MANIFEST_NAME = "manifest.json"
GENERATOR = "drkit synth"
MANIFEST_VERSION = 1
MAX_SCALE = 256.0  # keeps the largest instance (a WSI level) near 150 MB in memory

# Files name drkit as their creator (Part 10 Implementation Class UID / Version Name).
IMPLEMENTATION_CLASS_UID = UID("2.25." + str(int.from_bytes(hashlib.sha256(b"drkit synth").digest()[:16], "big")))
IMPLEMENTATION_VERSION_NAME = f"DRKIT_{__version__}"[:16]
DEIDENTIFICATION_METHOD = "drkit synth: generated data, no real patient"

# The storage SOP class of each modality drkit synth writes (the table lives in the contracts).
SOP_CLASSES: dict[str, UID] = {modality: UID(uid) for modality, uid in STORAGE_SOP_CLASSES.items()}
MODALITIES = tuple(SOP_CLASSES)

# Share of studies per specialty, and of modalities within it (a general hospital's mix).
SPECIALTY_WEIGHTS: dict[Specialty, float] = {
    Specialty.RADIOLOGY: 0.60,
    Specialty.CARDIOLOGY: 0.18,
    Specialty.PATHOLOGY: 0.07,
    Specialty.DERMATOLOGY: 0.07,
    Specialty.OPHTHALMOLOGY: 0.08,
}
MODALITY_WEIGHTS: dict[Specialty, dict[str, float]] = {
    Specialty.RADIOLOGY: {"CT": 0.28, "MR": 0.20, "CR": 0.22, "DX": 0.18, "MG": 0.12},
    Specialty.CARDIOLOGY: {"US": 0.50, "XA": 0.20, "ECG": 0.30},
    Specialty.PATHOLOGY: {"SM": 1.0},
    Specialty.DERMATOLOGY: {"XC": 1.0},
    Specialty.OPHTHALMOLOGY: {"OP": 1.0},
}

# (StudyDescription, BodyPartExamined) choices per modality.
PROCEDURES: dict[str, tuple[tuple[str, str], ...]] = {
    "CT": (("CT CHEST WITH CONTRAST", "CHEST"), ("CT ABDOMEN PELVIS", "ABDOMEN"), ("CT HEAD WITHOUT CONTRAST", "HEAD")),
    "MR": (("MR BRAIN WITHOUT CONTRAST", "HEAD"), ("MR KNEE", "KNEE"), ("MR LUMBAR SPINE", "LSPINE")),
    "CR": (("XR CHEST 2 VIEWS", "CHEST"), ("XR HAND", "HAND")),
    "DX": (("XR CHEST PA", "CHEST"), ("XR KNEE", "KNEE"), ("XR HAND", "HAND")),
    "MG": (("MAMMOGRAM SCREENING BILATERAL", "BREAST"),),
    "US": (("ECHO TRANSTHORACIC", "HEART"),),
    "XA": (("CORONARY ANGIOGRAM", "HEART"),),
    "ECG": (("RESTING 12-LEAD ECG", "HEART"),),
    "SM": (("SURGICAL PATHOLOGY SLIDES", ""),),
    "XC": (("DERMATOLOGY PHOTOGRAPHS BACK", "BACK"), ("DERMATOLOGY PHOTOGRAPHS ARM", "ARM"),
           ("DERMATOLOGY PHOTOGRAPHS LEG", "LEG")),
    "OP": (("FUNDUS PHOTOGRAPHY", "EYE"),),
}
PAIRED_BODY_PARTS = frozenset({"KNEE", "HAND", "ARM", "LEG"})
# Anatomic Region codes for the body parts (photographs: the skin region).
REGION_CODES: dict[str, Code] = {
    "CHEST": codes.SCT.Chest, "KNEE": codes.SCT.Knee, "HAND": codes.SCT.Hand, "BREAST": codes.SCT.Breast,
    "BACK": codes.SCT.SkinOfBack, "ARM": codes.SCT.UpperArm, "LEG": codes.SCT.LowerLeg, "EYE": codes.SCT.Eye,
}
VIEW_CODES: dict[str, Code] = {
    "PA": codes.SCT.PosteroAnterior, "AP": codes.SCT.AnteroPosterior, "LL": codes.SCT.LeftLateral,
    "CC": codes.SCT.CranioCaudal, "MLO": codes.SCT.MedioLateralObliqueProjection,
}
MANUFACTURERS = ("Synthetica Medical", "Example Imaging Co", "Placeholder Diagnostics")
INSTITUTION = "Synthetic General Hospital"
FIRST_DAY, LAST_DAY = date(2012, 1, 1), date(2025, 6, 30)


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class ManifestEntry:
    """One generated instance. ``path`` is relative to the data set root (POSIX)."""

    path: str
    specialty: str
    modality: str
    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "specialty": self.specialty,
            "Modality": self.modality,
            "SOPClassUID": self.sop_class_uid,
            "SOPInstanceUID": self.sop_instance_uid,
            "SeriesInstanceUID": self.series_instance_uid,
            "StudyInstanceUID": self.study_instance_uid,
            "size": self.size,
            "sha256": self.sha256,
        }

    @classmethod
    def from_dict(cls, item: dict[str, Any]) -> "ManifestEntry":
        return cls(
            path=item["path"], specialty=item["specialty"], modality=item["Modality"],
            sop_class_uid=item["SOPClassUID"], sop_instance_uid=item["SOPInstanceUID"],
            series_instance_uid=item["SeriesInstanceUID"], study_instance_uid=item["StudyInstanceUID"],
            size=int(item["size"]), sha256=item["sha256"],
        )


@dataclass(frozen=True)
class Manifest:
    """What ``generate`` wrote: parameters and one entry per instance."""

    root: Path
    seed: int
    studies: int
    scale: float
    dicomdir: bool
    entries: tuple[ManifestEntry, ...]

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def study_count(self) -> int:
        return len({e.study_instance_uid for e in self.entries})

    def paths(self) -> list[Path]:
        return [self.root / e.path for e in self.entries]

    def summary(self) -> dict[str, Any]:
        """Counts by specialty and modality, totals; no per-instance detail."""
        return {
            "root": str(self.root),
            "manifest": str(self.root / MANIFEST_NAME),
            "seed": self.seed,
            "scale": self.scale,
            "studies": self.study_count,
            "instances": len(self.entries),
            "bytes": self.total_bytes,
            "bySpecialty": dict(sorted(Counter(e.specialty for e in self.entries).items())),
            "byModality": dict(sorted(Counter(e.modality for e in self.entries).items())),
            "dicomdir": self.dicomdir,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": GENERATOR,
            "manifestVersion": MANIFEST_VERSION,
            "seed": self.seed,
            "studies": self.studies,
            "scale": self.scale,
            "dicomdir": self.dicomdir,
            "instances": [e.to_dict() for e in self.entries],
        }

    def write(self) -> Path:
        path = self.root / MANIFEST_NAME
        path.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, root: Path) -> "Manifest":
        """Read ``root/manifest.json``; UsageError if it is missing or not a synth manifest."""
        path = Path(root) / MANIFEST_NAME
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise UsageError(f"{path}: no synth manifest here") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: not a readable JSON manifest ({exc})") from exc
        if not isinstance(data, dict) or data.get("generator") != GENERATOR:
            raise UsageError(f"{path}: not a manifest written by {GENERATOR}")
        try:
            entries = tuple(ManifestEntry.from_dict(i) for i in data["instances"])
            return cls(Path(root), int(data["seed"]), int(data["studies"]), float(data["scale"]),
                       bool(data.get("dicomdir", False)), entries)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{path}: malformed synth manifest ({exc!r})") from exc


# --------------------------------------------------------------------------- public API


def generate(
    out: Path,
    studies: int,
    seed: int,
    scale: float = 1.0,
    *,
    dicomdir: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Manifest:
    """Write ``studies`` synthetic studies under ``out`` and return their manifest.

    ``out`` must be absent, empty, or hold an earlier synth data set (whose listed files
    are replaced). ``progress(done, total)`` is called after each study.
    """
    out = Path(out)
    check_args(out, studies, scale)
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".synth-", dir=out)) if dicomdir else out
    entries: list[ManifestEntry] = []
    try:
        for k in range(studies):
            study = _Study(seed, k, scale)
            for series_no, instance_no, ds in _BUILDERS[study.modality](study):
                rel = Path(study.specialty.value, f"study-{k + 1:04d}", f"series-{series_no:02d}", f"{instance_no:04d}.dcm")
                data = _encode(ds)
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                (staging / rel).write_bytes(data)
                entries.append(_entry(rel.as_posix(), ds, data))
            if progress:
                progress(k + 1, studies)
        if dicomdir:
            entries = _write_fileset(out, staging, entries, seed)
    finally:
        if dicomdir:
            shutil.rmtree(staging, ignore_errors=True)
    manifest = Manifest(out, seed, studies, float(scale), dicomdir, tuple(entries))
    manifest.write()
    return manifest


def check_args(out: Path, studies: int, scale: float) -> None:
    """UsageError naming the bad argument: studies < 1, scale <= 0 or too big, OUT a file."""
    if isinstance(studies, bool) or not isinstance(studies, int) or studies < 1:
        raise UsageError(f"--studies must be a whole number >= 1 (got {studies!r})")
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise UsageError(f"--scale must be a number > 0 (got {scale!r})")
    if scale > MAX_SCALE:
        raise UsageError(f"--scale {scale:g} is above the limit {MAX_SCALE:g} (one instance must fit in memory)")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: is a file; OUT must be a directory (absent, empty, or an earlier synth output)")


def _clear_previous(out: Path) -> None:
    """Refuse a non-empty OUT unless an earlier synth run wrote it; then remove its files."""
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / MANIFEST_NAME).is_file():
        raise UsageError(f"{out}: directory is not empty and holds no synth {MANIFEST_NAME}; choose an empty OUT")
    previous = Manifest.load(out)
    root = out.resolve()
    for path in [*previous.paths(), out / "DICOMDIR", out / MANIFEST_NAME]:
        if root in path.resolve().parents:
            path.unlink(missing_ok=True)
    for directory in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()


def _encode(ds: Dataset) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds.file_meta = meta
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _entry(rel: str, ds: Dataset, data: bytes) -> ManifestEntry:
    return ManifestEntry(
        path=rel, specialty=specialty_for(ds.Modality).value, modality=ds.Modality,
        sop_class_uid=str(ds.SOPClassUID), sop_instance_uid=str(ds.SOPInstanceUID),
        series_instance_uid=str(ds.SeriesInstanceUID), study_instance_uid=str(ds.StudyInstanceUID),
        size=len(data), sha256=hashlib.sha256(data).hexdigest(),
    )


def _write_fileset(out: Path, staging: Path, entries: list[ManifestEntry], seed: int) -> list[ManifestEntry]:
    """Lay the staged files out as a DICOM File-set with pydicom and re-list them."""
    fs = FileSet()
    fs.ID = "DRKITSYNTH"
    fs.UID = _uid(seed, "fileset")
    by_uid = {e.sop_instance_uid: e for e in entries}
    for entry in entries:
        fs.add(staging / entry.path)
    fs.write(out)
    placed: list[ManifestEntry] = []
    for instance in fs:
        old = by_uid[instance.SOPInstanceUID]
        rel = Path(instance.path).relative_to(out.resolve()).as_posix()
        data = (out / rel).read_bytes()
        placed.append(ManifestEntry(rel, old.specialty, old.modality, old.sop_class_uid, old.sop_instance_uid,
                                    old.series_instance_uid, old.study_instance_uid, len(data),
                                    hashlib.sha256(data).hexdigest()))
    return sorted(placed, key=lambda e: e.path)


# --------------------------------------------------------------------------- studies


def _uid(seed: int, *parts: object) -> UID:
    """A stable ``2.25.<128-bit int>`` UID for ``(seed, parts)``."""
    digest = hashlib.sha256("/".join(map(str, ("drkit-synth", seed, *parts))).encode()).digest()
    return UID(f"2.25.{int.from_bytes(digest[:16], 'big') or 1}")


class _Study:
    """Everything shared by a study's instances, drawn from the study's own generator."""

    def __init__(self, seed: int, k: int, scale: float) -> None:
        self.seed, self.k, self.scale = seed, k, scale
        rng = self.rng = random.Random(f"drkit-synth/{seed}/study/{k}")
        if k < len(MODALITIES):  # the first studies cover every modality once
            order = list(MODALITIES)
            random.Random(f"drkit-synth/{seed}/order").shuffle(order)
            self.modality = order[k]
            self.specialty = specialty_for(self.modality)
        else:
            self.specialty = rng.choices(list(SPECIALTY_WEIGHTS), weights=list(SPECIALTY_WEIGHTS.values()))[0]
            weights = MODALITY_WEIGHTS[self.specialty]
            self.modality = rng.choices(list(weights), weights=list(weights.values()))[0]
        # Patients are numbered 1..2(k+1), so later studies revisit earlier patients;
        # odd numbers are female (mammography draws only those).
        if self.modality == "MG":
            self.patient = 2 * rng.randint(0, k) + 1
        else:
            self.patient = rng.randint(1, 2 * (k + 1))
        self.sex = "F" if self.patient % 2 else "M"
        birth_year = random.Random(f"drkit-synth/{seed}/patient/{self.patient}").randint(1935, 2005)
        self.date = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
        self.age = max(self.date.year - birth_year, 1)
        self.time = f"{rng.randint(7, 19):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}"
        self.description, self.body_part = rng.choice(PROCEDURES[self.modality])
        self.manufacturer = rng.choice(MANUFACTURERS)
        self.laterality = rng.choice("RL") if self.body_part in PAIRED_BODY_PARTS else ""
        self.study_uid = _uid(seed, k, "study")
        self.frame_of_reference = _uid(seed, k, "for")
        self.accession = f"SYNACC{k + 1:07d}"

    def series_uid(self, series_no: int) -> UID:
        return _uid(self.seed, self.k, series_no, "series")

    def data_rng(self, series_no: int, instance_no: int) -> random.Random:
        """A per-instance generator for bulk data, independent of the header draws."""
        return random.Random(f"drkit-synth/{self.seed}/{self.k}/{series_no}/{instance_no}/px")

    def pixels(self, series_no: int, instance_no: int, length: int) -> bytes:
        """Deterministic pseudo-random pixel bytes."""
        return self.data_rng(series_no, instance_no).randbytes(length)

    def side(self, base: int, multiple: int = 2) -> int:
        """A matrix side scaled so that pixel bytes grow linearly with ``scale``."""
        return max(multiple, round(base * math.sqrt(self.scale) / multiple) * multiple)

    def instance(self, series_no: int, instance_no: int, series_description: str) -> Dataset:
        """Patient, study, series, equipment and SOP common modules."""
        ds = Dataset()
        ds.SOPClassUID = SOP_CLASSES[self.modality]
        ds.SOPInstanceUID = _uid(self.seed, self.k, series_no, instance_no, "sop")
        ds.StudyInstanceUID = self.study_uid
        ds.SeriesInstanceUID = self.series_uid(series_no)
        ds.PatientName = f"SYNTH^PATIENT^{self.patient:04d}"
        ds.PatientID = f"SYNTH-{self.patient:04d}"
        ds.IssuerOfPatientID = "DRKIT-SYNTH"
        ds.PatientBirthDate = ""
        ds.PatientSex = self.sex
        ds.PatientAge = f"{min(self.age, 999):03d}Y"
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.InstanceCreationDate = self.date.strftime("%Y%m%d")
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.InstanceCreationTime = self.time
        ds.AccessionNumber = self.accession
        ds.ReferringPhysicianName = ""
        ds.StudyID = f"S{self.k + 1:05d}"
        ds.StudyDescription = self.description
        ds.Modality = self.modality
        ds.SeriesNumber = series_no
        ds.SeriesDescription = series_description
        if self.body_part:
            ds.BodyPartExamined = self.body_part
        if self.laterality:
            ds.Laterality = self.laterality
        ds.InstanceNumber = instance_no
        ds.Manufacturer = self.manufacturer
        ds.ManufacturerModelName = f"SYNTH-{self.modality}-{1 + self.k % 3}"
        ds.InstitutionName = INSTITUTION
        ds.StationName = f"SYN{self.modality}01"
        ds.SoftwareVersions = f"drkit {__version__}"
        ds.DeviceSerialNumber = f"SYN-{self.modality}-0001"
        return ds


Built = Iterator[tuple[int, int, Dataset]]


def _code(code: Code) -> Dataset:
    """A Code Sequence item for a pydicom ``Code``."""
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code.value, code.scheme_designator, code.meaning
    return item


def _image(ds: Dataset, rows: int, cols: int, *, bits: int, samples: int = 1,
           photometric: str = "MONOCHROME2", frames: int | None = None, data: bytes) -> None:
    """Image Pixel module; ``data`` must be rows*cols*samples*bits/8*frames bytes."""
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if frames is not None:
        ds.NumberOfFrames = frames
    expected = rows * cols * samples * (bits // 8) * (frames or 1)
    assert len(data) == expected, (len(data), expected)
    ds.add_new(Tag(0x7FE0, 0x0010), "OW" if bits > 8 else "OB", data)
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"


def _slices(st: _Study, series_no: int, description: str, count: int, thickness: float, fov: float) -> Built:
    side = st.side(128)
    spacing = round(fov / side, 4)
    for i in range(1, count + 1):
        ds = st.instance(series_no, i, description)
        ds.FrameOfReferenceUID = st.frame_of_reference
        ds.PositionReferenceIndicator = ""
        ds.PatientPosition = "HFS"
        ds.AcquisitionNumber = 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        z = round(-i * thickness, 3)
        ds.ImagePositionPatient = [round(-fov / 2, 3), round(-fov / 2, 3), z]
        ds.SliceLocation = z
        ds.SliceThickness = thickness
        ds.PixelSpacing = [spacing, spacing]
        _image(ds, side, side, bits=16, data=st.pixels(series_no, i, side * side * 2))
        yield series_no, i, ds


def _ct(st: _Study) -> Built:
    plans = [("AXIAL 5.0 mm", 5.0)] + ([("AXIAL 2.5 mm", 2.5)] if st.rng.random() < 0.5 else [])
    for series_no, (description, thickness) in enumerate(plans, start=1):
        count = st.rng.randint(8, 20)
        for _, i, ds in _slices(st, series_no, description, count, thickness, fov=350.0):
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.KVP = 120
            ds.ConvolutionKernel = "STANDARD"
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
            ds.WindowCenter, ds.WindowWidth = 40, 400
            yield series_no, i, ds


MR_SEQUENCES = (
    ("T1 SE AX", "SE", 500.0, 10.0), ("T2 TSE AX", "SE", 4000.0, 90.0),
    ("FLAIR AX", "IR", 9000.0, 120.0), ("T2* GRE AX", "GR", 600.0, 20.0),
)


def _mr(st: _Study) -> Built:
    field_strength = st.rng.choice((1.5, 3.0))
    for series_no, (description, sequence, tr, te) in enumerate(st.rng.sample(MR_SEQUENCES, st.rng.randint(2, 3)), start=1):
        count = st.rng.randint(6, 14)
        for _, i, ds in _slices(st, series_no, description, count, thickness=4.0, fov=230.0):
            ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
            ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = sequence, "NONE", ""
            ds.MRAcquisitionType = "2D"
            ds.RepetitionTime, ds.EchoTime, ds.EchoTrainLength = tr, te, 1
            if sequence == "IR":
                ds.InversionTime = 2500.0
            ds.MagneticFieldStrength = field_strength
            ds.ImagedNucleus = "1H"
            ds.SpacingBetweenSlices = 4.0
            yield series_no, i, ds


def _projection(st: _Study, count: int, views: tuple[str, ...], base: tuple[int, int]) -> Built:
    rows, cols = st.side(base[0]), st.side(base[1])
    for i in range(1, count + 1):
        view = views[(i - 1) % len(views)]
        ds = st.instance(1, i, f"{st.body_part} {view}")
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.ViewPosition = view
        ds.PatientOrientation = ["A", "R"] if view in ("PA", "AP") else ["P", "F"]
        ds.KVP = 80
        ds.ImagerPixelSpacing = [0.15, 0.15]
        ds.AnatomicRegionSequence = Sequence([_code(REGION_CODES[st.body_part])])
        _image(ds, rows, cols, bits=16, data=st.pixels(1, i, rows * cols * 2))
        yield 1, i, ds


def _cr(st: _Study) -> Built:
    yield from _projection(st, st.rng.randint(1, 2), ("PA", "LL"), (256, 256))


def _dx(st: _Study) -> Built:
    for series_no, i, ds in _projection(st, st.rng.randint(1, 3), ("AP", "LL", "PA"), (256, 256)):
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.DetectorType = "DIRECT"
        ds.ImageLaterality = st.laterality or "U"
        if "Laterality" in ds:
            del ds.Laterality  # DX images carry Image Laterality instead of the series'
        ds.ViewCodeSequence = Sequence([_code(VIEW_CODES[ds.ViewPosition])])
        ds.PresentationLUTShape = "IDENTITY"
        ds.PositionerType = "NONE"
        ds.AcquisitionContextSequence = Sequence()
        ds.PixelIntensityRelationship, ds.PixelIntensityRelationshipSign = "LOG", 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
        ds.WindowCenter, ds.WindowWidth = 32768, 65536
        yield series_no, i, ds


MG_VIEWS = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))


def _mg(st: _Study) -> Built:
    rows, cols = st.side(256), st.side(208)
    for i, (side, view) in enumerate(MG_VIEWS, start=1):
        ds = st.instance(1, i, "SCREENING MAMMOGRAM")
        ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImageLaterality = side
        view_code = _code(VIEW_CODES[view])
        view_code.ViewModifierCodeSequence = Sequence()
        ds.ViewCodeSequence = Sequence([view_code])
        ds.OrganExposed = "BREAST"
        ds.PresentationLUTShape = "IDENTITY"
        ds.AcquisitionContextSequence = Sequence()
        ds.AnatomicRegionSequence = Sequence([_code(REGION_CODES["BREAST"])])
        ds.PatientOrientation = ["A", "R"] if side == "L" else ["P", "L"]
        ds.PositionerType = "MAMMOGRAPHIC"
        ds.DetectorType = "DIRECT"
        ds.ImagerPixelSpacing = [0.07, 0.07]
        ds.PixelIntensityRelationship, ds.PixelIntensityRelationshipSign = "LOG", 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
        ds.WindowCenter, ds.WindowWidth = 32768, 65536
        ds.BreastImplantPresent = "NO"
        ds.KVP = 29
        _image(ds, rows, cols, bits=16, data=st.pixels(1, i, rows * cols * 2))
        yield 1, i, ds


def _cine(st: _Study, ds: Dataset, frames: int, frame_time: float) -> None:
    ds.FrameTime = frame_time
    ds.FrameIncrementPointer = Tag(0x0018, 0x1063)  # Frame Time
    ds.CineRate = round(1000 / frame_time)
    ds.NumberOfFrames = frames


def _us(st: _Study) -> Built:
    rows, cols = st.side(96), st.side(128)
    views = ("PLAX", "PSAX", "A4C", "A2C")
    for i in range(1, st.rng.randint(2, 4) + 1):
        frames = st.rng.randint(10, 20)
        ds = st.instance(1, i, "ECHO CINE")
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.PatientOrientation = ""
        ds.ImageComments = views[(i - 1) % len(views)]
        ds.HeartRate = st.rng.randint(55, 95)
        _cine(st, ds, frames, frame_time=33.3)
        _image(ds, rows, cols, bits=8, frames=frames, data=st.pixels(1, i, rows * cols * frames))
        yield 1, i, ds


def _xa(st: _Study) -> Built:
    side = st.side(128)
    for series_no in range(1, st.rng.randint(1, 2) + 1):
        frames = st.rng.randint(8, 15)
        ds = st.instance(series_no, 1, f"CORONARY RUN {series_no}")
        ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
        ds.PatientOrientation = ""
        ds.PositionerMotion = "STATIC"
        ds.PositionerPrimaryAngle = st.rng.choice((-30, 0, 30))
        ds.PositionerSecondaryAngle = st.rng.choice((-20, 0, 20))
        ds.KVP, ds.XRayTubeCurrent, ds.ExposureTime = 80, 500, 6
        ds.RadiationSetting = "GR"
        ds.DistanceSourceToDetector = 1000
        ds.PixelIntensityRelationship = "LIN"
        _cine(st, ds, frames, frame_time=66.7)
        _image(ds, side, side, bits=8, frames=frames, data=st.pixels(series_no, 1, side * side * frames))
        yield series_no, 1, ds


# 12 leads in DICOM's MDC codes (CID 3001) and each lead's share of the cardiac vector.
ECG_LEADS: tuple[tuple[Code, float], ...] = (
    (codes.MDC.LeadI, 0.6), (codes.MDC.LeadII, 1.0), (codes.MDC.LeadIII, 0.4),
    (Code("2:62", "MDC", "Lead aVR"), -0.8), (Code("2:63", "MDC", "Lead aVL"), 0.2),
    (Code("2:64", "MDC", "Lead aVF"), 0.7),
    (codes.MDC.LeadV1, -0.5), (codes.MDC.LeadV2, -0.2), (codes.MDC.LeadV3, 0.4),
    (codes.MDC.LeadV4, 1.1), (codes.MDC.LeadV5, 1.0), (codes.MDC.LeadV6, 0.8),
)
ECG_RATE, ECG_SECONDS = 500, 10  # Hz; 5,000 samples a lead (the IOD allows up to 16,384)
# (phase in the beat, half-width, amplitude in uV): P, Q, R, S, T waves.
ECG_WAVES = ((0.20, 0.025, 150), (0.345, 0.008, -100), (0.37, 0.010, 1000), (0.395, 0.010, -250), (0.62, 0.045, 300))


def _ecg(st: _Study) -> Built:
    ds = st.instance(1, 1, "RESTING ECG")
    rng = st.data_rng(1, 1)
    samples = ECG_RATE * ECG_SECONDS
    beat = 60.0 / st.rng.randint(55, 95)
    base = []
    for n in range(samples):
        phase = (n / ECG_RATE % beat) / beat
        base.append(sum(a * math.exp(-((phase - c) / w) ** 2) for c, w, a in ECG_WAVES))
    values = array.array("h", [0]) * (samples * len(ECG_LEADS))
    for n, v in enumerate(base):
        for lead, (_, factor) in enumerate(ECG_LEADS):
            values[n * len(ECG_LEADS) + lead] = max(-32768, min(32767, round(v * factor + rng.gauss(0, 15))))
    if sys.byteorder != "little":
        values.byteswap()
    ds.AcquisitionDateTime = f"{ds.ContentDate}{ds.ContentTime}"
    ds.SynchronizationFrameOfReferenceUID = _uid(st.seed, st.k, "sync")
    ds.SynchronizationTrigger = "NO TRIGGER"
    ds.AcquisitionTimeSynchronized = "N"
    ds.AcquisitionContextSequence = Sequence()
    group = Dataset()
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = len(ECG_LEADS)
    group.NumberOfWaveformSamples = samples
    group.SamplingFrequency = ECG_RATE
    group.MultiplexGroupLabel = "RHYTHM"
    channels = []
    for lead, _ in ECG_LEADS:
        ch = Dataset()
        ch.ChannelLabel = lead.meaning
        ch.ChannelSourceSequence = Sequence([_code(lead)])
        ch.ChannelSensitivity = 1
        ch.ChannelSensitivityUnitsSequence = Sequence([_code(Code("uV", "UCUM", "microvolt"))])
        ch.ChannelSensitivityCorrectionFactor = 1
        ch.ChannelBaseline = 0
        ch.ChannelTimeSkew = 0
        ch.WaveformBitsStored = 16
        ch.FilterLowFrequency, ch.FilterHighFrequency, ch.NotchFilterFrequency = 0.05, 150, 50
        channels.append(ch)
    group.ChannelDefinitionSequence = Sequence(channels)
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    group.add_new(Tag(0x5400, 0x1010), "OW", values.tobytes())  # Waveform Data
    ds.WaveformSequence = Sequence([group])
    yield 1, 1, ds


SM_TILE = 128  # pixels; level 0 of each slide is 512x384 at scale 1, level 1 half that


def _sm(st: _Study) -> Built:
    for series_no in range(1, st.rng.randint(1, 2) + 1):
        container = f"SYN-S{st.k + 1:05d}-{series_no}"
        width, height = st.side(512, SM_TILE // 8), st.side(384, SM_TILE // 8)
        for level in (1, 2):
            cols, rows = max(1, width // level), max(1, height // level)
            across, down = math.ceil(cols / SM_TILE), math.ceil(rows / SM_TILE)
            frames = across * down
            ds = st.instance(series_no, level, f"SLIDE {series_no} H&E")
            spacing = 0.00025 * level  # mm per pixel (0.25 um at level 0)
            ds.ImageType = ["ORIGINAL" if level == 1 else "DERIVED", "PRIMARY", "VOLUME", "NONE" if level == 1 else "RESAMPLED"]
            ds.AcquisitionDateTime = f"{ds.ContentDate}{ds.ContentTime}"
            ds.FrameOfReferenceUID = _uid(st.seed, st.k, series_no, "slide-for")
            ds.PositionReferenceIndicator = "SLIDE_CORNER"
            ds.VolumetricProperties = "VOLUME"
            ds.SpecimenLabelInImage = "NO"
            ds.FocusMethod = "AUTO"
            ds.ExtendedDepthOfField = "NO"
            ds.ImagedVolumeWidth = round(cols * spacing, 4)
            ds.ImagedVolumeHeight = round(rows * spacing, 4)
            ds.ImagedVolumeDepth = 0.004
            ds.TotalPixelMatrixColumns, ds.TotalPixelMatrixRows = cols, rows
            ds.TotalPixelMatrixFocalPlanes = 1
            origin = Dataset()
            origin.XOffsetInSlideCoordinateSystem, origin.YOffsetInSlideCoordinateSystem = 20.0, 40.0
            ds.TotalPixelMatrixOriginSequence = Sequence([origin])
            ds.ImageOrientationSlide = [0, -1, 0, -1, 0, 0]
            ds.DimensionOrganizationType = "TILED_FULL"
            organization = Dataset()
            organization.DimensionOrganizationUID = _uid(st.seed, st.k, series_no, level, "dim")
            ds.DimensionOrganizationSequence = Sequence([organization])
            ds.NumberOfOpticalPaths = 1
            ds.ContainerIdentifier = container
            ds.IssuerOfTheContainerIdentifierSequence = Sequence()
            ds.ContainerTypeCodeSequence = Sequence([_code(codes.SCT.MicroscopeSlide)])
            specimen = Dataset()
            specimen.SpecimenIdentifier = container
            specimen.SpecimenUID = _uid(st.seed, st.k, series_no, "specimen")
            specimen.IssuerOfTheSpecimenIdentifierSequence = Sequence()
            specimen.SpecimenPreparationSequence = Sequence()
            ds.SpecimenDescriptionSequence = Sequence([specimen])
            path = Dataset()
            path.OpticalPathIdentifier = "1"
            path.IlluminationTypeCodeSequence = Sequence([_code(codes.DCM.BrightfieldIllumination)])
            path.IlluminationColorCodeSequence = Sequence([_code(codes.SCT.FullSpectrum)])
            path.ICCProfile = srgb_icc_profile()
            ds.OpticalPathSequence = Sequence([path])
            shared = Dataset()
            measures = Dataset()
            measures.PixelSpacing = [spacing, spacing]
            measures.SliceThickness = 0.004
            shared.PixelMeasuresSequence = Sequence([measures])
            frame_type = Dataset()
            frame_type.FrameType = list(ds.ImageType)
            shared.WholeSlideMicroscopyImageFrameTypeSequence = Sequence([frame_type])
            optical = Dataset()
            optical.OpticalPathIdentifier = "1"
            shared.OpticalPathIdentificationSequence = Sequence([optical])
            ds.SharedFunctionalGroupsSequence = Sequence([shared])
            ds.InstanceNumber = level
            ds.ContentQualification = "RESEARCH"
            ds.AcquisitionContextSequence = Sequence()
            tile_bytes = SM_TILE * SM_TILE * 3
            _image(ds, SM_TILE, SM_TILE, bits=8, samples=3, photometric="RGB", frames=frames,
                   data=st.pixels(series_no, level, tile_bytes * frames))
            yield series_no, level, ds


@functools.lru_cache(maxsize=1)
def srgb_icc_profile() -> bytes:
    """A minimal ICC v2 display profile (sRGB primaries, D50, gamma 2.2) for colour WSI
    (built on first use, then cached: nothing is computed at import time)."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    text = b"drkit synthetic sRGB"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text) + 1) + text + b"\0" + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0233) + bytes(2)
    tags = [
        (b"desc", desc), (b"cprt", b"text" + bytes(4) + b"No copyright, synthetic\0"),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)), (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    size = offset + len(body)
    header = (struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2020, 1, 1, 0, 0, 0) + b"acsp" + bytes(24) + struct.pack(">I", 0)
              + s15(0.9642) + s15(1.0) + s15(0.8249) + bytes(48))
    assert len(header) == 128
    return header + table + body



def _xc(st: _Study) -> Built:
    rows, cols = st.side(240), st.side(320)
    for i in range(1, st.rng.randint(1, 4) + 1):
        ds = st.instance(1, i, f"LESION {st.body_part}")
        ds.AnatomicRegionSequence = Sequence([_code(REGION_CODES[st.body_part])])
        ds.AcquisitionContextSequence = Sequence()
        ds.PatientOrientation = ""
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.AcquisitionDateTime = f"{ds.ContentDate}{ds.ContentTime}"
        _image(ds, rows, cols, bits=8, samples=3, photometric="RGB", data=st.pixels(1, i, rows * cols * 3))
        yield 1, i, ds


def _op(st: _Study) -> Built:
    side = st.side(256)
    eyes = ["R", "L"] * st.rng.randint(1, 2)
    for i, eye in enumerate(eyes, start=1):
        ds = st.instance(1, i, "FUNDUS COLOR")
        ds.ImageLaterality = eye
        ds.AnatomicRegionSequence = Sequence([_code(REGION_CODES["EYE"])])
        ds.AcquisitionDeviceTypeCodeSequence = Sequence([_code(codes.SCT.FundusCamera)])
        ds.IlluminationTypeCodeSequence = Sequence()
        ds.LightPathFilterTypeStackCodeSequence = Sequence()
        ds.ImagePathFilterTypeStackCodeSequence = Sequence()
        ds.LensesCodeSequence = Sequence()
        ds.DetectorType = "CCD"
        ds.PatientEyeMovementCommanded = "NO"
        ds.HorizontalFieldOfView = 45
        ds.RefractiveStateSequence = Sequence()
        ds.MydriaticAgentSequence = Sequence()
        ds.EmmetropicMagnification = 1.0
        ds.IntraOcularPressure = 15
        ds.PupilDilated = "YES"
        ds.DegreeOfDilation = 7.0
        ds.PatientOrientation = ""
        ds.SynchronizationFrameOfReferenceUID = _uid(st.seed, st.k, "sync")
        ds.SynchronizationTrigger = "NO TRIGGER"
        ds.AcquisitionTimeSynchronized = "N"
        ds.AcquisitionDateTime = f"{ds.ContentDate}{ds.ContentTime}"
        ds.NumberOfFrames = 1
        ds.FrameIncrementPointer = Tag(0x0018, 0x1063)
        ds.FrameTime = 0
        ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
        _image(ds, side, side, bits=8, samples=3, photometric="RGB", frames=1, data=st.pixels(1, i, side * side * 3))
        yield 1, i, ds


_BUILDERS: dict[str, Callable[[_Study], Built]] = {
    "CT": _ct, "MR": _mr, "CR": _cr, "DX": _dx, "MG": _mg, "US": _us, "XA": _xa,
    "ECG": _ecg, "SM": _sm, "XC": _xc, "OP": _op,
}
