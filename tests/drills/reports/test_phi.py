"""No PHI in any artifact: patient names, IDs, birth dates and accession numbers seeded next
to the fields reports render never reach report.json, report.html, the PDF (text and
attachments), the manifest or the command's output."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from drills.reports.phi import WITHHELD, scrub, screen
from drills.reports.render import render_run
from tests.drills.reports.journals import seal

# Every value below is patient data a careless probe might have written into the journal.
SEEDED = ("DOE^JANE", "SMITH^JOHN^Q", "MRN-448812", "PID-0099123", "19650412", "ROE^RICHARD", "ACC99887766",
          "Jane Doe", "Mary Major", "Ravi Patel")
NEEDLES = re.compile(r"(?i)jane|smith|richard|mary major|ravi patel|448812|0099123|19650412|99887766")


def seeded_journal(journal: dict) -> dict:
    j = copy.deepcopy(journal)
    s0, s1 = j["scenarios"]
    s0["patient_name"] = "DOE^JANE"                                   # neighbour of scenario 'name'
    s0["method"][0]["output"] = {"PatientName": "SMITH^JOHN^Q", "note": "re-sent study of MRN-448812", "sent": 3}
    s0["method"][0]["arguments"] = {"PatientID": "PID-0099123", "tolerance": {"min_instances": 280}}
    s0["method"][1]["error"] = "could not read DOE^JANE"
    s0["measurements"][0]["detail"] = {"accession": "ACC99887766", "instances_at_risk": ["inst-0a1b2c", "ROE^RICHARD"]}
    j["findings"][0]["evidence"] = {"PatientBirthDate": "19650412", "labels": ["inst-9f8e7d", "ROE^RICHARD"],
                                    "missing": 3}
    j["findings"][0]["message"] = "3 instances of DOE^JANE never reached the replica."
    s0["findings"] = [j["findings"][0]]
    j["ladder"]["rungs"][3]["counts"]["PatientName"] = "DOE^JANE"
    j["ladder"]["rungs"][3]["counts"]["00100020"] = "PID-0099123"
    j["stack"]["outputs"]["patientName"] = "Jane Doe"
    j["scope"]["by_specialty"]["radiology"]["referring_physician"] = "Mary Major"
    j["plan"]["patient_contact"] = "Ravi Patel"
    j["events"][3]["data"]["PatientName"] = "DOE^JANE"
    s1["attempts"][0]["error_code"] = "AccessDenied"
    return seal(j)


def assert_clean(text: str, where: str) -> None:
    found = NEEDLES.findall(text)
    assert not found, f"{where} holds patient data: {found}"


def test_scrub_drops_keys_and_withholds_values():
    data = {"PatientName": "DOE^JANE", "count": 3, "note": "MRN-448812", "labels": ["inst-1", "ROE^RICHARD"],
            "nested": {"AccessionNumber": "ACC1", "bucket": "drkit-dev-archive"}, "dob": "19650412",
            "when": "19650412", "uid": "1.2.840.113619.2.55.3"}
    assert scrub(data) == {"count": 3, "note": WITHHELD, "labels": ["inst-1", WITHHELD],
                           "nested": {"bucket": "drkit-dev-archive"}, "when": WITHHELD,
                           "uid": "1.2.840.113619.2.55.3"}
    assert screen(data) == ["$.PatientName", "$.note", "$.labels[1]", "$.nested.AccessionNumber", "$.dob", "$.when"]


def test_clean_journal_screens_clean(passing, failing):
    assert screen(passing) == [] and screen(failing) == []


@pytest.fixture
def seeded_run(write_run, failing) -> Path:
    journal = seeded_journal(failing)
    raw = json.dumps(journal)
    assert all(value in raw for value in SEEDED)          # the seeds are really in the journal
    return write_run(journal)


def _artifacts(run_dir: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(run_dir.iterdir()):
        if path.name in ("journal.json", "report.pdf"):
            continue
        texts[path.name] = path.read_text(encoding="utf-8")
    texts["signing-key.pub"] = (run_dir.parent / "signing-key.pub").read_text()
    return texts


def test_no_seeded_patient_data_in_json_html_manifest_or_output(seeded_run):
    proc = subprocess.run([sys.executable, "-c", "from drills.cli import main; main()", "report", str(seeded_run),
                           "--format", "json,html"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc.stdout + proc.stderr, "drkit report output")
    for name, text in _artifacts(seeded_run).items():
        assert_clean(text, name)
    report = json.loads((seeded_run / "report.json").read_text())
    suspect = next(f for f in report["findings"] if f["code"] == "journal-phi-suspect")
    assert suspect["severity"] == "high" and "$.scenarios[0].patient_name" in suspect["evidence"]["paths"]
    assert report["integrity"]["journal_attached"] is False
    # the whitelisted neighbours still render
    assert [x["label"] for x in report["scenarios"][0]["instances_at_risk"]] == ["inst-0a1b2c", WITHHELD]
    assert report["findings"][0]["message"] == WITHHELD


@pytest.mark.slow
def test_no_seeded_patient_data_in_the_pdf(seeded_run):
    from pypdf import PdfReader
    render_run(seeded_run, ("json", "pdf"))
    pdf = seeded_run / "report.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Findings and corrective actions" in text
    assert_clean(text, "report.pdf text")
    reader = PdfReader(pdf)
    attachments = reader.attachments
    assert sorted(attachments) == ["report.json"]               # the journal is withheld: it holds PHI
    assert_clean(attachments["report.json"][0].decode(), "report.pdf attachment")
    meta = reader.xmp_metadata
    assert_clean(str(reader.metadata) + (meta.stream.get_data().decode() if meta else ""), "report.pdf metadata")
