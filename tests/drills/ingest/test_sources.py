"""Files, folders and DICOMDIR file sets become inputs with labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.fileset import FileSet

from drills.errors import UsageError
from drills.ingest.sources import collect

from .conftest import build_dataset, to_bytes


def write_fileset(root: Path, count: int = 3) -> Path:
    """A DICOM File-set written by pydicom: DICOMDIR plus ``count`` instances."""
    fileset = FileSet()
    for i in range(count):
        fileset.add(build_dataset(StudyTime="101010", StudyID="1", SeriesNumber=1, InstanceNumber=i + 1))
    fileset.write(root)
    return root / "DICOMDIR"


def test_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "study" / "series").mkdir(parents=True)
    (tmp_path / "study" / "series" / "b.dcm").write_bytes(to_bytes(build_dataset()))
    (tmp_path / "study" / "a.dcm").write_bytes(to_bytes(build_dataset()))
    (tmp_path / "study" / ".hidden").write_bytes(b"x")
    single = tmp_path / "single.dcm"
    single.write_bytes(b"not even dicom")
    inputs = collect([tmp_path / "study", single, tmp_path / "study" / "a.dcm"])
    assert [f.source for f in inputs.files] == ["study/a.dcm", "study/series/b.dcm", "single.dcm"]
    assert not inputs.missing


def test_missing_path_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no-such-dir: no such file or directory"):
        collect([tmp_path, tmp_path / "no-such-dir"])
    with pytest.raises(UsageError, match="at least one PATH"):
        collect([])


def test_dicomdir_yields_referenced_files_not_itself(tmp_path: Path) -> None:
    dicomdir = write_fileset(tmp_path / "media")
    inputs = collect([dicomdir])
    assert len(inputs.files) == 3
    assert all(f.path.name.startswith("IM") for f in inputs.files)
    assert all(f.source.startswith("media/PT") for f in inputs.files)


def test_folder_holding_a_dicomdir_lists_each_file_once(tmp_path: Path) -> None:
    write_fileset(tmp_path / "media")
    inputs = collect([tmp_path / "media", tmp_path / "media" / "DICOMDIR"])
    assert len(inputs.files) == 3
    assert len({f.path.resolve() for f in inputs.files}) == 3
    assert all(f.source.startswith("media/") for f in inputs.files)


def test_dicomdir_reference_missing_on_disk_is_reported(tmp_path: Path) -> None:
    dicomdir = write_fileset(tmp_path / "media")
    first = sorted((tmp_path / "media").rglob("IM*"))[0]
    first.unlink()
    inputs = collect([dicomdir])
    assert len(inputs.files) == 2
    assert len(inputs.missing) == 1 and inputs.missing[0].endswith(first.name)


def test_unreadable_dicomdir(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "DICOMDIR").write_bytes(b"garbage")
    (tmp_path / "media" / "x.dcm").write_bytes(b"also garbage")
    with pytest.raises(UsageError, match="not a readable DICOMDIR"):
        collect([tmp_path / "media" / "DICOMDIR"])
    walked = collect([tmp_path / "media"])          # in a folder walk: a warning, files still listed
    assert [f.source for f in walked.files] == ["media/x.dcm"]
    assert walked.warnings and "DICOMDIR" in walked.warnings[0]


def test_exclude_globs_match_names_and_labels(tmp_path: Path) -> None:
    (tmp_path / "set" / "keep").mkdir(parents=True)
    for name in ("manifest.json", "keep/a.dcm", "keep/b.dcm"):
        (tmp_path / "set" / name).write_bytes(b"x")
    inputs = collect([tmp_path / "set"], exclude=["manifest.json", "set/keep/b.*"])
    assert [f.source for f in inputs.files] == ["set/keep/a.dcm"]
    assert inputs.excluded == 2
