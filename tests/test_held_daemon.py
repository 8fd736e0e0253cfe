"""Held nudges, together, discreet and inline reply end to end: the daemon as a real
subprocess on a private bus with the test notification server (tests/daemon_harness.py).

Quiet hours have minute resolution, so the tests that wait for their end (or for the
digest's time) run the daemon on its FAKE clock (tests/fakeclock_daemon.py) and move it
on to the moment."""

from __future__ import annotations

from datetime import datetime, timedelta

from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, due_in, practice, settings, utc_now
from notification_server import NotificationServer

NUDGE_WAIT = 10.0
DUE = 3.0  # FAKE seconds after which `practice(...)`'s default moment (2 s ahead) is due


def quiet_around(now: datetime) -> tuple[str, datetime]:
    """Practice quiet hours from an hour ago to an hour ahead (UTC wall times), and
    when they end."""
    start = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    return f'quiet_hours = "{start:%H:%M}-{end:%H:%M}"', end


def start_held_for_together(daemons: Daemons, bus: DBusDaemon) -> DaemonProcess:
    """A daemon (FAKE clock) whose "eyes" practice, due in 2 s, has been held until
    together time starts."""
    d = daemons(bus=bus.address, fake_clock=True, config_text=settings() + practice(
        "eyes", title="Eye contact", once=due_in(2),
        extra='when = "together"\noutside = "defer"')).start()
    d.advance(DUE)
    return d


