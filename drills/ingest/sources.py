"""Turn ``drkit ingest PATH…`` arguments into the files to ingest — and account for
every other entry met on the way.

A regular file is an input; a folder is walked recursively (sorted); a DICOMDIR (by name)
is read with pydicom's FileSet and the files it references become the inputs — the
DICOMDIR itself is not an instance. Each input gets a ``source`` label relative to the
argument it came from, and each file is listed once.

Nothing the walk meets is dropped silently. Every entry that does not become an input is
recorded in ``Inputs.skipped`` with its reason:

- *skipped* (by choice, exit 0): hidden entries (``include_hidden`` to ingest them),
  symlinked folders (``follow_symlinks`` to walk them), symlink loops, files listed already,
  ``--exclude`` matches, drkit's own synth manifest;
- *refused* (exit 2): broken symlinks, FIFOs, sockets and devices (never opened: reading a
  FIFO blocks forever), folders that cannot be listed.

Labels are escaped for printing (``printable``): control characters in a file name never
reach a terminal raw.
"""

from __future__ import annotations

import fnmatch
import json
import os
import stat
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from pydicom import dcmread
from pydicom.errors import InvalidDicomError as PydicomInvalidDicomError
from pydicom.fileset import FileSet

from drills.errors import UsageError
from drills.ingest.paths import not_regular, printable
from drills.contracts import SYNTH_GENERATOR as GENERATOR, SYNTH_MANIFEST_NAME as MANIFEST_NAME

DICOMDIR_NAME = "DICOMDIR"
_DICOMDIR_ERRORS = (PydicomInvalidDicomError, ValueError, KeyError, AttributeError, TypeError, OSError,
                    IndexError, NotImplementedError, RecursionError, struct.error)
MANIFEST_SNIFF = 4096          # bytes read to recognise drkit's own manifest


@dataclass(frozen=True)
class InputFile:
    path: Path
    source: str


@dataclass(frozen=True)
class Skipped:
    """An entry the walk met that is not an input. ``refused``: it could not be ingested
    (an input problem, exit 2); otherwise it was left out on purpose (exit 0)."""

    source: str
    reason: str
    refused: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"source": printable(self.source), "reason": self.reason, "refused": self.refused}


@dataclass
class Inputs:
    """What to ingest, what was left out (and why), and what a DICOMDIR promised but the disk lacks."""

    files: list[InputFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)      # labels of referenced files not found
    warnings: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    exclude: tuple[str, ...] = ()
    include_hidden: bool = False
    follow_symlinks: bool = False
    _seen: dict[Path, str] = field(default_factory=dict, repr=False)

    @property
    def excluded(self) -> int:
        return sum(1 for s in self.skipped if s.reason == EXCLUDED)

    @property
    def refused(self) -> list[Skipped]:
        return [s for s in self.skipped if s.refused]

    def skip(self, source: str, reason: str, *, refused: bool = False) -> None:
        self.skipped.append(Skipped(source, reason, refused))

    def add(self, path: Path, source: str) -> None:
        if any(fnmatch.fnmatchcase(path.name, p) or fnmatch.fnmatchcase(source, p) for p in self.exclude):
            self.skip(source, EXCLUDED)
            return
        resolved = path.resolve()
        first = self._seen.get(resolved)
        if first == source:        # one entry reached twice (a DICOMDIR, then the folder walk)
            return
        if first is not None:
            self.skip(source, f"the same file as {printable(first)}, listed already")
            return
        self._seen[resolved] = source
        self.files.append(InputFile(path, source))


EXCLUDED = "matches --exclude"
HIDDEN = "hidden (use --include-hidden to ingest it)"
SYMLINKED_FOLDER = "symlinked folder not followed (use --follow-symlinks)"
SYMLINK_LOOP = "symlink loop: the folder it points to is being walked already"
FOLDER_WALKED = "symlinked folder walked already"
BROKEN_SYMLINK = "broken symlink: its target does not exist"
SYNTH_MANIFEST = "drkit synth manifest (not DICOM)"
DICOMDIR_READ = "DICOMDIR read: the files it references are the inputs"


def is_dicomdir(path: Path) -> bool:
    return path.name.upper() == DICOMDIR_NAME


