"""How long a simulated S3 replication takes: a seeded lag distribution.

AWS does not publish a latency distribution for live replication; with Replication Time
Control it promises 99.99% of new objects within 15 minutes (REFERENCE.md). The default
here follows that shape: most objects land in seconds (lognormal, median 5 s), a small
tail (1%) takes minutes, and nothing takes 15 minutes or more. Every value is simulated.

Settings (``SimSettings.replication_lag``, all optional):

==================  =======  ===================================================
key                 default  meaning
==================  =======  ===================================================
median_seconds      5        median of the lognormal body
sigma               0.8      lognormal shape (spread of the body)
tail_fraction       0.01     share of objects drawn from the tail instead
tail_min_seconds    300      tail is uniform between these two bounds
tail_max_seconds    870
max_seconds         899      hard cap on any draw (RTC: under 15 minutes)
fixed_seconds       (none)   if set, every draw is exactly this (tests, demos)
==================  =======  ===================================================
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, fields
from typing import Any, Mapping

from drills.errors import ConfigError

RTC_LIMIT_SECONDS = 15 * 60


@dataclass(frozen=True)
class LagSettings:
    """Parameters of the replication lag distribution (simulated seconds)."""

    median_seconds: float = 5.0
    """Median of the lognormal body."""
    sigma: float = 0.8
    """Shape of the lognormal body."""
    tail_fraction: float = 0.01
    """Share of draws taken from the slow tail."""
    tail_min_seconds: float = 300.0
    """Lower bound of the (uniform) tail."""
    tail_max_seconds: float = 870.0
    """Upper bound of the (uniform) tail."""
    max_seconds: float = RTC_LIMIT_SECONDS - 1
    """Cap applied to every draw."""
    fixed_seconds: float | None = None
    """If set, every draw returns exactly this."""

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> "LagSettings":
        """Validate ``SimSettings.replication_lag``; a bad key or value raises ConfigError naming it."""
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"replication_lag.{unknown[0]}", f"unknown setting (known: {', '.join(sorted(known))})")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if value is None and name == "fixed_seconds":
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"replication_lag.{name}", f"must be a number, got {value!r}") from None
            if not math.isfinite(number) or number < 0:
                raise ConfigError(f"replication_lag.{name}", f"must be a finite number >= 0, got {value!r}")
            values[name] = number
        settings = cls(**values)
        settings._check()
        return settings

    def _check(self) -> None:
        if self.median_seconds <= 0:
            raise ConfigError("replication_lag.median_seconds", "must be > 0")
        if self.tail_fraction > 1:
            raise ConfigError("replication_lag.tail_fraction", "must be between 0 and 1")
        if self.tail_min_seconds > self.tail_max_seconds:
            raise ConfigError("replication_lag.tail_min_seconds", "must not exceed tail_max_seconds")


class LagDistribution:
    """Seeded, thread-safe source of replication lags in simulated seconds."""

    def __init__(self, settings: LagSettings | Mapping[str, Any] | None = None, seed: int = 1,
                 stream: str = "s3-replication") -> None:
        self.settings = settings if isinstance(settings, LagSettings) else LagSettings.from_mapping(settings)
        self._rng = random.Random(f"{seed}:{stream}")
        self._lock = threading.Lock()

    def draw(self) -> float:
        """One lag, in simulated seconds."""
        s = self.settings
        if s.fixed_seconds is not None:
            return s.fixed_seconds
        with self._lock:
            if self._rng.random() < s.tail_fraction:
                value = self._rng.uniform(s.tail_min_seconds, s.tail_max_seconds)
            else:
                value = self._rng.lognormvariate(math.log(s.median_seconds), s.sigma)
        return min(value, s.max_seconds)

    def draws(self, n: int) -> list[float]:
        return [self.draw() for _ in range(n)]
