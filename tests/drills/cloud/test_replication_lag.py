"""The replication lag distribution: seeded, mostly seconds, a small tail under 15 minutes."""

from __future__ import annotations

import statistics

import pytest

from drills.cloud.sim.replication_lag import RTC_LIMIT_SECONDS, LagDistribution, LagSettings
from drills.errors import ConfigError

N = 20_000


def test_same_seed_same_lags_and_other_seed_other_lags():
    assert LagDistribution(seed=7).draws(500) == LagDistribution(seed=7).draws(500)
    assert LagDistribution(seed=7).draws(500) != LagDistribution(seed=8).draws(500)


def test_default_shape_seconds_body_small_tail_all_under_fifteen_minutes():
    lags = LagDistribution(seed=3).draws(N)
    assert max(lags) < RTC_LIMIT_SECONDS
    assert 3.5 < statistics.median(lags) < 7.0
    slow = sum(1 for lag in lags if lag > 120) / N
    assert 0.005 < slow < 0.02          # the ~1% tail, not more
    assert max(lags) > 300              # the tail exists at all


def test_fixed_seconds_overrides_the_distribution():
    assert set(LagDistribution({"fixed_seconds": 42}, seed=1).draws(50)) == {42.0}


def test_cap_applies_to_every_draw():
    lags = LagDistribution({"median_seconds": 600, "sigma": 2.0, "max_seconds": 700}, seed=5).draws(2000)
    assert max(lags) <= 700


@pytest.mark.parametrize(("raw", "key"), [
    ({"median": 5}, "replication_lag.median"),
    ({"sigma": "wide"}, "replication_lag.sigma"),
    ({"tail_fraction": 2}, "replication_lag.tail_fraction"),
    ({"median_seconds": 0}, "replication_lag.median_seconds"),
    ({"tail_min_seconds": 900, "tail_max_seconds": 100}, "replication_lag.tail_min_seconds"),
    ({"max_seconds": -1}, "replication_lag.max_seconds"),
])
def test_bad_settings_name_the_key(raw, key):
    with pytest.raises(ConfigError) as info:
        LagSettings.from_mapping(raw)
    assert info.value.key == key
    assert info.value.exit_code == 2
