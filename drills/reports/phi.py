"""Keep patient data out of every report artifact.

Reports render whitelisted journal fields only (``drills.reports.model`` picks each one
by name). The free-form parts the journal allows — activity output and arguments, finding
evidence, measurement detail, rung counts, the plan — pass through ``scrub``: keys that name
patient attributes (DICOM PatientName, PatientID, PatientBirthDate, AccessionNumber, …, or
their tags in group 0010) are dropped, and strings that look like a DICOM person name
(``FAMILY^GIVEN``), a medical record number or a DICOM date are withheld.

``screen`` finds the same things in a whole document (the journal) and returns where, so a
report can say the journal itself needs attention without repeating the values.
"""

from __future__ import annotations

import re
from typing import Any

WITHHELD = "[withheld: resembles patient data]"

# Key names (any case, with _ - or camelCase) that carry patient attributes.
_PHI_KEY = re.compile(
    r"patient|birth|accession|(^|[_\-\s])(mrn|dob|ssn)($|[_\-\s])|^(mrn|dob|ssn)|physician|"
    r"otherpatient|issuerofpatient|institutionname|institutionaddress|operatorsname|"
    r"performingphysician|referring|ethnic|^00(10|08)[0-9a-f]{4}$|^\(?00(10|08),",
    re.IGNORECASE,
)
# DICOM PN: components separated by '^' (FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX).
_PERSON_NAME = re.compile(r"[A-Za-z\u00C0-\u024F'\-. ]+\^[A-Za-z\u00C0-\u024F'\-. ^]*")
# Record numbers and similar patient identifiers written out in text.
_PATIENT_ID = re.compile(r"\b(mrn|pid|patient[\s_\-]?id|accession)[\s#:=_\-]*[A-Za-z]*\d{3,}", re.IGNORECASE)
# A DICOM DA standing alone (YYYYMMDD) — a birth date as DICOM writes it.
_DICOM_DATE = re.compile(r"^(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")


def phi_key(key: str) -> bool:
    return bool(_PHI_KEY.search(str(key)))


def phi_text(text: str) -> bool:
    return bool(_PERSON_NAME.search(text) or _PATIENT_ID.search(text) or _DICOM_DATE.match(text.strip()))


def clean_text(text: Any) -> str:
    """A string safe to render: withheld whole if any part resembles patient data."""
    if text is None:
        return ""
    text = str(text)
    return WITHHELD if phi_text(text) else text


def scrub(value: Any) -> Any:
    """A copy of ``value`` with patient-looking keys dropped and such strings withheld."""
    if isinstance(value, dict):
        return {str(k): scrub(v) for k, v in value.items() if not phi_key(str(k))}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return clean_text(value)
    return value


def screen(value: Any, path: str = "$") -> list[str]:
    """JSON paths in ``value`` whose key or string resembles patient data (values not repeated)."""
    hits: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}"
            if phi_key(str(key)):
                hits.append(sub)
            else:
                hits.extend(screen(item, sub))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            hits.extend(screen(item, f"{path}[{index}]"))
    elif isinstance(value, str) and phi_text(value):
        hits.append(path)
    return hits
