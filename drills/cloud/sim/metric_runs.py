"""Metrics an AWS service publishes every minute, kept as runs instead of one datapoint a minute.

S3 publishes its replication metrics every minute for every rule that has them, also when
nothing replicates (then the values are 0). Storing each of those datapoints would cost a
datapoint per minute per metric for every virtual day a drill skips (lifecycle and backup
drills advance the clock by months). A behaviour that publishes such a series describes
it as ``MetricRun``\\ s instead — "one datapoint of ``value`` every minute from ``start`` to
``end``" — by answering ``metric_runs(region, start, end)``; the CloudWatch reads
(``cloudwatch_fixes``: GetMetricStatistics, GetMetricData, ListMetrics) and the alarm
evaluator (``cloudwatch_alarms``) turn the runs into aggregated datapoints (SampleCount =
minutes, Sum = value × minutes, Minimum = Maximum = value) split on the period boundaries
the reader groups by, so every statistic a client sees is the one the per-minute datapoints
would give.

All datetimes here are naive UTC (moto's convention for metric timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

MINUTE = timedelta(minutes=1)


def naive_utc(when: datetime) -> datetime:
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


@dataclass(frozen=True)
class MetricRun:
    """One datapoint of ``value`` per minute, stamped ``start``, ``start`` + 1 min, ... < ``end``."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str | None
    start: datetime
    end: datetime
    value: float = 0.0

    @property
    def key(self) -> tuple[str, str, frozenset[tuple[str, str]]]:
        """The metric's identity, as the alarm evaluator keys its series."""
        return self.namespace, self.name, frozenset(self.dimensions)

    @property
    def minutes(self) -> int:
        return int((self.end - self.start) // MINUTE)

    def clip(self, start: datetime | None, end: datetime | None) -> "MetricRun | None":
        """The part of the run with stamps in [start, end), or None. Boundaries between
        minutes are rounded up (a stamp is a minute's start)."""
        lo = self.start if start is None else max(self.start, _ceil_minute(start))
        hi = self.end if end is None else min(self.end, _ceil_minute(end))
        if hi <= lo:
            return None
        return MetricRun(self.namespace, self.name, self.dimensions, self.unit, lo, hi, self.value)


def _ceil_minute(when: datetime) -> datetime:
    floor = when.replace(second=0, microsecond=0)
    return floor if floor == when else floor + MINUTE


def published(sim: Any, region: str, start: datetime | None, end: datetime | None) -> list[MetricRun]:
    """The runs every behaviour of ``sim`` publishes in ``region``, clipped to [start, end)."""
    if sim is None:
        return []
    runs: list[MetricRun] = []
    for interceptor in getattr(sim, "interceptors", []):
        source: Callable[..., Iterable[MetricRun]] | None = getattr(interceptor, "metric_runs", None)
        if source is None:
            continue
        for run in source(region, start, end):
            clipped = run.clip(start, end)
            if clipped is not None:
                runs.append(clipped)
    return runs


def split(run: MetricRun, origin: datetime, period: timedelta) -> list[MetricRun]:
    """``run`` cut at every boundary ``origin`` + k × ``period``."""
    if period <= timedelta(0):
        return [run]
    pieces: list[MetricRun] = []
    lo = run.start
    while lo < run.end:
        k = (lo - origin) // period
        boundary = origin + (k + 1) * period
        hi = min(run.end, boundary)
        pieces.append(MetricRun(run.namespace, run.name, run.dimensions, run.unit, lo, hi, run.value))
        lo = hi
    return pieces


def split_all(runs: Iterable[MetricRun], grids: Iterable[tuple[datetime, timedelta]]) -> list[MetricRun]:
    """Every run cut at the boundaries of every (origin, period) grid."""
    pieces = list(runs)
    for origin, period in set(grids):
        pieces = [piece for run in pieces for piece in split(run, origin, period)]
    return pieces


def as_datum(run: MetricRun) -> Any:
    """The run as one moto aggregated datapoint stamped at its first minute."""
    from moto.cloudwatch.models import MetricAggregatedDatum

    n = float(run.minutes)
    return MetricAggregatedDatum(run.namespace, run.name, run.value, run.value, n, run.value * n,
                                 [{"Name": k, "Value": v} for k, v in run.dimensions], run.start, run.unit)
