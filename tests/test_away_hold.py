"""[settings] away: what the desktop does with a nudge while nobody is at the screen. The
daemon as a real process on its FAKE clock, on a private session bus with the test
notification server; the screen is locked by the FAKE screensaver (tests/presence_fakes.py:
no real locker runs here)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, due_in, practice, settings
from notification_server import NotificationServer
from presence_fakes import FakeScreenSaver
from test_presence_x11 import touch, wait_until, xvfb, xvfb_proc  # noqa: F401 (fixtures)

from attuned.config.read import parse_text
from attuned.core.model import AwayMode, HoldReason
from attuned.daemon.x11idle import X11Idle
from attuned.errors import ScheduleError
from attuned.state import migrations
from attuned.state.store import Store

WAIT = 10.0
DUE = 3.0  # FAKE seconds after which `due_in(2)` is due
NO_DISPLAY = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}


@pytest.fixture
def screensaver(session_bus: DBusDaemon) -> Iterator[FakeScreenSaver]:
    with FakeScreenSaver(session_bus.address) as fake:
        yield fake


def locked_daemon(daemons: Daemons, bus: DBusDaemon, screensaver: FakeScreenSaver,
                  text: str) -> DaemonProcess:
    """A daemon (FAKE clock) that has seen the screen locked."""
    d = daemons(bus=bus.address, fake_clock=True, env=NO_DISPLAY, config_text=text).start()
    d.wait_for_log(r"presence: at_screen", WAIT)
    screensaver.set_active(True)
    d.wait_for_log(r"INFO presence: presence: locked$", WAIT)
    return d


def test_a_nudge_due_while_locked_is_held_and_shown_within_2s_of_the_unlock(
        daemons: Daemons, session_bus: DBusDaemon, screensaver: FakeScreenSaver,
        notification_server: NotificationServer) -> None:
    d = locked_daemon(daemons, session_bus, screensaver,
                      settings(extra='away = "hold"') + practice("look-up", once=due_in(2)))
    d.advance(DUE)
    d.wait_for_log(r"INFO attuned: held look-up \(due .*\) until someone is at the screen",
                   WAIT)
    assert notification_server.notifies == []
    [held] = d.history()
    assert (str(held.kind), held.reason) == ("held", "away")
    status = d.cli("status")
    assert f"held: {held.nudge_id}  Look-Up  (nobody at the screen)\n" in status.stdout
    start = time.monotonic()
    screensaver.set_active(False)
    [rec] = notification_server.wait_for_notify(1, WAIT)
    took = time.monotonic() - start
    assert took < 2.0, f"shown {took:.2f} s after the unlock"
    print(f"unlock to shown: {took * 1000:.0f} ms")
    assert (rec["summary"], rec["body"]) == ("Look-Up",
                                            "(held while you were away) Time for look-up")
    held, shown = d.history()
    assert (str(held.kind), held.reason, str(shown.kind)) == ("held", "away", "shown")
    assert held.nudge_id == shown.nudge_id
    assert "nobody was at the screen" in d.cli("history").stdout
    assert d.stop() == 0


def test_a_nudge_held_while_locked_is_still_held_after_a_restart(
        daemons: Daemons, session_bus: DBusDaemon, screensaver: FakeScreenSaver,
        notification_server: NotificationServer) -> None:
    d = locked_daemon(daemons, session_bus, screensaver,
                      settings(extra='away = "hold"') + practice("look-up", once=due_in(2)))
    d.advance(DUE)
    d.wait_for_log(r"INFO attuned: held look-up", WAIT)
    assert d.stop() == 0
    mark = d.mark()
    d.start()
    d.wait_for_log(r"INFO presence: presence: locked", WAIT, since=mark)
    d.advance(1)
    assert notification_server.notifies == []
    screensaver.set_active(False)
    [rec] = notification_server.wait_for_notify(1, WAIT)
    assert rec["body"] == "(held while you were away) Time for look-up"
    assert [str(e.kind) for e in d.history()] == ["held", "shown"]
    assert d.stop() == 0


def test_away_changed_from_hold_to_show_shows_what_waited(
        daemons: Daemons, session_bus: DBusDaemon, screensaver: FakeScreenSaver,
        notification_server: NotificationServer) -> None:
    due = due_in(2)
    d = locked_daemon(daemons, session_bus, screensaver,
                      settings(extra='away = "hold"') + practice("look-up", once=due))
    d.advance(DUE)
    d.wait_for_log(r"INFO attuned: held look-up", WAIT)
    d.rewrite(settings(extra='away = "show"') + practice("look-up", once=due))
    [rec] = notification_server.wait_for_notify(1, WAIT)
    assert rec["body"] == "(held while you were away) Time for look-up"
    assert d.stop() == 0


def test_held_past_its_grace_it_is_recorded_missed_and_never_shown(
        daemons: Daemons, session_bus: DBusDaemon, screensaver: FakeScreenSaver,
        notification_server: NotificationServer) -> None:
    d = locked_daemon(daemons, session_bus, screensaver,
                      settings(grace="1m", extra='away = "hold"')
                      + practice("look-up", once=due_in(2))
                      + practice("later", once=due_in(200)))
    d.advance(DUE)
    d.wait_for_log(r"INFO attuned: held look-up", WAIT)
    d.advance(61)
    d.wait_for_log(r"INFO attuned: missed look-up \(due .*\): nobody came back to the "
                   r"screen within its grace", WAIT)
    held, missed = d.history()
    assert (str(held.kind), held.reason, str(missed.kind)) == ("held", "away", "missed")
    assert held.nudge_id == missed.nudge_id
    assert missed.note == "nobody came back to the screen within its grace"
    screensaver.set_active(False)
    d.wait_for_log(r"INFO presence: presence: at_screen", WAIT)
    d.advance(200)
    # The next practice's nudge is the only one shown: the missed one never comes.
    [rec] = notification_server.wait_for_notify(1, WAIT)
    assert rec["summary"] == "Later"
    assert [r["summary"] for r in notification_server.notifies] == ["Later"]
    assert d.stop() == 0


def test_held_while_idle_on_x11_it_comes_once_there_is_input_again(
        daemons: Daemons, session_bus: DBusDaemon, xvfb: str,  # noqa: F811 (a fixture)
        notification_server: NotificationServer) -> None:
    # A real Xvfb, input from xdotool. X11's idle time ends with no signal: the held
    # nudge is looked at again every 5 s of its grace. X counts idle time on its own
    # clock, so the test waits for it (3 s) and then has 3 s to move the FAKE clock on.
    d = daemons(bus=session_bus.address, fake_clock=True,
                env={"DISPLAY": xvfb, "WAYLAND_DISPLAY": ""},
                config_text=settings(extra='away = "hold"') + '[phone]\nidle = "3s"\n'
                + practice("look-up", once=due_in(2))).start()
    d.wait_for_log(r"presence: at_screen \(from X11 idle time on ", WAIT)
    idle = X11Idle(xvfb)
    wait_until(lambda: (idle.seconds() or 0) >= 3.5, "idle time of 3.5 s")
    d.advance(DUE)
    d.wait_for_log(r"INFO attuned: held look-up \(due .*\) until someone is at the screen",
                   WAIT)
    d.advance(5)
    assert notification_server.notifies == []  # still idle: still held
    touch(xvfb)
    d.advance(5)
    [rec] = notification_server.wait_for_notify(1, WAIT)
    assert rec["body"] == "(held while you were away) Time for look-up"
    assert [str(e.kind) for e in d.history()] == ["held", "shown"]
    assert d.stop() == 0


@pytest.mark.parametrize("away", ['away = "show"', ""])
def test_show_and_the_default_without_a_phone_show_it_while_locked(
        daemons: Daemons, session_bus: DBusDaemon, screensaver: FakeScreenSaver,
        notification_server: NotificationServer, away: str) -> None:
    d = locked_daemon(daemons, session_bus, screensaver,
                      settings(extra=away) + practice("look-up", once=due_in(2)))
    d.advance(DUE)
    [rec] = notification_server.wait_for_notify(1, WAIT)
    assert (rec["summary"], rec["body"]) == ("Look-Up", "Time for look-up")
    assert [str(e.kind) for e in d.history()] == ["shown"]
    assert d.stop() == 0


BASE = "[[practice]]\nid = 'a'\ntitle = 'A'\nmessage = 'm'\nat = '09:00'\n"


def test_the_default_is_phone_with_a_phone_and_show_without() -> None:
    assert parse_text(BASE).settings.away_mode == AwayMode.SHOW
    phone = "[phone]\nntfy = 'https://ntfy.sh/attuned-x'\n"
    assert parse_text(phone + BASE).settings.away_mode == AwayMode.PHONE
    text = "[settings]\naway = 'hold'\n" + phone + BASE
    assert parse_text(text).settings.away_mode == AwayMode.HOLD


@pytest.mark.parametrize(("value", "error"), [
    ('"hodl"', 'config.toml:2: away: "hodl" is not one of "phone", "hold", "show"; '
               'did you mean "hold"?'),
    ("true", 'config.toml:2: away: expected one of "phone", "hold", "show", got true'),
    ('"phone"', 'config.toml:2: away: "phone" needs a phone: set [phone] ntfy (`attuned '
                'phone setup`) or apprise, or choose "hold" or "show"'),
])
def test_a_bad_away_is_told_with_its_choices(value: str, error: str) -> None:
    with pytest.raises(ScheduleError) as e:
        parse_text(f"[settings]\naway = {value}\n" + BASE)
    assert str(e.value) == error


def _database_at(db: Path, last: int) -> None:
    """A history database with the migrations up to `last` only."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                 " applied_at TEXT NOT NULL)")
    for version, steps in migrations.MIGRATIONS:
        if version > last:
            break
        for step in steps:
            assert isinstance(step, str)
            conn.execute(step)
        conn.execute("INSERT INTO schema_migrations VALUES (?, '2026-11-01T00:00:00+00:00')",
                     (version,))
    conn.execute("INSERT INTO nudges (id, practice_id, title, due, state, origin_id,"
                 " origin_due) VALUES ('k3f2', 'tea', 'Tea', '2026-11-30T07:30:00+00:00',"
                 " 'held', 'k3f2', '2026-11-30T07:30:00+00:00')")
    conn.execute("INSERT INTO events (nudge_id, kind, at, reason) VALUES ('k3f2', 'held',"
                 " '2026-11-30T07:30:00+00:00', 'quiet')")
    conn.execute("INSERT INTO held VALUES ('tea', '2026-11-30T07:30:00+00:00', 'quiet',"
                 " 'defer', 'k3f2')")
    conn.close()


