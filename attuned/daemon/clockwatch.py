"""Notice when the wall clock moved relative to the monotonic clock, or the time zone changed.

The daemon's timers wait on the monotonic clock. Two things make that disagree with the wall
clock that nudge times are written in:
- a suspend: CLOCK_MONOTONIC stops while the machine sleeps (Linux); CLOCK_BOOTTIME and the
  wall clock keep going;
- a clock step: NTP correction or a manual change moves the wall clock only.
So once an `interval` (a minute: the one housekeeping wakeup the daemon allows itself) we take
a `Reading` of all three clocks and compare it with the previous one. `compare()` is pure;
`ClockWatcher` is the timer around it, on the daemon's clock. Where logind is visible the
daemon hears of a resume at once (sleepwatch.py); this is the fallback that catches it
within a minute, and the only way to see clock steps and zone changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from attuned.core.clock import Clock, Reading, Timer

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Change:
    """How the clocks moved between two readings, beyond normal ticking."""

    slept: float  # seconds the machine was suspended
    stepped: float  # seconds the wall clock was set forward (+) or back (-)
    zone_changed: bool

    @property
    def jump(self) -> float:
        """How far the wall clock moved against the monotonic one: what timers are off by."""
        return self.slept + self.stepped


def compare(prev: Reading, cur: Reading, threshold: float = 2.0) -> Change | None:
    """What changed from `prev` to `cur`, or None if the clocks only ticked along.

    A wall-vs-monotonic move of `threshold` seconds or less is ignored: NTP slews the clock
    by fractions of a second and APScheduler re-reads the wall clock at each wakeup anyway.
    """
    mono = cur.monotonic - prev.monotonic
    slept = (cur.boottime - prev.boottime) - mono
    stepped = (cur.wall - prev.wall) - (cur.boottime - prev.boottime)
    zone_changed = cur.zone != prev.zone
    moved = abs(slept + stepped) > threshold
    if not moved and not zone_changed:
        return None
    if not moved:
        slept = stepped = 0.0
    return Change(slept=slept, stepped=stepped, zone_changed=zone_changed)


def refresh_local_zone() -> None:
    """Make this process see the new local zone: libc's (time.tzset) and tzlocal's cache."""
    time.tzset()
    try:
        import tzlocal

        tzlocal.reload_localzone()
    except Exception as error:  # a half-written /etc/localtime: keep the old zone
        log.warning("could not re-read the local time zone: %s", error)


def describe(change: Change) -> str:
    """One log line for people."""
    parts = []
    if change.slept > 0.5:
        parts.append(f"the machine slept about {_span(change.slept)}")
    if abs(change.stepped) > 0.5:
        way = "forward" if change.stepped > 0 else "back"
        parts.append(f"the clock was set {way} {_span(abs(change.stepped))}")
    if change.zone_changed:
        parts.append("the time zone changed")
    return "; ".join(parts) or "the clocks moved"


def _span(seconds: float) -> str:
    s = round(seconds)
    if s < 120:
        return f"{s} s"
    h, m = divmod(s // 60, 60)
    return f"{h} h {m} min" if h else f"{m} min"


class ClockWatcher:
    """Calls `on_jump(seconds)` when the wall clock moved against the monotonic clock by
    more than `threshold` (a suspend or a clock step), and `on_zone_change()` after the local
    zone changed (the process's zone caches are refreshed first). Wakes once an `interval`.
    Callbacks run on the event loop; their exceptions are logged, the watch goes on.

    `on_tick()` runs first at every wakeup: the daemon's other housekeeping (the systemd
    watchdog ping) rides on this one timer, so an idle daemon wakes once a minute, not
    once per chore; the daemon picks an interval short enough for both."""

    def __init__(
        self,
        clock: Clock,
        on_jump: Callable[[float], None],
        on_zone_change: Callable[[], None] | None = None,
        interval: float = 60.0,
        threshold: float = 2.0,
        on_tick: Callable[[], object] | None = None,
    ) -> None:
        self._clock = clock
        self._on_jump = on_jump
        self._on_zone_change = on_zone_change
        self._on_tick = on_tick
        self._interval = interval
        self._threshold = threshold
        self._last: Reading | None = None
        self._timer: Timer | None = None

    def start(self) -> None:
        """Take the first reading and start the timer (call inside the running loop)."""
        self._last = self._clock.read()
        if self._timer is None:
            self._timer = self._clock.call_later(self._interval, self._tick)

    def stop(self) -> None:
        """Stop the timer; no check runs after this returns."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    @property
    def running(self) -> bool:
        return self._timer is not None

    def check_now(self) -> Change | None:
        """Compare with the last reading now (e.g. on logind's resume signal, so the timer's
        next check does not report the same sleep again) and act on what changed."""
        cur = self._clock.read()
        prev, self._last = self._last, cur
        if prev is None:
            return None
        change = compare(prev, cur, self._threshold)
        if change is None:
            return None
        log.info("clock: %s", describe(change))
        if change.zone_changed:
            refresh_local_zone()
            if self._on_zone_change is not None:
                self._safely(self._on_zone_change)
        if change.jump != 0.0:
            self._safely(lambda: self._on_jump(change.jump))
        return change

    def _tick(self) -> None:
        # The timer runs on the monotonic clock: after a resume this comes up to one
        # interval later, which is the "within 60 s" fallback for missing logind.
        self._timer = self._clock.call_later(self._interval, self._tick)
        if self._on_tick is not None:
            try:  # first: a re-plan after a jump can take a while
                self._on_tick()
            except Exception:
                log.exception("housekeeping failed")
        self.check_now()

    @staticmethod
    def _safely(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            log.exception("handling a clock change failed")
