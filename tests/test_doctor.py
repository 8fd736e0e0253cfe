"""`attuned doctor` against the real things where they can run here: a private
dbus-daemon with the test notification server (with and without actions, or none),
a real `attuned run` subprocess answering on its control socket, real SQLite files,
real schedule files. `systemctl --user` is stood in for by FakeSystemctl
(tests/test_install.py); tests/test_user_manager_login.py runs doctor under a real user
manager.
"""

from __future__ import annotations

import io
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from buses import DBusDaemon
from click.testing import CliRunner, Result
from daemon_harness import Daemons, due_in, practice, settings
from notification_server import NotificationServer
from test_daemon_sdnotify import NotifyReceiver, SdDaemon
from test_install import SHOW, FakeSystemctl, fake_attuned

from attuned.cli import service as cli_service
from attuned.cli.root import cli
from attuned.cli.service import Deps, format_report
from attuned.state.store import LATEST_VERSION, Store
from attuned.system import doctor
from attuned.system.install import CommandResult, install, run_command

NO_BUS = "unix:path=/nonexistent/attuned-test-bus"
VALID = """\
[settings]
timezone = "UTC"

[[practice]]
id = "breakfast"
title = "Breakfast presence"
message = "Paper down."
at = "07:30"
"""


@pytest.fixture
def home(isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The system's zone is UTC for every test (tzlocal reads TZ first).
    monkeypatch.setenv("TZ", "UTC")
    return isolated_dirs


@pytest.fixture
def config(home: Path) -> Path:
    path = home / "config" / "attuned" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(VALID)
    return path


@pytest.fixture
def exe(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = fake_attuned(home / ".local" / "bin")
    monkeypatch.setattr(sys, "argv", [str(script), "doctor"])
    return script


class FakeManager(FakeSystemctl):
    """FakeSystemctl that also answers `show-environment` with `environment` and the
    unit's Environment= (drop-ins included) with `unit_environment`, both written as
    systemctl 252 writes them."""

    def __init__(self, environment: dict[str, str] | None = None, *,
                 unit_environment: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.environment = environment or {}
        self.unit_environment = unit_environment

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        if tuple(argv) == ("systemctl", "--user", "show-environment"):
            self.calls.append(tuple(argv))
            return CommandResult(
                0, "".join(f"{k}={v}\n" for k, v in self.environment.items()), "")
        if tuple(argv) == ("systemctl", "--user", "show", "attuned.service",
                           "--property=Environment", "--value"):
            self.calls.append(tuple(argv))
            return CommandResult(0, self.unit_environment + "\n", "")
        return super().__call__(argv)


def env(bus: str | None) -> dict[str, str]:
    """The test's environment (its private XDG directories; $XDG_RUNTIME_DIR has no bus
    socket) with `bus` as the session bus, or none."""
    environ = dict(os.environ)
    environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return {**environ, "DBUS_SESSION_BUS_ADDRESS": bus} if bus else environ


def doctor_run(monkeypatch: pytest.MonkeyPatch, *, bus: str | None,
               runner: object = None, config: Path | None = None) -> Result:
    monkeypatch.setattr(cli_service, "DEPS", Deps(
        runner=runner or FakeSystemctl(enabled="not-found"),  # type: ignore[arg-type]
        environ=env(bus), platform="linux"))
    args = (["--config", str(config)] if config else []) + ["doctor"]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def line(result: Result, name: str) -> list[str]:
    """The report lines of one check: its own line, the detail lines under it, and its
    fix as one line."""
    lines = result.stdout.splitlines()
    start = next(i for i, text in enumerate(lines) if text[2:].startswith(f"{name} ")
                 and text[2:2 + cli_service.NAME_WIDTH].strip() == name)
    out = [lines[start]]
    fix: list[str] = []
    for text in lines[start + 1:]:
        if not text.startswith(" "):
            break
        if fix or text.strip().startswith("fix: "):
            fix.append(text.strip())  # the fix is wrapped: give it back as one line
        else:
            out.append(text.strip())
    return out + ([" ".join(fix)] if fix else [])


def head(mark: str, name: str, detail: str) -> str:
    return f"{mark} {name:<{cli_service.NAME_WIDTH}}{detail}"


# ---------------------------------------------------------------- the notification server


def test_a_server_with_actions_is_named_and_all_is_well(
        monkeypatch: pytest.MonkeyPatch, config: Path, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    result = doctor_run(monkeypatch, bus=session_bus.address, config=config)
    assert line(result, "session bus") == [head(
        "✓", "session bus", f"{session_bus.address} (from DBUS_SESSION_BUS_ADDRESS)")]
    assert line(result, "notifications") == [head(
        "✓", "notifications", "attuned-test-server 1.0: shows Done / Snooze / Skip")]
    assert line(result, "schedule") == [head(
        "✓", "schedule", f"{config}: valid, 1 practice (1 enabled)")]
    assert line(result, "time zone") == [head("✓", "time zone", "UTC, the same as the system's")]
    assert result.exit_code == 0


def test_a_server_without_actions_is_a_warning_that_says_how_to_answer(
        monkeypatch: pytest.MonkeyPatch, config: Path, session_bus: DBusDaemon) -> None:
    with NotificationServer(session_bus.address, actions=False, name="plain-server"):
        result = doctor_run(monkeypatch, bus=session_bus.address, config=config)
    assert line(result, "notifications") == [
        head("!", "notifications", "plain-server 1.0: shows nudges without buttons"),
        "fix: answer nudges from a terminal: `attuned done|snooze|skip` (or use a server "
        "that offers actions: KDE, xfce4-notifyd, dunst, mako)",
    ]
    assert result.exit_code == 0


def test_dunst_is_said_to_offer_the_answers_in_its_menu(
        monkeypatch: pytest.MonkeyPatch, config: Path, session_bus: DBusDaemon) -> None:
    with NotificationServer(session_bus.address, name="dunst"):
        result = doctor_run(monkeypatch, bus=session_bus.address, config=config)
    assert line(result, "notifications") == [head(
        "✓", "notifications",
        "dunst 1.0: shows Done / Snooze / Skip in its context menu (`dunstctl context`)")]


@pytest.fixture
def activating_bus(tmp_path: Path) -> Iterator[str]:
    """A private bus that COULD start a notification server on demand (an activation
    file, as dunst installs). Never started: doctor must not activate anything, only
    ask what could be."""
    with DBusDaemon(tmp_path / "activating-bus",
                    services={"org.freedesktop.Notifications": ["/bin/false"]}) as bus:
        yield bus.address


def test_a_server_the_bus_starts_on_demand_is_fine(
        monkeypatch: pytest.MonkeyPatch, config: Path, activating_bus: str) -> None:
    result = doctor_run(monkeypatch, bus=activating_bus, config=config)
    assert line(result, "session bus")[0].startswith("✓ ")
    assert line(result, "notifications") == [head(
        "✓", "notifications", "no server running now; the bus starts one at the first nudge")]


def test_no_notification_server_warns_that_nudges_go_to_the_log(
        monkeypatch: pytest.MonkeyPatch, config: Path, session_bus: DBusDaemon) -> None:
    result = doctor_run(monkeypatch, bus=session_bus.address, config=config)
    assert line(result, "session bus")[0].startswith("✓ ")
    assert line(result, "notifications")[0] == head(
        "!", "notifications", "no notification server on the bus; nudges go to the log only")
    assert "fix: start a notification server" in line(result, "notifications")[1]
    # The log still takes the nudges: nothing needed is missing.
    assert result.exit_code == 0
    assert result.stdout.endswith("attuned can work; 3 things could be better (! above).\n")


def test_no_session_bus_at_all(monkeypatch: pytest.MonkeyPatch, config: Path) -> None:
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "session bus")[0] == head(
        "!", "session bus", "none found: DBUS_SESSION_BUS_ADDRESS is not set and "
        "$XDG_RUNTIME_DIR/bus does not exist; nudges go to the log only")
    assert line(result, "notifications") == [
        head("!", "notifications", "not checked (no session bus)")]
    assert result.exit_code == 0


def test_a_bus_address_nothing_listens_on(monkeypatch: pytest.MonkeyPatch,
                                           config: Path) -> None:
    result = doctor_run(monkeypatch, bus=NO_BUS, config=config)
    first = line(result, "session bus")[0]
    assert first.startswith(head("!", "session bus",
                                 f"Cannot connect to the D-Bus session bus at {NO_BUS}: "))
    assert first.endswith("; nudges go to the log only")
    assert result.exit_code == 0


# ---------------------------------------------------------------- the schedule


def test_a_broken_config_fails_with_the_same_text_as_check(
        monkeypatch: pytest.MonkeyPatch, config: Path) -> None:
    config.write_text(VALID.replace('at = "07:30"', 'at = "7.30"'))
    checked = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert checked.exit_code == 1
    problems = checked.stderr.strip().splitlines()
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "schedule") == [
        head("✗", "schedule", f"{config} has problems, so it cannot be used:"),
        *problems,
        "fix: correct the lines above (`attuned edit` checks before it saves); a running "
        "daemon keeps the last good schedule meanwhile",
    ]
    assert result.exit_code == 1
    assert result.stdout.endswith("1 thing attuned needs is broken (✗ above).\n")


def test_a_missing_config_is_a_warning_the_example_runs(
        monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    path = home / "config" / "attuned" / "config.toml"
    result = doctor_run(monkeypatch, bus=None)
    assert line(result, "schedule") == [
        head("!", "schedule", f"no schedule file at {path}: the built-in example runs"),
        "fix: make it yours with `attuned init`, then `attuned edit`",
    ]
    assert line(result, "time zone") == [
        head("✓", "time zone", "the schedule follows the system's zone, UTC")]
    assert result.exit_code == 0


def test_a_schedule_pinned_to_another_zone_is_a_warning(
        monkeypatch: pytest.MonkeyPatch, config: Path) -> None:
    config.write_text(VALID.replace('"UTC"', '"Asia/Tokyo"'))
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "time zone")[0] == head(
        "!", "time zone", "the schedule keeps Asia/Tokyo clock times, the system is in UTC")
    assert result.exit_code == 0


# ---------------------------------------------------------------- the history


def test_a_healthy_history_and_none_yet(monkeypatch: pytest.MonkeyPatch, config: Path,
                                        home: Path) -> None:
    db = home / "state" / "attuned" / "history.db"
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "history") == [head("✓", "history", f"none yet; the daemon creates {db}")]
    assert not db.exists()  # doctor created nothing
    Store.open(db).close()
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "history") == [head("✓", "history", f"{db}: healthy, 0 nudges")]


