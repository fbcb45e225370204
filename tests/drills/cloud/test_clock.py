"""The virtual clock and its scheduler (drills.cloud.clock). No server needed."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from drills.cloud.clock import VirtualClock

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=T0)


def test_stands_still_until_told(clock: VirtualClock) -> None:
    time.sleep(0.01)
    clock.pump()
    assert clock.now() == T0
    clock.advance(90)
    assert clock.now() == T0 + timedelta(seconds=90)


def test_tasks_run_in_due_order_and_see_their_due_time(clock: VirtualClock) -> None:
    seen: list[tuple[str, datetime]] = []
    for label, delay in (("c", 30), ("a", 10), ("b", 20), ("a2", 10)):
        clock.schedule_in(delay, lambda label=label: seen.append((label, clock.now())), label)
    assert clock.advance(25) == 3
    assert seen == [("a", T0 + timedelta(seconds=10)), ("a2", T0 + timedelta(seconds=10)),
                    ("b", T0 + timedelta(seconds=20))]
    assert clock.now() == T0 + timedelta(seconds=25)
    assert clock.pending() == [(T0 + timedelta(seconds=30), "c")]


def test_a_task_can_schedule_follow_ups_within_the_same_advance(clock: VirtualClock) -> None:
    seen: list[datetime] = []

    def first() -> None:
        seen.append(clock.now())
        clock.schedule_in(5, lambda: seen.append(clock.now()), "follow-up")

    clock.schedule_in(10, first, "first")
    assert clock.advance(60) == 2
    assert seen == [T0 + timedelta(seconds=10), T0 + timedelta(seconds=15)]


def test_cancelled_tasks_do_not_run(clock: VirtualClock) -> None:
    ran: list[str] = []
    handle = clock.schedule_in(10, lambda: ran.append("x"), "cancelled")
    clock.schedule_in(20, lambda: ran.append("y"), "kept")
    handle.cancel()
    assert clock.pending() == [(T0 + timedelta(seconds=20), "kept")]
    assert clock.advance(30) == 1
    assert ran == ["y"]


def test_failures_are_recorded_and_the_clock_goes_on(clock: VirtualClock) -> None:
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("replica bucket vanished")

    clock.schedule_in(5, boom, "replicate k")
    clock.schedule_in(6, lambda: ran.append("after"), "next")
    assert clock.advance(10) == 2
    assert ran == ["after"]
    assert clock.failures == [(T0 + timedelta(seconds=5), "replicate k", "RuntimeError: replica bucket vanished")]


def test_past_due_times_run_now_and_time_never_goes_back(clock: VirtualClock) -> None:
    clock.advance(100)
    handle = clock.schedule_at(T0, lambda: None, "late")
    assert handle.due == T0 + timedelta(seconds=100)
    assert clock.run_due() == 1
    with pytest.raises(ValueError):
        clock.advance(-1)
    clock.advance_to(T0)          # a moment already passed: no-op
    assert clock.now() == T0 + timedelta(seconds=100)


def test_speed_moves_the_clock_with_real_time(clock: VirtualClock) -> None:
    with pytest.raises(ValueError):
        clock.set_speed(-1)
    clock.set_speed(3600)
    time.sleep(0.05)
    clock.pump()
    elapsed = (clock.now() - T0).total_seconds()
    assert elapsed >= 3600 * 0.05 * 0.9
    clock.set_speed(0)
    frozen = clock.now()
    time.sleep(0.02)
    clock.pump()
    assert clock.now() == frozen


def test_a_task_may_block_on_another_thread_reading_the_clock(clock: VirtualClock) -> None:
    """The state lock is not held while a task runs (a task may call the server, which reads now())."""
    seen: list[datetime] = []

    def task() -> None:
        reader = threading.Thread(target=lambda: seen.append(clock.now()))
        reader.start()
        reader.join(timeout=5)
        assert not reader.is_alive()

    clock.schedule_in(10, task, "calls the server")
    clock.advance(20)
    assert clock.failures == []
    assert seen == [T0 + timedelta(seconds=10)]


def test_pump_never_blocks_while_another_thread_runs_tasks(clock: VirtualClock) -> None:
    started, release = threading.Event(), threading.Event()
    clock.schedule_in(1, lambda: (started.set(), release.wait(5)), "slow task")
    runner = threading.Thread(target=clock.advance, args=(10,))
    runner.start()
    assert started.wait(5)
    begun = time.monotonic()
    assert clock.pump() == 0
    assert time.monotonic() - begun < 1
    release.set()
    runner.join(5)
    assert clock.now() == T0 + timedelta(seconds=10)
