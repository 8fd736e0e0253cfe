"""`attuned run` end to end: a real daemon process, a private dbus-daemon, the test
notification server. Nudges arrive as the person would see them; the buttons and the CLI
answer them; the server may lack buttons, be missing, appear late or restart."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import notification_server
import pytest
from buses import DBusDaemon, run
from daemon_harness import DaemonProcess, Daemons, due_in, practice, settings
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus
from notification_server import NotificationServer, Record

from attuned.core.model import Action
from attuned.state.store import Store

NUDGE_WAIT = 10.0  # a nudge due in ~2 s arrives well within this, even under load
DUE = 3.0  # FAKE seconds after which `practice(...)`'s default moment (2 s ahead) is due
NOTIFICATIONS = "org.freedesktop.Notifications"


def owner_pid(address: str, name: str) -> int:
    """The PID of the process owning `name` on the bus (the bus daemon knows it)."""
    async def ask() -> int:
        bus = await MessageBus(bus_address=address).connect()
        try:
            reply = await bus.call(Message(
                destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus", member="GetConnectionUnixProcessID",
                signature="s", body=[name]))
            assert reply.message_type is MessageType.METHOD_RETURN, reply.body
            return int(reply.body[0])
        finally:
            bus.disconnect()

    return run(ask)


def end_started(pidfd: int, timeout: float = 5.0) -> None:
    """Wait for a process this test did not fork (held by a pidfd, so its PID cannot
    be reused meanwhile) to exit; SIGTERM, then SIGKILL, if it does not."""
    try:
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, sig)
            if select.select([pidfd], [], [], timeout)[0]:  # readable once it has exited
                return
    finally:
        os.close(pidfd)


def start(daemons: Daemons, bus: DBusDaemon, text: str, **kw: object) -> DaemonProcess:
    """A daemon on a FAKE clock started at the real now: `practice(...)`'s moments a few
    seconds ahead come when the test advances the clock, not after real seconds."""
    kw.setdefault("fake_clock", True)
    return daemons(bus=bus.address, config_text=text, **kw).start()


def nudged(d: DaemonProcess, pid: str, *, since: int = 0, count: int = 1) -> list[str]:
    """Wait for the daemon's "nudged PID (ID)" lines; return the nudge ids. The line comes
    after the notification id is stored, i.e. once the nudge can be answered."""
    ms = d.wait_for_log(rf"INFO attuned: nudged {re.escape(pid)} \((\w+)\)", NUDGE_WAIT,
                        since=since, count=count)
    return [m.group(1) for m in ms]


def first_nudge(daemons: Daemons, bus: DBusDaemon, server: NotificationServer,
                text: str) -> tuple[DaemonProcess, Record, str]:
    """Start a daemon on `text` and wait for its one look-up nudge: the daemon, the
    notification and the nudge id."""
    d = start(daemons, bus, text)
    d.advance(DUE)
    [rec] = server.wait_for_notify(1, NUDGE_WAIT)
    [nid] = nudged(d, "look-up")
    return d, rec, nid


def returned(d: DaemonProcess, *, since: int = 0) -> str:
    [m] = d.wait_for_log(r"INFO attuned: brought back snoozed \w+ as (\w+)", NUDGE_WAIT,
                         since=since)
    return m.group(1)


def closes(server: NotificationServer) -> list[int]:
    return [r["id"] for r in server.records if r["method"] == "CloseNotification"]


def notify_of(server: NotificationServer, summary: str) -> list[Record]:
    return [r for r in server.notifies if r["summary"] == summary]


# ------------------------------------------------------------------------- the bubble


def test_nudge_arrives_with_title_body_actions_and_hints(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = start(daemons, session_bus, settings(snooze="10m", snooze_long="1h") + practice(
        "look-up", title="Look up", message="When your partner comes in: look up."))
    d.advance(DUE)
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    assert rec["summary"] == "Look up"
    assert rec["body"] == "When your partner comes in: look up."
    assert rec["app_name"] == "attuned"
    # Its face: the icon by its theme name and the desktop entry `service install` puts in
    # place, so the server can show attuned's name and icon.
    assert rec["app_icon"] == "attuned"
    assert rec["actions"] == ["done", "Done", "snooze", "Snooze 10m",
                              "snooze-long", "Snooze 1h", "skip", "Skip"]
    # Kept up until answered where the server honours it: never expire, resident.
    assert rec["expire_timeout"] == 0
    assert rec["hints"] == {"desktop-entry": "attuned", "category": "x-attuned.nudge",
                            "urgency": 1, "resident": True}
    assert rec["hint_signatures"] == {"desktop-entry": "s", "category": "s", "urgency": "y",
                                      "resident": "b"}
    nudged(d, "look-up")
    assert d.kinds() == [("look-up", "shown", "daemon")]


@pytest.mark.parametrize(("key", "state"), [("done", "done"), ("skip", "skipped")])
def test_done_and_skip_buttons_reach_the_daemon_and_close_the_bubble(
        daemons: Daemons, session_bus: DBusDaemon, notification_server: NotificationServer,
        key: str, state: str) -> None:
    d, rec, nid = first_nudge(daemons, session_bus, notification_server,
                              settings() + practice("look-up"))
    notification_server.invoke_action(rec["id"], key)
    d.wait_for_log(rf"INFO attuned: {state} {nid} \(look-up\) from the button", 5)
    # Recorded before the bubble is closed; dunst leaves it up after a menu choice.
    notification_server.wait_for("CloseNotification", 1, 5)
    assert closes(notification_server) == [rec["id"]]
    assert d.kinds() == [("look-up", "shown", "daemon"), ("look-up", state, "button")]
    assert d.call("status")["open"] == []


def test_closing_without_an_answer_is_dismissed_never_done(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d, rec, nid = first_nudge(daemons, session_bus, notification_server,
                              settings() + practice("look-up"))
    notification_server.close(rec["id"], reason=2)
    d.wait_for_log(rf"INFO attuned: dismissed {nid} \(look-up\) without an answer", 5)
    assert d.kinds() == [("look-up", "shown", "daemon"), ("look-up", "dismissed", "button")]


def test_expired_bubble_is_not_an_answer(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    # Reason 1 (the server's timeout ran out) leaves the nudge open: the CLI can answer.
    d, rec, nid = first_nudge(daemons, session_bus, notification_server,
                              settings() + practice("look-up"))
    notification_server.close(rec["id"], reason=1)
    result = d.cli("done")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f'Marked done: "Look-Up" ({nid}).\n'
    assert d.kinds() == [("look-up", "shown", "daemon"), ("look-up", "done", "cli")]


@pytest.mark.parametrize(("key", "length"), [("snooze", 2.0), ("snooze-long", 4.0)])
def test_snooze_button_brings_the_nudge_back_once_after_its_length(
        daemons: Daemons, session_bus: DBusDaemon, notification_server: NotificationServer,
        key: str, length: float) -> None:
    text = settings(snooze="2s", snooze_long="4s") + practice("look-up", once=due_in(2))
    d, rec, nid = first_nudge(daemons, session_bus, notification_server, text)
    notification_server.invoke_action(rec["id"], key)
    d.wait_for_log(rf"INFO attuned: snoozed {nid} \(look-up\) from the button", 5)
    # FAKE clock: not back half a second before its length, back half a second after.
    d.advance(length - 0.5)
    assert len(notification_server.notifies) == 1
    d.advance(1.0)
    back = notification_server.wait_for_notify(2, NUDGE_WAIT)[1]
    assert back["summary"] == "Look-Up (snoozed)"
    assert back["body"] == "Back from a snooze. Time for look-up"
    assert back["actions"][::2] == ["done", "snooze", "snooze-long", "skip"]
    assert closes(notification_server) == [rec["id"]]
    # A sentinel practice added now, due a while after the return: when it arrives, a
    # second (wrong) return would have had its chance to show up, without a blind sleep.
    d.rewrite(text + practice("sentinel", once=d.ahead(length + 1)))
    d.advance(length + 3)
    notification_server.wait_for_notify(3, NUDGE_WAIT)
    assert [r["summary"] for r in notification_server.notifies] == [
        "Look-Up", "Look-Up (snoozed)", "Sentinel"]
    kinds = d.kinds("look-up")
    assert kinds == [("look-up", "shown", "daemon"), ("look-up", "snoozed", "button"),
                     ("look-up", "shown", "daemon")]
    [snoozed] = [e for e in d.history() if str(e.kind) == "snoozed"]
    assert snoozed.snoozed_until is not None
    # The returned nudge points at the one it brings back.
    assert [e.snoozed_from for e in d.history() if str(e.kind) == "shown"
            and e.practice_id == "look-up"] == [None, nid]


# ------------------------------------------------------------------------- the CLI


def test_cli_done_skip_snooze_while_the_daemon_runs(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = start(daemons, session_bus, settings(snooze="1h")
              + practice("look-up", title="Look up") + practice("tea", title="Make tea"))
    d.advance(DUE)
    notification_server.wait_for_notify(2, NUDGE_WAIT)
    [look] = nudged(d, "look-up")
    [tea] = nudged(d, "tea")
    by_title = {r["summary"]: r["id"] for r in notification_server.notifies}

    mark = d.mark()
    snooze = d.cli("snooze", "look-up", "--for", "2s")
    assert snooze.returncode == 0, snooze.stderr
    d.wait_for_log(rf"INFO attuned: snoozed {look} \(look-up\) from the cli", 5, since=mark)
    [until] = [e.snoozed_until for e in d.history() if str(e.kind) == "snoozed"]
    assert until is not None
    assert snooze.stdout == (f'Snoozed "Look up" ({look}); it comes back at '
                             f"{until:%H:%M}.\n")
    d.advance(2.5)
    back = notification_server.wait_for_notify(3, NUDGE_WAIT)[2]
    assert back["summary"] == "Look up (snoozed)"
    again = returned(d, since=mark)

    skip = d.cli("skip", "tea", "--note", "not today")
    assert skip.returncode == 0, skip.stderr
    assert skip.stdout == f'Skipped: "Make tea" ({tea}).\n'

    done = d.cli("done", "--note", "she smiled")  # the newest open nudge: the returned one
    assert done.returncode == 0, done.stderr
    assert done.stdout == f'Marked done: "Look up" ({again}).\n'

    # Each answer from the CLI closes its bubble too.
    notification_server.wait_for("CloseNotification", 3, 5)
    assert sorted(closes(notification_server)) == sorted(
        [by_title["Look up"], by_title["Make tea"], back["id"]])
    events = d.history()
    assert [(e.practice_id, str(e.kind), e.source, e.note) for e in events
            if str(e.kind) != "shown"] == [
        ("look-up", "snoozed", "cli", None), ("tea", "skipped", "cli", "not today"),
        ("look-up", "done", "cli", "she smiled")]


def test_cli_without_the_daemon_done_works_snooze_says_why_not(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = start(daemons, session_bus, settings() + practice("look-up", title="Look up")
              + practice("tea", title="Make tea"))
    d.advance(DUE)
    notification_server.wait_for_notify(2, NUDGE_WAIT)
    [look] = nudged(d, "look-up")
    nudged(d, "tea")
    assert d.stop() == 0

    snooze = d.cli("snooze", "look-up")
    assert snooze.returncode == 1
    assert snooze.stdout == ""
    assert snooze.stderr == (
        "attuned: snooze needs the daemon to bring the nudge back, and it is not running; "
        "start it with `attuned run` (or `systemctl --user start attuned`), or answer with "
        "`attuned done` / `attuned skip`\n")

    done = d.cli("done", "look-up", "--note", "after all")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f'Marked done: "Look up" ({look}).\n'
    skip = d.cli("skip")
    assert skip.returncode == 0, skip.stderr
    assert skip.stdout.startswith('Skipped: "Make tea"')
    assert [(e.practice_id, str(e.kind), e.source, e.note) for e in d.history()
            if str(e.kind) != "shown"] == [
        ("look-up", "done", "cli", "after all"), ("tea", "skipped", "cli", None)]

    nothing = d.cli("done")
    assert nothing.returncode == 1
    assert nothing.stderr == ("attuned: there is no open nudge to answer; `attuned history` "
                              "shows recent ones\n")


# ------------------------------------------------------------------------- servers


def test_server_without_actions_gets_nudges_and_the_log_says_so_once(
        daemons: Daemons, session_bus: DBusDaemon) -> None:
    server = NotificationServer(session_bus.address, actions=False).start()
    try:
        d = start(daemons, session_bus, settings() + practice("look-up", once=due_in(2))
                  + practice("tea", once=due_in(3)))
        d.advance(DUE + 1)
        notes = server.wait_for_notify(2, NUDGE_WAIT)
        assert [r["summary"] for r in notes] == ["Look-Up", "Tea"]
        nudged(d, "tea")
        hint = d.log_matches(r"does not offer action buttons")
        assert hint == [hint[0]] and hint[0].endswith(
            "WARNING notify: the notification server attuned-test-server does not offer "
            "action buttons; answer nudges from a terminal with `attuned done|snooze|skip`")
    finally:
        server.stop()


def test_no_server_then_one_appearing(daemons: Daemons, session_bus: DBusDaemon) -> None:
    look_up = settings() + practice("look-up", once=due_in(2))
    d = start(daemons, session_bus, look_up)
    assert d.log_matches(r"WARNING attuned: no notification server on the bus yet")
    d.advance(DUE)
    d.wait_for_log(r"^attuned nudge: Look-Up: Time for look-up "
                   r"\(answer with: attuned done\|snooze\|skip\)$", NUDGE_WAIT)
    nudged(d, "look-up")
    server = NotificationServer(session_bus.address).start()
    try:
        d.wait_for_log(r"a notification server appeared on the session bus", 5)
        # The next nudge, planned only now so that it cannot come before the server.
        d.rewrite(look_up + practice("tea", once=d.ahead(1)))
        d.advance(DUE)
        [rec] = server.wait_for_notify(1, NUDGE_WAIT)
        assert rec["summary"] == "Tea"
        [tea] = nudged(d, "tea")
        server.invoke_action(rec["id"], "done")
        d.wait_for_log(rf"INFO attuned: done {tea} \(tea\) from the button", 5)
    finally:
        server.stop()
    # The nudge that went to the log is still open, answerable from the CLI.
    assert [r["practice"] for r in d.call("status")["open"]] == ["look-up"]


def test_a_server_the_bus_starts_on_demand_is_no_warning_and_gets_the_nudge(
        daemons: Daemons, tmp_path: Path) -> None:
    # As dunst installs it: an activation file, no server running until the first call.
    calls = tmp_path / "calls.jsonl"
    server = [sys.executable, str(Path(notification_server.__file__).resolve()),
              "--record", str(calls)]
    bus = DBusDaemon(tmp_path / "bus", services={NOTIFICATIONS: server}).start()
    started: list[int] = []  # pidfds
    try:
        d = start(daemons, bus, settings() + practice("look-up", once=due_in(2)))
        assert d.log_matches(r"INFO attuned: no notification server running yet; the bus "
                             r"starts one at the first nudge")
        assert not d.log_matches(r"no notification server on the bus yet")
        assert not calls.exists()  # asking what the bus can start started nothing
        d.advance(DUE)
        d.wait_for_log(r'nudge "Look-Up" delivered via dbus to attuned-test-server',
                       NUDGE_WAIT)
        started.append(os.pidfd_open(owner_pid(bus.address, NOTIFICATIONS)))
        assert [json.loads(x)["summary"] for x in calls.read_text().splitlines()
                if json.loads(x)["method"] == "Notify"] == ["Look-Up"]
    finally:
        bus.stop()
        for pidfd in started:  # the bus started it: it ends with its bus, or is ended here
            end_started(pidfd)


def test_server_restarted_mid_run(daemons: Daemons, session_bus: DBusDaemon) -> None:
    first = NotificationServer(session_bus.address, name="first").start()
    look_up = settings() + practice("look-up", once=due_in(2))
    d = start(daemons, session_bus, look_up)
    d.advance(DUE)
    try:
        [rec] = first.wait_for_notify(1, NUDGE_WAIT)
        assert rec["summary"] == "Look-Up"
        nudged(d, "look-up")
    finally:
        first.stop()
    d.wait_for_log(r"the notification server left the session bus", 5)
    second = NotificationServer(session_bus.address, name="second").start()
    try:
        d.wait_for_log(r"a notification server appeared on the session bus", 5)
        d.rewrite(look_up + practice("tea", once=d.ahead(1)))
        d.advance(DUE)
        [rec] = second.wait_for_notify(1, NUDGE_WAIT)
        assert rec["summary"] == "Tea"
        [tea] = nudged(d, "tea")
        d.wait_for_log(r'nudge "Tea" delivered via dbus to second', 5)
        # Buttons on the new server reach the daemon too.
        second.invoke_action(rec["id"], "skip")
        d.wait_for_log(rf"INFO attuned: skipped {tea} \(tea\) from the button", 5)
    finally:
        second.stop()


def test_snooze_reply_says_the_return_time_in_the_schedules_zone(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    # Kolkata is UTC+05:30: a UTC clock time in the reply would be visibly wrong.
    zone = "Asia/Kolkata"
    d = start(daemons, session_bus, settings(zone=zone) + practice("look-up", zone=zone),
              env={"TZ": zone})
    d.advance(DUE)
    notification_server.wait_for_notify(1, NUDGE_WAIT)
    [look] = nudged(d, "look-up")
    snooze = d.cli("snooze", "--for", "1h")
    assert snooze.returncode == 0, snooze.stderr
    [pending] = d.call("status")["snoozed"]
    until = datetime.fromisoformat(pending["until"]).astimezone(ZoneInfo(zone))
    assert snooze.stdout == f'Snoozed "Look-Up" ({look}); it comes back at {until:%H:%M}.\n'


# ------------------------------------------------------------------------- planning

PLANNING = """[settings]
timezone = "Europe/Berlin"
quiet_hours = "none"

