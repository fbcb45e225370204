"""report.pdf: PDF/A-3b (XMP pdfaid part 3 conformance B, sRGB OutputIntent, embedded files
with AFRelationship listed in /AF), report.json and the journal attached byte for byte, every
section and the journal's numbers in the extracted text, the embedded-cloud watermark on
every page, and no blank page. Rendered once for the module (WeasyPrint takes seconds)."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from drills.reports import build_run_reports
from drills.reports.model import SECTIONS
from tests.drills.reports import journals

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pdf") / "runs"
    key = tmp_path_factory.mktemp("pdfkey")
    mp = pytest.MonkeyPatch()
    mp.setenv("DRKIT_KEY_DIR", str(key))
    try:
        build_run_reports(journals.write_run(folder, journals.passing_journal()), ("json",))
        run = journals.write_run(folder, journals.failing_journal())
        build_run_reports(run)
    finally:
        mp.undo()
    return run


@pytest.fixture(scope="module")
def reader(run_dir: Path) -> PdfReader:
    return PdfReader(run_dir / "report.pdf")


def pdftotext(pdf: Path, page: int | None = None) -> str:
    args = ["pdftotext", "-layout"] + (["-f", str(page), "-l", str(page)] if page else []) + [str(pdf), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_pdfa3b_metadata(reader):
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert 'xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"' in xmp
    # RDF allows the property as an element or as an attribute of rdf:Description
    assert re.search(r'pdfaid:part(="3"|>3</pdfaid:part>)', xmp), xmp
    assert re.search(r'pdfaid:conformance(="B"|>B</pdfaid:conformance>)', xmp), xmp
    root = reader.trailer["/Root"]
    intents = root["/OutputIntents"]
    assert len(intents) == 1
    intent = intents[0].get_object()
    assert intent["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intent
    assert "/Metadata" in root and reader.trailer.get("/ID")
    assert reader.pdf_header.startswith("%PDF-1.7")


def test_every_font_is_embedded(run_dir):
    """PDF/A requires every font to be embedded (ISO 19005-3, 6.2.11.4)."""
    listing = subprocess.run(["pdffonts", str(run_dir / "report.pdf")], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]
    assert listing
    for line in listing:
        assert line.split()[-5] == "yes", line          # the "emb" column


def test_attachments_are_the_run_dir_files(reader, run_dir):
    attachments = reader.attachments
    assert sorted(attachments) == ["journal.json", "report.json"]
    for name in attachments:
        assert attachments[name][0] == (run_dir / name).read_bytes()
    root = reader.trailer["/Root"]
    af = [ref.get_object() for ref in root["/AF"]]
    assert sorted(str(spec["/F"]) for spec in af) == ["journal.json", "report.json"]     # each listed once
    for spec in af:
        assert spec["/AFRelationship"] == "/Data" and str(spec["/UF"]) == str(spec["/F"])
        assert "/ModDate" in spec["/EF"]["/F"].get_object()["/Params"]
        embedded = spec["/EF"]["/F"].get_object()
        assert embedded["/Subtype"] == "/application#2Fjson" or embedded["/Subtype"] == "/application/json"


def test_text_has_every_section_and_the_numbers(run_dir):
    text = " ".join(pdftotext(run_dir / "report.pdf").split())
    for number, _, title in SECTIONS:
        assert f"{number} {title}" in text or (number == "A" and "A Appendix" in text), title
    for expected in ("1,980 seconds", "≤ 900 seconds", "5.5 hours", "12,345,678",
                     "277 of 280 in-scope instances verified", "DeleteObjectVersion", "AccessDenied",
                     "replica-missing-instances", "164.308(a)(7)(ii)(C)", "none in this run",
                     "20261130T120000Z-ab12cd"):
        assert expected.upper() in text.upper(), expected


def test_watermark_on_every_page(reader, run_dir):
    pages = len(reader.pages)
    assert pages >= 10
    for page in range(1, pages + 1):
        text = " ".join(pdftotext(run_dir / "report.pdf", page).split())
        assert "every figure simulated, not evidence about AWS" in text, f"page {page}"


def test_pages_are_not_blank(run_dir, tmp_path):
    """Each page has dark ink in its body (between the running header and footer); the light
    watermark alone does not count."""
    subprocess.run(["pdftoppm", "-r", "30", "-gray", str(run_dir / "report.pdf"), str(tmp_path / "p")], check=True)
    images = sorted(tmp_path.glob("p-*.pgm"))
    assert len(images) >= 10
    for image in images:
        raw = image.read_bytes()
        _, size, _, body = raw.split(b"\n", 3)             # P5, "width height", 255, pixels
        width, height = (int(v) for v in size.split())
        rows = body[int(height * 0.10) * width:int(height * 0.90) * width]
        dark = sum(1 for b in rows if b < 160)
        assert dark >= 20, f"{image.name} has no content between its header and footer"   # a text line: ~100


def test_manifest_covers_the_pdf(run_dir):
    import json
    manifest = json.loads((run_dir / "manifest.json").read_text())
    entry = next(a for a in manifest["artifacts"] if a["name"] == "report.pdf")
    assert entry["sha256"] == hashlib.sha256((run_dir / "report.pdf").read_bytes()).hexdigest()


def test_one_byte_changed_in_the_pdf_fails_verify(run_dir, tmp_path):
    import shutil
    from drills.reports.verify import verify_run
    copy = tmp_path / "runs"
    shutil.copytree(run_dir.parent, copy)
    target = copy / run_dir.name
    assert verify_run(target).intact
    data = bytearray((target / "report.pdf").read_bytes())
    data[len(data) // 3] ^= 0x20
    (target / "report.pdf").write_bytes(bytes(data))
    assert verify_run(target).problems[0] == f"{run_dir.name}/report.pdf: altered (SHA-256 differs from the manifest)"
