"""Price tables: the shipped one is complete and labelled; bad files name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.errors import UsageError
from drills.plan.prices import load
from tests.drills.plan.conftest import shipped_document


def test_shipped_table_is_dated_sourced_and_marks_unconfirmed_figures():
    table = load()
    assert table.date and "REFERENCE.md" in table.source and "confirm before quoting" in table.source
    us = table.region("us-east-1")
    # REFERENCE.md "Storage tiers" (us-east-1 list prices)
    assert {k: us.storage[k] for k in ("STANDARD", "STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")} == {
        "STANDARD": 0.023, "STANDARD_IA": 0.0125, "GLACIER_IR": 0.004, "GLACIER": 0.0036, "DEEP_ARCHIVE": 0.00099}
    assert "Expedited" not in us.retrieval["DEEP_ARCHIVE"]
    for name, region in table.regions.items():
        assert "confirm before quoting" in region.status, name
    assert table.describe("us-east-1")["name"] == table.name


def test_unknown_region_is_a_usage_error():
    with pytest.raises(UsageError, match="no prices for region ap-south-2") as info:
        load().region("ap-south-2")
    assert "--prices" in str(info.value)


def _write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(doc))
    return path


def test_yaml_override(tmp_path: Path):
    import yaml

    doc = shipped_document()
    doc["name"] = "negotiated"
    doc["regions"]["us-east-1"]["storagePerGBMonth"]["DEEP_ARCHIVE"] = 0.0009
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    table = load(path)
    assert table.label.startswith("negotiated") and table.origin == str(path)
    assert table.region("us-east-1").storage["DEEP_ARCHIVE"] == 0.0009


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.pop("regions"), "regions: expected a mapping"),
    (lambda d: d["regions"]["us-east-1"]["storagePerGBMonth"].pop("GLACIER"), "missing storage classes: GLACIER"),
    (lambda d: d["regions"]["us-east-1"]["storagePerGBMonth"].update(GLACIER=-1), "storagePerGBMonth.GLACIER"),
    (lambda d: d["regions"]["us-east-1"]["putPer1000"].update(TAPE=1), "putPer1000.TAPE: unknown name"),
    (lambda d: d["regions"]["us-east-1"]["retrieval"]["DEEP_ARCHIVE"].update(Expedited={"perGB": 1, "per1000": 1}),
     "retrieval.DEEP_ARCHIVE.Expedited: unknown name"),
    (lambda d: d["regions"]["us-east-1"]["retrieval"]["GLACIER"].pop("Bulk"), "retrieval.GLACIER: missing .* Bulk"),
    (lambda d: d["regions"]["us-east-1"].update(backupStoragePerGBMonth="cheap"), "backupStoragePerGBMonth"),
    (lambda d: d.update(date=""), "date: expected a non-empty string"),
    (lambda d: d.update(bytesPerGB=0), "bytesPerGB"),
])
def test_bad_price_files_name_the_field(tmp_path: Path, mutate, message):
    doc = shipped_document()
    mutate(doc)
    with pytest.raises(UsageError, match=message) as info:
        load(_write(tmp_path, doc))
    assert info.value.exit_code == 2


def test_unparsable_price_file(tmp_path: Path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON/YAML"):
        load(path)
