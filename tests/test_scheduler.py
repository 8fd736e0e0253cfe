"""NudgeScheduler against a real AsyncIOScheduler on a real asyncio loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from attuned.daemon.scheduler import NudgeScheduler, grace_seconds

GRACE = timedelta(minutes=15)


class FakeSuspendLoop(asyncio.SelectorEventLoop):
    """An event loop whose monotonic clock can be made to "lose" time, as CLOCK_MONOTONIC
    does across a suspend on Linux, while the wall clock (datetime.now) runs on untouched.

    APScheduler's AsyncIOScheduler arms `loop.call_later`, so after `suspend(s)` a timer it
    armed is `s` seconds further away than the wall-clock due time: exactly the state a
    laptop resumes in. Timers armed after the call behave normally, so test timeouts work.
    """

    lag = 0.0

    def time(self) -> float:
        return super().time() - self.lag

    def suspend(self, seconds: float) -> None:
        self.lag += seconds


def run(main: Callable[[], Awaitable[None]], loop_factory: type = FakeSuspendLoop) -> None:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())  # type: ignore[arg-type]


class Recorder:
    """Collects (kind, key, scheduled time, thread) and lets a test await the next one."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, datetime]] = []
        self.threads: set[int] = set()
        self._changed = asyncio.Event()

    def due(self, key: str, at: datetime) -> None:
        self._record("due", key, at)

    def missed(self, key: str, at: datetime) -> None:
        self._record("missed", key, at)

    def _record(self, kind: str, key: str, at: datetime) -> None:
        self.calls.append((kind, key, at))
        self.threads.add(threading.get_ident())
        self._changed.set()

    async def wait_for(self, n: int, timeout: float = 2.0) -> None:
        async def until() -> None:
            while len(self.calls) < n:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)

    async def nothing_within(self, seconds: float) -> bool:
        """True if no call arrives within `seconds` (a deliberate wait for a non-event)."""
        before = len(self.calls)
        try:
            await self.wait_for(before + 1, timeout=seconds)
        except TimeoutError:
            return True
        return False


def make() -> tuple[NudgeScheduler, Recorder]:
    rec = Recorder()
    return NudgeScheduler(rec.due, rec.missed), rec


def now() -> datetime:
    return datetime.now(UTC)


def test_job_fires_on_time_on_the_loop_thread() -> None:
    async def main() -> None:
        sched, rec = make()
        sched.start()
        at = now() + timedelta(seconds=0.2)
        assert sched.set("tea", at, GRACE) is True
        assert sched.keys() == {"tea"}
        await rec.wait_for(1)
        fired = now()
        assert rec.calls == [("due", "tea", at)]
        assert timedelta(0) <= fired - at < timedelta(seconds=0.2)
        assert rec.threads == {threading.get_ident()}  # single-threaded core
        assert sched.keys() == set()  # a fired job is gone until set() again
        sched.shutdown()

    run(main)


def test_time_in_the_past_within_grace_fires_at_once() -> None:
    async def main() -> None:
        sched, rec = make()
        sched.start()
        at = now() - timedelta(minutes=5)
        sched.set("walk", at, GRACE)
        await rec.wait_for(1, timeout=1.0)
        assert rec.calls == [("due", "walk", at)]
        sched.shutdown()

    run(main)


def test_beyond_grace_is_missed_not_due() -> None:
    async def main() -> None:
        sched, rec = make()
        sched.start()
        at = now() - timedelta(seconds=30)
        sched.set("walk", at, timedelta(seconds=10))
        await rec.wait_for(1, timeout=1.0)
        assert rec.calls == [("missed", "walk", at)]
        assert sched.keys() == set()
        sched.shutdown()

    run(main)


