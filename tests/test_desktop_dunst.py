"""One end-to-end test against the real dunst on a virtual X screen (Debian packages xvfb
and dunst): the nudge appears in dunst, and choosing Snooze from dunst's action menu
reaches the daemon, which records it and brings the nudge back.

dunst offers actions through a menu it shows with a dmenu-like program; here that program
is a tiny script that answers with the menu line holding "Snooze", the way a person would
pick it. Skipped with the reason when Xvfb or dunst is missing, unless
ATTUNED_REQUIRE_DESKTOP=1 (CI), where a missing desktop is a failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from buses import DBusDaemon
from daemon_harness import Daemons, due_in, practice, settings
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus
from desktops import SERVERS, ServerSpec, need, running

from attuned.state.store import EventKind

pytestmark = pytest.mark.desktop

NAME = "org.freedesktop.Notifications"
NEEDED = {"Xvfb": "xvfb", "dunst": "dunst", "dunstctl": "dunst", "dbus-send": "dbus"}
START = 15.0

PICKER = """#!/bin/sh
# Stands in for dmenu: keeps the menu it was shown, answers with the Snooze line.
menu=$(cat)
printf '%s\\n---\\n' "$menu" >> "{log}"
printf '%s\\n' "$menu" | grep -i -m1 -- snooze
"""

DUNSTRC = """[global]
    dmenu = {picker}
    font = Monospace 10
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


def _need_desktop() -> None:
    need(NEEDED, "this test")


class Proc:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def xvfb(tmp_path: Path) -> Iterator[str]:
    """A virtual screen on a display Xvfb picks itself (-displayfd): safe in parallel."""
    _need_desktop()
    read, write = os.pipe()
    log = tmp_path / "xvfb.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24",
             "-nolisten", "tcp"], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            pass_fds=(write,))
    os.close(write)
    x = Proc(proc, log)
    try:
        ready = select.select([read], [], [], START)[0]
        number = os.read(read, 64).decode().strip() if ready else ""
        if not number.isdigit():
            pytest.fail(f"Xvfb did not report its display within {START} s: "
                        f"{log.read_text(errors='replace')}")
        yield f":{number}"
    finally:
        os.close(read)
        x.stop()


def wait_for_name(address: str, name: str, timeout: float) -> None:
    """Until `name` has an owner on the bus: NameOwnerChanged awaited, no polling."""
    async def main() -> None:
        bus = await MessageBus(bus_address=address).connect()
        owned = asyncio.Event()

        def on_message(msg: Message) -> None:
            if (msg.message_type is MessageType.SIGNAL and msg.member == "NameOwnerChanged"
                    and msg.body[0] == name and msg.body[2]):
                owned.set()

        bus.add_message_handler(on_message)
        try:
            for member, body in (
                    ("AddMatch", [f"type='signal',member='NameOwnerChanged',arg0='{name}'"]),
                    ("NameHasOwner", [name])):
                reply = await bus.call(Message(
                    destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus", member=member, signature="s",
                    body=body))
                if member == "NameHasOwner" and reply.body[0]:
                    owned.set()
            await asyncio.wait_for(owned.wait(), timeout)
        finally:
            bus.disconnect()

    asyncio.run(main())


@pytest.fixture
def dunst(tmp_path: Path, xvfb: str, session_bus: DBusDaemon) -> Iterator[dict[str, str]]:
    """The real dunst on the virtual screen and the test's private session bus."""
    menus = tmp_path / "menus.log"
    picker = tmp_path / "picker"
    picker.write_text(PICKER.format(log=menus))
    picker.chmod(0o755)
    rc = tmp_path / "dunstrc"
    rc.write_text(DUNSTRC.format(picker=picker))
    env = {**os.environ, "DISPLAY": xvfb, "DBUS_SESSION_BUS_ADDRESS": session_bus.address}
    log = tmp_path / "dunst.log"
    with open(log, "wb") as out:
        proc = Proc(subprocess.Popen(["dunst", "-config", str(rc)], env=env,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out), log)
    try:
        try:
            wait_for_name(session_bus.address, NAME, START)
        except TimeoutError:
            pytest.fail(f"dunst did not take {NAME} within {START} s: "
                        f"{log.read_text(errors='replace')}")
        yield {**env, "MENUS": str(menus), "DUNST_LOG": str(log)}
    finally:
        proc.stop()


