"""Clock-jump and zone-change detection: the pure comparison with fake readings, the
zone fingerprint on real files, and the asyncio timer with a fake clock."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from attuned.daemon.clockwatch import (
    Change,
    ClockWatcher,
    Reading,
    SystemClock,
    compare,
    describe,
    zone_signature,
)

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


def test_system_clock_with_an_offset_wall_clock_sees_a_fake_suspend() -> None:
    offset = [0.0]
    clock = SystemClock(wall=lambda: time.time() + offset[0])
    before = clock.read()
    offset[0] = 3600.0  # the wall clock jumped, the kernel's clocks did not: reads as a step
    change = compare(before, clock.read())
    assert change is not None
    assert change.jump == pytest.approx(3600.0, abs=0.5)


# -- the asyncio timer, with a fake clock -------------------------------------------------


class FakeClock:
    """Fake clocks a test moves by hand; the watcher reads them instead of the kernel's."""

    def __init__(self) -> None:
        self.now = T0
        self.reads = 0
        self._read = asyncio.Event()

    def read(self) -> Reading:
        self.reads += 1
        self._read.set()
        return self.now

    async def wait_reads(self, n: int, timeout: float = 2.0) -> None:
        async def until() -> None:
            while self.reads < n:
                self._read.clear()
                await self._read.wait()

        await asyncio.wait_for(until(), timeout)


class Seen:
    def __init__(self) -> None:
        self.jumps: list[float] = []
        self.zone_changes = 0
        self.arrived = asyncio.Event()

    def jump(self, seconds: float) -> None:
        self.jumps.append(seconds)
        self.arrived.set()

    def zone(self) -> None:
        self.zone_changes += 1
        self.arrived.set()

    async def next(self, timeout: float = 2.0) -> None:
        await asyncio.wait_for(self.arrived.wait(), timeout)
        self.arrived.clear()


def test_watcher_reports_a_suspend_once_and_a_step_and_a_zone_change() -> None:
    async def main() -> None:
        clock = FakeClock()
        seen = Seen()
        watcher = ClockWatcher(seen.jump, seen.zone, interval=0.05, clock=clock)
        watcher.start()
        assert watcher.running
        clock.now = slept(clock.now, 3600.0)
        await seen.next()
        assert seen.jumps == [3600.0]
        # The next reading compares with the resumed one: the same sleep is not reported twice.
        await clock.wait_reads(clock.reads + 2)
        assert seen.jumps == [3600.0]
        clock.now = stepped(clock.now, -3600.0)
        await seen.next()
        assert seen.jumps == [3600.0, -3600.0]
        clock.now = replace(clock.now, zone="z2")
        await seen.next()
        assert seen.zone_changes == 1
        assert seen.jumps == [3600.0, -3600.0]
        watcher.stop()
        reads = clock.reads
        await asyncio.sleep(0.15)  # deliberately checking a non-event: no reads once stopped
        assert clock.reads == reads
        assert not watcher.running

    asyncio.run(main())


def test_check_now_consumes_the_change(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        clock = FakeClock()
        seen = Seen()
        watcher = ClockWatcher(seen.jump, interval=3600.0, clock=clock)
        watcher.start()
        clock.now = slept(clock.now, 600.0)
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
        clock = FakeClock()
        seen = Seen()

        def bad(seconds: float) -> None:
            seen.jump(seconds)
            raise RuntimeError("boom")

        watcher = ClockWatcher(bad, interval=0.05, clock=clock)
        watcher.start()
        clock.now = stepped(clock.now, 100.0)
        await seen.next()
        clock.now = stepped(clock.now, 100.0)
        await seen.next()
        assert seen.jumps == [100.0, 100.0]
        watcher.stop()

    asyncio.run(main())
    assert "handling a clock change failed" in caplog.text


def test_on_tick_runs_at_every_wakeup_before_the_check() -> None:
    # The daemon's watchdog ping rides on this timer: one wakeup for all housekeeping.
    async def main() -> None:
        clock = FakeClock()
        order: list[str] = []
        seen = Seen()

        def jump(seconds: float) -> None:
            order.append("jump")
            seen.jump(seconds)

        watcher = ClockWatcher(jump, interval=0.02, clock=clock,
                               on_tick=lambda: order.append("tick"))
        watcher.start()
        await clock.wait_reads(4)
        assert order[:3] == ["tick", "tick", "tick"]
        clock.now = stepped(clock.now, 100.0)
        await seen.next()
        assert order[-2:] == ["tick", "jump"]
        watcher.stop()

    asyncio.run(main())
