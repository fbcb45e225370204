"""Turn ``drkit ingest PATH…`` arguments into the files to ingest.

A file is an input; a folder is walked recursively (sorted, hidden entries skipped); a
DICOMDIR (by name) is read with pydicom's FileSet and the files it references become the
inputs — the DICOMDIR itself is not an instance. Each input gets a ``source`` label
relative to the argument it came from, and each file is listed once.
"""

from __future__ import annotations

import fnmatch
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from pydicom import dcmread
from pydicom.errors import InvalidDicomError as PydicomInvalidDicomError
from pydicom.fileset import FileSet

from drills.errors import UsageError

DICOMDIR_NAME = "DICOMDIR"


@dataclass(frozen=True)
class InputFile:
    path: Path
    source: str


@dataclass
class Inputs:
    """What to ingest, plus what a DICOMDIR promised but the disk lacks."""

    files: list[InputFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)      # labels of referenced files not found
    warnings: list[str] = field(default_factory=list)
    excluded: int = 0
    exclude: tuple[str, ...] = ()
    _seen: set[Path] = field(default_factory=set, repr=False)

    def add(self, path: Path, source: str) -> None:
        if any(fnmatch.fnmatchcase(path.name, p) or fnmatch.fnmatchcase(source, p) for p in self.exclude):
            self.excluded += 1
            return
        resolved = path.resolve()
        if resolved not in self._seen:
            self._seen.add(resolved)
            self.files.append(InputFile(path, source))


def is_dicomdir(path: Path) -> bool:
    return path.name.upper() == DICOMDIR_NAME


def _label(path: Path, root: Path) -> str:
    return (Path(root.name) / path.relative_to(root)).as_posix() if root.name else path.as_posix()


def _add_dicomdir(inputs: Inputs, dicomdir: Path, *, strict: bool, label_root: Path | None = None) -> None:
    root = (label_root or dicomdir.parent).resolve()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # missing references are reported below
            dataset = dcmread(dicomdir)
            fileset = FileSet(dataset)
        present = [Path(instance.path) for instance in fileset]
        records = dataset.get("DirectoryRecordSequence", [])
        referenced = [_file_id_path(dicomdir.parent, r.ReferencedFileID) for r in records if "ReferencedFileID" in r]
    except (PydicomInvalidDicomError, ValueError, KeyError, AttributeError, TypeError, OSError) as exc:
        message = f"{dicomdir}: not a readable DICOMDIR ({type(exc).__name__}: {exc})"
        if strict:
            raise UsageError(message) from exc
        inputs.warnings.append(message + "; its folder is still walked")
        return
    for path in present:
        inputs.add(path, _label_under(path, root))
    found = {p.resolve() for p in present}
    for path in referenced:
        if path.resolve() not in found and not path.is_file():
            inputs.missing.append(_label_under(path, root))


def _file_id_path(base: Path, file_id: object) -> Path:
    """A Referenced File ID (one or more CS components) as a path under the DICOMDIR's folder."""
    parts = [file_id] if isinstance(file_id, str) else list(file_id)
    return base.joinpath(*[str(p) for p in parts])


def _label_under(path: Path, root: Path) -> str:
    resolved = path.resolve()
    return _label(resolved, root) if resolved.is_relative_to(root) else path.name


def _walk(inputs: Inputs, folder: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if is_dicomdir(path):
                _add_dicomdir(inputs, path, strict=False, label_root=folder)
            elif path.is_file():
                inputs.add(path, _label(path, folder))


def collect(paths: Iterable[Path], exclude: Iterable[str] = ()) -> Inputs:
    """The inputs named by ``paths``; UsageError naming the first path that does not exist.
    Files whose name or label matches an ``exclude`` glob are left out (and counted)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("give at least one PATH (a DICOM file, a folder or a DICOMDIR)")
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
    inputs = Inputs(exclude=tuple(exclude))
    for path in paths:
        if path.is_dir():
            _walk(inputs, path)
        elif is_dicomdir(path):
            _add_dicomdir(inputs, path, strict=True)
        else:
            inputs.add(path, path.name)
    return inputs
