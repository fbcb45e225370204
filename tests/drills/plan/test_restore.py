"""Restore-slice estimator: tier times from the storage-class table, costs, objective flags.

Sources: https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects-retrieval-options.html
(Deep Archive Standard within 12 h, Bulk within 48 h, no Expedited; Glacier Flexible Retrieval
Expedited 1-5 min, Standard 3-5 h, Bulk 5-12 h); storage-class-intro.html (restore requests up to
1,000 per second per account).
"""

from __future__ import annotations

import pytest

from drills.contracts import Specialty
from drills.errors import UsageError
from drills.plan.restore import estimate, parse_slice, tier_flags
from drills.storage_classes import StorageClass as C

GB = 1_000_000          # the round price table's bytesPerGB


def by_tier(rows):
    return {r.tier: r for r in rows}


def test_an_objective_deep_archive_cannot_meet_is_flagged(round_prices):
    """Objective 4 h: Deep Archive's fastest tier (Standard) takes up to 12 h; Expedited does not exist."""
    rows = by_tier(estimate({"DEEP_ARCHIVE": (10 * GB, 1000)}, "us-east-1", round_prices, objective_hours=4))
    assert rows["Expedited"].hours is None and rows["Expedited"].unavailable == ("DEEP_ARCHIVE",)
    assert rows["Standard"].hours == pytest.approx(12 + 1000 / 1000 / 3600)
    assert rows["Bulk"].hours == pytest.approx(48 + 1000 / 1000 / 3600)
    assert not any(r.meets for r in rows.values())
    flags = tier_flags({Specialty.RADIOLOGY: ((90, C.GLACIER_IR), (365, C.DEEP_ARCHIVE))}, C.STANDARD_IA, 4)
    assert len(flags) == 1 and "radiology: DEEP_ARCHIVE from day 365" in flags[0] and "12 h" in flags[0]
    assert tier_flags({Specialty.RADIOLOGY: ((365, C.DEEP_ARCHIVE),)}, None, 12) == []


def test_glacier_expedited_meets_a_short_objective_and_notes_its_limits(round_prices):
    rows = by_tier(estimate({"GLACIER": (GB, 500), "STANDARD": (GB, 10)}, "us-east-1", round_prices, 1))
    assert rows["Expedited"].hours == pytest.approx(5 / 60 + 500 / 1000 / 3600)
    assert rows["Expedited"].meets and not rows["Standard"].meets
    assert any("hundreds of objects" in n for n in rows["Expedited"].notes)


def test_restore_cost_is_retrieval_requests_and_the_temporary_copy(round_prices):
    """Deep Archive Standard: 0.02/GB + 0.10 per 1,000 requests (shipped table), plus 7 days of the
    restored copy at STANDARD (round table: 365/12 per GB-month → 1 per GB-day)."""
    rows = by_tier(estimate({"DEEP_ARCHIVE": (10 * GB, 2000)}, "us-east-1", round_prices, 48, restore_days=7))
    assert rows["Standard"].cost == pytest.approx(10 * 0.02 + 2 * 0.10 + 10 * 7 * 1.0)
    assert rows["Bulk"].cost == pytest.approx(10 * 0.0025 + 2 * 0.025 + 10 * 7 * 1.0)
    assert rows["Standard"].meets and rows["Bulk"].meets is False


def test_instant_classes_need_no_restore_time(round_prices):
    rows = estimate({"GLACIER_IR": (GB, 100)}, "us-east-1", round_prices, 0.5)
    assert all(r.hours == 0 and r.meets for r in rows)
    assert rows[0].cost == pytest.approx(1 * 0.03 + 0.1 * 0.01)


@pytest.mark.parametrize(("text", "label"), [("priors:2y", "priors of the last 2 years"),
                                             ("priors:1", "priors of the last 1 year"),
                                             ("specialty:Pathology", "all pathology studies"), ("all", "the whole archive")])
def test_slices(text, label):
    assert parse_slice(text).label == label


@pytest.mark.parametrize("text", ["priors:0y", "specialty:cardiac", "last week", ""])
def test_bad_slices_are_usage_errors(text):
    with pytest.raises(UsageError, match="--slice"):
        parse_slice(text)
