"""The drill clock: wall time with polling backoff on AWS; the virtual clock advances, never sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from drills.engine.clock import VirtualClock, WallClock, iso, parse_time, poll


class _Control:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.advanced: list[float] = []

    def advance(self, seconds: float) -> dict:
        if seconds:
            self.advanced.append(seconds)
        self.now += timedelta(seconds=seconds)
        return {"now": self.now.isoformat()}


def test_virtual_clock_advances_through_the_control_protocol() -> None:
    control = _Control()
    clock = VirtualClock(control)
    start = clock.now()
    result = poll(clock, lambda: clock.now() - start >= timedelta(seconds=95), timeout_s=600, interval_s=10)
    assert result.satisfied and result.elapsed_s == 100 and result.attempts == 11
    assert control.advanced == [10] * 10                 # fixed steps: no backoff on simulated time
    assert clock.simulated and clock.kind == "virtual"


def test_wall_clock_polls_with_backoff_and_gives_up_at_the_timeout() -> None:
    slept: list[float] = []
    clock = WallClock(sleep=slept.append)
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    clock.now = lambda: now[0]                           # type: ignore[method-assign]
    clock._sleep = lambda s: (slept.append(s), now.__setitem__(0, now[0] + timedelta(seconds=s)))
    result = poll(clock, lambda: False, timeout_s=30, interval_s=2, max_interval_s=5)
    assert not result.satisfied and result.elapsed_s >= 30
    assert slept[:4] == [2, 3.0, 4.5, 5]                 # grows by 1.5x up to the cap
    assert not clock.simulated and clock.kind == "wall"


def test_times_are_utc_with_z() -> None:
    when = parse_time("2026-01-01T01:00:00+01:00")
    assert iso(when) == "2026-01-01T00:00:00.000Z"


def test_the_held_clock_keeps_the_virtual_clocks_last_reading_once_the_cloud_is_gone() -> None:
    """After the embedded cloud stops, what is still written (a journal event) is stamped with
    the virtual clock's last reading — simulated time, never the wall clock."""
    import pytest

    from drills.errors import EndpointUnreachable, InfraError

    control = _Control()
    clock = VirtualClock(control)
    clock.wait(90)
    last = clock.now()
    assert clock.last == last == datetime(2026, 1, 1, 0, 1, 30, tzinfo=timezone.utc)

    def gone(seconds: float) -> dict:
        raise EndpointUnreachable("the embedded cloud at http://127.0.0.1:1 does not answer")

    control.advance = gone                                  # type: ignore[method-assign]
    held = clock.held()
    assert held.now() == last and held.simulated and held.kind == "virtual"
    with pytest.raises(InfraError, match="can no longer advance"):
        held.wait(5)
    held.wait(0)                                            # no time asked for: nothing to refuse


def test_the_held_clock_reads_the_cloud_once_more_while_it_answers() -> None:
    control = _Control()
    clock = VirtualClock(control)
    clock.now()
    control.now += timedelta(seconds=30)                    # the cloud's clock moved (e.g. speed > 0)
    assert clock.held().now() == control.now
