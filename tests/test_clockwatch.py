"""Clock-jump and zone-change detection: the pure comparison with fake readings, the
zone fingerprint on real files, and the watcher's timer on the FAKE clock
(tests/fakeclock.py)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakeclock import FakeClock

from attuned.core.clock import Reading
from attuned.daemon.clock import SystemClock, zone_signature
from attuned.daemon.clockwatch import Change, ClockWatcher, compare, describe

T0 = Reading(wall=1_700_000_000.0, monotonic=5_000.0, boottime=5_100.0, zone="z1")


def ticked(r: Reading, seconds: float) -> Reading:
    """All clocks advanced together: nothing happened."""
    return replace(
        r, wall=r.wall + seconds, monotonic=r.monotonic + seconds, boottime=r.boottime + seconds
    )


def slept(r: Reading, seconds: float) -> Reading:
    """A suspend: CLOCK_MONOTONIC stood still, the wall clock and CLOCK_BOOTTIME ran."""
    return replace(r, wall=r.wall + seconds, boottime=r.boottime + seconds)


def stepped(r: Reading, seconds: float) -> Reading:
    """The wall clock was set; the kernel's own clocks did not move."""
    return replace(r, wall=r.wall + seconds)


# -- the pure comparison ------------------------------------------------------------------


def test_normal_ticking_is_nothing() -> None:
    assert compare(T0, ticked(T0, 60.0)) is None


def test_a_suspend_of_an_hour() -> None:
    change = compare(T0, slept(ticked(T0, 60.0), 3600.0))
    assert change == Change(slept=3600.0, stepped=0.0, zone_changed=False)
    assert change.jump == 3600.0
    assert describe(change) == "the machine slept about 1 h 0 min"


def test_wall_clock_set_forward_two_hours() -> None:
    change = compare(T0, stepped(ticked(T0, 60.0), 7200.0))
    assert change == Change(slept=0.0, stepped=7200.0, zone_changed=False)
    assert change.jump == 7200.0
    assert describe(change) == "the clock was set forward 2 h 0 min"


def test_wall_clock_set_back_an_hour() -> None:
    change = compare(T0, stepped(ticked(T0, 60.0), -3600.0))
    assert change == Change(slept=0.0, stepped=-3600.0, zone_changed=False)
    assert change.jump == -3600.0
    assert describe(change) == "the clock was set back 1 h 0 min"


def test_sleep_and_step_together_are_told_apart() -> None:
    change = compare(T0, stepped(slept(T0, 1800.0), 90.0))
    assert change is not None
    assert change.slept == pytest.approx(1800.0)
    assert change.stepped == pytest.approx(90.0)
    assert describe(change) == "the machine slept about 30 min; the clock was set forward 90 s"


@pytest.mark.parametrize("drift", [0.3, -1.5, 2.0])
def test_small_drift_at_or_below_threshold_is_ignored(drift: float) -> None:
    assert compare(T0, stepped(ticked(T0, 60.0), drift), threshold=2.0) is None


def test_drift_just_above_threshold_counts() -> None:
    change = compare(T0, stepped(ticked(T0, 60.0), -2.5), threshold=2.0)
    assert change is not None
    assert change.jump == pytest.approx(-2.5)


def test_zone_change_alone() -> None:
    change = compare(T0, replace(ticked(T0, 60.0), zone="z2"))
    assert change == Change(slept=0.0, stepped=0.0, zone_changed=True)
    assert change.jump == 0.0
    assert describe(change) == "the time zone changed"


# -- the zone fingerprint, on real files ---------------------------------------------------


def test_zone_signature_follows_tz_and_the_localtime_link(tmp_path: Path) -> None:
    berlin = tmp_path / "Berlin"
    tokyo = tmp_path / "Tokyo"
    berlin.write_bytes(b"TZif berlin")
    tokyo.write_bytes(b"TZif tokyo")
    link = tmp_path / "localtime"
    link.symlink_to(berlin)
    tzfile = tmp_path / "timezone"
    tzfile.write_text("Europe/Berlin\n")

    def sig(env: dict[str, str]) -> str:
        return zone_signature(env, localtime=str(link), timezone_file=str(tzfile))

    first = sig({})
    assert sig({}) == first  # stable while nothing changes
    assert sig({"TZ": "Asia/Tokyo"}) != first
    # What timedatectl set-timezone does: replace the link by rename.
    new_link = tmp_path / "localtime.new"
    new_link.symlink_to(tokyo)
    os.replace(new_link, link)
    second = sig({})
    assert second != first
    tzfile.write_text("Asia/Tokyo\n")  # Debian's tzdata also rewrites /etc/timezone
    assert sig({}) != second


