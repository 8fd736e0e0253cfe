"""The one adapter around APScheduler 3.11: one pending date job per key.

The daemon asks `timing` for each practice's next instant and hands it here with `set()`;
this module only makes sure the callback runs at that wall-clock instant, on the event loop,
or reports it missed when it comes later than its grace. No cron triggers (their weekday and
day-of-month rules differ from cron's, see design.md), no APScheduler default grace (1 s).

APScheduler is imported here only, so the CLI's quick commands never pay for it.

A horizon: APScheduler holds only the jobs due within `horizon` (2 h); later ones wait
here, parked in a heap, and one more APScheduler job promotes the next batch when half
the horizon has passed (and `wakeup()` promotes at once after a resume or a clock jump).
APScheduler's `add_job` costs about 80 us (it checks arguments, sorts its job list): for
10,000 practices that was 0.8 s of every start and reload; parking one costs about 2 us.

Facts this relies on (pinned in tests/test_apscheduler_facts.py):
- `AsyncIOScheduler` waits with `loop.call_later`, i.e. on the monotonic clock, which stops
  during suspend; `wakeup()` re-checks due jobs against the wall clock at once.
- `AsyncIOExecutor` runs plain functions in a thread pool and coroutine functions on the loop:
  our job is a coroutine so every callback runs on the loop thread.
- `misfire_grace_time` must be a positive int (seconds); a job later than that is skipped
  with `EVENT_JOB_MISSED` instead of running.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import heapq
import inspect
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING as _STATE_RUNNING
from apscheduler.triggers.date import DateTrigger

log = logging.getLogger(__name__)

Callback = Callable[[str, datetime], None]


def grace_seconds(grace: timedelta) -> int:
    """APScheduler wants a positive whole number of seconds: round up, at least 1 s."""
    return max(1, math.ceil(grace.total_seconds()))


DEFAULT_HORIZON = timedelta(hours=2)
_PROMOTE_KEY = "~promote"  # the one job of ours that is not a nudge
_PROMOTE_CHUNK = 100  # jobs added per loop turn while promoting: a nudge is never held up
_PROMOTE_GRACE = 365 * 24 * 3600  # however late (a suspend), promotion still has to run


@dataclass(frozen=True)
class _Entry:
    run_at: datetime
    grace: timedelta
    job_id: str | None  # None: parked here, beyond the horizon
    serial: int = 0

    def same(self, run_at: datetime, grace: timedelta) -> bool:
        # Same instant in the same zone: on_due hands back run_at, so a zone change counts.
        return (
            self.run_at == run_at
            and self.run_at.tzinfo == run_at.tzinfo
            and grace_seconds(self.grace) == grace_seconds(grace)
        )


class NudgeScheduler:
    """One pending job per key; each fires once, then is gone until `set()` again.

    `on_due(key, run_at)` runs on the event loop when a job comes due within its grace;
    `on_missed(key, run_at)` when it came later than its grace (after a suspend, say).
    Exceptions raised by the callbacks are logged and do not stop the scheduler.
    """

    def __init__(self, on_due: Callback, on_missed: Callback, *,
                 horizon: timedelta = DEFAULT_HORIZON,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._on_due = on_due
        self._on_missed = on_missed
        self._entries: dict[str, _Entry] = {}
        self._serial = 0
        self._horizon = horizon
        self._now = now  # the clock APScheduler reads too (the daemon's FAKE clock in tests)
        self._horizon_end: datetime | None = None  # everything due by then is in APScheduler
        self._parked: list[tuple[float, int, str]] = []  # (timestamp, serial, key); lazy
        self._promote_job: str | None = None
        # UTC: every job time is an aware instant, so APScheduler needs no local zone
        # (tzlocal caches it, and a zone change would otherwise go unnoticed there).
        self._aps: Any = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._aps.add_listener(self._on_missed_event, EVENT_JOB_MISSED)

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start on the running asyncio loop (call from inside it)."""
        self._aps.start()

    def shutdown(self) -> None:
        """Drop every job and stop. AsyncIOScheduler finishes stopping on the next loop turn;
        nothing fires after this call because the entries are gone first."""
        self._entries.clear()
        self._parked.clear()
        self._promote_job = None
        if self._aps.running:
            self._aps.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    # jobs -------------------------------------------------------------------------------

    def set(self, key: str, run_at: datetime, grace: timedelta) -> bool:
        """Make `key` fire at `run_at` (aware) with `grace`; True if anything changed.

        An unchanged time and grace leaves the existing job alone, so a reload only touches
        the jobs that changed. A time already in the past fires at once if within grace,
        else is reported missed.
        """
        if run_at.tzinfo is None or run_at.utcoffset() is None:
            raise ValueError(f"run_at must be timezone-aware, got {run_at!r}")
        old = self._entries.get(key)
        if old is not None and old.same(run_at, grace):
            return False
        if old is not None and old.job_id is not None:
            self._drop_job(old.job_id)
        self._serial += 1
        if run_at <= self._horizon_end_now():
            self._add_job(key, run_at, grace, self._serial)
        else:
            self._entries[key] = _Entry(run_at, grace, None, self._serial)
            heapq.heappush(self._parked, (run_at.timestamp(), self._serial, key))
            if len(self._parked) > 2 * len(self._entries) + 64:
                self._compact()
            self._arm_promotion()
        return True

    def remove(self, key: str) -> None:
        """Forget `key`'s pending job, if any; it will not fire."""
        entry = self._entries.pop(key, None)
        if entry is not None and entry.job_id is not None:
            self._drop_job(entry.job_id)  # a parked one: its heap item is now stale

    def keys(self) -> builtins.set[str]:  # `set` is a method name here
        return set(self._entries)

    def due_times(self) -> dict[str, datetime]:
        return {key: entry.run_at for key, entry in self._entries.items()}

    @property
    def jobs_added(self) -> int:
        """How many jobs `set()` has created so far, parked ones included (unchanged sets
        add none)."""
        return self._serial

    @property
    def jobs_in_apscheduler(self) -> int:
        """Nudge jobs APScheduler holds now (the rest are parked beyond the horizon)."""
        return sum(1 for e in self._entries.values() if e.job_id is not None)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group many `set()`/`remove()` calls (a reload of thousands of practices) so that
        APScheduler looks for due jobs once at the end instead of once per added job.
        Use it without awaiting inside: no job can fire while the block runs anyway."""
        pause = self._aps.state == _STATE_RUNNING
        if pause:
            self._aps.pause()
        try:
            yield
        finally:
            if pause:
                self._aps.resume()  # and one wakeup

    def wakeup(self) -> None:
        """Re-check due jobs against the wall clock now (after a resume or a clock jump).

        APScheduler's own timer runs on the monotonic clock, which stood still while the
        machine slept; this makes it look at the wall clock on the next loop turn.
        """
        self._promote_due()
        if self._aps.running:
            self._aps.wakeup()

    # internals --------------------------------------------------------------------------

    def _horizon_end_now(self) -> datetime:
        if self._horizon_end is None:
            self._horizon_end = self._now() + self._horizon
        return self._horizon_end

    def _add_job(self, key: str, run_at: datetime, grace: timedelta, serial: int) -> None:
        # A fresh job id per set(): a job APScheduler has already handed to the executor
        # cannot be mistaken for its replacement when it runs (see _take).
        job_id = f"{key}#{serial}"
        self._entries[key] = _Entry(run_at, grace, job_id, serial)
        self._aps.add_job(
            _fire,
            trigger=DateTrigger(run_date=run_at),
            args=(self, key, job_id),
            id=job_id,
            name=key,
            misfire_grace_time=grace_seconds(grace),
            coalesce=True,
            max_instances=1,
        )

    def _next_parked(self, until: float, *, pop: bool = True) -> str | None:
        """The key of the earliest live parked entry due by `until`, if any; popped from
        the heap unless `pop` is false. Stale items on top are dropped on the way."""
        heap = self._parked
        while heap:
            ts, serial, key = heap[0]
            entry = self._entries.get(key)
            if entry is None or entry.serial != serial or entry.job_id is not None:
                heapq.heappop(heap)  # stale: removed or set again since
                continue
            if ts > until:
                return None
            if pop:
                heapq.heappop(heap)
            return key
        return None

    def _move_horizon(self) -> float:
        """Horizon at now + horizon (never back); returns it as a timestamp."""
        end = max(self._horizon_end_now(), self._now() + self._horizon)
        self._horizon_end = end
        return end.timestamp()

    def _promote_one(self, key: str) -> None:
        entry = self._entries[key]
        self._add_job(key, entry.run_at, entry.grace, entry.serial)

    def _promote_due(self) -> None:
        """Hand APScheduler every parked entry now within the horizon, at once."""
        until = self._move_horizon()
        while (key := self._next_parked(until)) is not None:
            self._promote_one(key)
        self._arm_promotion()

    async def _promote(self) -> None:
        """The promotion job: like `_promote_due`, a chunk per loop turn."""
        self._promote_job = None
        until = self._move_horizon()
        done = 0
        while (key := self._next_parked(until)) is not None:
            self._promote_one(key)
            done += 1
            if done % _PROMOTE_CHUNK == 0:
                await asyncio.sleep(0)  # let a nudge due now go first
        self._arm_promotion()

    def _arm_promotion(self) -> None:
        """One APScheduler job at half the horizon before its end, while anything is
        parked; it moves the horizon on and promotes what came within it."""
        if self._promote_job is not None or self._next_parked(math.inf, pop=False) is None:
            return
        end = self._horizon_end_now()
        at = end - self._horizon / 2
        self._serial += 1
        job_id = f"{_PROMOTE_KEY}#{self._serial}"
        self._promote_job = job_id
        self._aps.add_job(_promote, trigger=DateTrigger(run_date=at), args=(self, job_id),
                          id=job_id, name=_PROMOTE_KEY, misfire_grace_time=_PROMOTE_GRACE,
                          coalesce=True, max_instances=1)

    def _compact(self) -> None:
        self._parked = [(e.run_at.timestamp(), e.serial, k) for k, e in self._entries.items()
                        if e.job_id is None]
        heapq.heapify(self._parked)

    def _drop_job(self, job_id: str) -> None:
        # Not found: already handed to the executor; _fired will find it stale and do nothing.
        with contextlib.suppress(JobLookupError):
            self._aps.remove_job(job_id)

    def _take(self, job_id: str) -> tuple[str, _Entry] | None:
        """The entry for `job_id` if it is still the current job of its key, removed.
        The key is the job id's part before the last "#" (the promotion job has no entry)."""
        key = job_id.rpartition("#")[0]
        entry = self._entries.get(key)
        if entry is None or entry.job_id != job_id:
            return None
        del self._entries[key]
        return key, entry

    def _fired(self, job_id: str) -> None:
        taken = self._take(job_id)
        if taken is not None:
            self._call(self._on_due, *taken)

    def _on_missed_event(self, event: Any) -> None:
        taken = self._take(event.job_id)
        if taken is not None:
            self._call(self._on_missed, *taken)

    @staticmethod
    def _call(callback: Callback, key: str, entry: _Entry) -> None:
        try:
            callback(key, entry.run_at)
        except Exception:
            log.exception("handling the nudge %r due at %s failed", key, entry.run_at)


async def _fire(scheduler: NudgeScheduler, key: str, job_id: str) -> None:
    """The job APScheduler runs. A coroutine, so AsyncIOExecutor runs it on the loop and not
    in a worker thread. `key` is there for APScheduler's log lines."""
    scheduler._fired(job_id)


async def _promote(scheduler: NudgeScheduler, job_id: str) -> None:
    """The promotion job (see the module docstring)."""
    if scheduler._promote_job == job_id:
        await scheduler._promote()


# APScheduler checks each new job's arguments against inspect.signature(func); a cached
# signature makes that cheap, which matters for a schedule of thousands of practices.
_fire.__signature__ = inspect.signature(_fire)  # type: ignore[attr-defined]
_promote.__signature__ = inspect.signature(_promote)  # type: ignore[attr-defined]