def test_set_unchanged_keeps_the_job_changed_replaces_it() -> None:
    async def main() -> None:
        sched, rec = make()
        sched.start()
        at = now() + timedelta(hours=1)
        assert sched.set("tea", at, GRACE) is True
        assert sched.jobs_added == 1
        assert sched.set("tea", at, GRACE) is False
        assert sched.set("tea", at.replace(), GRACE) is False  # an equal, distinct object
        assert sched.jobs_added == 1
        assert sched.set("tea", at, GRACE + timedelta(minutes=1)) is True
        assert sched.jobs_added == 2
        later = at + timedelta(minutes=1)
        assert sched.set("tea", later, GRACE + timedelta(minutes=1)) is True
        # The same instant in another zone counts as a change: on_due hands the datetime
        # back, and after a time zone change the daemon wants the new zone's value there.
        berlin = later.astimezone(ZoneInfo("Europe/Berlin"))
        assert sched.set("tea", berlin, GRACE + timedelta(minutes=1)) is True
        assert sched.jobs_added == 4
        assert sched.due_times() == {"tea": later}
        assert sched.due_times()["tea"].tzinfo == ZoneInfo("Europe/Berlin")
        # Replacing a pending job with a due one: only the new one fires, once.
        soon = now() + timedelta(seconds=0.1)
        assert sched.set("tea", soon, GRACE) is True
        await rec.wait_for(1)
        assert await rec.nothing_within(0.3)
        assert rec.calls == [("due", "tea", soon)]
        sched.shutdown()

    run(main)


def test_remove_cancels_the_job() -> None:
    async def main() -> None:
        sched, rec = make()
        sched.start()
        sched.set("tea", now() + timedelta(seconds=0.1), GRACE)
        sched.set("walk", now() + timedelta(seconds=0.15), GRACE)
        sched.remove("tea")
        sched.remove("tea")  # a second remove, or one of an unknown key, is harmless
        sched.remove("unknown")
        assert sched.keys() == {"walk"}
        await rec.wait_for(1)
        assert await rec.nothing_within(0.3)
        assert [c[:2] for c in rec.calls] == [("due", "walk")]
        sched.shutdown()

    run(main)


def test_remove_after_submission_but_before_running_wins() -> None:
    # APScheduler removes a date job from its store when it hands it to the executor; the
    # coroutine runs a loop turn later. A remove() in between must still stop the nudge.
    async def main() -> None:
        sched, rec = make()
        sched.start()
        sched.set("tea", now() - timedelta(seconds=1), GRACE)  # due: submitted next turn
        await asyncio.sleep(0)  # APScheduler's wakeup runs first: submitted, not yet run
        sched.remove("tea")
        assert await rec.nothing_within(0.3)
        assert rec.calls == []
        sched.shutdown()

    run(main)


def test_several_keys_fire_in_time_order() -> None:
    async def main() -> None:
        sched, rec = make()
        sched.start()
        base = now()
        sched.set("b", base + timedelta(seconds=0.2), GRACE)
        sched.set("a", base + timedelta(seconds=0.1), GRACE)
        sched.set("snooze:a", base + timedelta(seconds=0.3), GRACE)
        await rec.wait_for(3)
        assert [c[1] for c in rec.calls] == ["a", "b", "snooze:a"]
        sched.shutdown()

    run(main)


async def armed(sched: NudgeScheduler, key: str, grace: timedelta) -> datetime:
    """Set `key` half a second ahead and let APScheduler arm its loop timer for it."""
    at = now() + timedelta(seconds=0.5)
    sched.set(key, at, grace)
    await asyncio.sleep(0)  # the add's wakeup runs on this turn and arms the timer
    await asyncio.sleep(0)
    # Precondition: the timer was armed before `at`, i.e. the job was not simply run at once.
    assert now() < at, "the machine was too busy to arm the timer within 0.5 s"
    return at


