"""The signed evidence manifest of a run dir (``manifest.json`` + ``manifest.sig``).

The manifest lists the SHA-256 of every artifact in the run dir, the journal's hash-chain
head, and the digest of the previous run's manifest in the same folder — so deleting or
replacing a run breaks the chain, the way CloudTrail digest files chain hour to hour.
``manifest.sig`` is the base64 Ed25519 signature of ``manifest.json``'s exact bytes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from drills.reports import history
from drills.reports.canonical import canonical, file_sha256, pretty, sha256_hex
from drills.reports.journal import JOURNAL_FILE, ChainCheck
from drills.reports.signing import FOLDER_PUBLIC_KEY, SigningKey

MANIFEST_SCHEMA = "drkit-manifest/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
NOT_ARTIFACTS = {MANIFEST, SIGNATURE}


def artifact_names(run_dir: Path) -> list[str]:
    """Every file of the run dir (relative POSIX paths) except the manifest itself; journal first."""
    names = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
                   if p.is_file() and p.name not in NOT_ARTIFACTS)
    return sorted(names, key=lambda n: (n != JOURNAL_FILE, n))


def artifact_entries(run_dir: Path, names: list[str] | None = None) -> list[dict[str, Any]]:
    return [{"name": n, "sha256": file_sha256(run_dir / n), "bytes": (run_dir / n).stat().st_size}
            for n in (names if names is not None else artifact_names(run_dir))]


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    import json
    path = run_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def previous_link(folder: history.Folder, journal: dict[str, Any]) -> dict[str, Any] | None:
    """The previous signed run in the folder: its run id, dir and manifest digest."""
    for sibling in reversed(history.earlier(folder, journal)):
        path = sibling.run_dir / MANIFEST
        if path.is_file():
            manifest = read_manifest(sibling.run_dir) or {}
            report = next((a for a in manifest.get("artifacts", []) if a.get("name") == "report.json"), None)
            return {"run_id": sibling.journal["run_id"], "dir": sibling.run_dir.name,
                    "manifest_sha256": file_sha256(path),
                    "report_sha256": report.get("sha256") if report else None}
    return None


def successors(folder: history.Folder, run_id: str) -> list[str]:
    """Run ids whose manifest names ``run_id`` as its previous run."""
    found = []
    for sibling in folder.runs:
        manifest = read_manifest(sibling.run_dir) or {}
        if (manifest.get("previous") or {}).get("run_id") == run_id:
            found.append(sibling.journal["run_id"])
    return found


def write_manifest(run_dir: Path, journal: dict[str, Any], chain: ChainCheck, key: SigningKey,
                   previous: dict[str, Any] | None) -> Path:
    document = {
        "schema": MANIFEST_SCHEMA,
        "run_id": journal["run_id"],
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "artifacts": artifact_entries(run_dir),
        "journal": {"file": JOURNAL_FILE, "canonical_sha256": sha256_hex(canonical(journal)),
                    "events": chain.events, "chain_head": chain.head, "chain_intact": chain.intact},
        "previous": previous,
        "key": key.describe(),
        "folder_public_key": FOLDER_PUBLIC_KEY,
    }
    path = run_dir / MANIFEST
    data = pretty(document).encode("utf-8")
    path.write_bytes(data)
    (run_dir / SIGNATURE).write_text(key.sign(data) + "\n", encoding="ascii")
    return path
