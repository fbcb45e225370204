"""Projection: hand-computed cases, and the AWS rules that change them.

Sources: minimum storage durations, minimum billable object size and per-object archive
overhead — https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare;
128 KB transition minimum, waterfall order and prorated early-deletion charge —
https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
"""

from __future__ import annotations

import pytest

from drills.contracts import Specialty
from drills.plan.mix import Mix, Modality, ObjectGroup
from drills.plan.projection import (BACKUP, PRIMARY, REPLICA, Phase, Scenario, backup_window, composition,
                                    project, streams, timeline)
from drills.storage_classes import StorageClass as C

MB = 1_000_000


def one_modality(size: int) -> Mix:
    return Mix("one", (Modality("CT", Specialty.RADIOLOGY, 1.0, (ObjectGroup(1, size),)),), "test")


def scenario(tiers=((90, C.GLACIER_IR),), replica=None, vaults=(), retention=0, delete_at=None) -> Scenario:
    return Scenario("us-east-1", "us-west-2", {Specialty.RADIOLOGY: tuple(tiers)}, replica, False,
                    tuple(vaults), retention, delete_at)


def test_one_modality_one_transition_matches_the_hand_computation(round_prices):
    """1 object of 1 MB a day; STANDARD until day 90, then GLACIER_IR (1 USD / 0.1 USD per object-day).
    Year 1: STANDARD object-days = 1+2+…+90 + 275×90 = 28,845; GLACIER_IR = 1+…+275 = 37,950.
    Year 2: STANDARD 365×90 = 32,850; GLACIER_IR = 276+…+640 = 167,170."""
    y1, y2 = project(scenario(), one_modality(MB), 365 * MB, 2, round_prices)
    assert y1.cost["storage:primary"] == pytest.approx(28_845 + 3_795.0, rel=1e-12)
    assert y1.cost["requests:primary"] == pytest.approx(365 / 1000 * 1.0)
    assert y1.cost["transitions"] == pytest.approx(275 / 1000 * 2.0)       # days 90..364 reach age 90
    assert y1.bytes[PRIMARY] == {"STANDARD": 90 * MB, "GLACIER_IR": 275 * MB}
    assert y1.objects[PRIMARY] == {"STANDARD": 90, "GLACIER_IR": 275}
    assert y2.cost["storage:primary"] == pytest.approx(32_850 + 16_717.0, rel=1e-12)
    assert y2.cost["transitions"] == pytest.approx(365 / 1000 * 2.0)
    assert y2.bytes[PRIMARY] == {"STANDARD": 90 * MB, "GLACIER_IR": 640 * MB}
    assert "early-deletion" not in y1.cost and "early-deletion" not in y2.cost
    assert y1.monthly_run_rate == pytest.approx((90 * 1.0 + 275 * 0.1) * 365 / 12)


def test_objects_under_128_kb_stay_in_their_class(round_prices):
    """Lifecycle does not transition objects smaller than 128 KB by default: 100 KB objects stay in
    STANDARD (1+2+…+365 object-days), with no transition requests; 128 KiB objects do move."""
    (small,) = project(scenario(), one_modality(100_000), 365 * 100_000, 1, round_prices)
    assert small.bytes[PRIMARY] == {"STANDARD": 365 * 100_000}
    assert "transitions" not in small.cost
    assert small.cost["storage:primary"] == pytest.approx(66_795 * 0.1, rel=1e-12)   # 0.1 MB per object
    (edge,) = project(scenario(), one_modality(131_072), 365 * 131_072, 1, round_prices)
    assert edge.bytes[PRIMARY]["GLACIER_IR"] == 275 * 131_072


def test_minimum_storage_duration_is_charged_when_a_class_is_left_early(round_prices):
    """The replica starts in GLACIER_IR (90-day minimum); the tier moves it to GLACIER at day 60, so
    each cohort is charged 30 more days of GLACIER_IR: year 1 has 305 cohorts reaching age 60
    → 305 × 30 × 0.1 USD. With the transition at day 90 nothing is charged."""
    (early,) = project(scenario(tiers=((60, C.GLACIER),), replica=C.GLACIER_IR), one_modality(MB), 365 * MB, 1,
                       round_prices)
    assert early.cost["early-deletion"] == pytest.approx(305 * 30 * 0.1, rel=1e-12)
    (on_time,) = project(scenario(tiers=((90, C.GLACIER),), replica=C.GLACIER_IR), one_modality(MB), 365 * MB, 1,
                         round_prices)
    assert "early-deletion" not in on_time.cost


