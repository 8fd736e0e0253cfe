"""Bubbles from an earlier run of the daemon (killed with kill -9, or stopped): while the
same notification server runs they are still up, and an answer given to the new daemon
takes its nudge's bubble down. The ids are that server's only: after the server itself
restarted, an old id is never used (the new server's bubble with that id is someone
else's)."""

from __future__ import annotations

import pytest
from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, due_in, practice, settings
from notification_server import NotificationServer

NUDGE_WAIT = 10.0


def closes(server: NotificationServer) -> list[int]:
    return [r["id"] for r in server.records if r["method"] == "CloseNotification"]


def end(d: DaemonProcess, how: str) -> None:
    if how == "kill -9":
        d.kill()
    else:
        assert d.stop() == 0


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_an_answer_after_a_restart_closes_the_bubble_of_the_earlier_run(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer, how: str) -> None:
    d = daemons(bus=session_bus.address,
                config_text=settings() + practice("look-up", once=due_in(2))).start()
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    d.wait_for_log(r"INFO attuned: nudged look-up", NUDGE_WAIT)
    end(d, how)
    d.start()
    out = d.cli("done", "look-up")
    assert out.returncode == 0, out.stderr
    assert closes(notification_server) == [rec["id"]]


def test_an_expiry_after_a_restart_closes_the_bubble_of_the_earlier_run(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, fake_clock=True, config_text=settings()
                + practice("look-up", once=due_in(2), extra='answer_within = "1m"')).start()
    d.advance(3)
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    nid = d.wait_for_log(r"INFO attuned: nudged look-up \((\w+)\)", NUDGE_WAIT)[0].group(1)
    d.kill()
    mark = d.mark()
    d.start()
    d.advance(120)
    d.wait_for_log(rf"INFO attuned: expired {nid} \(look-up\)", NUDGE_WAIT, since=mark)
    assert closes(notification_server) == [rec["id"]]


def test_ids_of_a_server_that_has_gone_are_never_used_on_the_next(
        daemons: Daemons, session_bus: DBusDaemon) -> None:
    first = NotificationServer(session_bus.address).start()
    d = daemons(bus=session_bus.address,
                config_text=settings() + practice("look-up", once=due_in(2))).start()
    [rec] = first.wait_for_notify(1, NUDGE_WAIT)
    d.wait_for_log(r"INFO attuned: nudged look-up", NUDGE_WAIT)
    d.kill()
    first.stop()
    with NotificationServer(session_bus.address) as second:
        # Another program's bubble on the new server, with the id the old one gave us.
        d.start()
        out = d.cli("done", "look-up")
        assert out.returncode == 0, out.stderr
        assert rec["id"] not in closes(second)


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_a_press_on_the_bubble_of_an_earlier_run_answers_its_nudge(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer, how: str) -> None:
    d = daemons(bus=session_bus.address,
                config_text=settings() + practice("look-up", once=due_in(2))).start()
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    nid = d.wait_for_log(r"INFO attuned: nudged look-up \((\w+)\)", NUDGE_WAIT)[0].group(1)
    end(d, how)
    # The test server sends a press only to the connection that sent the bubble's Notify
    # (as the spec lets servers do): while that one is gone, a press reaches nobody.
    notification_server.invoke_action(rec["id"], "skip")
    mark = d.mark()
    d.start()
    # The new daemon takes the bubble over: the same bubble, sent again in place.
    notifies = notification_server.wait_for_notify(2, NUDGE_WAIT)
    assert [(r["id"], r["replaces_id"]) for r in notifies] == [(rec["id"], 0),
                                                               (rec["id"], rec["id"])]
    assert notifies[1]["sender"] != notifies[0]["sender"]
    notification_server.invoke_action(rec["id"], "done")
    d.wait_for_log(rf"INFO attuned: done {nid} \(look-up\) from the button", NUDGE_WAIT,
                   since=mark)
    assert d.kinds("look-up") == [("look-up", "shown", "daemon"),
                                  ("look-up", "done", "button")]