def is_synth_manifest(path: Path) -> bool:
    """Is ``path`` the manifest ``drkit synth`` writes beside its instances?"""
    if path.name != MANIFEST_NAME:
        return False
    try:
        with path.open("rb") as fp:
            head = fp.read(MANIFEST_SNIFF)
    except OSError:
        return False
    if not head.lstrip().startswith(b"{"):
        return False
    try:
        return json.loads(path.read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _label(path: Path, root: Path) -> str:
    return (Path(root.name) / path.relative_to(root)).as_posix() if root.name else path.as_posix()


def _add_dicomdir(inputs: Inputs, dicomdir: Path, *, strict: bool, label_root: Path | None = None) -> None:
    root = (label_root or dicomdir.parent).resolve()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # missing references are reported below
            dataset = dcmread(dicomdir)
            _check_is_dicomdir(dataset)
            fileset = FileSet(dataset)
        present = [Path(instance.path) for instance in fileset]
        records = dataset.get("DirectoryRecordSequence", [])
        referenced = [_file_id_path(dicomdir.parent, r.ReferencedFileID) for r in records if "ReferencedFileID" in r]
    except _DICOMDIR_ERRORS as exc:    # pydicom meets a corrupt DICOMDIR with many exception types
        message = f"{printable(str(dicomdir))}: not a readable DICOMDIR ({type(exc).__name__})"
        if strict:
            raise UsageError(message) from exc
        inputs.warnings.append(message + "; its folder is still walked")
        inputs.skip(_label_under(dicomdir, root), "not a readable DICOMDIR", refused=True)
        return
    inputs.skip(_label_under(dicomdir, root), DICOMDIR_READ)
    for path in present:
        inputs.add(path, _label_under(path, root))
    found = {p.resolve() for p in present}
    for path in referenced:
        if path.resolve() not in found and not path.is_file():
            inputs.missing.append(_label_under(path, root))


MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"


def _check_is_dicomdir(dataset) -> None:
    """pydicom reads garbage after ``DICM`` as an empty file-set: require what PS3.10 does."""
    sop_class = str(dataset.get("file_meta", {}).get("MediaStorageSOPClassUID", ""))
    if sop_class != MEDIA_STORAGE_DIRECTORY:
        raise ValueError("not a Media Storage Directory (no DICOMDIR SOP class in the File Meta group)")
    if "DirectoryRecordSequence" not in dataset:
        raise ValueError("no Directory Record Sequence (truncated?)")


def _file_id_path(base: Path, file_id: object) -> Path:
    """A Referenced File ID (one or more CS components) as a path under the DICOMDIR's folder."""
    parts = [file_id] if isinstance(file_id, str) else list(file_id)
    return base.joinpath(*[str(p) for p in parts])


def _label_under(path: Path, root: Path) -> str:
    resolved = path.resolve()
    return _label(resolved, root) if resolved.is_relative_to(root) else path.name


def _walk(inputs: Inputs, folder: Path, root: Path, ancestors: frozenset[tuple[int, int]],
          walked: set[tuple[int, int]]) -> None:
    """Walk ``folder`` (labels relative to ``root``); ``ancestors`` are the folders being
    walked (a symlink to one is a loop), ``walked`` every folder walked so far."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        inputs.skip(_label(folder, root) if folder != root else root.as_posix(),
                    f"folder cannot be listed ({exc.strerror or exc})", refused=True)
        return
    for entry in entries:
        path = Path(entry.path)
        label = _label(path, root)
        if entry.name.startswith(".") and not inputs.include_hidden:
            inputs.skip(label, HIDDEN)
            continue
        try:
            lmode = entry.stat(follow_symlinks=False).st_mode
        except OSError as exc:
            inputs.skip(label, f"cannot be examined ({exc.strerror or exc})", refused=True)
            continue
        if stat.S_ISLNK(lmode):
            try:
                st = os.stat(path)
            except OSError as exc:
                if exc.errno == 40:        # ELOOP: a symlink chain that never ends
                    inputs.skip(label, "symlink loop: the link never resolves", refused=True)
                else:
                    inputs.skip(label, BROKEN_SYMLINK, refused=True)
                continue
            if stat.S_ISDIR(st.st_mode):
                identity = (st.st_dev, st.st_ino)
                if not inputs.follow_symlinks:
                    inputs.skip(label, SYMLINKED_FOLDER)
                elif identity in ancestors:
                    inputs.skip(label, SYMLINK_LOOP)
                elif identity in walked:
                    inputs.skip(label, FOLDER_WALKED)
                else:
                    walked.add(identity)
                    _walk(inputs, path, root, ancestors | {identity}, walked)
                continue
            mode = st.st_mode
        else:
            mode = lmode
        if stat.S_ISDIR(mode):
            st = entry.stat(follow_symlinks=False)
            identity = (st.st_dev, st.st_ino)
            walked.add(identity)
            _walk(inputs, path, root, ancestors | {identity}, walked)
        elif not stat.S_ISREG(mode):
            inputs.skip(label, not_regular(mode), refused=True)
        elif is_dicomdir(path):
            _add_dicomdir(inputs, path, strict=False, label_root=root)
        elif is_synth_manifest(path):
            inputs.skip(label, SYNTH_MANIFEST)
        else:
            inputs.add(path, label)


def collect(paths: Iterable[Path], exclude: Iterable[str] = (), *, include_hidden: bool = False,
            follow_symlinks: bool = False) -> Inputs:
    """The inputs named by ``paths``; UsageError naming the first path that does not exist.
    Files whose name or label matches an ``exclude`` glob are left out (and counted); every
    other entry that is not an input is in ``skipped`` with its reason."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("give at least one PATH (a DICOM file, a folder or a DICOMDIR)")
    for path in paths:
        if not path.exists():
            kind = "broken symlink" if path.is_symlink() else "no such file or directory"
            raise UsageError(f"{printable(str(path))}: {kind}")
    inputs = Inputs(exclude=tuple(exclude), include_hidden=include_hidden, follow_symlinks=follow_symlinks)
    for path in paths:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            st = os.stat(path)
            identity = (st.st_dev, st.st_ino)
            _walk(inputs, path, path, frozenset({identity}), {identity})
        elif not stat.S_ISREG(mode):
            inputs.skip(path.name or str(path), not_regular(mode), refused=True)
        elif is_dicomdir(path):
            _add_dicomdir(inputs, path, strict=True)
        else:
            inputs.add(path, path.name)
    if not inputs.files:
        inputs.warnings.append("nothing to ingest: no DICOM input found in " + ", ".join(
            printable(str(p)) for p in paths) + (f" ({len(inputs.skipped)} entries skipped, listed below)"
                                                if inputs.skipped else " (empty)"))
    return inputs
