"""The daemon as a real process while its history cannot be written: the test holds the
SQLite write lock (tests/dblock.py) across one nudge of an every-minute practice. The
nudge still comes, the practice's next nudge still comes, the held-up nudge is in the
history exactly once when the lock is gone, and the person was told once.

Every-minute nudges at real speed would make this a two-minute test, so the daemon runs
on its FAKE clock (tests/fakeclock_daemon.py): the test moves it to each nudge, and on
by a few seconds for each retry of the kept write. Its busy timeout is 1 s (10 s
normally) so the held lock makes the write fail quickly."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, settings, utc_now
from dblock import WriteLock
from notification_server import NotificationServer

CANNOT_WRITE_TITLE = "attuned cannot write its history"
NUDGE_WAIT = 10.0
QUICK = {"ATTUNED_BUSY_TIMEOUT_SECONDS": "1"}


def every_minute(start: datetime) -> str:
    end = start + timedelta(minutes=10)
    return (settings() + '[[practice]]\nid = "tick"\ntitle = "Tick"\nmessage = "Look up."\n'
            f'every = "1m"\nbetween = "{start:%H:%M}-{end:%H:%M}"\n')


def until_logged(d: DaemonProcess, pattern: str, since: int) -> None:
    """Move the FAKE clock on a second at a time (the kept write's retries come 1, 2, 4 s
    after a failure) until `pattern` is in the log."""
    for _ in range(30):
        if d.log_matches(pattern, since=since):
            return
        d.advance(1)
    d.wait_for_log(pattern, 1, since=since)  # fails with the whole log


def test_a_nudge_while_the_history_is_locked_comes_and_so_does_the_next(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    # The practice's window starts a few minutes ahead: nothing is due at start-up.
    start = (utc_now() + timedelta(minutes=5)).replace(second=0, microsecond=0)
    d = daemons(bus=session_bus.address, config_text=every_minute(start), fake_clock=True,
                env=QUICK).start()
    [planned] = d.call("status")["next"]
    assert datetime.fromisoformat(planned["at"]) == start
    mark = d.mark()
    lock = WriteLock(d.state_dir / "history.db").take()
    try:
        d.advance_to(start)
        first = notification_server.wait_for_notify(1, NUDGE_WAIT)[0]
        assert (first["summary"], first["body"]) == ("Tick", "Look up.")
        [m] = d.wait_for_log(r"INFO attuned: nudged tick \((\w+)\); not in the history yet",
                             NUDGE_WAIT, since=mark)
        nudge = m.group(1)
        warning = notification_server.wait_for_notify(2, NUDGE_WAIT)[1]
        path = d.state_dir / "history.db"
        told = (f"attuned cannot write its history at {path}: another process held it for "
                "more than 1s; nudges still come, answers are kept once it can write again")
        assert (warning["summary"], warning["body"]) == (CANNOT_WRITE_TITLE, told)
        # The practice goes on while the history is still locked.
        [nxt] = d.call("status")["next"]
        assert datetime.fromisoformat(nxt["at"]) == start + timedelta(minutes=1)
    finally:
        lock.release()
    until_logged(d, rf'INFO attuned: recorded the nudge "Tick: Look up." \({nudge}, ', mark)
    d.wait_for_log(rf"INFO attuned: attuned can write its history at {re.escape(str(path))} "
                   "again", 5, since=mark)
    assert d.kinds() == [("tick", "shown", "daemon")]
    # Recorded with its bubble's id: the bubble's buttons answer it.
    notification_server.invoke_action(first["id"], "done")
    d.wait_for_log(rf"INFO attuned: done {nudge} \(tick\) from the button", 5, since=mark)

    d.advance_to(start + timedelta(minutes=1))
    third = notification_server.wait_for_notify(3, NUDGE_WAIT)[2]
    assert third["summary"] == "Tick"
    d.wait_for_log(r"INFO attuned: nudged tick \(\w+\)$", NUDGE_WAIT, since=mark)
    assert d.kinds() == [("tick", "shown", "daemon"), ("tick", "done", "button"),
                         ("tick", "shown", "daemon")]
    assert [r["summary"] for r in notification_server.notifies] == [
        "Tick", CANNOT_WRITE_TITLE, "Tick"]
    assert len(d.log_matches(r"WARNING attuned: attuned cannot write its history")) == 1
    assert d.stop() == 0