def test_a_damaged_history_fails_and_is_left_exactly_where_it_was(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path) -> None:
    db = home / "state" / "attuned" / "history.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database, it is a shopping list" * 100)
    before = sorted(p.name for p in db.parent.iterdir())
    result = doctor_run(monkeypatch, bus=None, config=config)
    lines = line(result, "history")
    assert lines[0].startswith(head("✗", "history", f"{db} "))
    assert "restart the daemon (`systemctl --user restart attuned`)" in " ".join(lines)
    assert result.exit_code == 1
    # Doctor never moves the user's data: that is the daemon's decision, and it says so.
    assert sorted(p.name for p in db.parent.iterdir()) == before
    assert db.read_bytes() == b"this is not a database, it is a shopping list" * 100


def test_rows_that_cannot_be_read_fail_with_their_ids_and_are_left_as_they_are(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path) -> None:
    db = home / "state" / "attuned" / "history.db"
    at = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    with Store.open(db) as s:
        good = s.record_shown("tea", at, at, "Tea", "Tea.")
        bad = s.record_shown("tea", at + timedelta(days=1), at, "Tea", "Tea.")
        odd = s.record_shown("tea", at + timedelta(days=2), at, "Tea", "Tea.")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute("UPDATE nudges SET due = 'garbage' WHERE id = ?", (bad.id,))
        conn.execute("UPDATE nudges SET state = 'bogus' WHERE id = ?", (odd.id,))
    conn.close()
    before = db.read_bytes()
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "history") == [
        head("✗", "history", f"{db}: 2 rows cannot be read (attuned leaves them out): "
                             f"nudge \"{bad.id}\" (due is not a time: 'garbage'); nudge "
                             f"\"{odd.id}\" (state is not one attuned knows: 'bogus')"),
        "fix: stop the daemon, copy the file aside, then correct or delete those rows with "
        f"sqlite3 (`sqlite3 {db} .schema` shows the tables)"]
    assert result.exit_code == 1
    assert db.read_bytes() == before
    assert good.id not in " ".join(line(result, "history"))


