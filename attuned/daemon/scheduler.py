"""The daemon's timer queue: one pending nudge per key, each fired once at its wall-clock
instant, on the event loop, or reported missed when it comes later than its grace.

The daemon asks the timing core for each practice's next instant and hands it here with
`set()`; this module only makes sure the callback runs then. It holds every entry in a
heap and keeps one timer on the `Clock`, armed for the earliest entry: an idle daemon
has exactly one timer pending and no wakeups until it fires.

Why not APScheduler: it reads `datetime.now` itself (its scheduler and executor modules
both do), so the one clock the daemon and its tests share could only be given to it by
patching the library's globals. What attuned needs of a scheduler is this queue: one-shot
jobs by key, a grace per job, re-arming after a suspend. bench/daemon_bench.py measures
the lateness against a bare APScheduler process in the same run.

A timer runs on the monotonic clock, which stops while the machine sleeps: after a resume
(logind's signal, or the clock watcher's minute check) `wakeup()` re-arms it against the
wall clock, and whatever came due meanwhile fires at once, or is reported missed if that
is later than its grace.
"""

from __future__ import annotations

import builtins
import contextlib
import heapq
import logging
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from attuned.core.clock import Clock, Timer

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)  # what each entry is for: the core's JobKey

# However small a grace, a timer that fires a few milliseconds late has not missed.
_LEAST_GRACE = timedelta(seconds=1)


@dataclass(frozen=True)
class _Entry:
    run_at: datetime
    grace: timedelta
    serial: int

    def same(self, run_at: datetime, grace: timedelta) -> bool:
        # Same instant in the same zone: on_due hands back run_at, so a zone change counts.
        return (self.run_at == run_at and self.run_at.tzinfo == run_at.tzinfo
                and self.grace == grace)


class NudgeScheduler(Generic[K]):
    """One pending entry per key; each fires once, then is gone until `set()` again.

    `on_due(key, run_at)` runs on the event loop when an entry comes due within its grace;
    `on_missed(key, run_at)` when it came later than its grace (after a suspend, say).
    Entries due at the same moment run in time order, then by when they were set.
    Exceptions raised by the callbacks are logged and do not stop the scheduler.
    """

    def __init__(self, on_due: Callable[[K, datetime], None],
                 on_missed: Callable[[K, datetime], None], *, clock: Clock) -> None:
        self._on_due = on_due
        self._on_missed = on_missed
        self._clock = clock
        self._entries: dict[K, _Entry] = {}
        # (timestamp, serial, key); lazy: an item whose entry was removed or set again
        # since is dropped when it reaches the top.
        self._heap: list[tuple[float, int, K]] = []
        self._serial = 0
        self._timer: Timer | None = None
        self._armed_for: float | None = None
        self._running = False
        self._batching = 0

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start firing (call from inside the running event loop)."""
        self._running = True
        self._arm()

    def shutdown(self) -> None:
        """Drop every entry and stop; nothing fires after this call."""
        self._running = False
        self._entries.clear()
        self._heap.clear()
        self._disarm()

    @property
    def running(self) -> bool:
        return self._running

    # entries ----------------------------------------------------------------------------

    def set(self, key: K, run_at: datetime, grace: timedelta) -> bool:
        """Make `key` fire at `run_at` (aware) with `grace`; True if anything changed.

        An unchanged time and grace leaves the entry alone, so a reload only touches what
        changed. A time already in the past fires at once if within grace, else is
        reported missed.
        """
        if run_at.tzinfo is None or run_at.utcoffset() is None:
            raise ValueError(f"run_at must be timezone-aware, got {run_at!r}")
        old = self._entries.get(key)
        if old is not None and old.same(run_at, grace):
            return False
        self._serial += 1
        self._entries[key] = _Entry(run_at, grace, self._serial)
        heapq.heappush(self._heap, (run_at.timestamp(), self._serial, key))
        if len(self._heap) > 2 * len(self._entries) + 64:
            self._compact()
        self._arm()
        return True

    def remove(self, key: K) -> None:
        """Forget `key`'s pending entry, if any; it will not fire. (Its heap item goes when
        it reaches the top; a timer armed for it fires, finds nothing, and re-arms.)"""
        self._entries.pop(key, None)

    def keys(self) -> builtins.set[K]:  # `set` is a method name here
        return set(self._entries)

    def due_times(self) -> dict[K, datetime]:
        return {key: entry.run_at for key, entry in self._entries.items()}

    @property
    def jobs_added(self) -> int:
        """How many entries `set()` has made so far (unchanged sets make none)."""
        return self._serial

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group many `set()`/`remove()` calls (a reload of thousands of practices): the
        timer is armed once, at the end. Nothing fires inside the block anyway: it does
        not await."""
        self._batching += 1
        try:
            yield
        finally:
            self._batching -= 1
            self._arm()

    def wakeup(self) -> None:
        """Look at the wall clock again now (after a resume or a clock jump): the timer was
        armed on the monotonic clock, which stood still while the machine slept."""
        self._disarm()
        self._arm()

    # internals --------------------------------------------------------------------------

    def _earliest(self) -> float | None:
        heap = self._heap
        while heap:
            ts, serial, key = heap[0]
            entry = self._entries.get(key)
            if entry is not None and entry.serial == serial:
                return ts
            heapq.heappop(heap)  # stale: removed or set again since
        return None

    def _arm(self) -> None:
        if not self._running or self._batching:
            return
        ts = self._earliest()
        if ts is None:
            self._disarm()
            return
        if self._timer is not None and self._armed_for == ts:
            return
        self._disarm()
        self._armed_for = ts
        self._timer = self._clock.call_at(datetime.fromtimestamp(ts, UTC), self._fire_due)

    def _disarm(self) -> None:
        timer, self._timer, self._armed_for = self._timer, None, None
        if timer is not None:
            timer.cancel()

    def _fire_due(self) -> None:
        self._timer = self._armed_for = None
        if not self._running:
            return
        now = self._clock.now()
        limit = now.timestamp()
        # Entries a callback sets for now or earlier run in this same pass, in order.
        while (ts := self._earliest()) is not None and ts <= limit and self._running:
            key = heapq.heappop(self._heap)[2]
            entry = self._entries.pop(key)
            late = now - entry.run_at
            in_time = late <= max(entry.grace, _LEAST_GRACE)
            callback = self._on_due if in_time else self._on_missed
            try:
                callback(key, entry.run_at)
            except Exception:
                log.exception("handling the nudge %r due at %s failed", key, entry.run_at)
        self._arm()

    def _compact(self) -> None:
        self._heap = [(e.run_at.timestamp(), e.serial, k) for k, e in self._entries.items()]
        heapq.heapify(self._heap)
