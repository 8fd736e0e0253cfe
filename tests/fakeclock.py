"""FAKE clock for tests: attuned.daemon.clock.Clock with time that moves only when a test
moves it. The daemon, its scheduler and its clock watcher take it through the same seam
as the real clock (no library is patched), so a test jumps an hour instead of waiting.

It models the three clocks the real one reads:

    clock = FakeClock(datetime(2026, 3, 29, 0, 40, tzinfo=UTC))
    await clock.advance(3600)   # awake time passes: wall, monotonic and boot clocks move,
                                # and every timer due on the way fires, in order
    clock.suspend(7200)         # the machine sleeps: wall and boot clocks move, the
                                # monotonic clock (the loop's timers) does not
    clock.step(-30)             # the clock is set back: the wall clock alone moves

Timers are kept on the fake monotonic clock, as the event loop keeps them on the real
one: after `suspend` they are late by the sleep until the daemon re-arms them, exactly
the state a laptop resumes in. A timer due now (or with no delay) runs on the next turn
of the running loop, as `loop.call_later(0, ...)` would.

`settle`, if set, is awaited after each timer's callback during `advance`, so that what a
timer started (a nudge being sent) finishes before the clock moves on.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from attuned.core.clock import Reading


class FakeTimer:
    def __init__(self, clock: FakeClock, deadline: float, callback: Callable[[], object]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False
        self._clock = clock

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """FAKE: see the module docstring."""

    def __init__(self, start: datetime, *, zone: str = "fake-zone") -> None:
        if start.tzinfo is None:
            raise ValueError("the fake clock starts at an aware moment")
        self._wall = start
        self._mono = 1000.0
        self._boot = 1000.0
        self.zone = zone  # what read() reports as the zone signature; change it to "move"
        self._timers: list[tuple[float, int, FakeTimer]] = []
        self._seq = itertools.count()
        self.settle: Callable[[], Awaitable[object]] | None = None

    # the Clock protocol ----------------------------------------------------------------

    def now(self) -> datetime:
        return self._wall

    def call_later(self, delay: float, callback: Callable[[], object]) -> FakeTimer:
        timer = FakeTimer(self, self._mono + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._seq), timer))
        if delay <= 0:
            asyncio.get_running_loop().call_soon(self._run_due)
        return timer

    def call_at(self, when: datetime, callback: Callable[[], object]) -> FakeTimer:
        return self.call_later((when - self._wall).total_seconds(), callback)

    def read(self) -> Reading:
        return Reading(wall=self._wall.timestamp(), monotonic=self._mono,
                       boottime=self._boot, zone=self.zone)

    # moving it -------------------------------------------------------------------------

    async def advance(self, seconds: float) -> None:
        """Let `seconds` of awake time pass, firing each timer at its own moment."""
        if seconds < 0:
            raise ValueError("awake time only moves forward; use step() to set it back")
        target = self._mono + seconds
        while True:
            timer = self._next_timer(target)
            if timer is None:
                break
            self._move(timer.deadline - self._mono)
            timer.cancelled = True  # fired: at most once
            timer.callback()
            await self._settle()
        self._move(target - self._mono)
        await self._settle()

    def suspend(self, seconds: float) -> None:
        """The machine sleeps `seconds`: no timer fires, and all of them are late after."""
        self._wall += timedelta(seconds=seconds)
        self._boot += seconds

    def step(self, seconds: float) -> None:
        """The wall clock is set forward (+) or back (-) by `seconds`."""
        self._wall += timedelta(seconds=seconds)

    @property
    def pending(self) -> int:
        """Timers not yet fired or cancelled."""
        return sum(1 for *_, t in self._timers if not t.cancelled)

    # internals -------------------------------------------------------------------------

    def _move(self, seconds: float) -> None:
        if seconds > 0:
            self._wall += timedelta(seconds=seconds)
            self._mono += seconds
            self._boot += seconds

    def _next_timer(self, until: float) -> FakeTimer | None:
        while self._timers:
            deadline, _, timer = self._timers[0]
            if timer.cancelled:
                heapq.heappop(self._timers)
                continue
            if deadline > until:
                return None
            heapq.heappop(self._timers)
            return timer
        return None

    def _run_due(self) -> None:
        while (timer := self._next_timer(self._mono)) is not None:
            timer.cancelled = True
            timer.callback()

    async def _settle(self) -> None:
        await asyncio.sleep(0)
        if self.settle is not None:
            await self.settle()