def test_another_programs_database_fails_named_and_is_left_as_it_is(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path) -> None:
    db = home / "state" / "attuned" / "history.db"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    before = db.read_bytes()
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "history") == [
        head("✗", "history", f"{db} is another program's SQLite database (tables recipes), "
                             "not attuned's history"),
        "fix: move it elsewhere: attuned leaves it as it is, and starts a fresh history in "
        "its place"]
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["history.db"]


def test_a_history_from_a_newer_attuned_fails(monkeypatch: pytest.MonkeyPatch, config: Path,
                                              home: Path) -> None:
    db = home / "state" / "attuned" / "history.db"
    Store.open(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (?, '2030-01-01T00:00:00Z')",
                     (LATEST_VERSION + 1,))
    conn.close()
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "history") == [
        head("✗", "history", f"{db} was written by a newer attuned (schema "
             f"{LATEST_VERSION + 1}, this one knows up to {LATEST_VERSION})"),
        "fix: upgrade attuned",
    ]
    assert result.exit_code == 1


# ---------------------------------------------------------------- the service


def test_service_not_installed_is_a_warning_with_the_install_command(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path) -> None:
    unit = home / "config" / "systemd" / "user" / "attuned.service"
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "service") == [
        head("!", "service", f"not installed (no {unit})"),
        "fix: `attuned service install --now` starts it now and at every login",
    ]
    assert result.exit_code == 0


