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

    Thread-safe. Tasks run in due order, each seeing ``now()`` equal to its due time, so a
    task can schedule follow-ups relative to the moment it happened.
    """

    def __init__(self, start: datetime | None = None, speed: float = 0.0) -> None:
        self._now = (start or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self._speed = float(speed)
        self._real_anchor = time.monotonic()
        self._heap: list[_Task] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._running = False

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
        with self._lock:
            self.pump()
            self._speed = float(speed)
            self._real_anchor = time.monotonic()

    def pending(self) -> list[tuple[datetime, str]]:
        with self._lock:
            return sorted((t.due, t.label) for t in self._heap if not t.cancelled)

    # -- scheduling
    def schedule_at(self, due: datetime, action: Callable[[], None], label: str = "") -> ScheduledTask:
        with self._lock:
            task = _Task(due=max(due, self._now), seq=next(self._seq), action=action, label=label)
            heapq.heappush(self._heap, task)
            return ScheduledTask(task)

    def schedule_in(self, delay: timedelta | float, action: Callable[[], None], label: str = "") -> ScheduledTask:
        if not isinstance(delay, timedelta):
            delay = timedelta(seconds=float(delay))
        return self.schedule_at(self.now() + delay, action, label)

    # -- moving
    def advance(self, delta: timedelta | float) -> int:
        """Move the clock forward by ``delta``, running every task due on the way. Returns how many ran."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=float(delta))
        if delta < timedelta(0):
            raise ValueError("the virtual clock never goes backwards")
        with self._lock:
            return self._run_until(self._now + delta)

    def advance_to(self, when: datetime) -> int:
        with self._lock:
            return self._run_until(max(when, self._now))

    def pump(self) -> int:
        """Apply real time elapsed × speed, if the clock runs on its own. Call before serving a request."""
        with self._lock:
            if self._speed <= 0:
                return self._run_until(self._now)
            real = time.monotonic()
            elapsed = (real - self._real_anchor) * self._speed
            self._real_anchor = real
            return self._run_until(self._now + timedelta(seconds=elapsed))

    def _run_until(self, target: datetime) -> int:
        if self._running:  # a task that advances the clock must not re-enter
            self._now = max(self._now, target)
            return 0
        ran = 0
        self._running = True
        try:
            while self._heap and self._heap[0].due <= target:
                task = heapq.heappop(self._heap)
                if task.cancelled:
                    continue
                self._now = max(self._now, task.due)
                task.action()
                ran += 1
            self._now = max(self._now, target)
        finally:
            self._running = False
        return ran
