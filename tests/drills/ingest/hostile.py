"""A hostile corpus: valid instances mixed with everything a careless or malicious folder
holds, each planted entry with the outcome ``drkit ingest`` must report for it.

``build(root)`` returns a ``Corpus``: ``expected[label]`` is an ``Expect`` (the outcomes it
may have and, for quarantine/skip/refusal, the reason), and ``groups`` are sets of labels
holding one instance under several names (exactly one of them is archived, the others are
duplicates — or conflicts, for different bytes).
"""

from __future__ import annotations

import copy
import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.fileset import FileSet
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, UID, generate_uid

from drills.ingest.sources import BROKEN_SYMLINK, DICOMDIR_READ, HIDDEN, SYMLINKED_FOLDER, SYNTH_MANIFEST

from .conftest import _bare_dataset, build_dataset, deflate_bomb, to_bytes

SPARSE_BYTES = 200 * 1024 * 1024
TRUNCATION_OFFSETS = (1, 64, 128, 131, 140, 200, 300, 420, 500, -300, -2)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)


@dataclass(frozen=True)
class Expect:
    outcomes: frozenset[str]              # archived duplicate conflict quarantined skipped refused missing
    reason: str | None = None             # quarantine reason code, or skip/refusal reason (a substring)


@dataclass
class Corpus:
    root: Path
    expected: dict[str, Expect] = field(default_factory=dict)
    groups: list[tuple[str, list[str]]] = field(default_factory=list)   # ("duplicate"|"conflict", labels)

    def plant(self, relative: str, data: bytes | None, *outcomes: str, reason: str | None = None) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        self.expected[f"{self.root.name}/{relative}"] = Expect(frozenset(outcomes), reason)
        return path


def _with_uid(ds: Dataset, name: str, value: str) -> bytes:
    """``ds`` with a UID element set to a raw value (even invalid), encoded explicit VR LE."""
    changed = copy.deepcopy(ds)
    setattr(changed, name, "1.2")
    data = to_bytes(changed)
    element = {"StudyInstanceUID": (0x0020, 0x000D), "SOPInstanceUID": (0x0008, 0x0018)}[name]
    old = struct.pack("<HH2sH", *element, b"UI", 4) + b"1.2\0"
    raw = value.encode("latin-1")
    raw += b"\0" * (len(raw) % 2)
    assert data.count(old) == 1
    return data.replace(old, struct.pack("<HH2sH", *element, b"UI", len(raw)) + raw)