def test_a_running_service_installed_from_this_attuned(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path, exe: Path,
        session_bus: DBusDaemon) -> None:
    install(False, FakeSystemctl())
    unit = home / "config" / "systemd" / "user" / "attuned.service"
    # show-environment writes values with shell-special characters as $'...'.
    manager = FakeManager({"DBUS_SESSION_BUS_ADDRESS": f"$'{session_bus.address}'",
                           "DISPLAY": ":0"}, service="active")
    result = doctor_run(monkeypatch, bus=None, config=config, runner=manager)
    assert line(result, "service") == [
        head("✓", "service", f"installed at {unit}, enabled, active")]
    assert line(result, "service bus") == [
        head("✓", "service bus", f"the service finds the session bus at {session_bus.address} "
             "(from its manager's environment)"),
        "display: DISPLAY=:0 (from its manager's environment)"]
    assert line(result, "service program") == [
        head("✓", "service program", f"runs this attuned ({exe} run)")]


@pytest.mark.parametrize(("graphical", "wanted_by", "mark", "detail", "fix"), [
    ("inactive", ("graphical-session.target", "default.target"), "✓",
     "; starts at every login (default.target)", None),
    ("active", ("graphical-session.target",), "✓",
     "; starts with your desktop session (graphical-session.target)", None),
    # A start by hand (`systemctl --user start`) would last only until the next login.
    ("inactive", ("graphical-session.target",), "!",
     ", but it will not start at your next login: it starts with graphical-session.target, "
     "which this session never reached (as with a plain window manager)",
     "fix: `attuned service install` makes it start with your login too (default.target)"),
])
def test_the_service_check_says_what_happens_at_the_next_login(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path, exe: Path, graphical: str,
        wanted_by: tuple[str, ...], mark: str, detail: str, fix: str | None) -> None:
    install(False, FakeSystemctl())
    unit = home / "config" / "systemd" / "user" / "attuned.service"
    manager = FakeManager(service="active", graphical=graphical, wanted_by=wanted_by)
    result = doctor_run(monkeypatch, bus=None, config=config, runner=manager)
    assert line(result, "service") == [
        head(mark, "service", f"installed at {unit}, enabled, active{detail}"),
        *([fix] if fix else [])]


