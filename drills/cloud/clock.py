"""The embedded cloud's virtual clock and its scheduler.

Simulated work (a replication landing, a lifecycle transition, a restore finishing, a
backup job completing) is scheduled at a virtual instant and runs when the clock passes
it: explicitly through ``advance`` or, with ``speed > 0``, as real time goes by
(``speed`` virtual seconds per real second, applied on every ``pump``). Every duration
that comes from this clock is simulated and must be labelled so wherever it appears.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

SIMULATED = "simulated"


@dataclass(order=True)
class _Task:
    due: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)
    label: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)


class ScheduledTask:
    """Handle to cancel a scheduled task."""

    def __init__(self, task: _Task) -> None:
        self._task = task

    @property
    def due(self) -> datetime:
        return self._task.due

    def cancel(self) -> None:
        self._task.cancelled = True


class VirtualClock:
    """A clock that starts at ``start`` (default: real UTC now) and moves only when told.

    Thread-safe. Tasks run in due order, one runner thread at a time, each seeing ``now()``
    equal to its due time, so a task can schedule follow-ups relative to the moment it
    happened. The state lock is NOT held while a task runs: a task may call the embedded
    cloud over HTTP, and the thread serving that call may read the clock.
    """

    def __init__(self, start: datetime | None = None, speed: float = 0.0) -> None:
        self._now = (start or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self._speed = float(speed)
        self._real_anchor = time.monotonic()
        self._heap: list[_Task] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()          # guards _now, _heap, _goal
        self._runner = threading.Lock()        # one thread runs tasks at a time
        self._runner_thread: int | None = None
        self._goal = self._now
        self.failures: list[tuple[datetime, str, str]] = []   # (when, task label, error)

    # -- reading
    def now(self) -> datetime:
        with self._lock:
            return self._now

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        self.pump()
        with self._lock:
            self._speed = float(speed)
            self._real_anchor = time.monotonic()

    def pending(self) -> list[tuple[datetime, str]]:
        with self._lock:
            return sorted((t.due, t.label) for t in self._heap if not t.cancelled)

    # -- scheduling
    def next_midnight(self) -> datetime:
        """The next virtual 00:00 UTC (what S3's daily jobs — lifecycle, inventory — run at)."""
        return self.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)

    def schedule_at(self, due: datetime, action: Callable[[], None], label: str = "") -> ScheduledTask:
        with self._lock:
            task = _Task(due=max(due, self._now), seq=next(self._seq), action=action, label=label)
            heapq.heappush(self._heap, task)
            return ScheduledTask(task)

    def schedule_in(self, delay: timedelta | float, action: Callable[[], None], label: str = "") -> ScheduledTask:
        if not isinstance(delay, timedelta):
            delay = timedelta(seconds=float(delay))
        with self._lock:
            due = self._now + delay
        return self.schedule_at(due, action, label)

    # -- moving
    def advance(self, delta: timedelta | float) -> int:
        """Move the clock forward by ``delta``, running every task due on the way.

        Blocks until those tasks ran. Returns how many ran."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=float(delta))
        if delta < timedelta(0):
            raise ValueError("the virtual clock never goes backwards")
        with self._lock:
            target = self._now + delta
        return self._run_until(target, wait=True)

    def advance_to(self, when: datetime) -> int:
        return self._run_until(when, wait=True)

    def run_due(self) -> int:
        """Run tasks already due (scheduled at or before now) without moving the clock."""
        return self._run_until(self.now(), wait=True)

    def pump(self) -> int:
        """Apply real time elapsed x speed, if the clock runs on its own, and run what is due.

        Never blocks: if another thread is running tasks, it will see the new goal."""
        with self._lock:
            target = self._now
            if self._speed > 0:
                real = time.monotonic()
                target = self._now + timedelta(seconds=(real - self._real_anchor) * self._speed)
                self._real_anchor = real
        return self._run_until(target, wait=False)

    def _run_until(self, target: datetime, *, wait: bool) -> int:
        me = threading.get_ident()
        with self._lock:
            self._goal = max(self._goal, target)
        if self._runner_thread == me:       # a task moved the clock: the outer loop catches up
            return 0
        if not self._runner.acquire(blocking=wait):
            return 0
        self._runner_thread = me
        ran = 0
        try:
            while True:
                with self._lock:
                    goal = self._goal
                    task = None
                    while self._heap and self._heap[0].due <= goal:
                        candidate = heapq.heappop(self._heap)
                        if not candidate.cancelled:
                            task = candidate
                            break
                    if task is None:
                        self._now = max(self._now, goal)
                        break
                    self._now = max(self._now, task.due)
                try:
                    task.action()
                except Exception as exc:  # recorded, surfaced by `drkit cloud status`; the clock goes on
                    self.failures.append((task.due, task.label, f"{type(exc).__name__}: {exc}"))
                ran += 1
        finally:
            self._runner_thread = None
            self._runner.release()
        return ran
