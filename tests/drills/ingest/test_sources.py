"""Files, folders and DICOMDIR file sets become inputs with labels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drills.errors import UsageError
from drills.ingest.paths import printable
from drills.ingest.sources import (
    BROKEN_SYMLINK, HIDDEN, SYMLINK_LOOP, SYMLINKED_FOLDER, SYNTH_MANIFEST, collect,
)

from .conftest import build_dataset, to_bytes, write_fileset


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


def _reasons(inputs) -> dict[str, str]:
    return {s.source: s.reason for s in inputs.skipped}


def test_every_entry_the_walk_meets_is_an_input_or_skipped_with_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "set"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.dcm").write_bytes(to_bytes(build_dataset()))
    (root / ".hidden.dcm").write_bytes(to_bytes(build_dataset()))
    (root / ".cache").mkdir()
    (root / ".cache" / "x.dcm").write_bytes(b"x")
    (root / "linked").symlink_to(root / "sub", target_is_directory=True)
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "broken").symlink_to(tmp_path / "nowhere")
    os.mkfifo(root / "fifo.dcm")
    inputs = collect([root])
    assert [f.source for f in inputs.files] == ["set/sub/a.dcm"]
    reasons = _reasons(inputs)
    assert reasons == {
        "set/.cache": HIDDEN, "set/.hidden.dcm": HIDDEN, "set/linked": SYMLINKED_FOLDER,
        "set/sub/loop": SYMLINKED_FOLDER, "set/broken": BROKEN_SYMLINK,
        "set/fifo.dcm": "a FIFO, not a regular file: not opened",
    }
    assert {s.source for s in inputs.refused} == {"set/broken", "set/fifo.dcm"}


def test_opt_ins_follow_symlinks_detect_loops_and_include_hidden(tmp_path: Path) -> None:
    root = tmp_path / "set"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.dcm").write_bytes(to_bytes(build_dataset()))
    (root / ".hidden.dcm").write_bytes(to_bytes(build_dataset()))
    (root / "linked").symlink_to(root / "sub", target_is_directory=True)
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    inputs = collect([root], include_hidden=True, follow_symlinks=True)
    assert [f.source for f in inputs.files] == ["set/.hidden.dcm", "set/linked/a.dcm"]   # sorted walk
    assert _reasons(inputs) == {"set/linked/loop": SYMLINK_LOOP, "set/sub/loop": SYMLINK_LOOP,
                                "set/sub/a.dcm": "the same file as set/linked/a.dcm, listed already"}
    assert not inputs.refused


def test_a_fifo_named_on_the_command_line_is_refused_without_opening_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    inputs = collect([tmp_path / "pipe"])      # opening a FIFO to read would block forever
    assert not inputs.files
    assert [(s.source, s.refused) for s in inputs.skipped] == [("pipe", True)]


def test_the_same_file_twice_is_reported_and_an_empty_input_warns(tmp_path: Path) -> None:
    (tmp_path / "a.dcm").write_bytes(b"x")
    (tmp_path / "b.dcm").symlink_to(tmp_path / "a.dcm")
    inputs = collect([tmp_path / "a.dcm", tmp_path / "b.dcm", tmp_path / "a.dcm"])
    assert len(inputs.files) == 1
    assert [(s.source, s.reason) for s in inputs.skipped] == [("b.dcm", "the same file as a.dcm, listed already")]
    (tmp_path / "empty").mkdir()
    empty = collect([tmp_path / "empty"])
    assert not empty.files and any("nothing to ingest" in w for w in empty.warnings)


def test_drkit_synth_manifest_is_recognised_not_ingested(tmp_path: Path) -> None:
    from drills.synth.dataset import generate
    generate(tmp_path / "set", studies=1, seed=3, scale=0.05)
    inputs = collect([tmp_path / "set"])
    assert _reasons(inputs) == {"set/manifest.json": SYNTH_MANIFEST}
    assert all(f.path.name != "manifest.json" for f in inputs.files)
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text('{"generator": "someone else"}')
    assert [f.source for f in collect([other]).files] == ["other/manifest.json"]


def test_control_characters_in_names_are_escaped() -> None:
    assert printable("a\nb\x1b[31m.dcm") == "a\\nb\\x1b[31m.dcm"
    assert printable("plain/ok é.dcm") == "plain/ok é.dcm"
