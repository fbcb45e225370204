"""Sizes and growth rates as people write them."""

from __future__ import annotations

import pytest

from drills.errors import UsageError
from drills.plan.units import human_bytes, parse_growth, parse_size


@pytest.mark.parametrize(("text", "value"), [("40TB/yr", 40 * 10**12), ("1.5 TiB / year", int(1.5 * 2**40)),
                                             ("500GB/y", 500 * 10**9), ("2PB", 2 * 10**15)])
def test_growth(text, value):
    assert parse_growth(text) == value


@pytest.mark.parametrize("text", ["", "lots/yr", "0TB/yr", "-1TB/yr", "40XB/yr"])
def test_bad_growth(text):
    with pytest.raises(UsageError, match="--growth"):
        parse_growth(text)


def test_sizes():
    assert parse_size("512KiB") == 524_288 and parse_size("128KB") == 128_000 and parse_size(7) == 7
    assert human_bytes(40e12) == "40 TB" and human_bytes(999) == "999 B"
    with pytest.raises(UsageError):
        parse_size(True)