def test_deleting_before_the_minimum_is_charged_the_remaining_days(round_prices):
    """Deleted at age 100 after moving to DEEP_ARCHIVE at day 30: 70 of 180 days stored, 110 charged.
    Year 1: 265 cohorts reach age 100 → 265 × 110 × 0.01 USD (+ per-object overhead: 32 KB at the
    Deep Archive rate and 8 KB at Standard's, per the class comparison)."""
    (y1,) = project(scenario(tiers=((30, C.DEEP_ARCHIVE),), delete_at=100), one_modality(MB), 365 * MB, 1,
                    round_prices)
    per_cohort_day = 0.01 * (MB + 32 * 1024) / MB + 1.0 * 8 * 1024 / MB
    assert y1.cost["early-deletion"] == pytest.approx(265 * 110 * per_cohort_day, rel=1e-12)
    assert y1.bytes[PRIMARY] == {"STANDARD": 30 * MB, "DEEP_ARCHIVE": 70 * MB}


def test_small_objects_are_billed_as_128_kb_in_ia_and_glacier_ir(round_prices):
    """Standard-IA bills each object as at least 128 KB: a 64 KiB replica object costs as much as a
    128 KiB one (half of STANDARD's price per byte → 0.5 × 131,072 / 1e6 USD per object-day)."""
    (y1,) = project(scenario(tiers=(), replica=C.STANDARD_IA), one_modality(65_536), 365 * 65_536, 1,
                    round_prices)
    assert y1.cost["storage:replica"] == pytest.approx(66_795 * 0.5 * 131_072 / MB, rel=1e-12)
    assert y1.cost["storage:primary"] == pytest.approx(66_795 * 65_536 / MB, rel=1e-12)
    assert y1.bytes[REPLICA] == {"STANDARD_IA": 365 * 65_536}


def test_timeline_follows_the_waterfall():
    """A transition to a class that is not colder is skipped (replica already in GLACIER_IR)."""
    assert timeline(C.GLACIER_IR, [(60, C.STANDARD_IA), (180, C.GLACIER_IR), (730, C.DEEP_ARCHIVE)], MB) == (
        Phase(C.GLACIER_IR, 0, 730, "transition"), Phase(C.DEEP_ARCHIVE, 730, None))
    assert timeline(C.STANDARD, [(30, C.DEEP_ARCHIVE)], 1000, delete_at=10) == (
        Phase(C.STANDARD, 0, 10, "deletion"),)


def test_backup_keeps_objects_until_they_leave_backed_up_classes_plus_retention(round_prices):
    """AWS Backup for S3 skips Glacier Flexible Retrieval / Deep Archive: an object moving to
    DEEP_ARCHIVE at day 30 stays in the vault 35 more days (retention), in each of two vaults."""
    sc = scenario(tiers=((30, C.DEEP_ARCHIVE),), vaults=("us-east-1", "us-west-2"), retention=35)
    (primary,) = [s for s in streams(sc, one_modality(MB), 365 * MB) if s.copy == PRIMARY]
    assert backup_window(primary, 35) == 65
    (y1,) = project(sc, one_modality(MB), 365 * MB, 1, round_prices)
    assert y1.bytes[BACKUP]["VAULT"] == 2 * 65 * MB
    assert y1.cost["backup-copy-transfer"] == pytest.approx(365 * 0.02)     # one vault out of region


def test_composition_of_a_restore_slice():
    """Priors of the last 100 days on day 364: 90 cohorts in STANDARD, 10 in GLACIER_IR."""
    comp = composition(scenario(), one_modality(MB), 365 * MB, 364, PRIMARY, max_age=100)
    assert comp == {"STANDARD": (90 * MB, 90), "GLACIER_IR": (10 * MB, 10)}
    assert composition(scenario(), one_modality(MB), 365 * MB, 364, PRIMARY,
                       specialty=Specialty.PATHOLOGY) == {}
