"""What the daemon knows of time, as types: the `Clock` it is handed (the system's, or a
fake in tests), the timers it sets, and a reading of the system's clocks. Pure: the real
clock is attuned.daemon.clock.SystemClock.

Two clocks matter, and they disagree after a suspend:
- the wall clock (`now`, `Reading.wall`) says when a nudge is due;
- the monotonic clock (`call_later`, `Reading.monotonic`) is what timers run on; on Linux
  it stands still while the machine sleeps. CLOCK_BOOTTIME keeps counting, so comparing
  the three tells a suspend from a clock step (attuned.daemon.clockwatch).

A timer set for a wall instant (`call_at`) is a monotonic delay computed when it is set:
after a suspend or a clock step it fires late or early, so whoever sets one re-arms it
when told the clocks moved (the scheduler's `wakeup`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Reading:
    """The clocks at one moment, in seconds."""

    wall: float  # time.time()
    monotonic: float  # CLOCK_MONOTONIC: stops during suspend (what timers use)
    boottime: float  # CLOCK_BOOTTIME: keeps counting during suspend
    zone: str  # signature of the local time zone setting; any change means "re-read it"


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Time, as the daemon and its core see it. Timers' callbacks run on the event loop."""

    def now(self) -> datetime:
        """The wall clock, aware, in UTC."""
        ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run `callback` after `delay` seconds of the monotonic clock."""
        ...

    def call_at(self, when: datetime, callback: Callable[[], object]) -> Timer:
        """Run `callback` at the wall instant `when` (at once if it is past), as far as the
        clocks agree until then."""
        ...

    def read(self) -> Reading:
        """All the clocks and the zone setting, at once."""
        ...
