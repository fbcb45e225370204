"""The one clock drills wait and measure with.

- ``WallClock`` (AWS): real UTC time; ``wait`` sleeps; ``poll`` retries with exponential
  backoff. Durations are real.
- ``VirtualClock`` (embedded cloud): the cloud's virtual clock, read and moved through the
  control protocol (``/_drkit/clock/advance``); ``wait`` *advances* it and never sleeps. Every
  duration it yields is simulated and must be labelled so (``clock.simulated``).

Drills never read ``datetime.now()`` themselves: they ask the clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Protocol, TypeVar, runtime_checkable

from drills.errors import DrkitError, InfraError

T = TypeVar("T")


@runtime_checkable
class Clock(Protocol):
    """What the engine, probes and actions need from a clock."""

    simulated: bool
    kind: str                  # "virtual" | "wall" (the journal's ``clock``)

    def now(self) -> datetime:
        """UTC now (aware)."""

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass (virtual: advance; wall: sleep)."""

    def advance(self, seconds: float) -> None:
        """Same as ``wait``: the name the embedded cloud uses."""


@dataclass(frozen=True)
class PollResult:
    """The outcome of ``poll``: the last value, whether it satisfied, when and how long."""

    value: Any
    satisfied: bool
    elapsed_s: float
    attempts: int
    at: datetime


def poll(clock: Clock, check: Callable[[], T], *, timeout_s: float, interval_s: float,
         max_interval_s: float | None = None, backoff: float = 1.5) -> PollResult:
    """Call ``check`` until it returns a truthy value or ``timeout_s`` passes on ``clock``.

    Between attempts the clock waits ``interval_s``, growing by ``backoff`` up to
    ``max_interval_s`` on the wall clock (polite to AWS APIs). On the virtual clock the
    interval stays fixed, so simulated measurements keep their resolution."""
    start = clock.now()
    attempts = 0
    interval = interval_s
    cap = max_interval_s if max_interval_s is not None else interval_s * 8
    while True:
        attempts += 1
        value = check()
        now = clock.now()
        elapsed = (now - start).total_seconds()
        if value:
            return PollResult(value, True, elapsed, attempts, now)
        if elapsed >= timeout_s:
            return PollResult(value, False, elapsed, attempts, now)
        step = min(interval, max(timeout_s - elapsed, 0.0)) or interval
        clock.wait(step)
        if not clock.simulated:
            interval = min(interval * backoff, cap)


class WallClock:
    """Real time (AWS)."""

    simulated = False
    kind = "wall"

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    advance = wait


class VirtualClock:
    """The embedded cloud's virtual clock, over the control protocol. Never sleeps."""

    simulated = True
    kind = "virtual"

    def __init__(self, control: Any) -> None:
        self._control = control
        self.last: datetime | None = None          # the last reading the cloud answered

    def now(self) -> datetime:
        # Advancing by nothing answers the clock's time without the whole status document.
        self.last = parse_time(self._control.advance(0)["now"])
        return self.last

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            answer = self._control.advance(seconds)
            if isinstance(answer, dict) and "now" in answer:
                self.last = parse_time(answer["now"])

    advance = wait

    def held(self, fallback: datetime | None = None) -> "HeldClock":
        """This clock frozen at its reading now (or, if the cloud no longer answers, its last
        reading, else ``fallback``): for what is written after the embedded cloud stops."""
        try:
            at: datetime | None = self.now()
        except DrkitError:                           # the cloud is gone: what it last said
            at = self.last or fallback
        if at is None:
            raise ValueError("the virtual clock was never read: no reading to hold")
        return HeldClock(at)


class HeldClock:
    """The embedded cloud's virtual clock after the cloud stopped: its last reading, held
    locally. Still simulated time (never the wall clock); it cannot move any more."""

    simulated = True
    kind = "virtual"

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            raise InfraError("the embedded cloud has stopped: its virtual clock can no longer advance")

    advance = wait


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def iso(when: datetime) -> str:
    """UTC ISO-8601 with "Z" (the journal's time format)."""
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
