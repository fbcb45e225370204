"""QIDO-RS parameter parsing and matching (drills.dicomweb.query)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drills.dicomweb import query
from tests.helpers.dicomweb import ITEM


def _hash(value: str) -> str:
    return f"h({value})"


def parse(**params: str) -> query.Query:
    return query.parse(list(params.items()), _hash)


def test_keywords_and_tags_are_the_same_attribute():
    assert query.keyword_of("StudyInstanceUID") == query.keyword_of("0020000D") == "StudyInstanceUID"
    assert query.keyword_of("0020000d") == "StudyInstanceUID"
    assert query.keyword_of("NotAThing") is None and query.keyword_of("FFFFFFF0") is None


def test_uid_lists_match_any():
    q = parse(SOPInstanceUID="1.2.3.4,9.9")
    assert q.matches(ITEM) and not q.matches(replace(ITEM, sop_instance_uid="1.2.3.5"))
    assert parse(SOPClassUID="1.2.840.10008.5.1.4.1.1.2\\1.2").matches(ITEM)


@pytest.mark.parametrize("value,inside,outside", [
    ("20240101", "20240101", "20240102"),
    ("20231201-20240101", "20231215", "20240102"),
    ("20240101-", "20250101", "20231231"),
    ("-20240101", "19990101", "20240102"),
])
def test_study_date_ranges(value, inside, outside):
    q = parse(StudyDate=value)
    assert q.matches(replace(ITEM, study_date=inside))
    assert not q.matches(replace(ITEM, study_date=outside))
    assert not q.matches(replace(ITEM, study_date=""))


@pytest.mark.parametrize("params", [{"StudyDate": "2024-01-01"}, {"StudyDate": "-"}, {"StudyDate": "20240102-20240101"},
                                    {"limit": "-3"}, {"offset": "1.5"}, {"Bogus": "1"}, {"PatientID": "SYN*"},
                                    {"includefield": "Bogus"}])
def test_bad_queries(params):
    with pytest.raises(query.BadQuery):
        parse(**params)


def test_patient_id_is_hashed_on_arrival_and_compared_hashed():
    q = parse(PatientID="SYNTH-0001")
    assert q.patient_hash == "h(SYNTH-0001)"
    assert "SYNTH-0001" not in repr(q).replace("h(SYNTH-0001)", "")
    assert q.matches(replace(ITEM, patient_id_hash="h(SYNTH-0001)"))
    assert not q.matches(replace(ITEM, patient_id_hash="h(SYNTH-0002)"))


def test_limits_and_warnings():
    assert parse(limit="5", offset="10").limit == 5
    big = parse(limit=str(query.MAX_LIMIT + 1))
    assert big.limit == query.MAX_LIMIT and "maximum" in big.warnings[0]
    ignored = parse(PatientName="SMITH*")
    assert "PatientName" in ignored.warnings[0]
    assert "fuzzymatching" in parse(fuzzymatching="true").warnings[0]


def test_includefield_adds_index_attributes_only():
    q = parse(includefield="StudyDate,PatientName")
    assert "StudyDate" in q.fields("series")
    assert "PatientName" not in q.fields("series") and "PatientName" in q.warnings[0]
    assert set(parse(includefield="all").fields("study")) >= {"SOPClassUID", "Modality"}
