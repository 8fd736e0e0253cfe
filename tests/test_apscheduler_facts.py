"""What APScheduler 3.11 does, pinned. Each test is a library fact attuned's design relies on
(attuned/scheduler.py, design.md); if an upgrade changes one, this file says which."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger


class FakeSuspendLoop(asyncio.SelectorEventLoop):
    """A loop whose monotonic clock can lose time, as CLOCK_MONOTONIC does across a suspend;
    the wall clock runs on untouched (same fake as in test_scheduler.py)."""

    lag = 0.0

    def time(self) -> float:
        return super().time() - self.lag


def run(main: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=FakeSuspendLoop) as runner:
        runner.run(main())  # type: ignore[arg-type]


class Events:
    def __init__(self, scheduler: Any, mask: int) -> None:
        self.seen: list[Any] = []
        self._arrived = asyncio.Event()
        scheduler.add_listener(self._add, mask)

    def _add(self, event: Any) -> None:
        self.seen.append(event)
        self._arrived.set()

    async def next(self, timeout: float = 2.0) -> Any:
        await asyncio.wait_for(self._arrived.wait(), timeout)
        self._arrived.clear()
        return self.seen[-1]


def now() -> datetime:
    return datetime.now(UTC)


def test_default_misfire_grace_is_one_second() -> None:
    # Why every job gets its own grace: with the default, a nudge 1 s late is dropped.
    async def main() -> None:
        sched = AsyncIOScheduler(timezone=UTC)
        sched.start(paused=True)
        job = sched.add_job(print, DateTrigger(now() + timedelta(hours=1)))
        assert job.misfire_grace_time == 1
        sched.shutdown(wait=False)

    run(main)


def test_misfire_grace_must_be_a_positive_int() -> None:
    # Why scheduler.grace_seconds() rounds a timedelta up to whole seconds, at least 1.
    async def main() -> None:
        sched = AsyncIOScheduler(timezone=UTC)
        sched.start(paused=True)
        for bad in (1.5, 0, timedelta(minutes=1)):
            with pytest.raises(TypeError, match="misfire_grace_time must be either None or a"):
                sched.add_job(print, DateTrigger(now()), misfire_grace_time=bad)
        sched.shutdown(wait=False)

    run(main)


def test_a_job_later_than_its_grace_is_skipped_with_event_job_missed() -> None:
    # A DateTrigger in the past is still scheduled (next_run_time = run_date); when it is
    # processed more than misfire_grace_time late, the function is not called and the
    # scheduler emits EVENT_JOB_MISSED with the scheduled time.
    async def main() -> None:
        calls: list[str] = []

        async def job() -> None:
            calls.append("ran")

        sched = AsyncIOScheduler(timezone=UTC)
        events = Events(sched, EVENT_JOB_MISSED | EVENT_JOB_EXECUTED)
        sched.start()
        at = now() - timedelta(seconds=3)
        sched.add_job(job, DateTrigger(at), misfire_grace_time=2)
        event = await events.next()
        assert event.code == EVENT_JOB_MISSED
        assert event.scheduled_run_time == at
        assert calls == []
        sched.add_job(job, DateTrigger(now() - timedelta(seconds=3)), misfire_grace_time=5)
        assert (await events.next()).code == EVENT_JOB_EXECUTED
        assert calls == ["ran"]
        sched.shutdown(wait=False)

    run(main)


def test_asyncio_executor_runs_plain_functions_in_a_thread_pool() -> None:
    # Why attuned's job is a coroutine: only coroutine functions run on the loop thread.
    async def main() -> None:
        threads: dict[str, int] = {}

        def plain() -> None:
            threads["plain"] = threading.get_ident()

        async def coro() -> None:
            threads["coro"] = threading.get_ident()

        sched = AsyncIOScheduler(timezone=UTC)
        events = Events(sched, EVENT_JOB_EXECUTED)
        sched.start()
        sched.add_job(plain, DateTrigger(now()), misfire_grace_time=60)
        await events.next()
        sched.add_job(coro, DateTrigger(now()), misfire_grace_time=60)
        await events.next()
        assert threads["coro"] == threading.get_ident()
        assert threads["plain"] != threading.get_ident()
        sched.shutdown(wait=False)

    run(main)


def test_it_waits_on_the_monotonic_clock_and_wakeup_rechecks_the_wall_clock() -> None:
    # AsyncIOScheduler arms loop.call_later (monotonic). When the monotonic clock loses an
    # hour (a suspend), a job whose wall time has passed is not processed until the timer
    # ends or someone calls wakeup(); wakeup() processes it at once.
    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, FakeSuspendLoop)
        sched = AsyncIOScheduler(timezone=UTC)
        events = Events(sched, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
        sched.start()
        at = now() + timedelta(seconds=0.5)

        async def job() -> None:
            pass

        sched.add_job(job, DateTrigger(at), misfire_grace_time=60)
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the add's wakeup has armed the timer for `at`
        assert now() < at  # precondition: armed before `at`, not run at once
        loop.lag = 3600.0
        with pytest.raises(TimeoutError):
            await events.next(timeout=0.7)
        assert now() > at
        sched.wakeup()
        assert (await events.next(timeout=0.5)).code == EVENT_JOB_EXECUTED
        sched.shutdown(wait=False)

    run(main)


def test_asyncio_shutdown_takes_effect_on_the_next_loop_turn() -> None:
    # shutdown() is posted with call_soon_threadsafe: `running` is still True right after.
    async def main() -> None:
        sched = AsyncIOScheduler(timezone=UTC)
        sched.start()
        sched.shutdown(wait=False)
        assert sched.running
        await asyncio.sleep(0)
        assert not sched.running

    run(main)


def test_from_crontab_treats_weekday_0_as_monday() -> None:
    # Standard cron: 0 is Sunday. One reason attuned computes cron times itself (timing.py).
    trigger = CronTrigger.from_crontab("0 9 * * 0", timezone="UTC")
    monday = datetime(2024, 1, 1, tzinfo=UTC)  # 2024-01-01 is a Monday
    assert trigger.get_next_fire_time(None, monday) == datetime(2024, 1, 1, 9, tzinfo=UTC)


def test_cron_trigger_requires_day_of_month_and_day_of_week() -> None:
    # Standard cron `0 9 1 * mon` fires on the 1st AND on every Monday; APScheduler only on
    # Mondays that fall on the 1st: after 2024-01-02 the next is 2024-04-01, not 01-08.
    trigger = CronTrigger(day=1, day_of_week="mon", hour=9, minute=0, timezone="UTC")
    start = datetime(2024, 1, 2, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, start) == datetime(2024, 4, 1, 9, tzinfo=UTC)