def test_wakeup_delivers_a_nudge_that_came_due_during_a_suspend() -> None:
    # The honest simulation: FakeSuspendLoop makes the loop's monotonic clock lose an hour
    # right after the job is armed, as a suspend does. The wall clock is untouched, so the
    # job's wall time really passes; APScheduler's timer is then an hour away.
    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, FakeSuspendLoop)
        sched, rec = make()
        sched.start()
        at = await armed(sched, "tea", GRACE)
        loop.suspend(3600)
        # Without a wakeup the due nudge is not delivered: the timer waits on the monotonic
        # clock that "slept".
        assert await rec.nothing_within(0.7)
        assert now() > at
        sched.wakeup()  # what the daemon does on PrepareForSleep(false) or a clock jump
        await rec.wait_for(1, timeout=0.5)
        assert rec.calls == [("due", "tea", at)]
        sched.shutdown()

    run(main)


def test_wakeup_past_grace_reports_missed() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, FakeSuspendLoop)
        sched, rec = make()
        sched.start()
        at = await armed(sched, "tea", timedelta(seconds=1))
        loop.suspend(3600)
        assert await rec.nothing_within(1.7)  # the wall clock passes at + 1 s grace
        sched.wakeup()
        await rec.wait_for(1, timeout=0.5)
        assert rec.calls == [("missed", "tea", at)]
        sched.shutdown()

    run(main)


def test_batch_defers_the_due_check_to_the_end_of_the_block() -> None:
    async def main() -> None:
        sched, rec = make()
        with sched.batch():  # before start(): nothing to pause, still fine
            sched.set("early", now() + timedelta(hours=1), GRACE)
        sched.start()
        base = now()
        with sched.batch(), sched.batch():  # nested: the outer one resumes
            for i in range(200):
                sched.set(f"p:{i}", base + timedelta(hours=1, seconds=i), GRACE)
            sched.set("due", base, GRACE)
            sched.set("soon", base + timedelta(seconds=0.2), GRACE)
            sched.remove("p:7")
        await rec.wait_for(2)
        assert [c[1] for c in rec.calls] == ["due", "soon"]
        assert len(sched.keys()) == 200  # 199 + "early"
        sched.shutdown()

    run(main)