def test_zone_signature_without_the_files(tmp_path: Path) -> None:
    sig = zone_signature({}, localtime=str(tmp_path / "no"), timezone_file=str(tmp_path / "x"))
    assert sig == f"TZ=|{tmp_path / 'no'}=-|{tmp_path / 'x'}=-"


def test_system_clock_reads_consistent_clocks() -> None:
    r = SystemClock().read()
    assert abs(r.wall - time.time()) < 1.0
    assert r.boottime >= r.monotonic - 0.01  # BOOTTIME also counts time spent suspended
    assert compare(r, SystemClock().read()) is None


# -- the watcher's timer, on the FAKE clock ------------------------------------------------

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Seen:
    def __init__(self) -> None:
        self.jumps: list[float] = []
        self.zone_changes = 0
        self.order: list[str] = []

    def jump(self, seconds: float) -> None:
        self.jumps.append(seconds)
        self.order.append("jump")

    def zone(self) -> None:
        self.zone_changes += 1
        self.order.append("zone")


def test_the_watcher_reports_a_suspend_once_and_a_step_and_a_zone_change() -> None:
    async def main() -> None:
        clock = FakeClock(START)
        seen = Seen()
        watcher = ClockWatcher(clock, seen.jump, seen.zone, interval=60)
        watcher.start()
        assert watcher.running
        clock.suspend(3600)
        await clock.advance(59)
        assert seen.jumps == []  # noticed at the next minute's check, not before
        await clock.advance(1)
        assert seen.jumps == [pytest.approx(3600.0)]
        # The next reading compares with the resumed one: the same sleep is not reported twice.
        await clock.advance(120)
        assert seen.jumps == [pytest.approx(3600.0)]
        clock.step(-3600)
        await clock.advance(60)
        assert seen.jumps == [pytest.approx(3600.0), pytest.approx(-3600.0)]
        clock.zone = "another zone"
        await clock.advance(60)
        assert seen.zone_changes == 1
        assert len(seen.jumps) == 2
        watcher.stop()
        assert not watcher.running
        assert clock.pending == 0  # nothing left to wake it

    asyncio.run(main())


def test_an_idle_watcher_wakes_once_an_interval() -> None:
    async def main() -> None:
        clock = FakeClock(START)
        ticks: list[datetime] = []
        watcher = ClockWatcher(clock, lambda s: None, interval=60,
                               on_tick=lambda: ticks.append(clock.now()))
        watcher.start()
        await clock.advance(600)
        assert len(ticks) == 10
        assert clock.pending == 1

    asyncio.run(main())


def test_check_now_consumes_the_change(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        clock = FakeClock(START)
        seen = Seen()
        watcher = ClockWatcher(clock, seen.jump, interval=3600.0)
        watcher.start()
        clock.suspend(600)
        change = watcher.check_now()
        assert change is not None and change.slept == 600.0
        assert seen.jumps == [600.0]
        assert watcher.check_now() is None
        watcher.stop()

    caplog.set_level("INFO", logger="attuned.daemon.clockwatch")
    asyncio.run(main())
    assert "clock: the machine slept about 10 min" in caplog.text


def test_callback_errors_are_logged_and_the_watch_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        clock = FakeClock(START)
        seen = Seen()

        def bad(seconds: float) -> None:
            seen.jump(seconds)
            raise RuntimeError("boom")

        watcher = ClockWatcher(clock, bad, interval=60)
        watcher.start()
        clock.step(100)
        await clock.advance(60)
        clock.step(100)
        await clock.advance(60)
        assert seen.jumps == [100.0, 100.0]
        watcher.stop()

    asyncio.run(main())
    assert "handling a clock change failed" in caplog.text


def test_on_tick_runs_at_every_wakeup_before_the_check() -> None:
    # The daemon's watchdog ping rides on this timer: one wakeup for all housekeeping.
    async def main() -> None:
        clock = FakeClock(START)
        seen = Seen()
        watcher = ClockWatcher(clock, seen.jump, interval=20,
                               on_tick=lambda: seen.order.append("tick"))
        watcher.start()
        await clock.advance(60)
        assert seen.order == ["tick", "tick", "tick"]
        clock.step(100)
        await clock.advance(20)
        assert seen.order[-2:] == ["tick", "jump"]
        watcher.stop()

    asyncio.run(main())
