"""`attuned run` end to end: edits of the schedule file (in place, by rename as vim saves,
broken, fixed), SIGHUP, and the process lifecycle (SIGTERM, one daemon per user, no
config file yet)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from buses import DBusDaemon
from daemon_harness import DaemonProcess, Daemons, due_in, practice, settings
from notification_server import NotificationServer

NUDGE_WAIT = 10.0
RELOAD_WITHIN = 1.0  # the issue: a valid edit takes effect within 1 s of the save
BROKEN = "the schedule was not reloaded"
PROBLEM_TITLE = "attuned: your schedule has a problem"


def write_in_place(path: Path, text: str) -> None:
    """Truncate and rewrite the same inode (nano, echo >, most IDEs)."""
    with open(path, "r+") as f:
        f.truncate(0)
        f.write(text)


def write_like_vim(path: Path, text: str) -> None:
    """vim's default on Linux: move the original to a backup, write a new file, drop the
    backup. The watched inode goes away."""
    backup = path.with_name(path.name + "~")
    os.rename(path, backup)
    path.write_text(text)
    backup.unlink()


def write_by_rename(path: Path, text: str) -> None:
    """An atomic save: a temporary file renamed over the schedule (attuned edit, VS Code)."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def wait_reloaded(d: DaemonProcess, since: int, why: str = "the file changed",
                  timeout: float = 5.0) -> str:
    [m] = d.wait_for_log(rf"INFO attuned: reloaded .* \({why}\): (.*)$", timeout, since=since)
    return m.group(1)


# ------------------------------------------------------------------------- edits


@pytest.mark.parametrize("save", [write_in_place, write_like_vim, write_by_rename],
                         ids=["in-place", "vim", "rename"])
def test_a_valid_edit_takes_effect_within_a_second(
        daemons: Daemons, session_bus: DBusDaemon, notification_server: NotificationServer,
        save: object) -> None:
    later = due_in(3600)
    keep = practice("keep", once=later)
    d = daemons(bus=session_bus.address, fake_clock=True,
                config_text=settings() + keep + practice("edited", once=later)).start()
    soon = d.ahead(2)
    mark = d.mark()
    saved = time.monotonic()
    assert callable(save)
    save(d.config, settings() + keep + practice("edited", title="Edited", once=soon))
    d.wait_for_log(r"INFO attuned: reloaded ", RELOAD_WITHIN, since=mark)
    took = time.monotonic() - saved
    assert took <= RELOAD_WITHIN
    # Only the job that changed was touched.
    assert wait_reloaded(d, mark) == "2 practices, 1 job changed"
    d.advance_to(soon)
    [rec] = notification_server.wait_for_notify(1, NUDGE_WAIT)
    assert rec["summary"] == "Edited"
    # A second save keeps working: the watch survives the rename.
    mark = d.mark()
    save(d.config, settings() + keep)
    assert wait_reloaded(d, mark, timeout=RELOAD_WITHIN + 1) == "1 practice, 0 jobs changed"
    assert d.call("status")["practices"] == 1


