"""The login that never reaches graphical-session.target (a plain window manager), under a
real systemd user manager (tests/user_manager.py): each "login" here is a new manager with
a fresh /run/user/UID and no desktop, so the target is never started, as with i3 or
openbox. The service must start at every such login, and `attuned doctor` must say what
the next login will do, not only what runs now.

One login (re-logged in by the tests) serves the module; it ends with the service
uninstalled. Skipped (with the reason) where no user manager can be set up; a failure
under ATTUNED_REQUIRE_USER_MANAGER=1 (CI).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from daemon_harness import due_in, practice, settings
from user_manager import MARKS, Journal, ServiceUser, UserManager

pytestmark = MARKS

NAME_WIDTH = 16  # doctor's column for the check's name


@pytest.fixture(scope="module")
def login(service_user: ServiceUser) -> Iterator[UserManager]:
    service_user.write(service_user.config,
                       settings() + practice("evening", once=due_in(6 * 3600)))
    manager = UserManager(service_user).start()
    try:
        yield manager
    finally:
        service_user.run("attuned", "service", "uninstall", check=False)
        manager.stop()


def install_now(user: ServiceUser) -> subprocess.CompletedProcess[str]:
    return user.run("attuned", "service", "install", "--now")


def doctor(user: ServiceUser, check: str) -> list[str]:
    """One check's lines of `attuned doctor`: its own line, the detail lines under it,
    and its fix as one line (doctor wraps it)."""
    lines = user.run("attuned", "doctor", check=False).stdout.splitlines()
    start = next(i for i, text in enumerate(lines)
                 if text[2:2 + NAME_WIDTH].strip() == check)
    out, fix = [lines[start]], list[str]()
    for text in lines[start + 1:]:
        if not text.startswith(" "):
            break
        if fix or text.strip().startswith("fix: "):
            fix.append(text.strip())
        else:
            out.append(text.strip())
    return out + ([" ".join(fix)] if fix else [])


def test_install_in_a_session_without_the_desktop_target_starts_it_at_every_later_login(
        service_user: ServiceUser, login: UserManager) -> None:
    assert service_user.service_state("graphical-session.target") == "inactive"
    with Journal(service_user) as journal:
        done = install_now(service_user)
        # No server runs, but dunst's activation file (Debian's dunst, as CI installs it)
        # lets the bus start one: nothing to warn about.
        journal.wait_for(r"^attuned: no notification server running yet; the bus starts "
                         r"one at the first nudge$", pid=service_user.main_pid())
        [ready] = journal.wait_for(r"^attuned: ready", pid=service_user.main_pid())
        started = [Journal.message(e) for e in journal.entries[:ready["_index"]]
                   if e.get("_PID") == ready["_PID"]]
    assert not [m for m in started if "no notification server on the bus yet" in m], started
    assert "  systemctl --user add-wants default.target attuned.service\n" in done.stdout
    assert "attuned is running now, and starts again at every login.\n" in done.stdout
    # ... and no warning after it that says the opposite.
    assert "would not start at login" not in done.stdout
    assert "So attuned now\nalso starts with your login (default.target)" in done.stdout
    unit = service_user.unit_dir / "attuned.service"
    assert doctor(service_user, "service")[0] == (
        f"✓ {'service':<{NAME_WIDTH}}installed at {unit}, enabled, active; starts at every "
        "login (default.target)")

    login.relogin()
    assert service_user.service_state() == "active"


def test_doctor_says_when_the_next_login_will_not_start_it(
        service_user: ServiceUser, login: UserManager) -> None:
    # What an older attuned's install left: enabled into graphical-session.target only,
    # and started by hand in a session that never reaches that target.
    unit = service_user.unit_dir / "attuned.service"
    install_now(service_user)  # whatever the tests before left (uninstall, say)
    service_user.systemctl("disable", "attuned")
    service_user.systemctl("enable", "attuned")
    service_user.systemctl("start", "attuned")
    unreached = ("it starts with graphical-session.target, which this session never "
                 "reached (as with a plain window manager)")
    assert doctor(service_user, "service") == [
        f"! {'service':<{NAME_WIDTH}}installed at {unit}, enabled, active, but it will not "
        f"start at your next login: {unreached}",
        "fix: `attuned service install` makes it start with your login too (default.target)"]

    login.relogin()  # doctor was right
    assert service_user.service_state() == "inactive"
    assert doctor(service_user, "service") == [
        f"! {'service':<{NAME_WIDTH}}installed at {unit}, enabled, inactive: not running, "
        f"and it will not start at your next login either: {unreached}",
        "fix: `attuned service install --now` starts it now and at every login"]

    install_now(service_user)  # the fix doctor gives
    login.relogin()
    assert service_user.service_state() == "active"


def test_doctor_shows_the_bus_the_service_itself_is_given(
        service_user: ServiceUser, login: UserManager) -> None:
    install_now(service_user)
    bus = f"unix:path={service_user.runtime_dir}/bus"
    assert doctor(service_user, "service bus") == [
        f"✓ {'service bus':<{NAME_WIDTH}}the service finds the session bus at {bus} (from "
        "its manager's environment)",
        "display: none (nudges over D-Bus need none)"]

    # A drop-in with a wrong address: this terminal's bus is fine, the service's is not.
    dropin = service_user.unit_dir / "attuned.service.d" / "bus.conf"
    wrong = "unix:path=/nonexistent/bus"
    service_user.write(dropin, f"[Service]\nEnvironment=DBUS_SESSION_BUS_ADDRESS={wrong} "
                               "DISPLAY=:7\n")
    service_user.systemctl("daemon-reload")
    try:
        shown = doctor(service_user, "service bus")
        assert shown[0] == (
            f"! {'service bus':<{NAME_WIDTH}}the service would use the session bus {wrong} "
            f"(from its unit's Environment=), which does not answer: Cannot connect to the "
            f"D-Bus session bus at {wrong}: FileNotFoundError: [Errno 2] No such file or "
            "directory; its nudges would go to the log")
        assert shown[1] == "display: DISPLAY=:7 (from its unit's Environment=)"
        assert shown[2].startswith("fix: correct or remove DBUS_SESSION_BUS_ADDRESS in the "
                                   "unit or its drop-ins")
        assert doctor(service_user, "session bus")[0].startswith(f"✓ {'session bus':<16}{bus}")
    finally:
        dropin.unlink()
        dropin.parent.rmdir()
        service_user.systemctl("daemon-reload")