def test_after_3_the_reason_away_is_allowed_and_every_row_kept(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    _database_at(db, 3)
    store = Store.open(db)
    try:
        assert [v for v, _ in store.schema_versions()] == list(migrations.VERSIONS)
        [h] = store.held()
        assert (h.practice_id, h.reason, h.nudge_id) == ("tea", HoldReason.QUIET, "k3f2")
        [e] = store.history()
        assert (str(e.kind), str(e.reason)) == ("held", "quiet")
    finally:
        store.close()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE held SET reason = 'away'")
        conn.execute("UPDATE events SET reason = 'away'")
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("UPDATE held SET reason = 'elsewhere'")
        indexes = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events'")}
        assert {"events_at", "events_nudge"} <= indexes


def test_a_migration_numbered_before_one_applied_is_still_applied(tmp_path: Path) -> None:
    # A database that has 5 but not 4 (made while 4 was still free): 4 is applied at the
    # next open, and 5 is not applied again.
    db = tmp_path / "history.db"
    Store.open(db).close()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DROP TABLE bubble_server")
        conn.execute("DELETE FROM schema_migrations WHERE version = 4")
    with closing(sqlite3.connect(db)) as conn:
        assert migrations.pending(conn) == [4]
    store = Store.open(db)
    try:
        assert sorted(v for v, _ in store.schema_versions()) == list(migrations.VERSIONS)
    finally:
        store.close()
    with closing(sqlite3.connect(db)) as conn:
        assert migrations.pending(conn) == []
        assert conn.execute("SELECT COUNT(*) FROM bubble_server").fetchone() == (0,)