def test_a_deferred_nudge_inside_quiet_hours_comes_when_they_end(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    quiet, end = quiet_around(utc_now())
    due = due_in(2)
    d = daemons(bus=session_bus.address, fake_clock=True,
                config_text=settings() + practice("look-up", title="Look up", once=due,
                                                  extra=f'{quiet}\nblocked = "defer"'))
    d.start()
    d.advance_to(due)
    d.wait_for_log(rf"INFO attuned: held look-up \(due \w+ {due:%H:%M}\) until quiet "
                   rf"hours end at {end:%H:%M}", NUDGE_WAIT)
    assert notification_server.notifies == []
    mark = d.mark()
    d.advance_to(end + timedelta(seconds=2))
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    assert (rec["summary"], rec["body"]) == ("Look up",
                                            "(held through quiet hours) Time for look-up")
    d.wait_for_log(r"INFO attuned: released held look-up", 5, since=mark)
    held, shown = d.history()
    assert (str(held.kind), held.reason, str(shown.kind)) == ("held", "quiet", "shown")
    assert held.nudge_id == shown.nudge_id  # one nudge: held, then shown
    # Not also counted as missed.
    assert d.kinds() == [("look-up", "held", "daemon"), ("look-up", "shown", "daemon")]
    assert d.stop() == 0


def test_the_digest_gathers_two_practices_into_one_notification(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    now = utc_now()
    quiet, _ = quiet_around(now)
    digest = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    text = (settings(extra=f'digest_at = "{digest:%H:%M}"')
            + practice("look-up", title="Look up", once=due_in(2),
                       extra=f'{quiet}\nblocked = "digest"')
            + practice("breakfast", title="Breakfast", once=due_in(3),
                       extra=f'{quiet}\nblocked = "digest"'))
    d = daemons(bus=session_bus.address, fake_clock=True, config_text=text).start()
    d.advance(5)
    d.wait_for_log(r"INFO attuned: gathered \S+ \(due .*\) into the digest", NUDGE_WAIT,
                   count=2)
    assert notification_server.notifies == []
    d.advance_to(digest + timedelta(seconds=2))
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    assert rec["summary"] == "Nudges that waited for you"
    lines = rec["body"].splitlines()
    assert len(lines) == 3
    assert lines[0].endswith(")") and "Look up: Time for look-up" in lines[0]
    assert "Breakfast: Time for breakfast" in lines[1]
    assert lines[2] == "Answer each with: attuned done|skip ID"
    assert sorted(d.kinds()) == [("breakfast", "held", "daemon"),
                                 ("breakfast", "shown", "daemon"),
                                 ("look-up", "held", "daemon"), ("look-up", "shown", "daemon")]
    r = d.cli("done", "breakfast")
    assert r.returncode == 0, r.stderr
    assert d.stop() == 0


def test_together_mode_defer_is_released_by_together_on(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = start_held_for_together(daemons, session_bus)
    d.wait_for_log(r"INFO attuned: held eyes \(due .*\) until together time starts",
                   NUDGE_WAIT)
    assert notification_server.notifies == []
    r = d.cli("together", "on")
    assert r.returncode == 0, r.stderr
    [nid] = [line.split(": ")[1] for line in r.stdout.splitlines()
             if line.startswith("Released 1 nudge ")]
    assert r.stdout.splitlines()[0] == "Together mode is on, until you switch it off."
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    assert (rec["summary"], rec["body"]) == ("Eye contact", "Time for eyes")
    assert [(e.nudge_id, str(e.kind)) for e in d.history()] == [(nid, "held"), (nid, "shown")]
    assert d.stop() == 0


def test_held_for_together_time_comes_at_start_up_when_it_is_already_on(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = start_held_for_together(daemons, session_bus)
    d.wait_for_log(r"INFO attuned: held eyes", NUDGE_WAIT)
    assert d.stop() == 0
    r = d.cli("together", "on")  # no daemon: the CLI writes the state itself
    assert "the daemon is not running" in r.stdout
    d.start()
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    assert rec["summary"] == "Eye contact"
    # Held, then shown as the same nudge; never missed.
    assert d.kinds() == [("eyes", "held", "daemon"), ("eyes", "shown", "daemon")]
    assert d.stop() == 0


def test_discreet_shows_the_neutral_title(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, config_text=settings() + practice(
        "understand", title="Understand first", once=due_in(2),
        extra="discreet = true"), fake_clock=True).start()
    d.advance(DUE)
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    [shown] = d.history()
    assert (rec["summary"], rec["body"]) == ("A moment for you", f"◦  {shown.nudge_id}")
    r = d.cli("show", shown.nudge_id)
    assert r.stdout.splitlines()[1] == "Time for understand"
    assert d.stop() == 0


def test_paused_notifications_hold_a_deferred_nudge_until_resumed(
        daemons: Daemons, session_bus: DBusDaemon) -> None:
    with NotificationServer(session_bus.address, dunst=True) as server:
        server.set_paused(True)
        d = daemons(bus=session_bus.address, config_text=settings() + practice(
            "look-up", title="Look up", once=due_in(2), extra='blocked = "defer"'),
            fake_clock=True).start()
        d.advance(DUE)
        d.wait_for_log(r"INFO attuned: held look-up \(due .*\) until notifications are "
                       r"resumed", NUDGE_WAIT)
        assert server.notifies == []
        server.set_paused(False)
        [rec] = server.wait_for_notify(1, NUDGE_WAIT)
        assert rec["body"] == "(held while notifications were paused) Time for look-up"
        d.wait_for_log(r"INFO attuned: released held look-up", 5)
        assert [(str(e.kind), e.reason) for e in d.history()] == [("held", "dnd"),
                                                                 ("shown", None)]
        assert d.stop() == 0


def test_a_resume_nothing_announced_is_noticed_at_the_next_nudge(
        daemons: Daemons, session_bus: DBusDaemon) -> None:
    """dunst resumed by SIGUSR2 says nothing; the next nudge reads the switch, finds it
    off, and the nudge held meanwhile comes too."""
    with NotificationServer(session_bus.address, dunst=True) as server:
        server.set_paused(True)
        d = daemons(bus=session_bus.address, config_text=settings() + practice(
            "look-up", title="Look up", once=due_in(1), extra='blocked = "defer"')
            + practice("tea", title="Tea", once=due_in(4)), fake_clock=True).start()
        d.advance(2)
        d.wait_for_log(r"INFO attuned: held look-up \(due .*\) until notifications are "
                       r"resumed", NUDGE_WAIT)
        server.set_paused(False, announce=False)
        d.advance(DUE)
        recs = server.wait_for_notify(2, NUDGE_WAIT)
        assert sorted(r["summary"] for r in recs) == ["Look up", "Tea"]
        assert d.log_matches(r"INFO attuned: notifications resumed on the desktop")
        assert d.stop() == 0


def test_an_inline_reply_answers_done_with_its_text(
        daemons: Daemons, session_bus: DBusDaemon) -> None:
    with NotificationServer(session_bus.address, inline_reply=True) as server:
        d = daemons(bus=session_bus.address, config_text=settings() + practice(
            "look-up", title="Look up", once=due_in(2)), fake_clock=True).start()
        d.advance(DUE)
        [rec] = server.wait_for_notify(1, NUDGE_WAIT)
        assert rec["actions"][-2:] == ["inline-reply", "How did it go? (a note)"]
        # Logged once its notification id is kept: a person cannot type sooner.
        d.wait_for_log(r"INFO attuned: nudged look-up", 5)
        server.reply(rec["id"], "we laughed about the cat")
        d.wait_for_log(r"INFO attuned: done \w+ \(look-up\) from the button", NUDGE_WAIT)
        events = d.history()
        assert (str(events[1].kind), events[1].source, events[1].note) == (
            "done", "button", "we laughed about the cat")
        assert d.stop() == 0


def test_while_notifications_are_paused_status_says_what_waits(
        daemons: Daemons, session_bus: DBusDaemon) -> None:
    with NotificationServer(session_bus.address, dunst=True) as server:
        server.set_paused(True)
        d = daemons(bus=session_bus.address, config_text=settings() + practice(
            "look-up", title="Look up", once=due_in(2), extra='blocked = "defer"'),
            fake_clock=True).start()
        d.advance(DUE)
        d.wait_for_log(r"INFO attuned: held look-up", NUDGE_WAIT)
        [held] = d.history()
        r = d.cli("status")
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[2:] == [
            f"held: {held.nudge_id}  Look up  (notifications are paused)",
            "together mode: off",
            "presence: no desktop",
            "notifications are paused: 1 nudge held",
            "next: nothing planned",
        ]
        st = d.call("status")
        assert (st["paused"], st["together"]["active"]) == (True, False)
        assert [(h["nudge"], h["reason"], h["mode"]) for h in st["held"]] == [
            (held.nudge_id, "dnd", "defer")]
        server.set_paused(False)
        server.wait_for_notify(1, NUDGE_WAIT)
        d.wait_for_log(r"INFO attuned: released held look-up", 5)
        lines = d.cli("status").stdout.splitlines()
        assert lines[2].startswith(f"open: {held.nudge_id}  Look up  (since ")
        assert lines[3:] == ["together mode: off", "presence: no desktop",
                             "next: nothing planned"]  # none held
        assert d.stop() == 0