def test_a_stopped_service_that_no_login_like_this_one_starts(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path, exe: Path) -> None:
    install(False, FakeSystemctl())
    unit = home / "config" / "systemd" / "user" / "attuned.service"
    manager = FakeManager(service="inactive", graphical="inactive",
                          wanted_by=("graphical-session.target",))
    result = doctor_run(monkeypatch, bus=None, config=config, runner=manager)
    assert line(result, "service") == [
        head("!", "service", f"installed at {unit}, enabled, inactive: not running, and it "
             "will not start at your next login either: it starts with "
             "graphical-session.target, which this session never reached (as with a plain "
             "window manager)"),
        "fix: `attuned service install --now` starts it now and at every login"]


def test_the_units_own_environment_wins_over_its_managers(
        monkeypatch: pytest.MonkeyPatch, config: Path, exe: Path,
        session_bus: DBusDaemon) -> None:
    # A drop-in (or the unit) setting a bus nothing listens on: the service's nudges
    # would go to the log, even though the manager's own address is right.
    install(False, FakeSystemctl())
    manager = FakeManager({"DBUS_SESSION_BUS_ADDRESS": session_bus.address},
                          unit_environment=f'"DBUS_SESSION_BUS_ADDRESS={NO_BUS}" '
                                           '"WAYLAND_DISPLAY=wayland-1"',
                          service="active")
    result = doctor_run(monkeypatch, bus=session_bus.address, config=config, runner=manager)
    assert line(result, "service bus") == [
        head("!", "service bus", f"the service would use the session bus {NO_BUS} (from its "
             f"unit's Environment=), which does not answer: Cannot connect to the D-Bus "
             f"session bus at {NO_BUS}: FileNotFoundError: [Errno 2] No such file or "
             "directory; its nudges would go to the log"),
        "display: WAYLAND_DISPLAY=wayland-1 (from its unit's Environment=)",
        "fix: correct or remove DBUS_SESSION_BUS_ADDRESS in the unit or its drop-ins "
        "(`systemctl --user cat attuned` shows them, `systemctl --user edit attuned` changes "
        "them), then `systemctl --user restart attuned`"]


def test_a_stopped_service_left_by_an_old_install(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path, exe: Path) -> None:
    unit = home / "config" / "systemd" / "user" / "attuned.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/opt/old/attuned run\n")
    result = doctor_run(monkeypatch, bus=None, config=config,
                        runner=FakeSystemctl(service="failed"))
    assert line(result, "service") == [
        head("!", "service", f"installed at {unit}, enabled, failed: not running now"),
        "fix: start it with `systemctl --user start attuned`; if it fails, `attuned service "
        "logs` says why",
    ]
    # Its manager was never told where the bus is, and there is no $XDG_RUNTIME_DIR/bus.
    assert line(result, "service bus") == [
        head("!", "service bus", "the service would find no session bus (its manager has no "
             "DBUS_SESSION_BUS_ADDRESS and there is no $XDG_RUNTIME_DIR/bus): its nudges "
             "would go to the log"),
        "fix: add `dbus-update-activation-environment --systemd DISPLAY WAYLAND_DISPLAY "
        "XDG_CURRENT_DESKTOP DBUS_SESSION_BUS_ADDRESS` to your session's startup file",
    ]
    assert line(result, "service program") == [
        head("!", "service program", f"runs /opt/old/attuned run, but this attuned is {exe} "
             "run (an old install?)"),
        "fix: `attuned service install --now` points it here (the old unit is kept aside)",
    ]
    assert result.exit_code == 0


