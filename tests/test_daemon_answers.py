"""Answers that survive anything: a snooze or a repeat across `kill -9` and a restart,
nudges that came due while the daemon was down, kill -9 at random moments while
100 nudges are answered through the daemon, and presses on the bubble closed at once by
the server (every kind of answer, nine in a row, one before the daemon knows the id),
and a bubble that expired, leaving its nudge open for the CLI."""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, due_in, practice, settings, utc_now
from notification_server import NotificationServer

from attuned.errors import AttunedError
from attuned.state.store import EventKind

NUDGE_WAIT = 10.0
DUE = 3.0  # FAKE seconds after which `practice(...)`'s default moment (2 s ahead) is due


def nudged(d: DaemonProcess, pid: str, *, since: int = 0) -> str:
    [m] = d.wait_for_log(rf"INFO attuned: nudged {pid} \((\w+)\)", NUDGE_WAIT, since=since)
    return m.group(1)


def shown(d: DaemonProcess, pid: str) -> list[str | None]:
    """For each time `pid` was shown: None, or the nudge whose snooze it brings back."""
    return [e.snoozed_from for e in d.history()
            if e.kind == EventKind.SHOWN and e.practice_id == pid]


# ------------------------------------------------------------------------- restarts


def test_a_snooze_survives_kill_9_and_comes_back_once(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    text = settings(snooze="3s") + practice("look-up", once=due_in(2))
    d = daemons(bus=session_bus.address, config_text=text, fake_clock=True).start()
    d.advance(DUE)
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    nid = nudged(d, "look-up")
    notification_server.invoke_action(rec["id"], "snooze")
    d.wait_for_log(rf"INFO attuned: snoozed {nid} \(look-up\) from the button", 5)
    d.kill()
    mark = d.mark()
    d.start()
    d.advance(3.5)
    d.wait_for_log(rf"INFO attuned: brought back snoozed {nid} as \w+", NUDGE_WAIT,
                   since=mark)
    # A sentinel due a while after the return: until it comes, nothing else may.
    d.rewrite(text + practice("sentinel", once=d.ahead(3)))
    d.advance(5)
    notification_server.wait_for_notify(3, NUDGE_WAIT)
    assert [r["summary"] for r in notification_server.notifies] == [
        "Look-Up", "Look-Up (snoozed)", "Sentinel"]
    assert shown(d, "look-up") == [None, nid]


def test_repeats_survive_kill_9_and_stop_at_their_count(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    due = due_in(2)
    text = settings() + practice("look-up", once=due, extra='repeat = "1s"\nrepeat_max = 3')
    d = daemons(bus=session_bus.address, config_text=text, fake_clock=True).start()
    d.advance_to(due)
    nid = nudged(d, "look-up")
    d.advance(1.2)  # the first repeat is due 1 s after the nudge, the second 2 s after
    d.wait_for_log(rf"INFO attuned: repeated {nid} \(1 of 3\)", NUDGE_WAIT)
    assert not d.log_matches(r"\(2 of 3\)")
    d.kill()
    mark = d.mark()
    d.start()
    d.advance(2.5)
    d.wait_for_log(rf"INFO attuned: repeated {nid} \(3 of 3\)", NUDGE_WAIT, since=mark)
    # A fourth repeat would come 1 s later; a sentinel due in 2 s gives it the chance.
    d.rewrite(text + practice("sentinel", once=d.ahead(1)))
    d.advance(3)
    notification_server.wait_for_notify(6, NUDGE_WAIT)
    # The nudge, its repeats 1, 2, 3, and at the restart its bubble taken over in place.
    assert [r["summary"] for r in notification_server.notifies] == ["Look-Up"] * 5 + [
        "Sentinel"]
    assert len(d.log_matches(rf"INFO attuned: took over the bubble of {nid}")) == 1
    # The restarted daemon went on counting from where the killed one was.
    after = [line.split("repeated ", 1)[1] for line in d.log_matches("repeated", since=mark)]
    assert after == [f"{nid} (2 of 3)", f"{nid} (3 of 3)"]


def test_a_snooze_that_ended_beyond_grace_while_down_is_recorded_missed(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    # A 1 s grace (FAKE clock: a slow start-up cannot put the nudge beyond it).
    d = daemons(bus=session_bus.address, config_text=settings(
        snooze="1s", grace="1s") + practice("look-up", once=due_in(2)),
        fake_clock=True).start()
    d.advance(DUE)
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    nid = nudged(d, "look-up")
    notification_server.invoke_action(rec["id"], "snooze")
    d.wait_for_log(rf"INFO attuned: snoozed {nid} \(look-up\) from the button", 5)
    d.kill()
    [snoozed] = [e for e in d.history() if e.kind == EventKind.SNOOZED]
    assert snoozed.snoozed_until is not None
    # Down for longer than the snooze and its grace.
    d.down_until(snoozed.snoozed_until + timedelta(seconds=1.5))
    mark = d.mark()
    d.start()
    d.wait_for_log(rf"INFO attuned: missed the snoozed nudge {nid} \(look-up\): more than "
                   "its grace late", 5, since=mark)
    assert [str(e.kind) for e in d.history()] == ["shown", "snoozed", "missed"]
    assert shown(d, "look-up") == [None]
    assert len(notification_server.notifies) == 1
    assert d.call("status")["snoozed"] == []


def test_a_nudge_due_while_down_within_grace_is_delivered_at_start(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, config_text=settings(grace="15m")
                + practice("look-up", once=utc_now() - timedelta(minutes=5))).start()
    [rec] = notification_server.wait_for_notify(1, 5)
    assert rec["summary"] == "Look-Up"
    [m] = d.wait_for_log(r"INFO attuned: nudged look-up \(\w+\), (\d+) s late", 5)
    assert 300 <= int(m.group(1)) <= 320
    # Restarted again: it is in the history, so it is not shown twice.
    assert d.stop() == 0
    d.start()
    assert d.call("status")["next"] == []
    # Only its bubble taken over in place by the new daemon: the same bubble.
    assert [r["replaces_id"] for r in notification_server.notifies] == [0, rec["id"]]


# ------------------------------------------------------------------------- crash safety


def test_kill_9_at_random_moments_loses_no_acknowledged_answer(
        daemons: Daemons, tmp_path: Path) -> None:
    count = 100
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    past = utc_now() - timedelta(minutes=1)
    text = settings() + "".join(practice(f"p{i:03}", once=past) for i in range(count))
    d = daemons(config_text=text).start()  # no bus: the nudges go to the log
    lines = d.wait_for_log(r"INFO attuned: nudged (p\d+) \((\w+)\)", 30, count=count)
    ids = [m.group(2) for m in lines]
    assert len(set(ids)) == count
    rng.shuffle(ids)
    kill_at = set(rng.sample(range(count), 6))

    acknowledged: list[str] = []
    kills = 0
    for i, nid in enumerate(ids):
        restarted = False
        if i in kill_at:
            # kill -9 a few milliseconds into this request: before, during or after it.
            pid = d.pid
            threading.Timer(rng.uniform(0, 0.008), os.kill, (pid, signal.SIGKILL)).start()
        while True:
            try:
                d.call("done", {"target": nid, "note": f"answer {i}"}, timeout=5)
            except AttunedError as e:
                if d.running() and "was already answered: done" not in str(e):
                    # The kill is on its way; let it land, then start again.
                    d.wait_exit(5)
                if not d.running():
                    kills += 1
                    restarted = True
                    d.kill()
                    d.start()
                    continue
                break  # recorded before the kill, only the reply was lost
            acknowledged.append(nid)
            break
        if i in kill_at and not restarted:
            # The kill landed after the reply: restart for the next answers.
            d.wait_exit(5)
            kills += 1
            d.start()

    events = d.history()
    done = Counter(e.nudge_id for e in events if e.kind == EventKind.DONE)
    shows = Counter(e.nudge_id for e in events if e.kind == EventKind.SHOWN)
    msg = f"seed {seed}"
    print(f"kills {kills}, replies lost {count - len(acknowledged)}", msg)
    assert kills == len(kill_at), msg
    assert all(done[nid] == 1 for nid in acknowledged), msg  # every acknowledged answer
    assert set(done) == set(ids), msg  # and the ones whose reply was lost
    assert max(done.values()) == 1, msg  # no duplicates
    assert sorted(shows.values()) == [1] * count, msg  # nothing shown twice after restarts
    assert d.call("status")["open"] == []


# ------------------------------------------------------------------------- pressed and closed
#
# xfce4-notifyd, notification-daemon and MATE send, on a button, ActionInvoked and at once
# NotificationClosed(2); the test server's click() writes both with one write.


def answer_lines(d: DaemonProcess, count: int) -> dict[str, str]:
    """practice -> the state its nudge was answered with from the button."""
    lines = d.wait_for_log(r"INFO attuned: (done|snoozed|skipped) \w+ \(([\w-]+)\) from the "
                           "button", NUDGE_WAIT, count=count)
    return {m.group(2): m.group(1) for m in lines}


def test_every_answer_pressed_and_closed_at_once_is_kept(
        daemons: Daemons, session_bus: DBusDaemon) -> None:
    keys = ["done", "snooze", "snooze-long", "skip"]
    at = due_in(2)
    text = settings(snooze="10m", snooze_long="1h") + "".join(
        practice(k, once=at) for k in [*keys, "reply"])
    with NotificationServer(session_bus.address, inline_reply=True) as server:
        d = daemons(bus=session_bus.address, config_text=text, fake_clock=True).start()
        d.advance(DUE)
        shown = {r["summary"].lower(): r for r in server.wait_for_notify(5, NUDGE_WAIT)}
        d.wait_for_log(r"INFO attuned: nudged ", NUDGE_WAIT, count=5)
        for k in keys:
            server.click(shown[k]["id"], k)
        server.reply_and_close(shown["reply"]["id"], "we laughed")
        assert answer_lines(d, 5) == {"done": "done", "snooze": "snoozed",
                                      "snooze-long": "snoozed", "skip": "skipped",
                                      "reply": "done"}
        # Each bubble withdrawn once its answer was kept.
        assert len(server.wait_for("CloseNotification", 5, NUDGE_WAIT)) == 5
        events = d.history()
        assert Counter(str(e.kind) for e in events) == {  # and nothing dismissed
            "shown": 5, "done": 2, "snoozed": 2, "skipped": 1}
        [note] = [e.note for e in events if e.practice_id == "reply" and e.note]
        assert note == "we laughed"
        # Buttons that wait for an answer ask the server to keep them up.
        assert {(r["expire_timeout"], r["hints"].get("resident"), r["hints"]["urgency"])
                for r in shown.values()} == {(0, True, 1)}
        assert d.stop() == 0


def test_nine_clicks_in_a_row_keep_nine_of_nine(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    at = due_in(2)
    d = daemons(bus=session_bus.address, config_text=settings() + "".join(
        practice(f"p{i}", once=at) for i in range(9)), fake_clock=True).start()
    d.advance(DUE)
    shown = notification_server.wait_for_notify(9, NUDGE_WAIT)
    d.wait_for_log(r"INFO attuned: nudged ", NUDGE_WAIT, count=9)
    for rec in shown:
        notification_server.click(rec["id"], "done")
    assert answer_lines(d, 9) == {f"p{i}": "done" for i in range(9)}
    assert Counter(str(e.kind) for e in d.history()) == {"shown": 9, "done": 9}


def test_a_press_before_the_daemon_knows_the_id_is_kept(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    notification_server.click_on_arrival("skip")  # signals, then Notify's reply: one write
    d = daemons(bus=session_bus.address,
                config_text=settings() + practice("look-up", once=due_in(2)),
                fake_clock=True).start()
    d.advance(DUE)
    assert answer_lines(d, 1) == {"look-up": "skipped"}
    assert [str(e.kind) for e in d.history()] == ["shown", "skipped"]


def test_an_expired_bubble_leaves_the_nudge_open_for_the_cli(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    text = settings() + practice("look-up", once=due_in(2))
    d = daemons(bus=session_bus.address, config_text=text, fake_clock=True).start()
    d.advance(DUE)
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    nid = nudged(d, "look-up")
    notification_server.close(rec["id"], 1)  # its timeout; MATE's close button says the same
    # A sentinel nudge, shown after the close was read: the close changed nothing.
    d.rewrite(text + practice("sentinel", once=d.ahead(1)))
    d.advance(DUE)
    notification_server.wait_for_notify(2, NUDGE_WAIT)
    assert [o["nudge"] for o in d.call("status")["open"]] == [nid, nudged(d, "sentinel")]
    done = d.cli("done", "look-up")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f'Marked done: "Look-Up" ({nid}).\n'
    assert [str(e.kind) for e in d.history() if e.nudge_id == nid] == ["shown", "done"]
