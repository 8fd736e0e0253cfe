"""Suspend and resume, end to end. Tests cannot suspend the machine, so the daemon runs on
its FAKE clock (tests/fakeclock_daemon.py): `suspend` moves its wall clock forward while
its timers stand still, which is what a process sees after a real sleep. A FAKE logind on
a second private bus emits PrepareForSleep; without it, the clock check (every
ATTUNED_CLOCK_CHECK_SECONDS of awake time) notices the jump."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, FakeLogind, due_in, practice, settings, utc_now
from notification_server import NotificationServer

NUDGE_WAIT = 10.0


@pytest.fixture
def logind(system_bus: DBusDaemon) -> Iterator[FakeLogind]:
    with FakeLogind(system_bus.address) as fake:
        yield fake


def with_logind(daemons: Daemons, bus: DBusDaemon, system_bus: DBusDaemon,
                text: str) -> DaemonProcess:
    d = daemons(bus=bus.address, system_bus=system_bus.address, config_text=text,
                fake_clock=True).start()
    assert d.log_matches(r"DEBUG sleepwatch: suspend: listening for logind's PrepareForSleep")
    return d


def sleep_and_wake(d: DaemonProcess, logind: FakeLogind, seconds: float) -> float:
    """FAKE suspend for `seconds`; returns the monotonic time of the resume signal."""
    logind.prepare_for_sleep(True)
    d.wait_for_log(r"INFO sleepwatch: suspend: the machine is going to sleep", 5)
    d.suspend(seconds)
    woke = time.monotonic()
    logind.prepare_for_sleep(False)
    return woke


def test_a_nudge_due_during_sleep_comes_within_2_s_of_resume(
        daemons: Daemons, session_bus: DBusDaemon, system_bus: DBusDaemon,
        logind: FakeLogind, notification_server: NotificationServer) -> None:
    d = with_logind(daemons, session_bus, system_bus,
                    settings(grace="15m") + practice("look-up", once=due_in(60)))
    woke = sleep_and_wake(d, logind, 120)
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    took = time.monotonic() - woke
    assert took <= 2.0, f"delivered {took:.1f} s after the resume"
    assert rec["summary"] == "Look-Up"
    [m] = d.wait_for_log(r"INFO attuned: nudged look-up \(\w+\), (\d+) s late", 5)
    assert 55 <= int(m.group(1)) <= 70
    assert [str(e.kind) for e in d.history()] == ["shown"]


def minute_times(first: datetime, count: int) -> list[datetime]:
    return [first + timedelta(minutes=i) for i in range(count)]


def test_beyond_grace_several_occurrences_are_recorded_missed_once_and_not_shown(
        daemons: Daemons, session_bus: DBusDaemon, system_bus: DBusDaemon,
        logind: FakeLogind, notification_server: NotificationServer) -> None:
    now = utc_now()
    # Three clock times a minute apart, the first at least a minute ahead (no real
    # minute passes before the fake sleep).
    first = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    times = minute_times(first, 3)
    at = ", ".join(f'"{t:%H:%M}"' for t in times)
    d = with_logind(daemons, session_bus, system_bus, settings(grace="1m") + (
        f'[[practice]]\nid = "look-up"\ntitle = "Look up"\nmessage = "Look up."\n'
        f"at = [{at}]\n") + practice("sentinel", once=due_in(3600)))
    asleep_for = (times[-1] - now).total_seconds() + 300
    sleep_and_wake(d, logind, asleep_for)
    d.wait_for_log(r"INFO attuned: missed look-up", NUDGE_WAIT)
    # Then the next one after the sleep is planned: tomorrow's first time.
    status = d.call("status")
    planned = {n["practice"]: datetime.fromisoformat(n["at"]) for n in status["next"]}
    assert planned["look-up"] == times[0] + timedelta(days=1)
    events = [e for e in d.history() if e.practice_id == "look-up"]
    assert [str(e.kind) for e in events] == ["missed"]  # one, never shown
    assert events[0].due in times
    assert notification_server.notifies == []


def test_after_a_long_sleep_the_latest_occurrence_inside_grace_still_comes(
        daemons: Daemons, session_bus: DBusDaemon, system_bus: DBusDaemon,
        logind: FakeLogind, notification_server: NotificationServer) -> None:
    now = utc_now()
    first = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    early, late = first, first + timedelta(minutes=3)
    d = with_logind(daemons, session_bus, system_bus, settings(grace="2m") + (
        f'[[practice]]\nid = "look-up"\ntitle = "Look up"\nmessage = "Look up."\n'
        f'at = ["{early:%H:%M}", "{late:%H:%M}"]\n'))
    # Wake 30 s after the later one: the earlier is beyond its grace, the later inside.
    sleep_and_wake(d, logind, (late - now).total_seconds() + 30)
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    assert rec["summary"] == "Look up"
    d.wait_for_log(r"INFO attuned: nudged look-up \(\w+\), \d+ s late", 5)
    events = d.history()
    assert [(str(e.kind), e.due) for e in events] == [("missed", early), ("shown", late)]


def test_without_logind_the_clock_check_notices_the_sleep(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, fake_clock=True,
                env={"ATTUNED_CLOCK_CHECK_SECONDS": "1"},
                config_text=settings(grace="15m") + practice("look-up", once=due_in(60)))
    d.start()
    assert d.log_matches(r"INFO sleepwatch: suspend: cannot reach")
    d.suspend(120)
    woke = time.monotonic()
    d.advance(1)  # awake again: the clock check's next second
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    assert time.monotonic() - woke <= 3.0  # one check interval, and a little
    assert rec["summary"] == "Look-Up"
    d.wait_for_log(r"INFO attuned: the wall clock moved by \+1[12]\d s", 5)
    d.wait_for_log(r"INFO attuned: nudged look-up \(\w+\), \d+ s late", 5)


def test_without_logind_beyond_grace_is_missed(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, fake_clock=True,
                env={"ATTUNED_CLOCK_CHECK_SECONDS": "1"},
                config_text=settings(grace="1m") + practice("look-up", once=due_in(60))
                + practice("sentinel", once=due_in(3600)))
    d.start()
    d.suspend(300)
    d.advance(1)
    d.wait_for_log(r"INFO attuned: missed look-up", NUDGE_WAIT)
    assert [str(e.kind) for e in d.history()] == ["missed"]
    assert notification_server.notifies == []


def test_status_now_follows_the_fake_clock(daemons: Daemons) -> None:
    # Pins the test-only clock the other tests rely on: it moves only when told.
    start = datetime(2026, 3, 29, 0, 40, tzinfo=UTC)
    d = daemons(fake_clock=start, config_text=settings()).start()
    assert datetime.fromisoformat(d.call("status")["now"]) == start
    assert d.advance(3600) == start + timedelta(hours=1)
    assert datetime.fromisoformat(d.call("status")["now"]) == start + timedelta(hours=1)
    assert d.suspend(60) == start + timedelta(hours=1, minutes=1)
