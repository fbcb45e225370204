"""The ingest function's deployment package: exactly what ``drills.ingest.handler`` imports.

``pulumi up`` must produce a Lambda that runs, so the zip holds the handler's import
closure within drkit (found by reading the sources' imports, not by guessing) plus the
pure-Python third-party packages it needs that the Lambda Python runtime lacks (pydicom,
with its dist-info: pydicom reads its own version from it). boto3, botocore and their
dependencies come with the runtime. A third-party import that is neither bundled nor
provided fails the build, naming the module, instead of failing in AWS at the first event.

The zip is deterministic — files in sorted order, fixed timestamps (1980-01-01) and
permissions (0644), no bytecode caches — so the same sources give the same bytes on every
build and the function is not redeployed for nothing. ``drkit:ingest.layerArns`` stays
optional (extra layers are attached, none is required).
"""

from __future__ import annotations

import ast
import functools
import gc
import hashlib
import importlib.metadata
import importlib.util
import io
import sys
import tempfile
import zipfile
from pathlib import Path

from drills.errors import InfraError

HANDLER_MODULE = "drills.ingest.handler"
FIRST_PARTY = "drills"
# Third-party packages the Lambda Python runtime provides (boto3 and its dependencies).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"})
# Pure-Python distributions shipped inside the zip: distribution name -> top-level package.
BUNDLED = {"pydicom": "pydicom"}
# Inside bundled packages: test data pydicom carries for its own test suite (3 MB), never read at run time.
EXCLUDED_DIRS = frozenset({"__pycache__", "test_files"})
EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo"})
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644


def source_root() -> Path:
    """The directory holding the ``drills`` package this process runs."""
    spec = importlib.util.find_spec(FIRST_PARTY)
    if spec is None or not spec.submodule_search_locations:
        raise InfraError("cannot locate the drills package to build the ingest function")
    return Path(list(spec.submodule_search_locations)[0]).resolve().parent


def parse_python(path: Path) -> ast.Module:
    """``ast.parse`` of a source file, with the garbage collector paused: CPython 3.11 before
    3.11.8 raises "AST constructor recursion depth mismatch" when a collection runs Python
    finalizers (an unretrieved asyncio future logging, say) in the middle of the conversion
    (CPython gh-106905)."""
    source = path.read_text(encoding="utf-8")
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source, filename=str(path))
    finally:
        if enabled:
            gc.enable()


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def import_closure(root: Path, module: str = HANDLER_MODULE) -> tuple[list[str], set[str]]:
    """(the first-party modules ``module`` needs, sorted; the third-party top-level names it imports).

    Every import statement counts, wherever it is (a function-level import runs too).
    Parent packages are included (``drills/__init__.py`` runs before ``drills.ingest``)."""
    seen: set[str] = set()
    third_party: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(root, name)
        if path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(parse_python(path)):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: max(0, len(package.split(".")) - node.level + 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                imported = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in imported:
                top = target.split(".")[0]
                if top == FIRST_PARTY:
                    if _module_file(root, target) is not None:
                        todo.append(target)
                elif top and top not in sys.stdlib_module_names and top != "__future__":
                    third_party.add(top)
    return sorted(seen), third_party


def package_files(root: Path | None = None) -> list[tuple[str, Path]]:
    """(name in the zip, file on disk) for every file of the package, sorted by name."""
    root = root or source_root()
    modules, third_party = import_closure(root)
    unknown = sorted(third_party - RUNTIME_PROVIDED - set(BUNDLED.values()))
    if unknown:
        raise InfraError(f"the ingest function imports {', '.join(unknown)}, which the Lambda runtime does not "
                         f"provide and drkit does not bundle",
                         hint="add the distribution to drills.ingest.package.BUNDLED (pure Python only)")
    files: dict[str, Path] = {}
    for module in modules:
        path = _module_file(root, module)
        assert path is not None
        files[path.relative_to(root).as_posix()] = path
    for distribution, top in sorted(BUNDLED.items()):
        files.update(_distribution_files(distribution, top))
    return sorted(files.items())


def _distribution_files(distribution: str, top: str) -> dict[str, Path]:
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        raise InfraError(f"{distribution} is not installed: the ingest function bundles it")
    package_dir = Path(list(spec.submodule_search_locations)[0]).resolve()
    site = package_dir.parent
    files: dict[str, Path] = {}
    for path in package_dir.rglob("*"):
        rel = path.relative_to(site)
        if path.is_file() and not EXCLUDED_DIRS & set(rel.parts) and path.suffix not in EXCLUDED_SUFFIXES:
            if path.suffix in (".so", ".pyd", ".dylib"):
                raise InfraError(f"{distribution} ships a native extension ({rel}); the zip bundles pure Python only")
            files[rel.as_posix()] = path
    dist = importlib.metadata.distribution(distribution)
    for entry in dist.files or []:
        located = Path(str(dist.locate_file(entry))).resolve()
        rel_text = entry.as_posix() if hasattr(entry, "as_posix") else str(entry)
        if ".dist-info/" in rel_text and Path(rel_text).name not in ("RECORD", "INSTALLER", "REQUESTED") \
                and located.is_file():
            files[rel_text] = located
    return files


def build(root: Path | None = None) -> bytes:
    """The deterministic zip of the ingest function."""
    return _build(root or source_root())


@functools.lru_cache(maxsize=4)
def _build(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in package_files(root):
            archive.writestr(zip_info(name), path.read_bytes())
    return buffer.getvalue()


def zip_info(name: str) -> zipfile.ZipInfo:
    """A zip entry with the fixed timestamp and permissions every drkit-built zip uses."""
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3                     # unix, so the permission bits are read
    info.external_attr = (0o100000 | FILE_MODE) << 16
    return info


def write(directory: Path | None = None, root: Path | None = None) -> Path:
    """Write the zip as ``ingest-function-<sha256 prefix>.zip`` (see ``store``)."""
    return store(build(root), "ingest-function", directory)


def store(data: bytes, stem: str, directory: Path | None = None) -> Path:
    """Write a function zip as ``<stem>-<sha256 prefix>.zip`` in ``directory`` (default: a drkit
    folder in the temporary directory) unless that exact file exists; return its path. The name
    follows the content, so an unchanged package is the same file (no perpetual redeploy)."""
    directory = Path(directory) if directory is not None else Path(tempfile.gettempdir()) / "drkit-build"
    path = directory / f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}.zip"
    if not (path.is_file() and path.read_bytes() == data):
        directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".zip.partial")
        partial.write_bytes(data)
        partial.replace(path)
    return path
