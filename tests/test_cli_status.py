"""`attuned status` as a person reads it, from what a real Service (on a real store, with
the named fakes of tests/service_fakes.py) says over the control socket: held nudges,
together mode, paused notifications. The daemon end to end is in test_held_daemon.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from service_fakes import FakeNotifier, make, practice

from attuned.cli import daemon as cli_daemon
from attuned.cli.root import cli
from attuned.core.model import AtRule, Window
from attuned.state.store import Store

T0 = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # a Tuesday


@dataclass
class FakePausedNotifier(FakeNotifier):
    """FAKE: a desktop whose do-not-disturb says `paused` (None: it cannot tell)."""

    paused: bool | None = True

    async def do_not_disturb(self) -> bool | None:
        return self.paused


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI shows times in the local zone: UTC here."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def status_lines(monkeypatch: pytest.MonkeyPatch, st: dict[str, Any]) -> list[str]:
    monkeypatch.setattr(cli_daemon, "call_daemon", lambda method: json.loads(json.dumps(st)))
    r = CliRunner().invoke(cli, ["status"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output.splitlines()[2:]  # after "running, schedule ..." and "last reload"


def test_status_lists_held_nudges_together_mode_and_paused_notifications(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = Window(clock_time(18, 0), clock_time(7, 0))
    svc, _, _, clock = make(
        store, practice(blocked="defer"),
        practice(id="look-up", title="Look up", blocked="digest", quiet_hours=quiet),
        practice(id="eyes", title="Eye contact", when="together", outside="defer",
                 rule=AtRule((clock_time(19, 0),))), at=T0)
    notifier = FakePausedNotifier()
    svc.notifier = notifier
    for pid in ("breakfast", "look-up", "eyes"):
        assert asyncio.run(svc.fire(pid, T0)) is None
    held = {h.practice_id: h.nudge_id for h in store.held()}
    assert status_lines(monkeypatch, asyncio.run(svc.status()).to_json()) == [
        f"held: {held['breakfast']}  Breakfast presence  (notifications are paused)",
        f"held: {held['eyes']}  Eye contact  (not together time)",
        f"held: {held['look-up']}  Look up  (quiet hours, for the digest)",
        "together mode: off",
        "notifications are paused: 1 nudge held",
        "next: Wed 02 Dec 07:30  breakfast  Breakfast presence",
        "next: Wed 02 Dec 07:30  look-up  Look up",
        "next: Wed 02 Dec 19:00  eyes  Eye contact",
    ]
    # Together time until 22:00 (which releases "eyes"), notifications resumed: nothing
    # said of a pause.
    clock.at = T0 + timedelta(minutes=5)
    notifier.paused = False
    asyncio.run(svc.together("until", "22:00"))
    lines = status_lines(monkeypatch, asyncio.run(svc.status()).to_json())
    assert lines[:4] == [
        f"open: {held['eyes']}  Eye contact  (since Tue 01 Dec 19:05)",
        f"held: {held['breakfast']}  Breakfast presence  (notifications are paused)",
        f"held: {held['look-up']}  Look up  (quiet hours, for the digest)",
        "together mode: on until Tue 01 Dec 22:00"]
    assert lines[4].startswith("next: ") and len(lines) == 7
    notifier.paused = None  # a desktop that cannot tell: nothing said either
    asyncio.run(svc.together("on", None))
    lines = status_lines(monkeypatch, asyncio.run(svc.status()).to_json())
    assert lines[3:5] == ["together mode: on, until you switch it off",
                          "next: Wed 02 Dec 07:30  breakfast  Breakfast presence"]


def test_status_links_a_snooze_return_to_the_nudge_it_brings_back(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from attuned.core.model import Action

    svc, _, _, clock = make(store, practice(), at=T0)
    first = store.record_shown("breakfast", T0, T0, "Breakfast presence", "Paper down.")
    back_at = T0 + timedelta(minutes=10)
    store.answer(first.id, Action.SNOOZE, at=T0, source="cli", snooze_until=back_at)
    back = store.record_shown("breakfast", back_at, back_at, "Breakfast presence",
                              "Paper down.", snoozed_from=first.id)
    clock.at = back_at
    lines = status_lines(monkeypatch, asyncio.run(svc.status()).to_json())
    assert lines[0] == (f"open: {back.id}  Breakfast presence  (since Tue 01 Dec 19:10, "
                        f"back from the snoozed {first.id})")


def test_a_snooze_ending_on_a_second_says_its_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    st = {"schedule": "x", "last_reload": T0.isoformat(), "open": [], "held": [], "next": [],
          "snoozed": [{"nudge": "tqm2", "practice": "p", "title": "Hug",
                       "until": (T0 + timedelta(minutes=7, seconds=30)).isoformat()}]}
    assert status_lines(monkeypatch, st) == [
        "snoozed: tqm2  Hug  (back at Tue 01 Dec 19:07:30)", "next: nothing planned"]


def test_status_with_no_daemon_and_no_user_manager_never_suggests_systemctl(
        tmp_path: Path) -> None:
    # A PATH without systemctl: the real `systemctl --user` probe finds no manager.
    empty = tmp_path / "bin"
    empty.mkdir()
    runtime = tmp_path / "runtime"
    env = {"PATH": str(empty), "ATTUNED_RUNTIME_DIR": str(runtime)}
    r = CliRunner(env=env).invoke(cli, ["status"])
    assert r.exit_code == 1
    assert r.stderr == (
        f"attuned: the attuned daemon is not running (no control socket at "
        f"{runtime / 'control.sock'}); start it with `attuned run` (no user manager answers "
        "here, so not with systemctl; `attuned service install --now` sets up an autostart "
        "entry for your desktop session)\n")
