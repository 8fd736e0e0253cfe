"""Where the person is, as the real daemon reads it: a FAKE screensaver on a real test
session bus and a FAKE logind session on a private bus standing in for the system bus
(no screen locker or logind runs here); `attuned status` says the belief."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, practice, settings
from fakeclock import FakeClock
from notification_server import NotificationServer
from presence_fakes import FakeLogindSession, FakeScreenSaver

from attuned.core.presence import Presence, PresenceState
from attuned.daemon.presence import PresenceWatcher

LOG_WAIT = 5.0
# No $DISPLAY or $WAYLAND_DISPLAY from the machine running the tests.
HEADLESS = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
T0 = datetime(2026, 12, 1, 14, 2, 30, tzinfo=UTC)
SCHEDULE = settings() + practice("look-up", once=T0 + timedelta(hours=6))


@pytest.fixture
def screensaver(session_bus: DBusDaemon) -> Iterator[FakeScreenSaver]:
    with FakeScreenSaver(session_bus.address) as fake:
        yield fake


@pytest.fixture
def login_session(system_bus: DBusDaemon) -> Iterator[FakeLogindSession]:
    with FakeLogindSession(system_bus.address) as fake:
        yield fake


def presence_line(d: DaemonProcess) -> str:
    out = d.cli("status")
    assert out.returncode == 0, out.stderr
    [line] = [ln for ln in out.stdout.splitlines() if ln.startswith("presence: ")]
    return line


def test_the_screensaver_locking_and_unlocking(
        daemons: Daemons, session_bus: DBusDaemon, screensaver: FakeScreenSaver,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, config_text=SCHEDULE, fake_clock=T0,
                env=HEADLESS).start()
    assert d.log_matches(r"presence: at_screen \(from org\.freedesktop\.ScreenSaver\)")
    assert presence_line(d) == "presence: at the screen"
    screensaver.set_active(True)
    d.wait_for_log(r"INFO presence: presence: locked$", LOG_WAIT)
    assert presence_line(d) == "presence: locked since 14:02"
    st = d.call("status")["presence"]
    assert st == {"state": "locked", "away": True, "since": T0.isoformat(),
                  "text": "locked since 14:02"}
    doctor = d.cli("doctor")
    assert "✓ presence        locked since 14:02, as the daemon believes\n" in doctor.stdout, \
        doctor.stdout
    screensaver.set_active(False)
    d.wait_for_log(r"INFO presence: presence: at_screen$", LOG_WAIT)
    assert presence_line(d) == "presence: at the screen"


def test_a_screensaver_that_comes_later_and_goes_is_followed(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, config_text=SCHEDULE, fake_clock=T0,
                env=HEADLESS).start()
    assert presence_line(d) == "presence: no desktop"
    with FakeScreenSaver(session_bus.address) as later:
        d.wait_for_log(r"INFO presence: presence: now watching org\.freedesktop\.ScreenSaver$",
                       LOG_WAIT)
        assert presence_line(d) == "presence: at the screen"
        later.set_active(True)
        d.wait_for_log(r"INFO presence: presence: locked$", LOG_WAIT)
    d.wait_for_log(r"INFO presence: presence: now watching nothing$", LOG_WAIT)
    assert presence_line(d) == "presence: no desktop"


def test_gnomes_screensaver_is_heard_too(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    with FakeScreenSaver(session_bus.address, gnome=True) as gnome:
        gnome.set_active(True)  # locked before the daemon starts
        d = daemons(bus=session_bus.address, config_text=SCHEDULE, fake_clock=T0,
                    env=HEADLESS).start()
        assert d.log_matches(r"presence: locked \(from org\.gnome\.ScreenSaver\)")
        assert presence_line(d) == "presence: locked since 14:02"


def test_loginds_hints_locked_then_idle(
        daemons: Daemons, session_bus: DBusDaemon, system_bus: DBusDaemon,
        login_session: FakeLogindSession, notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, system_bus=system_bus.address,
                config_text=SCHEDULE, fake_clock=T0, env=HEADLESS).start()
    assert d.log_matches(r"presence: at_screen \(from logind session _3\)")
    login_session.set(locked=True)
    d.wait_for_log(r"INFO presence: presence: locked$", LOG_WAIT)
    assert presence_line(d) == "presence: locked since 14:02"
    login_session.set(locked=False, idle_since=T0 - timedelta(minutes=12, seconds=5))
    d.wait_for_log(r"INFO presence: presence: idle$", LOG_WAIT)
    assert presence_line(d) == "presence: idle 12 min"
    login_session.set(idle_since=None)
    d.wait_for_log(r"INFO presence: presence: at_screen$", LOG_WAIT)


def test_a_new_login_is_followed_to_its_session(
        daemons: Daemons, session_bus: DBusDaemon, system_bus: DBusDaemon,
        login_session: FakeLogindSession, notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, system_bus=system_bus.address,
                config_text=SCHEDULE, fake_clock=T0, env=HEADLESS).start()
    login_session.set(locked=True)
    d.wait_for_log(r"INFO presence: presence: locked$", LOG_WAIT)
    login_session.new_login()
    d.wait_for_log(r"INFO presence: presence: now watching logind session _7$", LOG_WAIT)
    d.wait_for_log(r"INFO presence: presence: at_screen$", LOG_WAIT)
    mark = len(d.lines)
    login_session.set(locked=True)  # the new session's hints are the ones heard
    d.wait_for_log(r"INFO presence: presence: locked$", LOG_WAIT, since=mark)
    assert presence_line(d) == "presence: locked since 14:02"


def test_a_lost_system_bus_is_no_longer_believed(
        daemons: Daemons, session_bus: DBusDaemon, system_bus: DBusDaemon,
        login_session: FakeLogindSession, notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, system_bus=system_bus.address,
                config_text=SCHEDULE, fake_clock=T0, env=HEADLESS).start()
    login_session.set(locked=True)
    d.wait_for_log(r"INFO presence: presence: locked$", LOG_WAIT)
    system_bus.kill()
    d.wait_for_log(r"INFO presence: presence: lost a bus connection; now watching nothing$",
                   LOG_WAIT)
    d.wait_for_log(r"INFO presence: presence: no_desktop$", LOG_WAIT)
    assert presence_line(d) == "presence: no desktop"


def test_no_screensaver_no_session_no_display_is_no_desktop(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, config_text=SCHEDULE, fake_clock=T0,
                env=HEADLESS).start()
    assert d.log_matches(r"presence: no_desktop \(from no screensaver and no logind session\)")
    assert presence_line(d) == "presence: no desktop"
    assert d.call("status")["presence"]["away"] is True


def test_a_display_without_a_screensaver_is_at_the_screen(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, config_text=SCHEDULE, fake_clock=T0,
                env={"DISPLAY": ":99", "WAYLAND_DISPLAY": ""}).start()
    assert presence_line(d) == "presence: at the screen"


def test_locked_outweighs_idle_and_idle_since_is_loginds(
        session_bus: DBusDaemon, system_bus: DBusDaemon, screensaver: FakeScreenSaver,
        login_session: FakeLogindSession) -> None:
    """The watcher itself, in this process, on the same FAKES: which belief wins."""
    clock = FakeClock(T0)
    idle_from = T0 - timedelta(minutes=3)

    async def main() -> list[Presence]:
        watcher = PresenceWatcher(clock, session_address=session_bus.address,
                                  system_address=system_bus.address, environ=HEADLESS)
        await watcher.start()
        seen: list[Presence] = []
        changed = asyncio.Event()

        def heard(p: Presence) -> None:
            seen.append(p)
            changed.set()

        async def after(step: Callable[[], None]) -> None:
            changed.clear()
            await asyncio.to_thread(step)
            await asyncio.wait_for(changed.wait(), LOG_WAIT)

        watcher.subscribe(heard)
        await after(lambda: login_session.set(idle_since=idle_from))
        await clock.advance(60)
        await after(lambda: screensaver.set_active(True))
        await after(lambda: screensaver.set_active(False))
        await watcher.stop()
        return seen

    assert asyncio.run(main()) == [
        Presence(PresenceState.IDLE, idle_from),
        Presence(PresenceState.LOCKED, T0 + timedelta(seconds=60)),
        Presence(PresenceState.IDLE, idle_from),
    ]
