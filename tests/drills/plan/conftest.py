"""A price table with round figures so hand-computed cases stay readable.

``bytesPerGB`` is 1,000,000 and every storage price is a multiple of 365/12, so one 1 MB
object costs exactly 1 USD a day in STANDARD and 0.1 USD a day in GLACIER_IR.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from drills.plan.prices import PriceTable, parse

MONTH = 365 / 12


def shipped_document() -> dict[str, Any]:
    return json.loads(resources.files("drills.plan").joinpath("prices.json").read_text())


def round_document() -> dict[str, Any]:
    doc = copy.deepcopy(shipped_document())
    doc["name"], doc["date"], doc["bytesPerGB"] = "test-round", "2026-01-01", 1_000_000
    region = doc["regions"]["us-east-1"]
    region["storagePerGBMonth"] = {"STANDARD": MONTH, "STANDARD_IA": MONTH / 2, "INTELLIGENT_TIERING": MONTH,
                                   "ONEZONE_IA": MONTH / 2, "GLACIER_IR": MONTH / 10, "GLACIER": MONTH / 20,
                                   "DEEP_ARCHIVE": MONTH / 100}
    region["putPer1000"] = {k: 1.0 for k in region["putPer1000"]}
    region["transitionPer1000"] = {k: 2.0 for k in region["transitionPer1000"]}
    doc["regions"] = {"us-east-1": region, "us-west-2": copy.deepcopy(region)}
    return doc


@pytest.fixture
def round_prices() -> PriceTable:
    return parse(round_document(), "test")
