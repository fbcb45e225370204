"""``drkit report verify``: is a run dir (or a folder of runs) exactly as it was signed?

Checks, in this order, and names the first thing that does not hold:
the manifest and its Ed25519 signature (against ``--key``, else the folder's
``signing-key.pub``); every artifact's SHA-256, and files added after signing; the
journal's event hash chain and its head against the manifest; report.json's own content
digest; and the chain of manifests through the folder (a deleted, replaced or forked run).
Runs in the folder that were never signed (or whose journal cannot be read) are *unverified*:
nothing vouches for them, so the folder is "not verified" (exit 1), never "intact" — and a
folder where no run is signed verified nothing at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drills.errors import UsageError
from drills.reports import history, manifest
from drills.reports.canonical import canonical, file_sha256, sha256_hex
from drills.reports.journal import JOURNAL_FILE, check_chain
from drills.reports.model import content_digest
from drills.reports.signing import FOLDER_PUBLIC_KEY, fingerprint, load_public_key, public_from_b64, signature_valid


STATUS_INTACT, STATUS_ALTERED, STATUS_NOT_VERIFIED = "intact", "altered", "not verified"


@dataclass
class Verification:
    """What ``verify`` found. ``problems`` are ordered: the first is the one to name."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)     # runs nothing could be checked for, and why
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """Every run was checked and held: something was verified and nothing is left unverified."""
        return bool(self.checked) and not self.problems and not self.unverified

    @property
    def status(self) -> str:
        """``intact``, ``altered`` (a problem in a signed run) or ``not verified`` (no problem
        found, but some run — or every run — carries no signature to check)."""
        if self.problems:
            return STATUS_ALTERED
        return STATUS_INTACT if self.intact else STATUS_NOT_VERIFIED

    @property
    def exit_code(self) -> int:
        return 0 if self.intact else 1


def _trusted_key(folder: Path, key_file: Path | None, result: Verification) -> Ed25519PublicKey | None:
    if key_file is not None:
        return load_public_key(key_file)
    published = folder / FOLDER_PUBLIC_KEY
    if published.is_file():
        result.notes.append(f"verified with the folder's {FOLDER_PUBLIC_KEY}; pass --key with the key you were "
                            "given to bind the check to it")
        return load_public_key(published)
    return None


def verify_run(run_dir: Path, key_file: Path | None = None, *, folder: history.Folder | None = None,
               result: Verification | None = None) -> Verification:
    run_dir = Path(run_dir).resolve()
    result = result if result is not None else Verification()
    name = run_dir.name
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run dir")
    folder = folder if folder is not None else history.scan_folder(run_dir.parent)
    result.checked.append(name)
    trusted = _trusted_key(run_dir.parent, key_file, result)
    manifest_path, signature_path = run_dir / manifest.MANIFEST, run_dir / manifest.SIGNATURE
    if not manifest_path.is_file():
        result.problems.append(f"{name}/{manifest.MANIFEST}: missing — the run was never signed or its manifest "
                               "was deleted")
        return result
    data = manifest_path.read_bytes()
    try:
        document = json.loads(data.decode("utf-8"))
        assert isinstance(document, dict) and isinstance(document.get("artifacts"), list)
    except (UnicodeDecodeError, ValueError, AssertionError):
        result.problems.append(f"{name}/{manifest.MANIFEST}: altered (not a manifest any more)")
        return result
    # 1. signature
    if not signature_path.is_file():
        result.problems.append(f"{name}/{manifest.SIGNATURE}: missing")
    else:
        signature = signature_path.read_text(encoding="ascii", errors="replace").strip()
        named = (document.get("key") or {}).get("public_key")
        key = trusted
        if key is None:
            try:
                key = public_from_b64(named or "")
            except ValueError:
                key = None
            result.notes.append("no --key and no folder public key: checked against the key the manifest names "
                                "(proves consistency, not origin)")
        if key is None or not signature_valid(key, signature, data):
            who = fingerprint(key) if key is not None else "(none)"
            result.problems.append(f"{name}/{manifest.MANIFEST}: signature does not verify with key {who} "
                                   f"(manifest says it was signed by {(document.get('key') or {}).get('fingerprint')})")
    # 2. artifacts
    listed = []
    for entry in document["artifacts"]:
        artifact = str(entry.get("name"))
        listed.append(artifact)
        path = run_dir / artifact
        if not path.is_file():
            result.problems.append(f"{name}/{artifact}: missing")
        elif file_sha256(path) != entry.get("sha256"):
            detail = ""
            if artifact == JOURNAL_FILE:
                detail = _journal_detail(path)
            result.problems.append(f"{name}/{artifact}: altered (SHA-256 differs from the manifest){detail}")
    for extra in manifest.artifact_names(run_dir):
        if extra not in listed:
            result.problems.append(f"{name}/{extra}: not in the manifest (added after signing)")
    # 3. journal chain against the manifest
    journal_path = run_dir / JOURNAL_FILE
    journal: dict[str, Any] | None = None
    if journal_path.is_file():
        try:
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            journal = None
        if isinstance(journal, dict) and isinstance(journal.get("events"), list):
            chain = check_chain(journal["events"])
            if chain.first_bad is not None:
                result.problems.append(f"{name}/{JOURNAL_FILE}: {chain.reason}")
            elif chain.head != (document.get("journal") or {}).get("chain_head"):
                result.problems.append(f"{name}/{JOURNAL_FILE}: hash chain head differs from the manifest's "
                                       "(events re-chained after signing)")
    # 4. report.json's own digest and its journal digest
    report_path = run_dir / "report.json"
    if report_path.is_file():
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
            if report["integrity"]["content_sha256"] != content_digest(report):
                result.problems.append(f"{name}/report.json: content digest does not match its content")
            if isinstance(journal, dict) and report["integrity"]["journal_sha256"] != sha256_hex(canonical(journal)):
                result.problems.append(f"{name}/report.json: was rendered from a different journal")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            result.problems.append(f"{name}/report.json: altered (not a drkit report any more)")
    # 5. the chain of runs
    _check_links(run_dir, document, folder, result)
    return result


