"""NudgeScheduler on a FAKE clock (tests/fakeclock.py) that the tests move, and once on
the real clock and a real event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakeclock import FakeClock

from attuned.daemon.clock import SystemClock
from attuned.daemon.scheduler import NudgeScheduler

GRACE = timedelta(minutes=15)
T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


class Recorder:
    """Collects (kind, key, scheduled time) and the threads the callbacks ran on."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.calls: list[tuple[str, str, datetime]] = []
        self.when: list[datetime] = []  # the clock's time at each call
        self.threads: set[int] = set()
        self._clock = clock

    def due(self, key: str, at: datetime) -> None:
        self._record("due", key, at)

    def missed(self, key: str, at: datetime) -> None:
        self._record("missed", key, at)

    def _record(self, kind: str, key: str, at: datetime) -> None:
        self.calls.append((kind, key, at))
        if self._clock is not None:
            self.when.append(self._clock.now())
        self.threads.add(threading.get_ident())


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())  # type: ignore[arg-type]


def make(start: datetime = T0) -> tuple[NudgeScheduler, Recorder, FakeClock]:
    clock = FakeClock(start)
    rec = Recorder(clock)
    return NudgeScheduler(rec.due, rec.missed, clock=clock), rec, clock


async def turn() -> None:
    """Let the loop run what is ready (a timer due now runs on the next turn)."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_an_entry_fires_at_its_moment_not_before() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.start()
        s.set("p:tea", T0 + timedelta(minutes=30), GRACE)
        await clock.advance(29 * 60 + 59)
        assert rec.calls == []
        await clock.advance(1)
        assert rec.calls == [("due", "p:tea", T0 + timedelta(minutes=30))]
        assert rec.when == [T0 + timedelta(minutes=30)]
        assert s.keys() == set()  # fired once, then gone until set again

    run(main)


def test_a_time_in_the_past_within_grace_fires_at_once() -> None:
    async def main() -> None:
        s, rec, _ = make()
        s.start()
        s.set("p:tea", T0 - timedelta(minutes=5), GRACE)
        await turn()
        assert rec.calls == [("due", "p:tea", T0 - timedelta(minutes=5))]

    run(main)


def test_beyond_its_grace_it_is_missed_not_due() -> None:
    async def main() -> None:
        s, rec, _ = make()
        s.start()
        s.set("p:tea", T0 - timedelta(minutes=20), GRACE)
        await turn()
        assert rec.calls == [("missed", "p:tea", T0 - timedelta(minutes=20))]

    run(main)


def test_a_timer_a_moment_late_is_never_missed_even_with_no_grace() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.start()
        s.set("x:k3f2", T0 + timedelta(seconds=10), timedelta(0))
        clock.suspend(0.3)  # the timer now fires 0.3 s after its wall moment
        await clock.advance(10)
        assert [c[0] for c in rec.calls] == ["due"]

    run(main)


def test_set_unchanged_keeps_the_entry_and_a_change_replaces_it() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.start()
        at = T0 + timedelta(minutes=10)
        assert s.set("p:tea", at, GRACE) is True
        assert s.set("p:tea", at, GRACE) is False
        assert s.jobs_added == 1
        # The same instant in another zone is a change: on_due hands back what was set.
        assert s.set("p:tea", at.astimezone(ZoneInfo("Europe/Berlin")), GRACE) is True
        assert s.set("p:tea", T0 + timedelta(minutes=20), GRACE) is True
        await clock.advance(15 * 60)
        assert rec.calls == []  # the old time no longer fires
        await clock.advance(5 * 60)
        assert rec.calls == [("due", "p:tea", T0 + timedelta(minutes=20))]

    run(main)


def test_remove_means_it_never_fires() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.start()
        s.set("p:tea", T0 + timedelta(minutes=1), GRACE)
        s.remove("p:tea")
        s.remove("p:nothing")  # unknown keys are fine
        await clock.advance(3600)
        assert rec.calls == []
        assert clock.pending == 0

    run(main)


def test_several_keys_fire_in_time_order_and_ties_by_when_they_were_set() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.start()
        at = T0 + timedelta(minutes=5)
        s.set("p:c", at + timedelta(minutes=1), GRACE)
        s.set("p:b", at, GRACE)
        s.set("p:a", at, GRACE)
        await clock.advance(3600)
        assert [k for _, k, _ in rec.calls] == ["p:b", "p:a", "p:c"]

    run(main)


def test_an_idle_scheduler_keeps_exactly_one_timer() -> None:
    async def main() -> None:
        s, _, clock = make()
        s.start()
        for i in range(50):
            s.set(f"p:{i}", T0 + timedelta(hours=1, minutes=i), GRACE)
        assert clock.pending == 1
        s.set("p:0", T0 + timedelta(minutes=5), GRACE)  # earlier: one re-armed timer
        assert clock.pending == 1

    run(main)


def test_after_a_suspend_wakeup_delivers_what_came_due_within_its_grace() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.start()
        s.set("p:tea", T0 + timedelta(minutes=30), GRACE)
        await clock.advance(25 * 60)
        clock.suspend(10 * 60)  # slept through the moment: 5 min late now
        await clock.advance(1)
        assert rec.calls == []  # the loop's timer still waits its monotonic 5 minutes
        s.wakeup()
        await turn()
        assert rec.calls == [("due", "p:tea", T0 + timedelta(minutes=30))]

    run(main)


def test_after_a_long_suspend_wakeup_reports_it_missed() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.start()
        s.set("p:tea", T0 + timedelta(minutes=30), GRACE)
        clock.suspend(3 * 3600)
        s.wakeup()
        await turn()
        assert rec.calls == [("missed", "p:tea", T0 + timedelta(minutes=30))]

    run(main)


def test_a_batch_arms_the_timer_once_at_its_end() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.start()
        with s.batch():
            s.set("p:late", T0 - timedelta(minutes=1), GRACE)
            for i in range(20):
                s.set(f"p:{i}", T0 + timedelta(minutes=i + 1), GRACE)
            await turn()
            assert rec.calls == []  # nothing fires inside the block
            assert clock.pending == 0
        await turn()
        assert rec.calls == [("due", "p:late", T0 - timedelta(minutes=1))]
        assert clock.pending == 1

    run(main)


def test_a_failing_callback_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        seen: list[str] = []

        def due(key: str, at: datetime) -> None:
            seen.append(key)
            if key == "p:bad":
                raise RuntimeError("boom")

        s = NudgeScheduler(due, due, clock=clock)
        s.start()
        s.set("p:bad", T0 + timedelta(minutes=1), GRACE)
        s.set("p:good", T0 + timedelta(minutes=1), GRACE)
        await clock.advance(120)
        assert seen == ["p:bad", "p:good"]

    run(main)
    assert "handling the nudge 'p:bad'" in caplog.text


def test_a_callback_may_plan_the_next_one_even_for_now() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        seen: list[tuple[str, datetime]] = []

        def due(key: str, at: datetime) -> None:
            seen.append((key, at))
            if key == "p:a":
                s.set("p:b", at, GRACE)  # due now: runs in the same pass
                s.set("p:a", at + timedelta(minutes=1), GRACE)

        s = NudgeScheduler(due, due, clock=clock)
        s.start()
        s.set("p:a", T0 + timedelta(minutes=1), GRACE)
        await clock.advance(90)
        assert seen == [("p:a", T0 + timedelta(minutes=1)), ("p:b", T0 + timedelta(minutes=1))]
        assert s.due_times() == {"p:a": T0 + timedelta(minutes=2)}

    run(main)


def test_entries_set_before_start_are_kept_and_naive_times_refused() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.set("p:tea", T0 + timedelta(minutes=1), GRACE)
        with pytest.raises(ValueError, match="timezone-aware"):
            s.set("p:x", datetime(2026, 11, 25, 8, 0), GRACE)
        await clock.advance(120)
        assert rec.calls == []  # not started
        s.start()
        await turn()
        assert [k for _, k, _ in rec.calls] == ["p:tea"]

    run(main)


def test_shutdown_drops_every_entry_and_nothing_fires_after() -> None:
    async def main() -> None:
        s, rec, clock = make()
        s.start()
        s.set("p:tea", T0 + timedelta(minutes=1), GRACE)
        s.shutdown()
        assert not s.running and s.keys() == set()
        await clock.advance(3600)
        assert rec.calls == []

    run(main)


def test_on_the_real_clock_it_fires_on_time_on_the_loop_thread() -> None:
    rec = Recorder()

    async def main() -> None:
        s = NudgeScheduler(rec.due, rec.missed, clock=SystemClock())
        s.start()
        at = datetime.now(UTC) + timedelta(milliseconds=50)
        s.set("p:tea", at, GRACE)
        for _ in range(200):  # at most 2 s
            if rec.calls:
                break
            await asyncio.sleep(0.01)
        assert rec.calls == [("due", "p:tea", at)]
        assert datetime.now(UTC) >= at

    run(main)
    assert rec.threads == {threading.get_ident()}