def test_without_systemd_the_service_check_says_so_and_how_to_start_it_anyway(
        monkeypatch: pytest.MonkeyPatch, config: Path, tmp_path: Path, exe: Path,
        home: Path) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = doctor_run(monkeypatch, bus=None, config=config, runner=run_command)
    assert line(result, "service") == [
        head("!", "service", "systemd is not available here: the systemctl command was not "
             "found."),
        "fix: attuned can still start with your desktop session without it: `attuned service "
        "install` writes an XDG autostart entry for that."]
    assert result.exit_code == 0
    # Done: the desktop session starts it at the next login.
    install(False, run_command, argv=[str(exe)], start=lambda argv: None)
    entry = home / "config" / "autostart" / "attuned.desktop"
    result = doctor_run(monkeypatch, bus=None, config=config, runner=run_command)
    assert line(result, "service") == [
        head("!", "service", f"the XDG autostart entry {entry}: starts at your next login; "
             "not running now"),
        "fix: `attuned service install --now` starts it; `attuned service logs` shows its log"]
    assert line(result, "service program")[0].startswith(head(
        "✓", "service program", "runs this attuned (/bin/sh -c "))


# ---------------------------------------------------------------- the daemon


@pytest.fixture
def daemon(tmp_path: Path, session_bus: DBusDaemon, monkeypatch: pytest.MonkeyPatch,
           home: Path) -> Iterator[Callable[[], SdDaemon]]:
    """Starts a real daemon on `session_bus` and points doctor at its directories."""
    receiver = NotifyReceiver()
    made: list[SdDaemon] = []

    def start() -> SdDaemon:
        d = SdDaemon(tmp_path, bus=session_bus.address, notify=receiver.path,
                     watchdog_usec=None).start()
        made.append(d)
        receiver.wait_first("READY=1", 15)  # sd_notify: the event that it is up
        monkeypatch.setenv("ATTUNED_RUNTIME_DIR", str(d.runtime_dir))
        monkeypatch.setenv("ATTUNED_STATE_DIR", str(d.state_dir))
        return d

    yield start
    for d in made:
        d.cleanup()
    receiver.close()


def test_everything_in_place_with_a_running_daemon_exits_0(
        monkeypatch: pytest.MonkeyPatch, session_bus: DBusDaemon,
        notification_server: NotificationServer, daemon: Callable[[], SdDaemon],
        exe: Path) -> None:
    d = daemon()
    install(False, FakeSystemctl())
    manager = FakeManager({"DBUS_SESSION_BUS_ADDRESS": session_bus.address}, service="active")
    result = doctor_run(monkeypatch, bus=session_bus.address, config=d.config, runner=manager)
    daemon_line = line(result, "daemon")
    assert daemon_line[0].startswith(head(
        "✓", "daemon", f"answering at {d.control_socket}; next: evening at "))
    assert line(result, "history") == [
        head("✓", "history", f"{d.state_dir / 'history.db'}: healthy, 0 nudges")]
    [presence] = line(result, "presence")  # its words: tests/test_presence_daemon.py
    assert presence.startswith(head("✓", "presence", ""))
    assert presence.endswith(", as the daemon believes")
    marks = [text[0] for text in result.stdout.splitlines()[:-2] if not text.startswith(" ")]
    assert marks == ["✓"] * 10, result.stdout
    assert result.stdout.endswith("\nEverything attuned needs works.\n")
    assert result.exit_code == 0


def test_a_daemon_reading_another_schedule_is_a_warning(
        monkeypatch: pytest.MonkeyPatch, config: Path, daemon: Callable[[], SdDaemon]) -> None:
    d = daemon()
    result = doctor_run(monkeypatch, bus=None, config=config)
    first = line(result, "daemon")[0]
    assert first.startswith("! daemon ")
    assert first.endswith(f"; it reads {d.config}, not {config}")