def _journal_detail(path: Path) -> str:
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
        chain = check_chain(journal["events"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return " — no longer valid JSON"
    if chain.first_bad is not None:
        return f" — first altered event: {chain.reason}"
    return " — its events still chain: a field outside the events changed, or the chain was rebuilt"


def _check_links(run_dir: Path, document: dict[str, Any], folder: history.Folder, result: Verification) -> None:
    name = run_dir.name
    by_id = {s.journal["run_id"]: s for s in folder.runs}
    run_id = document.get("run_id")
    me = by_id.get(run_id)
    previous = document.get("previous")
    earlier_signed = [s for s in (history.earlier(folder, me.journal) if me else [])
                      if (s.run_dir / manifest.MANIFEST).is_file()]
    if previous:
        prior = by_id.get(previous.get("run_id"))
        path = (prior.run_dir if prior else run_dir.parent / str(previous.get("dir"))) / manifest.MANIFEST
        if not path.is_file():
            result.problems.append(f"{name}: previous run {previous.get('run_id')} is missing from the folder "
                                   "(deleted from the chain)")
        elif file_sha256(path) != previous.get("manifest_sha256"):
            result.problems.append(f"{name}: previous run {previous.get('run_id')}'s manifest differs from the "
                                   "digest recorded here (replaced or re-signed)")
        elif earlier_signed and earlier_signed[-1].journal["run_id"] != previous.get("run_id"):
            result.problems.append(f"{name}: run {earlier_signed[-1].journal['run_id']} sits between this run and "
                                   f"the previous run it names ({previous.get('run_id')}) (inserted later)")
    elif earlier_signed:
        result.problems.append(f"{name}: names no previous run, but {earlier_signed[-1].journal['run_id']} precedes "
                               "it in the folder")
    for sibling in folder.runs:
        if sibling.run_dir == run_dir:
            continue
        other = manifest.read_manifest(sibling.run_dir) or {}
        if (other.get("previous") or {}).get("run_id") == run_id and \
                other["previous"].get("manifest_sha256") != file_sha256(run_dir / manifest.MANIFEST):
            result.problems.append(f"{name}: later run {sibling.journal['run_id']} recorded a different manifest "
                                   "for this run (this run was replaced or re-signed)")


def verify_path(path: Path, key_file: Path | None = None) -> Verification:
    """Verify a run dir, or every run in a folder of run dirs (with the folder's gaps)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such run dir or folder")
    if (path / JOURNAL_FILE).is_file() or (path / manifest.MANIFEST).is_file():
        return verify_run(path, key_file)
    if not path.is_dir():
        raise UsageError(f"{path}: not a run dir (no {JOURNAL_FILE}) nor a folder of run dirs")
    folder = history.scan_folder(path)
    # signed run dirs whose journal.json is gone are still runs of this folder (and fail)
    journal_gone = [c for c in sorted(path.iterdir()) if (c / manifest.MANIFEST).is_file()
                    and not (c / JOURNAL_FILE).is_file()]
    if not folder.runs and not folder.unreadable and not journal_gone:
        raise UsageError(f"{path}: no run dirs here (none holds {JOURNAL_FILE} or {manifest.MANIFEST})")
    result = Verification()
    for child in journal_gone:
        verify_run(child, key_file, folder=folder, result=result)
    signed = []
    for sibling in folder.runs:
        if (sibling.run_dir / manifest.MANIFEST).is_file():
            signed.append(sibling)
            verify_run(sibling.run_dir, key_file, folder=folder, result=result)
        else:
            result.unverified.append(f"{sibling.run_dir.name}: never signed (no {manifest.MANIFEST})")
    for bad in folder.unreadable:
        if (path / bad / manifest.MANIFEST).is_file():      # signed, then its journal broke: check it
            verify_run(path / bad, key_file, folder=folder, result=result)
        else:
            result.unverified.append(f"{bad}: never signed (no {manifest.MANIFEST}) and its journal is unreadable")
    # a signed run whose successor names someone else, or two runs naming the same predecessor
    named = {}
    for sibling in signed:
        prev = ((manifest.read_manifest(sibling.run_dir) or {}).get("previous") or {}).get("run_id")
        if prev in named:
            result.problems.append(f"{sibling.run_dir.name}: the chain forks — {named[prev]} also follows {prev}")
        named[prev] = sibling.run_dir.name
    return result
