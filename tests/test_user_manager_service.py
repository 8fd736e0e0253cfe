"""attuned's service as a user runs it: a throwaway user with attuned installed in their
home from a wheel of this checkout, a real systemd 252 user manager (tests/user_manager.py),
the real dunst on a virtual screen, the journal. Driven only through the commands a person
would type: `attuned service install --now`, `systemctl --user ...`, `kill`, an edit of
the schedule, `attuned service uninstall`.

One login, one desktop and one install serve the whole module, in this order: each test
leaves the service running with a valid schedule for the next. Skipped (with the reason)
where no user manager can be set up; a failure under ATTUNED_REQUIRE_USER_MANAGER=1 (CI).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import due_in, practice, settings
from user_manager import MARKS, Journal, ServiceUser, UserDesktop, UserManager

pytestmark = MARKS

LATER = practice("evening", title="Evening", once=due_in(6 * 3600))


@pytest.fixture(scope="module")
def login(service_user: ServiceUser) -> Iterator[UserManager]:
    manager = UserManager(service_user).start()
    try:
        yield manager
    finally:
        manager.stop()


@pytest.fixture(scope="module")
def desktop(service_user: ServiceUser, login: UserManager) -> Iterator[UserDesktop]:
    screen = UserDesktop(service_user).start()
    try:
        yield screen
    finally:
        screen.stop()


@pytest.fixture(scope="module")
def journal(service_user: ServiceUser, login: UserManager) -> Iterator[Journal]:
    with Journal(service_user) as followed:
        yield followed


@pytest.fixture(scope="module")
def installed(service_user: ServiceUser, desktop: UserDesktop, journal: Journal
              ) -> subprocess.CompletedProcess[str]:
    service_user.write(service_user.config, settings(snooze="3s") + LATER)
    done = service_user.run("attuned", "service", "install", "--now")
    journal.wait_for(r"^attuned: ready; next: ", pid=service_user.main_pid())
    return done


def status_line(user: ServiceUser) -> str:
    shown = user.systemctl("status", "--no-pager", "attuned", check=False).stdout
    found = re.search(r"^\s*Status: (.*)$", shown, re.M)
    assert found, shown
    return found.group(1)


def restart(user: ServiceUser, journal: Journal) -> None:
    user.systemctl("restart", "attuned")
    journal.wait_for(r"^attuned: ready; next: ", pid=user.main_pid())


@pytest.fixture
def fast_restarts(service_user: ServiceUser, journal: Journal, installed: object
                  ) -> Iterator[Path]:
    """A drop-in that makes the watchdog and the restart quick, for one test."""
    dropin = service_user.unit_dir / "attuned.service.d" / "test-quick.conf"
    service_user.write(dropin, "[Service]\nWatchdogSec=3\nRestartSec=1\n")
    service_user.systemctl("daemon-reload")
    restart(service_user, journal)
    try:
        yield dropin
    finally:
        dropin.unlink()
        dropin.parent.rmdir()
        service_user.systemctl("daemon-reload")
        restart(service_user, journal)


def test_install_now_runs_the_users_own_attuned_and_reports_its_next_nudge(
        service_user: ServiceUser, installed: subprocess.CompletedProcess[str]) -> None:
    unit = service_user.unit_dir / "attuned.service"
    assert installed.stdout.startswith(
        f"Wrote {unit}\n  ExecStart={service_user.attuned} run\n")
    assert "attuned is running now" in installed.stdout
    # This user manager can start a unit with PrivateUsers=yes, so the sandbox is on.
    assert "\nPrivateUsers=yes\nProtectSystem=strict\n" in unit.read_text()
    assert "sandbox is off" not in installed.stdout
    assert service_user.service_state() == "active"
    assert status_line(service_user).startswith('"next: evening at ')
    # The service runs the console script in the user's venv, not this checkout.
    argv = Path(f"/proc/{service_user.main_pid()}/cmdline").read_bytes().split(b"\0")
    assert [a.decode() for a in argv[:3]] == [
        str(service_user.venv / "bin" / "python3"), str(service_user.attuned), "run"]


def test_a_nudge_from_an_edited_schedule_reaches_dunst(
        service_user: ServiceUser, desktop: UserDesktop, journal: Journal,
        installed: object) -> None:
    since = journal.mark()
    service_user.write(service_user.config, settings(snooze="3s") + LATER
                       + practice("look-up", title="Look up", once=due_in(2)))
    journal.wait_for(r"^attuned: reloaded .* \(the file changed\): 2 practices", since=since)
    journal.wait_for(r'^notify: nudge "Look up" delivered via dbus to dunst', 15, since=since)
    assert desktop.dunstctl("count", "displayed") == "1"
    desktop.dunstctl("close-all")
    assert [n["summary"] for n in desktop.history()][:1] == ["Look up"]


def test_systemctl_reload_rereads_the_schedule(
        service_user: ServiceUser, journal: Journal, installed: object) -> None:
    since = journal.mark()
    service_user.systemctl("reload", "attuned")  # returns once the daemon is READY again
    journal.wait_for(r"^attuned: reloaded .* \(SIGHUP\)", since=since)
    assert service_user.service_state() == "active"


def test_a_broken_file_keeps_the_last_good_schedule_and_says_so_in_status(
        service_user: ServiceUser, desktop: UserDesktop, journal: Journal,
        installed: object) -> None:
    good = settings(snooze="3s") + LATER + practice("soon", title="Soon", once=due_in(5))
    since = journal.mark()
    service_user.write(service_user.config, good)
    journal.wait_for(r"^attuned: reloaded .* \(the file changed\)", since=since)
    service_user.write(service_user.config, good + '[[practice]]\nid = "half\n')
    journal.wait_for(r"^attuned: the schedule was not reloaded \(the file changed\)",
                     since=since)
    status = status_line(service_user)
    assert status.startswith('"the schedule file has a problem (`attuned check` shows it); '
                             "the last good schedule runs; next: soon at "), status
    journal.wait_for(r'^notify: nudge "Soon" delivered via dbus to dunst', 15, since=since)

    # Its lines are in the journal at their levels: errors 3, info 6.
    shown = service_user.run("journalctl", "--user", "-u", "attuned", "-o", "json",
                             "--no-pager").stdout
    levels = {}
    for text in shown.splitlines():
        entry = json.loads(text)
        for start in ("attuned: the schedule was not reloaded", "attuned: ready; next:"):
            if Journal.message(entry).startswith(start):
                levels[start] = entry["PRIORITY"]
    # The invalid save is logged once, as an error (not again as a warning).
    assert levels == {"attuned: the schedule was not reloaded": "3",
                      "attuned: ready; next:": "6"}
    logs = service_user.run("attuned", "service", "logs").stdout
    assert "attuned: the schedule was not reloaded (the file changed)" in logs
    assert "attuned: ready; next: " in logs

    since = journal.mark()
    service_user.write(service_user.config, settings(snooze="3s") + LATER)
    journal.wait_for(r"^attuned: the schedule is valid again", since=since)
    desktop.dunstctl("close-all")


def test_a_hung_daemon_is_killed_by_the_watchdog_and_started_again(
        service_user: ServiceUser, journal: Journal, fast_restarts: Path) -> None:
    since = journal.mark()
    hung = service_user.main_pid()
    os.kill(hung, signal.SIGSTOP)
    [timeout] = journal.wait_for(r"Watchdog timeout \(limit 3s\)", 15, since=since)
    journal.wait_for(r"^attuned: ready; next: ", 15, after=timeout)
    assert service_user.main_pid() not in (0, hung)
    assert service_user.service_state() == "active"


def test_kill_9_restarts_it_and_a_pending_snooze_comes_back_once(
        service_user: ServiceUser, desktop: UserDesktop, journal: Journal,
        fast_restarts: Path) -> None:
    since = journal.mark()
    service_user.write(service_user.config, settings(snooze="3s") + LATER
                       + practice("stretch", title="Stretch", once=due_in(1)))
    [nudged] = journal.wait_for(r"^attuned: nudged stretch \((\w+)\)", 15, since=since)
    nid = re.search(r"\((\w+)\)", Journal.message(nudged)).group(1)  # type: ignore[union-attr]
    service_user.run("attuned", "snooze", nid, "--for", "4s")
    journal.wait_for(rf"^attuned: snoozed {nid} ", since=since)
    killed = service_user.main_pid()
    os.kill(killed, signal.SIGKILL)
    [died] = journal.wait_for(r"Main process exited, code=killed, status=9/KILL", 10,
                              since=since)
    [ready] = journal.wait_for(r"^attuned: ready; next: ", 15, after=died)
    journal.wait_for(rf"^attuned: brought back snoozed {nid} as \w+", 15, after=ready)
    journal.wait_for(r'^notify: nudge "Stretch \(snoozed\)" delivered via dbus to dunst', 5,
                     after=ready)
    # Once: the history has the nudge, the snooze and one return, and nothing is left
    # waiting to come back.
    events = service_user.run("attuned", "history", "--practice", "stretch", "--json").stdout
    assert re.findall(r'"event": "(\w+)"', events) == ["shown", "snoozed", "shown"], events
    status = json.loads(service_user.run("attuned", "status", "--json").stdout)
    assert status["snoozed"] == [], status
    desktop.dunstctl("close-all")


def test_the_sandbox_lets_it_write_its_own_directories_only(
        service_user: ServiceUser, installed: object) -> None:
    pid = service_user.main_pid()

    def touch(path: Path) -> subprocess.CompletedProcess[str]:
        # In the service's own namespaces, as the user: what the daemon itself may write.
        return subprocess.run(
            ["nsenter", f"--target={pid}", "--all", f"--setuid={service_user.uid}",
             f"--setgid={service_user.gid}", "touch", str(path)],
            capture_output=True, text=True, timeout=10, check=False)

    for writable in (service_user.config_dir / "probe", service_user.state_dir / "probe"):
        assert touch(writable).returncode == 0, touch(writable).stderr
        writable.unlink()
    outside = service_user.home / "probe"
    refused = touch(outside)
    assert "Read-only file system" in refused.stderr, refused
    assert not outside.exists()


def test_systemd_252_facts_the_sandbox_rests_on(
        service_user: ServiceUser, login: UserManager) -> None:
    def touch(path: Path, *properties: str) -> subprocess.CompletedProcess[str]:
        return service_user.run(
            "systemd-run", "--user", "--wait", "--quiet", "--collect", "--pipe",
            *(f"--property={p}" for p in properties), "touch", str(path), check=False)

    probe = service_user.home / "fact-probe"
    try:
        # Without PrivateUsers=yes a user unit's ProtectSystem= is silently ignored.
        assert touch(probe,
                     "ProtectSystem=strict", "ProtectHome=read-only").returncode == 0
        probe.unlink()
        # With it, ProtectSystem=strict leaves the home writable: ProtectHome= covers it.
        assert touch(probe, "PrivateUsers=yes", "ProtectSystem=strict").returncode == 0
        probe.unlink()
        refused = touch(probe, "PrivateUsers=yes", "ProtectSystem=strict",
                        "ProtectHome=read-only")
        assert refused.returncode != 0 and "Read-only file system" in refused.stderr, refused
    finally:
        probe.unlink(missing_ok=True)


def test_uninstall_leaves_no_unit_link_or_file_behind(
        service_user: ServiceUser, installed: object) -> None:
    done = service_user.run("attuned", "service", "uninstall")
    assert done.stdout.startswith(f"Removed {service_user.unit_dir / 'attuned.service'}\n")
    assert service_user.service_state() == "inactive"
    left = sorted(str(p) for p in service_user.unit_dir.rglob("*") if "attuned" in p.name)
    assert left == []
    listed = service_user.systemctl("list-unit-files", "--no-legend", "attuned*",
                                    check=False).stdout
    assert listed.strip() == ""
    # The schedule and history stay.
    assert service_user.config.exists()
    assert (service_user.state_dir / "history.db").exists()
