"""A nudge is recorded before its notification is sent (never shown twice after a
crash), and counts as shown only once the server accepted it. The daemon killed (kill
-9) while the server has not answered the Notify yet: the next start sends that nudge
again if it is still inside its grace, else records it as not delivered; the history
never says "shown" for a nudge nobody saw."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, practice, settings
from notification_server import NotificationServer

from attuned.core.model import NudgeState
from attuned.state.store import Store

WAIT = 10.0
START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # a Monday
DUE = START + timedelta(minutes=1)


def advance_in_background(d: DaemonProcess, seconds: float) -> threading.Thread:
    """`advance` waits for what the timers started: here a Notify the server never
    answers, so it runs beside the test, which kills the daemon meanwhile."""
    def run() -> None:
        try:
            d.advance(seconds)
        except Exception:  # the daemon is killed under it: its answer never comes
            return
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def killed_while_sending(daemons: Daemons, bus: str, server: NotificationServer,
                         extra: str = "") -> DaemonProcess:
    d = daemons(bus=bus, fake_clock=START, config_text=settings(grace="15m")
                + practice("look-up", once=DUE, extra=extra)).start()
    server.hold_replies(True)
    advancing = advance_in_background(d, 90)
    server.wait_for_notify(1, WAIT)  # the Notify reached the server; no reply yet
    d.kill()
    advancing.join(WAIT)
    server.hold_replies(False)
    return d


def state_of(d: DaemonProcess) -> tuple[str, NudgeState]:
    """The one nudge in the history: its id and state."""
    with Store.open(d.state_dir / "history.db") as store:
        [nudge_id] = {e.nudge_id for e in store.history()}
        rec = store.get(nudge_id)
        return rec.id, rec.state


def test_a_nudge_killed_while_sending_is_sending_in_the_history_not_shown(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = killed_while_sending(daemons, session_bus.address, notification_server)
    nid, state = state_of(d)
    assert state is NudgeState.SHOWN  # open: its buttons and the CLI still answer it
    out = d.cli("history")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ("Mon 04 Jan 2027\n"
                          f"  09:01  sending    {nid:<6} look-up            Look-Up\n")


def test_a_nudge_killed_while_sending_is_sent_once_after_a_restart_within_grace(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = killed_while_sending(daemons, session_bus.address, notification_server)
    mark = d.mark()
    d.fake_start = DUE + timedelta(minutes=5)  # down for a while, inside the 15m grace
    d.start()
    nid = d.wait_for_log(r"INFO attuned: delivered (\w+) \(look-up\): attuned stopped "
                         r"before it was sent", WAIT, since=mark)[0].group(1)
    first, again = notification_server.wait_for_notify(2, WAIT)
    assert again["summary"] == first["summary"] == "Look-Up"
    assert again["replaces_id"] == 0
    d.advance(60)  # nothing more comes of it
    assert len(notification_server.notifies) == 2
    assert state_of(d) == (nid, NudgeState.SHOWN)
    out = d.cli("history")
    assert out.stdout == ("Mon 04 Jan 2027\n"
                          f"  09:01  shown      {nid:<6} look-up            Look-Up\n")
    # Its buttons answer it: the second bubble is the one the server accepted.
    notification_server.invoke_action(again["id"], "done")
    d.wait_for_log(rf"INFO attuned: done {nid} \(look-up\) from the button", WAIT,
                   since=mark)
    # A third start sends nothing again.
    d.kill()
    d.start()
    d.advance(60)
    assert len(notification_server.notifies) == 2


def test_a_nudge_killed_while_sending_is_not_delivered_after_its_grace(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = killed_while_sending(daemons, session_bus.address, notification_server)
    mark = d.mark()
    d.fake_start = DUE + timedelta(minutes=20)  # beyond the 15m grace
    d.start()
    nid = d.wait_for_log(r"INFO attuned: not delivered (\w+) \(look-up\): attuned stopped "
                         r"before it was sent", WAIT, since=mark)[0].group(1)
    assert len(notification_server.notifies) == 1  # the one never answered
    assert state_of(d) == (nid, NudgeState.MISSED)
    out = d.cli("history")
    assert out.stdout == (
        "Mon 04 Jan 2027\n"
        f"  09:01  sending    {nid:<6} look-up            Look-Up\n"
        f"  09:21  missed     {nid:<6} look-up            Look-Up  "
        '("not delivered (attuned stopped before it was sent)")\n')
    d.kill()
    d.start()  # recorded once
    out = d.cli("history")
    assert out.stdout.count("missed") == 1


def test_a_snooze_return_killed_while_sending_comes_back_after_a_restart(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, fake_clock=START, config_text=settings(
        snooze="10m", grace="15m") + practice("look-up", once=DUE)).start()
    d.advance(90)
    [shown] = notification_server.wait_for_notify(1, WAIT)
    first = d.wait_for_log(r"INFO attuned: nudged look-up \((\w+)\)", WAIT)[0].group(1)
    notification_server.invoke_action(shown["id"], "snooze")
    d.wait_for_log(rf"INFO attuned: snoozed {first} \(look-up\) from the button", WAIT)
    notification_server.hold_replies(True)
    advancing = advance_in_background(d, 11 * 60)
    notification_server.wait_for_notify(2, WAIT)  # the return reached the server
    d.kill()
    advancing.join(WAIT)
    notification_server.hold_replies(False)
    mark = d.mark()
    d.start()
    back = d.wait_for_log(r"INFO attuned: delivered (\w+) \(look-up\): attuned stopped "
                          r"before it was sent", WAIT, since=mark)[0].group(1)
    *_, again = notification_server.wait_for_notify(3, WAIT)
    assert again["summary"] == "Look-Up (snoozed)"
    assert again["body"].startswith("Back from a snooze.")
    out = d.cli("history")
    assert out.stdout == (
        "Mon 04 Jan 2027\n"
        f"  09:01  shown      {first:<6} look-up            Look-Up\n"
        f"  09:01  snoozed    {first:<6} look-up            Look-Up  "
        "(from the button, until 09:11:30)\n"
        f"  09:11  shown      {back:<6} look-up            Look-Up  "
        f"(back from the snoozed {first})\n")