def test_no_daemon_is_a_warning_with_how_to_start_it(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path) -> None:
    sock = home / "runtime" / "attuned" / "control.sock"
    result = doctor_run(monkeypatch, bus=None, config=config)
    assert line(result, "daemon") == [
        head("!", "daemon", f"not running (nothing answers at {sock})"),
        "fix: `systemctl --user start attuned` (or `attuned service install --now`), or "
        "`attuned run` in a terminal",
    ]
    assert result.exit_code == 0


def test_paused_notifications_are_a_warning_that_says_what_waits(
        monkeypatch: pytest.MonkeyPatch, session_bus: DBusDaemon, daemons: Daemons) -> None:
    with NotificationServer(session_bus.address, dunst=True) as server:
        server.set_paused(True)
        d = daemons(bus=session_bus.address, config_text=settings() + practice(
            "look-up", title="Look up", once=due_in(2), extra='blocked = "defer"')).start()
        d.wait_for_log(r"INFO attuned: held look-up", 10)
        monkeypatch.setenv("ATTUNED_RUNTIME_DIR", str(d.runtime_dir))
        monkeypatch.setenv("ATTUNED_STATE_DIR", str(d.state_dir))
        result = doctor_run(monkeypatch, bus=session_bus.address, config=d.config)
        assert line(result, "do-not-disturb") == [
            head("!", "do-not-disturb", "notifications are paused on your desktop: 1 nudge "
                 "held"),
            "fix: resume notifications on your desktop; 1 nudge waits"]
        assert result.exit_code == 0  # a warning: attuned works
        server.set_paused(False)
        server.wait_for_notify(1, 10)
        d.wait_for_log(r"INFO attuned: released held look-up", 5)
        result = doctor_run(monkeypatch, bus=session_bus.address, config=d.config)
        assert "do-not-disturb" not in result.stdout
        assert d.stop() == 0


# ---------------------------------------------------------------- the library and format


def test_checks_run_without_the_cli_and_say_which_are_needed(
        config: Path, tmp_path: Path) -> None:
    results = doctor.run_checks(doctor.Inputs(
        config=config, history_db=tmp_path / "none.db", control_socket=tmp_path / "no.sock",
        environ={}, runner=FakeSystemctl(enabled="not-found"), platform="linux",
        system_zone=lambda: __import__("zoneinfo").ZoneInfo("UTC")))
    assert [(r.name, r.level) for r in results] == [
        ("schedule", "ok"), ("session bus", "warn"), ("notifications", "warn"),
        ("service", "warn"), ("daemon", "warn"), ("history", "ok"), ("time zone", "ok")]
    assert doctor.needed_ok(results)
    assert not doctor.needed_ok([*results, doctor.CheckResult("x", False, "broken")])


def test_on_macos_notifications_are_plyer_without_buttons(config: Path) -> None:
    [result] = doctor.check_notifications(doctor.Inputs(config=config, platform="darwin"))
    assert (result.level, result.detail, result.fix) == (
        "warn", "shown through plyer: no Done/Snooze/Skip buttons on this system",
        "answer nudges from a terminal: `attuned done|snooze|skip`")


def test_marks_fall_back_to_ascii_on_a_terminal_that_cannot_show_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    marks = cli_service._marks()
    assert marks == {"ok": "ok", "warn": "!!", "fail": "XX"}
    lines = format_report([doctor.CheckResult("history", False, "bad", "restart")], marks)
    assert lines == ["XX history         bad", "                   fix: restart", "",
                     "1 thing attuned needs is broken (XX above)."]
    "\n".join(lines).encode("ascii")



def test_no_daemon_and_no_user_manager_never_suggests_systemctl(
        monkeypatch: pytest.MonkeyPatch, config: Path, home: Path) -> None:
    no_manager = FakeSystemctl(fail={SHOW: "Failed to connect to bus: No medium found"})
    result = doctor_run(monkeypatch, bus=None, config=config, runner=no_manager)
    assert line(result, "daemon")[-1] == (
        "fix: `attuned run` in a terminal (no user manager answers here; `attuned service "
        "install --now` sets up an autostart entry for your desktop session)")
    assert "systemctl --user start" not in result.stdout
