"""The one table of S3 storage-class facts, and the modules that must read it instead of copies."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from drills.storage_classes import (ARCHIVE_CLASSES, CLASS_ORDER, FACTS, TRANSITION_DEFAULT_VARIES,
                                    TRANSITION_MIN_OBJECT_BYTES, StorageClass, colder, restore_hours,
                                    standard_restore_hours, storage_class, transition_allowed_by_size)

ROOT = Path(__file__).resolve().parents[2]


def test_minimum_storage_durations_and_billable_sizes():
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare:
    Standard-IA/One Zone-IA 30 days and 128 KB, Glacier IR 90 days and 128 KB, Glacier Flexible
    Retrieval 90 days, Deep Archive 180 days; Standard and Intelligent-Tiering none."""
    days = {c.value: f.min_storage_days for c, f in FACTS.items()}
    assert days == {"STANDARD": 0, "STANDARD_IA": 30, "INTELLIGENT_TIERING": 0, "ONEZONE_IA": 30,
                    "GLACIER_IR": 90, "GLACIER": 90, "DEEP_ARCHIVE": 180}
    billable = {c.value for c, f in FACTS.items() if f.min_billable_bytes == 128 * 1024}
    assert billable == {"STANDARD_IA", "ONEZONE_IA", "GLACIER_IR"}
    overhead = {c.value: (f.overhead_standard_bytes, f.overhead_class_bytes) for c, f in FACTS.items()
                if f.overhead_class_bytes}
    assert overhead == {"GLACIER": (8192, 32768), "DEEP_ARCHIVE": (8192, 32768)}


def test_restore_tiers_and_expedited_availability():
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects-retrieval-options.html:
    Glacier Flexible Retrieval Expedited 1-5 min, Standard 3-5 h, Bulk 5-12 h; Deep Archive Standard
    within 12 h, Bulk within 48 h; Expedited not available for Deep Archive (RestoreObject API)."""
    assert restore_hours("GLACIER", "Expedited") == (1 / 60, 5 / 60)
    assert restore_hours("GLACIER", "Standard") == (3.0, 5.0)
    assert restore_hours("GLACIER", "Bulk") == (5.0, 12.0)
    assert restore_hours("DEEP_ARCHIVE", "Standard") == (None, 12.0)
    assert restore_hours("DEEP_ARCHIVE", "Bulk") == (None, 48.0)
    assert restore_hours("DEEP_ARCHIVE", "Expedited") is None
    assert FACTS[StorageClass.GLACIER].expedited and not FACTS[StorageClass.DEEP_ARCHIVE].expedited
    assert ARCHIVE_CLASSES == ("GLACIER", "DEEP_ARCHIVE")
    assert restore_hours("GLACIER_IR", "Standard") is None and standard_restore_hours("GLACIER_IR") == 0
    assert standard_restore_hours(StorageClass.DEEP_ARCHIVE) == 12.0


def test_waterfall_order_and_colder():
    """Lifecycle transitions only go down the waterfall (lifecycle-transition-general-considerations.html)."""
    assert CLASS_ORDER[0] == "STANDARD" and CLASS_ORDER[-1] == "DEEP_ARCHIVE"
    assert colder("GLACIER_IR", "STANDARD_IA") and not colder("STANDARD_IA", "GLACIER_IR")
    assert colder("DEEP_ARCHIVE", None) and colder("STANDARD_IA", "REDUCED_REDUNDANCY")
    assert not colder("GLACIER", "GLACIER") and not colder("NOT_A_CLASS", "STANDARD")
    assert StorageClass.GLACIER.rank > StorageClass.GLACIER_IR.rank
    with pytest.raises(ValueError):
        storage_class("glacier")          # S3 spells classes in capitals; no guessing


def test_transition_minimum_object_size():
    """TransitionDefaultMinimumObjectSize: all_storage_classes_128K keeps objects under 128 KB where
    they are; varies_by_storage_class still lets them go to GLACIER and DEEP_ARCHIVE."""
    small = TRANSITION_MIN_OBJECT_BYTES - 1
    assert transition_allowed_by_size(TRANSITION_MIN_OBJECT_BYTES, "GLACIER_IR")
    assert not transition_allowed_by_size(small, "GLACIER_IR")
    assert not transition_allowed_by_size(small, "DEEP_ARCHIVE")
    assert transition_allowed_by_size(small, "DEEP_ARCHIVE", TRANSITION_DEFAULT_VARIES)
    assert not transition_allowed_by_size(small, "GLACIER_IR", TRANSITION_DEFAULT_VARIES)


# Names that would betray a private copy of the table.
_COPIES = {"_MIN_STORAGE_DAYS", "_RESTORE_HOURS", "_FIRST_BYTE", "CLASS_ORDER", "ARCHIVE_CLASSES"}


@pytest.mark.parametrize("folder", ["components", "drills", "policies"])
def test_no_module_keeps_its_own_copy(folder):
    """Storage-class facts have one home; other modules import them instead of assigning their own."""
    offenders = []
    for path in (ROOT / folder).rglob("*.py"):
        if path.name == "storage_classes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) else [])
            for target in targets:
                if isinstance(target, ast.Name) and target.id in _COPIES:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {target.id}")
            if isinstance(node, ast.ClassDef) and node.name == "StorageClass":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} class StorageClass")
    assert not offenders, offenders
