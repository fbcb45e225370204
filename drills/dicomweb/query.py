"""QIDO-RS query parameters (PS3.18 §8.3.4) and matching against index items.

Matching attributes the index can answer: StudyInstanceUID, SeriesInstanceUID,
SOPInstanceUID, SOPClassUID (single values or UID lists), Modality / ModalitiesInStudy, StudyDate
(single date or range ``A-B``, ``A-``, ``-B``), PatientID (through the keyed hash ingest
stores; the value is hashed on arrival and never kept). Other valid DICOM attributes are
ignored with a Warning (PS3.18 allows this); a parameter that is no DICOM attribute, a
malformed date or a negative/non-numeric limit or offset is a bad query (400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from pydicom.datadict import dictionary_keyword, keyword_dict

from drills.contracts import IndexItem
from drills.dicomweb.dicomjson import ATTRIBUTES, LEVEL_ATTRIBUTES

MAX_LIMIT = 1000                      # results per page when the client asks for more or none
CONTROL = {"limit", "offset", "includefield", "fuzzymatching"}
MATCHABLE = {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Modality",
             "ModalitiesInStudy", "StudyDate", "PatientID"}
UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
_DATE = re.compile(r"^\d{8}$")


class BadQuery(ValueError):
    """The query cannot be understood (answered 400)."""


@dataclass
class Query:
    uids: dict[str, set[str]] = field(default_factory=dict)   # keyword -> accepted values
    modalities: set[str] = field(default_factory=set)
    date_from: str = ""
    date_to: str = ""
    patient_hash: str | None = None
    limit: int = MAX_LIMIT
    offset: int = 0
    include: set[str] = field(default_factory=set)
    include_all: bool = False
    warnings: list[str] = field(default_factory=list)

    def fields(self, level: str) -> list[str]:
        """The attributes a result of ``level`` carries: defaults plus includefield."""
        base = list(LEVEL_ATTRIBUTES[level])
        if self.include_all:
            extra = [kw for kw in ATTRIBUTES if kw not in base]
        else:
            extra = [kw for kw in self.include if kw in ATTRIBUTES and kw not in base]
        return base + extra

    def matches(self, item: IndexItem) -> bool:
        """Instance-level attributes (UIDs, date, patient). Modality is matched per level."""
        for keyword, wanted in self.uids.items():
            if _uid_of(item, keyword) not in wanted:
                return False
        if self.date_from and (not item.study_date or item.study_date < self.date_from):
            return False
        if self.date_to and (not item.study_date or item.study_date > self.date_to):
            return False
        if self.patient_hash is not None and item.patient_id_hash != self.patient_hash:
            return False
        return True


def _uid_of(item: IndexItem, keyword: str) -> str:
    return {"StudyInstanceUID": item.study_instance_uid, "SeriesInstanceUID": item.series_instance_uid,
            "SOPInstanceUID": item.sop_instance_uid, "SOPClassUID": item.sop_class_uid}[keyword]


def keyword_of(name: str) -> str | None:
    """A DICOM keyword for a parameter given as a keyword or 8 hex digits; None if neither."""
    if name in keyword_dict:
        return name
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        try:
            return dictionary_keyword(int(name, 16)) or None
        except KeyError:
            return None
    return None


def parse(params: Iterable[tuple[str, str]], hash_patient: Callable[[str], str]) -> Query:
    q = Query()
    ignored: list[str] = []
    for name, value in params:
        if name in CONTROL:
            _control(q, name, value)
            continue
        keyword = keyword_of(name)
        if keyword is None:
            raise BadQuery(f"{name!r} is not a DICOM attribute keyword or tag")
        if keyword not in MATCHABLE:
            ignored.append(keyword)
            continue
        if value == "":
            continue                      # universal matching
        if keyword in UID_KEYWORDS:
            values = {v for v in re.split(r"[,\\]", value) if v}
            q.uids[keyword] = q.uids.get(keyword, values) & values
        elif keyword in ("Modality", "ModalitiesInStudy"):
            q.modalities |= {v.upper() for v in re.split(r"[,\\]", value) if v}
        elif keyword == "StudyDate":
            q.date_from, q.date_to = _date_range(value)
        elif keyword == "PatientID":
            if "*" in value or "?" in value:
                raise BadQuery("PatientID matches exactly (it is stored only as a keyed hash: no wildcards)")
            q.patient_hash = hash_patient(value)
    if ignored:
        q.warnings.append("The following attributes are not supported for matching and were ignored: "
                          + ", ".join(sorted(set(ignored))))
    return q


def _control(q: Query, name: str, value: str) -> None:
    if name in ("limit", "offset"):
        if not re.fullmatch(r"\d+", value):
            raise BadQuery(f"{name} must be a non-negative integer (got {value!r})")
        number = int(value)
        if name == "offset":
            q.offset = number
        elif number > MAX_LIMIT or number == 0:
            q.limit = MAX_LIMIT
            if number > MAX_LIMIT:
                q.warnings.append(f"limit {number} is above this server's maximum; {MAX_LIMIT} used")
        else:
            q.limit = number
    elif name == "includefield":
        for part in (p.strip() for p in value.split(",")):
            if part == "all":
                q.include_all = True
            elif part:
                keyword = keyword_of(part)
                if keyword is None:
                    raise BadQuery(f"includefield {part!r} is not a DICOM attribute keyword or tag")
                if keyword not in ATTRIBUTES:
                    q.warnings.append(f"includefield {keyword}: not held by the study index; not returned")
                q.include.add(keyword)
    elif name == "fuzzymatching" and value.lower() == "true":
        q.warnings.append("The fuzzymatching parameter is not supported. Only literal matching has been performed.")


def _date_range(value: str) -> tuple[str, str]:
    start, sep, end = value.partition("-")
    for part in (start, end):
        if part and not _DATE.match(part):
            raise BadQuery(f"StudyDate must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD (got {value!r})")
    if not sep:
        return start, start
    if not start and not end:
        raise BadQuery("StudyDate range '-' has neither start nor end")
    if start and end and start > end:
        raise BadQuery(f"StudyDate range {value!r} ends before it starts")
    return start, end
