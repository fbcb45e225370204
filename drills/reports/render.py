"""Render a run dir's reports and sign them: journal → report.json, report.html, report.pdf,
then manifest.json + manifest.sig over every artifact."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from drills.errors import UsageError
from drills.reports import charts as chart_module
from drills.reports import history, manifest
from drills.reports.canonical import canonical, file_sha256, sha256_hex
from drills.reports.html import render_html
from drills.reports.journal import JOURNAL_FILE, check_chain, load_journal
from drills.reports.model import build_report
from drills.reports.signing import FOLDER_PUBLIC_KEY, SigningKey, resolve_signing_key

FORMATS = ("json", "html", "pdf")
REPORT_FILES = {"json": "report.json", "html": "report.html", "pdf": "report.pdf"}


@dataclass
class Rendered:
    run_dir: Path
    paths: list[Path]
    key: SigningKey
    report: dict[str, Any]
    removed: list[str] = field(default_factory=list)

    @property
    def public_key_path(self) -> Path:
        return self.run_dir.parent / FOLDER_PUBLIC_KEY


def parse_formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise UsageError(f"unknown report format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
    return chosen


def render_run(run_dir: Path, formats: Iterable[str] = FORMATS, key: Path | SigningKey | None = None) -> Rendered:
    """Render the chosen formats (report.json is always written: it is what the others render
    and what the PDF carries), remove stale renderings of the others, and sign the run dir."""
    run_dir = Path(run_dir).resolve()
    chosen = parse_formats(formats)
    journal = load_journal(run_dir)
    folder_path = run_dir.parent
    folder = history.scan_folder(folder_path)
    if (run_dir / manifest.MANIFEST).exists():
        later = manifest.successors(folder, journal["run_id"])
        if later:
            raise UsageError(f"{run_dir.name}: run(s) {', '.join(later)} chain to this run's signed manifest; "
                             "re-rendering it would break their chain",
                             hint="render into a copy of the run dir outside this folder instead")
    signing = key if isinstance(key, SigningKey) else resolve_signing_key(folder_path, key)
    chain = check_chain(journal["events"])
    previous = manifest.previous_link(folder, journal)
    report_names = set(REPORT_FILES.values())
    inputs = [n for n in manifest.artifact_names(run_dir) if n not in report_names]
    report = build_report(journal, chain=chain, journal_sha256=sha256_hex(canonical(journal)), folder=folder,
                          integrity_inputs={"signing_key": {"algorithm": "Ed25519", "fingerprint": signing.fingerprint},
                                            "previous": previous},
                          artifacts=manifest.artifact_entries(run_dir, inputs))
    written: list[Path] = []
    report_bytes = canonical(report)          # the file is the canonical JSON itself
    json_path = run_dir / REPORT_FILES["json"]
    json_path.write_bytes(report_bytes)
    written.append(json_path)
    if "html" in chosen or "pdf" in chosen:
        html = render_html(report, chart_module.render_all(report))
        if "html" in chosen:
            path = run_dir / REPORT_FILES["html"]
            path.write_text(html, encoding="utf-8")
            written.append(path)
        if "pdf" in chosen:
            from drills.reports.pdf import render_pdf   # WeasyPrint loads pango: only when asked
            attachments = [("report.json", report_bytes, f"drkit report {report['schema']} of run {report['run_id']}")]
            if report["integrity"]["journal_attached"]:
                attachments.append((JOURNAL_FILE, (run_dir / JOURNAL_FILE).read_bytes(),
                                    f"drkit journal of run {report['run_id']} (SHA-256 {file_sha256(run_dir / JOURNAL_FILE)})"))
            written.append(render_pdf(html, run_dir / REPORT_FILES["pdf"], attachments))
    removed = []
    for fmt, name in REPORT_FILES.items():
        if fmt != "json" and fmt not in chosen and (run_dir / name).exists():
            (run_dir / name).unlink()     # a rendering of an older report.json would contradict it
            removed.append(name)
    manifest_path = manifest.write_manifest(run_dir, journal, chain, signing, previous)
    written += [manifest_path, run_dir / manifest.SIGNATURE]
    return Rendered(run_dir, written, signing, report, removed)