def test_an_invalid_edit_keeps_the_old_schedule_and_says_so_once(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    due = due_in(6)
    good = settings() + practice("look-up", title="Look up", once=due)
    d = daemons(bus=session_bus.address, config_text=good, fake_clock=True).start()
    broken = good.replace('grace = "15m"', 'grace = "soon"').replace(
        'title = "Look up"', 'title = ""')
    mark = d.mark()
    write_in_place(d.config, broken)
    check = d.cli("check")
    assert check.returncode == 1
    text = check.stderr.rstrip("\n")
    assert text.endswith("2 problems found.")  # both mistakes, not only the first
    lines = text.splitlines()

    # On stderr: the same text (the log keeps one line per record, so lines are joined).
    d.wait_for_log(rf"ERROR attuned: {BROKEN} \(the file changed\); the last good one keeps "
                   r"running: ", 5, since=mark)
    [logged] = d.log_matches(BROKEN, since=mark)
    assert logged.endswith(": " + " ".join(lines))
    # By notification: the same text, and what happens now.
    [note] = [r for r in notification_server.wait_for_notify(1, 5)
              if r["summary"] == PROBLEM_TITLE]
    assert note["body"] == (text + "\nThe last good schedule keeps running. "
                            "`attuned check` shows this again.")
    # Logged once, as the error: not again as a warning when shown.
    assert d.log_matches("WARNING attuned: your schedule has a problem", since=mark) == []
    assert d.call("status")["schedule_error"] == text

    # Saved again, still broken: logged again, but the person is not told twice.
    mark = d.mark()
    write_by_rename(d.config, broken)
    d.wait_for_log(BROKEN, 5, since=mark)

    # The old schedule keeps firing.
    d.advance_to(due)
    notes = notification_server.wait_for_notify(2, NUDGE_WAIT)
    assert sorted(r["summary"] for r in notes) == sorted([PROBLEM_TITLE, "Look up"])

    # The fix clears it.
    mark = d.mark()
    write_in_place(d.config, good)
    d.wait_for_log(r"INFO attuned: the schedule is valid again", 5, since=mark)
    wait_reloaded(d, mark)
    status = d.call("status")
    assert status["schedule_error"] is None
    assert sorted(r["summary"] for r in notification_server.notifies) == sorted(
        [PROBLEM_TITLE, "Look up"])  # told once, though saved broken twice
    # ... and takes its warning off the screen.
    closed = notification_server.wait_for("CloseNotification", 1, 5)
    assert note["id"] in [r["id"] for r in closed]
    reload = d.cli("reload")
    assert (reload.returncode, reload.stdout) == (0, "Reloaded.\n")


def test_reload_from_the_cli_reports_a_broken_file(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address,
                config_text=settings() + practice("a", once=due_in(3600))).start()
    mark = d.mark()
    write_in_place(d.config, "[settings\n")
    d.wait_for_log(BROKEN, 5, since=mark)
    check = d.cli("check")
    reload = d.cli("reload")
    assert reload.returncode == 1
    assert reload.stderr == check.stderr + "The last good schedule keeps running.\n"


def test_sighup_reloads(daemons: Daemons, session_bus: DBusDaemon,
                        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address,
                config_text=settings() + practice("a", once=due_in(3600))).start()
    before = d.call("status")["last_reload"]
    mark = d.mark()
    os.kill(d.pid, signal.SIGHUP)
    assert wait_reloaded(d, mark, why="SIGHUP") == "1 practice, 0 jobs changed"
    assert d.call("status")["last_reload"] > before
    assert d.running()


# ------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_stops_it_cleanly_within_a_second(
        daemons: Daemons, session_bus: DBusDaemon, notification_server: NotificationServer,
        sig: signal.Signals) -> None:
    d = daemons(bus=session_bus.address,
                config_text=settings() + practice("a", once=due_in(3600))).start()
    started = time.monotonic()
    os.kill(d.pid, sig)
    assert d.wait_exit(timeout=1.0) == 0
    assert time.monotonic() - started <= 1.0
    assert d.log_matches(r"INFO attuned: stopping$")
    assert not d.log_matches(r"Traceback|ERROR")
    # It left nothing that blocks the next start.
    d.start()
    assert d.stop() == 0


def test_a_second_daemon_refuses_and_names_the_first(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    text = settings() + practice("a", once=due_in(3600))
    first = daemons(bus=session_bus.address, config_text=text).start()
    second = daemons(bus=session_bus.address, runtime_dir=first.runtime_dir, name="second")
    second.start(wait_ready=False)
    assert second.wait_exit(timeout=10) == 1
    assert second.log_matches(r"ERROR") == [second.lines[-1]]
    assert second.lines[-1].endswith(
        f"ERROR attuned: attuned is already running for this user (pid {first.pid}); stop "
        f"it with `systemctl --user stop attuned` or `kill {first.pid}`")
    assert not second.log_matches("Traceback")
    assert first.call("ping") == {"pong": True}


def test_no_config_file_runs_the_built_in_example_and_says_so_once(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address).start()
    assert not d.config.exists()
    said = d.log_matches(r"running the built-in example")
    assert [line.split(" ", 2)[2] for line in said] == [
        f"INFO attuned: no schedule at {d.config} yet: running the built-in example "
        "(`attuned init` makes it yours)"]
    status = d.call("status")
    assert status["using_example"] is True
    assert status["schedule"] == "<built-in example>"
    assert status["next"], "the example plans nudges"

    mark = d.mark()
    os.kill(d.pid, signal.SIGHUP)  # still no file: no second announcement
    wait_reloaded(d, mark, why="SIGHUP")
    assert len(d.log_matches(r"running the built-in example")) == 1

    # `attuned init` (the README's next step) is picked up without a restart.
    mark = d.mark()
    init = d.cli("init")
    assert init.returncode == 0, init.stderr
    wait_reloaded(d, mark)
    status = d.call("status")
    assert status["using_example"] is False
    assert status["schedule"] == str(d.config)


def test_started_on_a_broken_file_it_runs_nothing_says_why_and_recovers(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    due = due_in(2)
    good = settings() + practice("look-up", title="Look up", once=due)
    d = daemons(bus=session_bus.address, fake_clock=True,
                config_text=good.replace('title = "Look up"', 'title = ""'))
    check = d.cli("check")
    assert check.returncode == 1
    d.start()
    [note] = notification_server.wait_for_notify(1, 5)
    assert note["summary"] == PROBLEM_TITLE
    assert note["body"].startswith(check.stderr)
    status = d.call("status")
    assert status["schedule_error"] == check.stderr.rstrip("\n")
    assert status["next"] == []
    mark = d.mark()
    write_in_place(d.config, good)
    d.wait_for_log(r"INFO attuned: the schedule is valid again", 5, since=mark)
    d.advance_to(due)
    rec = notification_server.wait_for_notify(2, NUDGE_WAIT)[1]
    assert rec["summary"] == "Look up"