def test_callback_errors_do_not_stop_the_scheduler(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        rec = Recorder()

        def due(key: str, at: datetime) -> None:
            rec.due(key, at)
            if key == "bad":
                raise RuntimeError("boom")

        sched = NudgeScheduler(due, rec.missed)
        sched.start()
        sched.set("bad", now(), GRACE)
        sched.set("good", now() + timedelta(seconds=0.1), GRACE)
        await rec.wait_for(2)
        assert [c[1] for c in rec.calls] == ["bad", "good"]
        sched.shutdown()

    run(main)
    assert "handling the nudge 'bad' due at" in caplog.text


def test_set_before_start_is_kept_and_naive_times_refused() -> None:
    async def main() -> None:
        sched, rec = make()
        at = now() + timedelta(seconds=0.1)
        sched.set("tea", at, GRACE)
        with pytest.raises(ValueError, match="timezone-aware"):
            sched.set("walk", datetime(2030, 1, 1, 9, 0), GRACE)
        sched.start()
        await rec.wait_for(1)
        assert rec.calls == [("due", "tea", at)]
        sched.shutdown()
        await asyncio.sleep(0)
        assert not sched.running

    run(main)


def test_shutdown_drops_pending_jobs() -> None:
    async def main() -> None:
        sched, rec = make()
        sched.start()
        sched.set("tea", now() + timedelta(seconds=0.1), GRACE)
        sched.shutdown()
        assert sched.keys() == set()
        assert await rec.nothing_within(0.3)

    run(main)


@pytest.mark.parametrize(
    ("grace", "seconds"),
    [(timedelta(minutes=15), 900), (timedelta(seconds=1.2), 2), (timedelta(0), 1)],
)
def test_grace_is_whole_positive_seconds(grace: timedelta, seconds: int) -> None:
    assert grace_seconds(grace) == seconds


# ---- the horizon: APScheduler holds only what is due soon ---------------------------------


def test_beyond_the_horizon_is_parked_and_promoted_in_time() -> None:
    async def main() -> None:
        rec = Recorder()
        sched = NudgeScheduler(rec.due, rec.missed, horizon=timedelta(seconds=0.6))
        sched.start()
        base = now()
        near, far, later = (base + timedelta(seconds=s) for s in (0.3, 0.9, 1.5))
        sched.set("near", near, GRACE)
        sched.set("far", far, GRACE)  # parked: beyond now + 0.6 s
        sched.set("later", later, GRACE)
        sched.set("gone", base + timedelta(seconds=1.0), GRACE)
        sched.remove("gone")  # a parked one removed: it never fires
        assert sched.jobs_in_apscheduler == 1
        assert sched.keys() == {"near", "far", "later"}
        assert sched.due_times() == {"near": near, "far": far, "later": later}
        # Promoted every half horizon (0.3 s), each fires at its own time, none early.
        await rec.wait_for(3, timeout=4.0)
        assert [c[:2] for c in rec.calls] == [("due", "near"), ("due", "far"), ("due", "later")]
        assert await rec.nothing_within(0.4)
        assert sched.keys() == set()
        sched.shutdown()

    run(main)


def test_a_parked_job_set_again_fires_only_at_its_new_time() -> None:
    async def main() -> None:
        rec = Recorder()
        sched = NudgeScheduler(rec.due, rec.missed, horizon=timedelta(seconds=0.4))
        sched.start()
        base = now()
        sched.set("tea", base + timedelta(seconds=0.6), GRACE)
        moved = base + timedelta(seconds=1.2)
        assert sched.set("tea", moved, GRACE) is True
        assert sched.set("tea", moved, GRACE) is False
        await rec.wait_for(1, timeout=4.0)
        assert rec.calls == [("due", "tea", moved)]
        assert now() >= moved
        sched.shutdown()

    run(main)


def test_wakeup_promotes_parked_nudges_that_came_due_during_a_suspend() -> None:
    # A suspend longer than the horizon: the promotion job's timer also waits on the
    # monotonic clock; after wakeup() parked nudges due meanwhile are delivered or missed
    # by their grace exactly like the ones APScheduler held.
    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, FakeSuspendLoop)
        rec = Recorder()
        sched = NudgeScheduler(rec.due, rec.missed, horizon=timedelta(seconds=1))
        sched.start()
        base = now()
        within, beyond = base + timedelta(seconds=1.6), base + timedelta(seconds=1.7)
        sched.set("tea", within, GRACE)
        sched.set("walk", beyond, timedelta(seconds=1))
        assert sched.jobs_in_apscheduler == 0
        await asyncio.sleep(0)  # APScheduler arms the promotion's timer on this turn
        await asyncio.sleep(0)
        assert now() < base + timedelta(seconds=0.5), "too busy to arm the timer in time"
        loop.suspend(3600)
        assert await rec.nothing_within(3.0)  # the wall clock passes both, + walk's grace
        sched.wakeup()
        await rec.wait_for(2, timeout=1.0)
        assert sorted(rec.calls) == [("due", "tea", within), ("missed", "walk", beyond)]
        sched.shutdown()

    run(main)


def test_a_big_promotion_keeps_every_job_and_their_order() -> None:
    async def main() -> None:
        rec = Recorder()
        sched = NudgeScheduler(rec.due, rec.missed, horizon=timedelta(seconds=0.5))
        sched.start()
        base = now() + timedelta(seconds=0.8)
        for i in range(250):  # more than one promotion chunk
            sched.set(f"p:{i:03}", base + timedelta(microseconds=400 * i), GRACE)
        assert sched.jobs_in_apscheduler == 0
        await rec.wait_for(250, timeout=5.0)
        assert [c[1] for c in rec.calls] == [f"p:{i:03}" for i in range(250)]
        sched.shutdown()

    run(main)
