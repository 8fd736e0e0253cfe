"""Discreet mode: the desktop shows a neutral title and a glyph; `attuned show` the text.

End to end through the real D-Bus notifier to the test notification server on a private
bus; the core runs on a real store with the FakePlanner of test_review."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from buses import DBusDaemon
from click.testing import CliRunner
from fakeclock import FakeClock
from notification_server import NotificationServer
from service_fakes import FakePlanner, practice

from attuned.app.service import ScheduleState, Service
from attuned.cli.root import cli
from attuned.core.model import Schedule, Settings
from attuned.notify.dbus import DBusNotifier
from attuned.state.store import Store

T0 = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)


def fire_through_the_bus(tmp_path: Path, bus: DBusDaemon, sched: Schedule,
                         *practice_ids: str) -> list[str]:
    store = Store.open(tmp_path / "state" / "history.db")

    async def go() -> list[str]:
        notifier = DBusNotifier(bus.address)
        try:
            await notifier.connect()
            svc = Service(store=store, notifier=notifier, planner=FakePlanner(),
                          state=ScheduleState(sched, T0), zone=ZoneInfo("UTC"), seed="s",
                          clock=FakeClock(T0))
            ids = []
            for pid in practice_ids:
                rec = await svc.fire(pid, T0)
                assert rec is not None
                ids.append(rec.id)
            return ids
        finally:
            await notifier.aclose()

    try:
        return asyncio.run(asyncio.wait_for(go(), 30))
    finally:
        store.close()


def test_a_discreet_practice_shows_only_a_glyph_and_show_reveals_it(
        tmp_path: Path, session_bus: DBusDaemon, notification_server: NotificationServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sched = Schedule(Settings(timezone="UTC"), (
        practice(discreet=True, messages=("Paper down. How is your partner?",)),
        practice(id="look-up", title="Look up", messages=("Look up.",)),
    ))
    (secret, plain) = fire_through_the_bus(tmp_path, session_bus, sched, "breakfast",
                                           "look-up")
    first, second = notification_server.wait_for_notify(count=2, timeout=10)
    assert (first["summary"], first["body"]) == ("A moment for you", f"◦  {secret}")
    assert first["actions"][:2] == ["done", "Done"]  # still answerable from the bubble
    assert (second["summary"], second["body"]) == ("Look up", "Look up.")

    monkeypatch.setenv("ATTUNED_STATE_DIR", str(tmp_path / "state"))
    r = CliRunner().invoke(cli, ["show", secret])
    assert r.exit_code == 0, r.output
    assert r.output == (f"{secret}  Breakfast presence  (Tue 01 Dec 07:30, open)\n"
                        "Paper down. How is your partner?\n")
    r = CliRunner().invoke(cli, ["show"])  # the newest open one
    assert r.output.splitlines()[0].startswith(f"{plain}  Look up")


def test_discreet_in_settings_covers_every_practice(
        tmp_path: Path, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    from attuned.config import read

    sched = read.parse_text(
        '[settings]\ntimezone = "UTC"\ndiscreet = true\n'
        '[[practice]]\nid = "a"\ntitle = "Understand first"\nmessage = "m"\nat = "07:30"\n'
        '[[practice]]\nid = "b"\ntitle = "Open"\nmessage = "n"\nat = "07:30"\n'
        "discreet = false\n")
    (a, _b) = fire_through_the_bus(tmp_path, session_bus, sched, "a", "b")
    first, second = notification_server.wait_for_notify(count=2, timeout=10)
    assert (first["summary"], first["body"]) == ("A moment for you", f"◦  {a}")
    assert second["summary"] == "Open"


def test_show_without_a_nudge_says_what_to_do() -> None:
    r = CliRunner().invoke(cli, ["show"])
    assert r.exit_code == 1
    assert r.stderr == ("attuned: there is no open nudge to show; give its id, like: "
                        "attuned show k3f2 (`attuned history` lists them)\n")