def build(root: Path) -> Corpus:
    corpus = Corpus(root)
    root.mkdir(parents=True)
    plant = corpus.plant

    # valid instances, one with a multi-megabyte private header value
    for i in range(3):
        plant(f"valid/{i}.dcm", to_bytes(build_dataset()), "archived")
    big = build_dataset()
    big.add_new((0x0029, 0x0010), "LO", "HOSTILE")
    big.add_new((0x0029, 0x1010), "OB", bytes(6 * 1024 * 1024))
    plant("valid/huge-header-value.dcm", to_bytes(big), "archived")
    plant("valid/name\nwith\x1bcontrol.dcm", to_bytes(build_dataset()), "archived")

    # duplicates under several names; the same instance in another encoding too
    same = build_dataset()
    names = ["dups/a.dcm", "dups/copy/b.dcm", "dups/c.DCM"]
    for name in names:
        plant(name, to_bytes(same), "archived", "duplicate")
    implicit = copy.deepcopy(same)
    implicit.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    plant("dups/implicit.dcm", to_bytes(implicit), "archived", "duplicate")
    corpus.groups.append(("duplicate", [f"{root.name}/{n}" for n in names + ["dups/implicit.dcm"]]))

    # conflicts: one SOP Instance UID, different contents; and one UID claimed by another study
    base = build_dataset()
    conflicts = []
    for i, date in enumerate(("20240101", "20240202", "20240303")):
        changed = copy.deepcopy(base)
        changed.StudyDate = date
        conflicts.append(f"conflicts/v{i}.dcm")
        plant(conflicts[-1], to_bytes(changed), "archived", "conflict")
    corpus.groups.append(("conflict", [f"{root.name}/{n}" for n in conflicts]))
    first = build_dataset()
    plant("conflicts/study-a.dcm", to_bytes(first), "archived", "conflict")
    plant("conflicts/study-b.dcm", to_bytes(build_dataset(SOPInstanceUID=first.SOPInstanceUID)), "archived", "conflict")
    corpus.groups.append(("conflict", [f"{root.name}/conflicts/study-a.dcm", f"{root.name}/conflicts/study-b.dcm"]))

    # truncations of a valid instance at many offsets
    valid = to_bytes(build_dataset())
    for offset in TRUNCATION_OFFSETS:
        plant(f"truncated/at{offset}.dcm", valid[:offset], "quarantined")
    plant("truncated/empty.dcm", b"", "quarantined", reason="not-dicom")

    # bad UIDs, transfer syntaxes and formats
    ds = build_dataset()
    plant("bad/invalid-uid.dcm", _with_uid(ds, "StudyInstanceUID", "1.2.03.4"), "quarantined", reason="invalid-uid")
    plant("bad/oversized-uid.dcm", _with_uid(ds, "StudyInstanceUID", "1." + "2" * 90), "quarantined",
          reason="invalid-uid")
    plant("bad/path-traversal-uid.dcm", _with_uid(ds, "SOPInstanceUID", "../../../etc/passwd"), "quarantined",
          reason="invalid-uid")
    plant("bad/unknown-ts.dcm", to_bytes(build_dataset(UID("1.2.3.4.5.6.7.8.9.1999"))), "quarantined",
          reason="unreadable-transfer-syntax")
    plant("bad/bare-dataset.dcm", _bare_dataset(), "quarantined", reason="missing-file-meta")
    plant("bad/image.png.dcm", PNG, "quarantined", reason="not-dicom")
    plant("bad/evil\x1b[31mname\n.dcm", PNG + b"evil", "quarantined", reason="not-dicom")
    plant("bad/deflate-bomb.dcm", deflate_bomb(80 * 1024 * 1024), "quarantined", reason="inflated-too-large")
    sparse = plant("bad/sparse-200MB.dcm", None, "quarantined", reason="not-dicom")
    with sparse.open("wb") as fp:
        fp.truncate(SPARSE_BYTES)

    # DICOMDIRs: corrupt, and one pointing at a file that is gone
    plant("media-corrupt/DICOMDIR", b"\0" * 128 + b"DICM" + b"\xff" * 64, "refused", reason="not a readable DICOMDIR")
    plant("media-truncated/DICOMDIR", None, "refused", reason="not a readable DICOMDIR")
    fileset = FileSet()
    fileset.add(build_dataset(StudyTime="101010", StudyID="1", SeriesNumber=1, InstanceNumber=1))
    fileset.add(build_dataset(StudyTime="101010", StudyID="1", SeriesNumber=1, InstanceNumber=2))
    fileset.write(root / "media")
    whole = (root / "media" / "DICOMDIR").read_bytes()
    (root / "media-truncated" / "DICOMDIR").write_bytes(whole[:300])
    instances = sorted(p for p in (root / "media").rglob("*") if p.is_file() and p.name != "DICOMDIR")
    corpus.expected[f"{root.name}/media/DICOMDIR"] = Expect(frozenset({"skipped"}), DICOMDIR_READ)
    gone, kept = instances
    gone.unlink()
    corpus.expected[f"{root.name}/{gone.relative_to(root).as_posix()}"] = Expect(frozenset({"missing"}))
    corpus.expected[f"{root.name}/{kept.relative_to(root).as_posix()}"] = Expect(frozenset({"archived"}))

    # entries that are not inputs
    plant(".hidden.dcm", to_bytes(build_dataset()), "skipped", reason=HIDDEN)
    plant(".hidden-folder/x.dcm", to_bytes(build_dataset()), "skipped", reason=HIDDEN)
    del corpus.expected[f"{root.name}/.hidden-folder/x.dcm"]
    corpus.expected[f"{root.name}/.hidden-folder"] = Expect(frozenset({"skipped"}), HIDDEN)
    os.symlink(root / "valid", root / "linked-folder", target_is_directory=True)
    corpus.expected[f"{root.name}/linked-folder"] = Expect(frozenset({"skipped"}), SYMLINKED_FOLDER)
    os.symlink(root, root / "valid" / "loop", target_is_directory=True)
    corpus.expected[f"{root.name}/valid/loop"] = Expect(frozenset({"skipped"}), SYMLINKED_FOLDER)
    os.symlink(root / "self-link", root / "self-link")
    corpus.expected[f"{root.name}/self-link"] = Expect(frozenset({"refused"}), "symlink loop")
    os.symlink(root / "nowhere.dcm", root / "broken.dcm")
    corpus.expected[f"{root.name}/broken.dcm"] = Expect(frozenset({"refused"}), BROKEN_SYMLINK)
    os.mkfifo(root / "fifo.dcm")
    corpus.expected[f"{root.name}/fifo.dcm"] = Expect(frozenset({"refused"}), "a FIFO")
    manifest = '{"generator": "drkit synth", "manifestVersion": 1, "instances": []}'
    plant("manifest.json", manifest.encode(), "skipped", reason=SYNTH_MANIFEST)
    return corpus
