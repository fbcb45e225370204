"""The DICOMweb function's deployment zip: the handler's import closure within drkit plus
the pure-Python distributions it needs that the Lambda Python runtime lacks. Deterministic
(fixed timestamps and modes, sorted), like the ingest function's (drills.ingest.package).
"""

from __future__ import annotations

import functools
import importlib.metadata
import io
import zipfile
from pathlib import Path

from drills.errors import InfraError
from drills.ingest.package import (EXCLUDED_DIRS, EXCLUDED_SUFFIXES, RUNTIME_PROVIDED, import_closure, store,
                                   source_root, zip_info)

HANDLER_MODULE = "drills.dicomweb.lambda_handler"
# distribution -> the top-level names the handler's closure imports from it (or that a bundled
# distribution needs at run time: starlette -> anyio -> idna, typing_extensions)
BUNDLED: dict[str, tuple[str, ...]] = {
    "pydicom": ("pydicom",), "starlette": ("starlette",), "anyio": ("anyio",), "idna": ("idna",),
    "typing_extensions": ("typing_extensions",), "mangum": ("mangum",), "PyJWT": ("jwt",),
}


def package_files(root: Path | None = None) -> list[tuple[str, Path]]:
    root = root or source_root()
    modules, third_party = import_closure(root, HANDLER_MODULE)
    provided = {top for tops in BUNDLED.values() for top in tops}
    unknown = sorted(third_party - RUNTIME_PROVIDED - provided)
    if unknown:
        raise InfraError(f"the DICOMweb function imports {', '.join(unknown)}, which neither the Lambda runtime "
                         "nor drills.dicomweb.package.BUNDLED provides")
    files: dict[str, Path] = {}
    for module in modules:
        rel = Path(*module.split("."))
        path = root / rel / "__init__.py" if (root / rel).is_dir() else root / rel.with_suffix(".py")
        files[path.relative_to(root).as_posix()] = path
    for distribution in sorted(BUNDLED):
        files.update(_distribution_files(distribution))
    return sorted(files.items())


def _distribution_files(distribution: str) -> dict[str, Path]:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise InfraError(f"{distribution} is not installed: the DICOMweb function bundles it") from exc
    files: dict[str, Path] = {}
    for entry in dist.files or []:
        rel = entry.as_posix() if hasattr(entry, "as_posix") else str(entry)
        parts = Path(rel).parts
        if rel.startswith("..") or parts[0] == "bin" or EXCLUDED_DIRS & set(parts) \
                or Path(rel).suffix in EXCLUDED_SUFFIXES:
            continue
        if Path(rel).name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
            continue
        if Path(rel).suffix in (".so", ".pyd", ".dylib"):
            raise InfraError(f"{distribution} ships a native extension ({rel}); the zip bundles pure Python only")
        located = Path(str(dist.locate_file(entry))).resolve()
        if located.is_file():
            files[rel] = located
    return files


@functools.lru_cache(maxsize=2)
def build(root: Path | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in package_files(root):
            archive.writestr(zip_info(name), path.read_bytes())
    return buffer.getvalue()


def write(directory: Path | None = None) -> Path:
    """``dicomweb-function-<sha256 prefix>.zip`` in ``directory`` (default: drkit's build folder)."""
    return store(build(), "dicomweb-function", directory)