def dunstctl(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(["dunstctl", *args], env=env, capture_output=True, text=True,
                         timeout=10, check=True)
    return out.stdout.strip()


def test_snooze_chosen_from_dunsts_menu_reaches_the_daemon(
        session_bus: DBusDaemon, dunst: dict[str, str], daemons: Daemons) -> None:
    d = daemons(bus=session_bus.address, config_text=settings(snooze="2s")
                + practice("look-up", title="Look up", once=due_in(2))).start()
    assert d.log_matches(r"INFO notify: notification server: dunst ")
    [m] = d.wait_for_log(r"INFO attuned: nudged look-up \((\w+)\)", 10)
    nid = m.group(1)
    d.wait_for_log(r'nudge "Look up" delivered via dbus to dunst', 1)
    assert dunstctl(dunst, "count", "displayed") == "1"

    dunstctl(dunst, "context")  # dunst runs the picker, which chooses Snooze
    d.wait_for_log(rf"INFO attuned: snoozed {nid} \(look-up\) from the button", 10)
    menu = Path(dunst["MENUS"]).read_text()
    assert "Snooze 2s" in menu and "Done" in menu and "Skip" in menu

    # It comes back after the snooze, in dunst again.
    d.wait_for_log(rf"INFO attuned: brought back snoozed {nid} as \w+", 10)
    d.wait_for_log(r'nudge "Look up \(snoozed\)" delivered via dbus to dunst', 5)
    # The first bubble was closed by the daemon (dunst leaves it up after a menu
    # choice): one in dunst's history, one (the return) on screen.
    assert dunstctl(dunst, "count", "history") == "1"
    assert dunstctl(dunst, "count", "displayed") == "1"
    events = d.history()
    assert [(str(e.kind), e.source) for e in events] == [
        ("shown", "daemon"), ("snoozed", "button"), ("shown", "daemon")]
    assert events[1].kind == EventKind.SNOOZED and events[2].snoozed_from == nid
    assert d.stop() == 0


def test_a_missing_desktop_is_a_skip_with_its_reason_or_a_failure_in_ci(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed
    monkeypatch.delenv("ATTUNED_REQUIRE_DESKTOP", raising=False)
    reason = r"needs the Debian packages dbus, dunst, xvfb \(apt-get install -y \.\.\.\)"
    with pytest.raises(pytest.skip.Exception, match=reason):
        _need_desktop()
    monkeypatch.setenv("ATTUNED_REQUIRE_DESKTOP", "1")
    with pytest.raises(pytest.fail.Exception, match="ATTUNED_REQUIRE_DESKTOP=1 but this test "
                       + reason):
        _need_desktop()


@pytest.mark.parametrize("spec", SERVERS, ids=lambda s: s.key)
def test_every_server_of_the_matrix_is_a_failure_in_ci_when_missing(
        spec: ServerSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The matrix (test_desktop_servers.py) skips a server that is not installed, naming
    its packages, and fails instead under ATTUNED_REQUIRE_DESKTOP=1."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("desktops.find_program", lambda prog: None)  # not even under /usr/lib
    monkeypatch.setenv("ATTUNED_REQUIRE_DESKTOP", "1")
    packages = ", ".join(sorted(set(spec.packages.values())))
    expected = re.escape(f"ATTUNED_REQUIRE_DESKTOP=1 but the {spec.key} test needs the "
                         f"Debian packages {packages}")
    with pytest.raises(pytest.fail.Exception, match=expected), running(spec, tmp_path):
        pass