[[practice]]
id = "half-past-two"
title = "At 02:30"
message = "m"
at = "02:30"

[[practice]]
id = "cron"
title = "Cron 02:15"
message = "m"
cron = "15 2 * * *"

[[practice]]
id = "every"
title = "Every 30m"
message = "m"
every = "30m"
between = "02:00-04:00"

[[practice]]
id = "random"
title = "Random"
message = "m"
random = 2
between = "04:00-06:00"
"""


@pytest.mark.parametrize("night", ["2027-03-28", "2027-10-31", "2027-06-15"],
                         ids=["spring-dst", "autumn-dst", "ordinary"])
def test_the_daemon_plans_what_attuned_next_shows(daemons: Daemons, night: str) -> None:
    # The daemon starts (FAKE clock) at 00:40 Berlin time on the night. Nothing is due in
    # the 15 min before, so the daemon's grace window cannot add a late nudge the CLI
    # would not show.
    zone = ZoneInfo("Europe/Berlin")
    moment = datetime.fromisoformat(f"{night}T00:40:00").replace(tzinfo=zone)
    d = daemons(config_text=PLANNING, fake_clock=moment.astimezone(UTC)).start()
    status = d.call("status")
    assert datetime.fromisoformat(status["now"]) == moment
    daemon = [(datetime.fromisoformat(n["at"]), n["practice"]) for n in status["next"]]

    listed = d.cli("next", "--from", f"{night} 00:40", "--count", "40", "--json")
    assert listed.returncode == 0, listed.stderr
    first: dict[str, datetime] = {}
    for o in json.loads(listed.stdout):
        first.setdefault(o["practice"], datetime.fromisoformat(o["at"]))
    assert len(first) == 4
    cli = sorted((at, pid) for pid, at in first.items())[:3]
    assert daemon == cli
    # The three soonest are the ones a DST night shifts or doubles (02:00-02:30).
    assert {pid for _, pid in daemon} == {"every", "cron", "half-past-two"}
    # Both agree on the zone's offsets that night, not just the instants.
    assert [at.utcoffset() for at, _ in daemon] == [at.utcoffset() for at, _ in cli]


def test_a_start_15_minutes_after_the_last_nudge_brings_one_not_a_burst(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    # An every-minute practice whose window ends a minute from now, so that nothing
    # else of it is due during the test; its last nudge was 15 minutes ago.
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    last = minute - timedelta(minutes=15)
    window = f"{minute - timedelta(minutes=30):%H:%M}-{minute + timedelta(minutes=1):%H:%M}"
    text = (settings(grace="15m") + '[[practice]]\nid = "tick"\ntitle = "Tick"\n'
            f'message = "Look up."\nevery = "1m"\nbetween = "{window}"\n\n'
            + practice("sentinel", once=due_in(3)))
    d = daemons(bus=session_bus.address, config_text=text, fake_clock=True)
    with Store.open(d.state_dir / "history.db") as store:
        rec = store.record_shown("tick", last, last, "Tick", "Look up.")
        store.answer(rec.id, Action.DONE, at=last + timedelta(seconds=30), source="cli")
    d.start()
    # The sentinel comes seconds after the start: by then a burst would have come too.
    d.advance(DUE + 1)
    nudged(d, "sentinel")
    assert [r["summary"] for r in notification_server.notifies] == ["Tick", "Sentinel"]
    assert d.kinds("tick") == [("tick", "shown", "daemon"), ("tick", "done", "cli"),
                               ("tick", "missed", "daemon"), ("tick", "shown", "daemon")]
    missed, shown = [e for e in d.history() if e.practice_id == "tick"][2:]
    assert (missed.due, missed.note) == (minute - timedelta(minutes=1),
                                         "the daemon was not running (14 due)")
    assert shown.due == minute  # the latest that came due, not the oldest
    [nxt] = [n for n in d.call("status")["next"] if n["practice"] == "tick"]
    assert datetime.fromisoformat(nxt["at"]) > datetime.now(UTC)  # tomorrow's first
