"""`attuned service install|uninstall|status|logs`: files written, paths, and commands run.

`systemctl --user` is stood in for by FakeSystemctl here, so that each case (a failing
step, a session without graphical-session.target, no user namespaces) is quick and
exact; the real thing, a systemd user manager for a throwaway user, runs the same
commands in tests/test_user_manager_*.py (as root only). The unit itself goes through
systemd-analyze in test_unit_file.py, and the real systemctl is asked below, where it
reports that no manager is reachable. launchctl does not exist on Linux, so
FakeLaunchctl stands in for it the same way.
"""

from __future__ import annotations

import os
import plistlib
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from attuned.system.install import (
    GRAPHICAL_SESSION_HINT,
    SANDBOX_PROBE,
    UPDATE_ENVIRONMENT,
    CommandResult,
    ServiceError,
    executable_argv,
    install,
    launchd_agent_path,
    logs_command,
    render_launchd_plist,
    render_unit,
    run_command,
    status,
    systemd_available,
    systemd_problem,
    uninstall,
    unit_path,
    unit_template,
)

SHOW = ("systemctl", "--user", "show", "--property=Version")
RELOAD = ("systemctl", "--user", "daemon-reload")
ENABLE = ("systemctl", "--user", "enable", "attuned.service")
RESTART = ("systemctl", "--user", "restart", "attuned.service")
IS_ACTIVE = ("systemctl", "--user", "is-active", "attuned.service")
GRAPHICAL = ("systemctl", "--user", "is-active", "graphical-session.target")
ADD_WANTS = ("systemctl", "--user", "add-wants", "default.target", "attuned.service")
DISABLE = ("systemctl", "--user", "disable", "--now", "attuned.service")
RESET = ("systemctl", "--user", "reset-failed", "attuned.service")


JOURNAL_PROBE = ("journalctl", "--user", "-u", "attuned.service", "-q", "-n", "1",
                 "--no-pager")


class FakeSystemctl:
    """A recording stand-in for `systemctl --user` (see the module docstring for why),
    answering as systemd 252 does: is-active prints the state and exits 3 unless active."""

    def __init__(self, *, graphical: str = "active", service: str = "inactive",
                 enabled: str = "enabled", user_namespaces: bool = True,
                 wanted_by: tuple[str, ...] = (),
                 fail: dict[tuple[str, ...], str] | None = None,
                 journal: str = "Dec 01 07:30:00 host attuned[812]: nudged breakfast\n",
                 ) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.journal = journal  # what `journalctl --user -u attuned.service -q` prints
        self.graphical = graphical
        self.wanted_by = wanted_by  # the targets whose Wants= list the service
        self.service = service
        self.enabled = enabled
        self.user_namespaces = user_namespaces
        self.fail = fail or {}

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        call = tuple(argv)
        self.calls.append(call)
        if call == SANDBOX_PROBE:
            # What systemd-run 252 says when the unit fails to set up its namespace.
            return CommandResult(0, "", "") if self.user_namespaces else CommandResult(
                1, "", "Job for run-u7.service failed because the control process exited "
                "with error code.\nSee \"systemctl --user status run-u7.service\" and "
                "\"journalctl --user -xeu run-u7.service\" for details.\n")
        if call == JOURNAL_PROBE:
            return CommandResult(0, self.journal, "")
        assert call[:2] == ("systemctl", "--user"), call
        if call in self.fail:
            return CommandResult(1, "", self.fail[call])
        match call[2:]:
            case ("show", "--property=Version"):
                return CommandResult(0, "Version=252.38-1~deb12u1\n", "")
            case ("is-active", "graphical-session.target"):
                return CommandResult(0 if self.graphical == "active" else 3,
                                     self.graphical + "\n", "")
            case ("is-active", "attuned.service"):
                return CommandResult(0 if self.service == "active" else 3,
                                     self.service + "\n", "")
            case ("is-enabled", "attuned.service"):
                return CommandResult(0 if self.enabled == "enabled" else 1,
                                     self.enabled + "\n", "")
            case ("show", target, "--property=Wants", "--value"):
                wants = ["dbus.socket", *(["attuned.service"] if target in self.wanted_by
                                          else [])]
                return CommandResult(0, " ".join(wants) + "\n", "")
            case ("status", *_):
                return CommandResult(3, "○ attuned.service - attuned\n", "")
            case _:
                return CommandResult(0, "", "")


def fake_attuned(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "attuned"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def exe(isolated_dirs: Path) -> Path:
    return fake_attuned(isolated_dirs / ".local" / "bin")


# ---------------------------------------------------------------- which attuned


def test_console_script_is_used_as_invoked_not_resolved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pipx and uv link ~/.local/bin/attuned into an environment they may rebuild; the
    # link stays valid, the resolved path may not.
    real = fake_attuned(tmp_path / "venvs" / "attuned" / "bin")
    link_dir = tmp_path / "bin"
    link_dir.mkdir()
    (link_dir / "attuned").symlink_to(real)
    assert executable_argv(str(link_dir / "attuned")) == (str(link_dir / "attuned"),)
    monkeypatch.chdir(link_dir)
    assert executable_argv("./attuned") == (str(link_dir / "attuned"),)


def test_python_dash_m_runs_as_python_dash_m() -> None:
    main = str(Path(__file__).resolve().parent.parent / "attuned" / "__main__.py")
    assert executable_argv(main, which=lambda _: "/usr/bin/attuned") == (
        os.path.abspath(sys.executable), "-m", "attuned")


def test_otherwise_the_attuned_on_path_then_python_dash_m() -> None:
    assert executable_argv("/usr/bin/pytest", which=lambda _: "/opt/x/bin/attuned") == (
        "/opt/x/bin/attuned",)
    assert executable_argv("/usr/bin/pytest", which=lambda _: None) == (
        os.path.abspath(sys.executable), "-m", "attuned")


# ---------------------------------------------------------------- paths


def test_unit_path_honours_xdg_config_home(isolated_dirs: Path) -> None:
    assert unit_path() == isolated_dirs / "config" / "systemd" / "user" / "attuned.service"
    home = isolated_dirs
    assert unit_path({"HOME": str(home)}) == home / ".config/systemd/user/attuned.service"
    # A relative XDG_CONFIG_HOME is invalid per the XDG spec and ignored.
    assert unit_path({"HOME": str(home), "XDG_CONFIG_HOME": "cfg"}) == \
        home / ".config/systemd/user/attuned.service"


# ---------------------------------------------------------------- install


def test_install_writes_the_unit_for_this_executable_and_enables_it(
        isolated_dirs: Path, exe: Path) -> None:
    fake = FakeSystemctl()
    result = install(False, fake, argv=[str(exe)])
    path = isolated_dirs / "config" / "systemd" / "user" / "attuned.service"
    assert result.path == path
    assert path.read_text() == render_unit(f"{exe} run", private_users=True)
    assert f"\nExecStart={exe} run\n" in path.read_text()
    assert "\nPrivateUsers=yes\nProtectSystem=strict\n" in path.read_text()
    assert path.read_text().replace(f"ExecStart={exe} run", "ExecStart=%h/.local/bin/attuned run") \
        .replace("\nPrivateUsers=yes\n", "\n") == unit_template()
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert fake.calls == [SHOW, SANDBOX_PROBE, RELOAD, ENABLE, GRAPHICAL, IS_ACTIVE]
    assert result.commands == (SANDBOX_PROBE, RELOAD, ENABLE, GRAPHICAL, IS_ACTIVE)
    assert (result.manager, result.exec_start, result.changed, result.backup) == (
        "systemd", f"{exe} run", True, None)
    assert (result.started, result.restart_needed, result.hint) == (False, False, None)
    assert result.sandbox_off is None
    # No temporary files left beside the unit.
    assert sorted(p.name for p in path.parent.iterdir()) == ["attuned.service"]


def test_install_creates_the_directories_the_sandbox_keeps_writable(
        isolated_dirs: Path, exe: Path) -> None:
    install(False, FakeSystemctl(), argv=[str(exe)])
    assert (isolated_dirs / "config" / "attuned").is_dir()
    state = isolated_dirs / ".local" / "state" / "attuned"
    assert oct(state.stat().st_mode & 0o777) == "0o700"


def test_install_now_restarts_so_a_running_older_daemon_is_replaced(exe: Path) -> None:
    fake = FakeSystemctl(service="active")
    result = install(True, fake, argv=[str(exe)])
    assert fake.calls == [SHOW, SANDBOX_PROBE, RELOAD, ENABLE, GRAPHICAL, RESTART]
    assert (result.started, result.restart_needed) == (True, False)


def test_install_without_now_says_when_the_running_daemon_is_older(exe: Path) -> None:
    result = install(False, FakeSystemctl(service="active"), argv=[str(exe)])
    assert result.restart_needed


def test_reinstalling_the_same_unit_changes_nothing(exe: Path) -> None:
    install(False, FakeSystemctl(), argv=[str(exe)])
    fake = FakeSystemctl(service="active")
    result = install(False, fake, argv=[str(exe)])
    assert (result.changed, result.backup, result.restart_needed) == (False, None, False)
    assert fake.calls == [SHOW, SANDBOX_PROBE, RELOAD, ENABLE, GRAPHICAL]


def test_a_different_existing_unit_is_kept_as_a_backup(isolated_dirs: Path, exe: Path) -> None:
    path = unit_path()
    path.parent.mkdir(parents=True)
    path.write_text("[Service]\nExecStart=/old/attuned run\n# my edits\n")
    result = install(False, FakeSystemctl(), argv=[str(exe)])
    assert result.backup == path.with_name("attuned.service.bak")
    assert result.backup.read_text() == "[Service]\nExecStart=/old/attuned run\n# my edits\n"
    # A second different unit does not overwrite the first backup.
    path.write_text("[Service]\nExecStart=/older/attuned run\n")
    second = install(False, FakeSystemctl(), argv=[str(exe)])
    assert second.backup == path.with_name("attuned.service.bak.1")
    assert second.backup.read_text() == "[Service]\nExecStart=/older/attuned run\n"
    assert path.with_name("attuned.service.bak").read_text().endswith("# my edits\n")


def test_where_user_namespaces_fail_the_unit_goes_without_private_users_and_says_why(
        exe: Path) -> None:
    # With PrivateUsers=yes such a user manager would not start the service at all.
    result = install(True, FakeSystemctl(user_namespaces=False), argv=[str(exe)])
    text = unit_path().read_text()
    assert text == render_unit(f"{exe} run", private_users=False)
    assert "\nPrivateUsers=" not in text
    assert result.sandbox_off == (
        'See "systemctl --user status run-u7.service" and "journalctl --user -xeu '
        'run-u7.service" for details.')


def test_a_session_without_graphical_session_target_gets_the_service_at_login_too(
        exe: Path) -> None:
    # Enabled only into graphical-session.target, it would stay stopped after every later
    # login of such a session: default.target wants it as well.
    fake = FakeSystemctl(graphical="inactive")
    result = install(True, fake, argv=[str(exe)])
    assert fake.calls == [SHOW, SANDBOX_PROBE, RELOAD, ENABLE, GRAPHICAL, ADD_WANTS, RESTART]
    assert result.hint == GRAPHICAL_SESSION_HINT
    assert GRAPHICAL_SESSION_HINT.startswith(
        "Your session has not started graphical-session.target, which the service starts "
        "with;\nplain window managers (i3, sway, openbox, ...) usually never start it. So "
        "attuned now\nalso starts with your login (default.target), like this one.\n")
    lines = [line.strip() for line in GRAPHICAL_SESSION_HINT.splitlines()]
    assert UPDATE_ENVIRONMENT == ("dbus-update-activation-environment --systemd "
                                  "DISPLAY WAYLAND_DISPLAY XDG_CURRENT_DESKTOP "
                                  "DBUS_SESSION_BUS_ADDRESS")
    assert UPDATE_ENVIRONMENT in lines


def test_without_systemd_install_writes_an_autostart_entry_instead(
        exe: Path, isolated_dirs: Path) -> None:
    def no_manager(argv: Sequence[str]) -> CommandResult:
        return CommandResult(1, "", "Failed to connect to bus: No medium found\n")

    started: list[tuple[str, ...]] = []
    result = install(True, no_manager, argv=[str(exe)], start=lambda a: started.append(tuple(a)))
    assert result.hint == (
        "systemd is not available here: `systemctl --user` could not reach your user "
        "service manager (Failed to connect to bus: No medium found).\n"
        "attuned can still start with your desktop session without it: "
        "`attuned service install` writes an XDG autostart entry for that.")
    entry = isolated_dirs / "config" / "autostart" / "attuned.desktop"
    log = isolated_dirs / "state" / "attuned" / "attuned.log"
    assert (result.manager, result.path, result.log, result.started) == (
        "autostart", entry, log, True)
    assert started == [("/bin/sh", "-c", f"exec {exe} run >>{log} 2>&1")]
    assert result.commands == tuple(started)
    assert not unit_path().exists()


def test_a_failing_systemctl_step_is_reported_with_its_message(exe: Path) -> None:
    fake = FakeSystemctl(fail={ENABLE: "Failed to enable unit: Access denied\n"})
    with pytest.raises(ServiceError) as caught:
        install(True, fake, argv=[str(exe)])
    assert str(caught.value) == (
        "`systemctl --user enable attuned.service` failed (exit 1): Failed to enable unit: "
        f"Access denied\nThe unit file is in place at {unit_path()}; fix the problem above "
        "and run `attuned service install` again.")
    assert fake.calls == [SHOW, SANDBOX_PROBE, RELOAD, ENABLE]


# ---------------------------------------------------------------- uninstall


def test_uninstall_disables_removes_and_reloads_but_keeps_config_and_history(
        isolated_dirs: Path, exe: Path) -> None:
    install(True, FakeSystemctl(), argv=[str(exe)])
    config = isolated_dirs / "config" / "attuned" / "config.toml"
    config.write_text("# my schedule\n")
    history = isolated_dirs / "state" / "attuned" / "history.db"
    history.parent.mkdir(parents=True)
    history.write_bytes(b"SQLite format 3\x00")
    fake = FakeSystemctl(service="active")
    result = uninstall(fake)
    assert fake.calls == [SHOW, DISABLE, RELOAD, RESET]
    assert result.commands == (DISABLE, RELOAD, RESET)
    assert (result.removed, result.removed_links) == (True, ())
    assert not unit_path().exists()
    # The desktop entry and the icon went with it, and nothing else of those folders.
    data = isolated_dirs / "data"
    assert result.files == (data / "applications" / "attuned.desktop",
                            *(data / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "attuned.png"
                              for n in (16, 32, 48, 64, 128, 256)),
                            data / "icons" / "hicolor" / "scalable" / "apps" / "attuned.svg")
    assert not any(p.is_file() for p in data.rglob("*"))
    assert config.read_text() == "# my schedule\n"
    assert history.read_bytes() == b"SQLite format 3\x00"


def test_uninstall_cleans_links_left_pointing_at_a_deleted_unit(isolated_dirs: Path) -> None:
    # The unit file was deleted by hand; the link from add-wants now dangles.
    wants = unit_path().parent / "default.target.wants"
    wants.mkdir(parents=True)
    (wants / "attuned.service").symlink_to(unit_path())
    fake = FakeSystemctl()
    result = uninstall(fake)
    assert result.removed_links == (wants / "attuned.service",)
    assert not (wants / "attuned.service").is_symlink()
    assert fake.calls == [SHOW, RELOAD, RESET]  # nothing to disable: no unit file


def test_uninstall_when_nothing_is_installed_does_nothing() -> None:
    fake = FakeSystemctl()
    result = uninstall(fake)
    assert (result.removed, result.commands) == (False, ())
    assert fake.calls == [SHOW]


def test_uninstall_stops_at_a_failed_disable_and_keeps_the_unit(exe: Path) -> None:
    install(False, FakeSystemctl(), argv=[str(exe)])
    fake = FakeSystemctl(fail={DISABLE: "Failed to disable unit: Access denied\n"})
    with pytest.raises(ServiceError) as caught:
        uninstall(fake)
    assert str(caught.value) == (
        "`systemctl --user disable --now attuned.service` failed (exit 1): Failed to "
        f"disable unit: Access denied\nNothing was removed; the unit file is still at "
        f"{unit_path()}.")
    assert unit_path().exists()


# ---------------------------------------------------------------- status and logs


def test_status_of_an_installed_unit_pointing_elsewhere(exe: Path) -> None:
    install(False, FakeSystemctl(), argv=["/old/venv/bin/attuned"])
    st = status(FakeSystemctl(service="failed"))
    assert (st.installed, st.enabled, st.active) == (True, "enabled", "failed")
    assert st.exec_start == "/old/venv/bin/attuned run"
    assert not st.points_here  # this test process is not /old/venv/bin/attuned
    assert st.detail == "○ attuned.service - attuned"


def test_status_points_here_when_installed_from_this_attuned() -> None:
    install(False, FakeSystemctl(), argv=list(executable_argv()))
    assert status(FakeSystemctl()).points_here


def test_status_when_not_installed() -> None:
    st = status(FakeSystemctl(enabled="not-found"))
    assert (st.installed, st.enabled, st.exec_start) == (False, "not-found", None)


def test_logs_command() -> None:
    assert logs_command(False) == ["journalctl", "--user", "-u", "attuned.service"]
    assert logs_command(True) == ["journalctl", "--user", "-u", "attuned.service", "-f"]


# ---------------------------------------------------------------- real commands


def test_real_systemctl_without_a_user_manager(
        isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # conftest gives an empty XDG_RUNTIME_DIR and no bus address: no manager to reach.
    assert not (isolated_dirs / "runtime" / "systemd").exists()
    assert not systemd_available(run_command)
    assert systemd_problem(run_command) == (
        "systemd is not available here: `systemctl --user` could not reach your user service "
        "manager (Failed to connect to bus: No such file or directory).\n"
        "attuned can still start with your desktop session without it: "
        "`attuned service install` writes an XDG autostart entry for that.")


def test_run_command_captures_output_and_exit_code() -> None:
    assert run_command(["sh", "-c", "echo out; echo err >&2; exit 3"]) == (3, "out\n", "err\n")


def test_run_command_reports_a_missing_program() -> None:
    assert run_command(["attuned-no-such-program"]) == (
        127, "", "attuned-no-such-program: command not found")
    problem = systemd_problem(lambda argv: run_command(["attuned-no-such-program"]))
    assert problem is not None
    assert problem.startswith(
        "systemd is not available here: the systemctl command was not found.\n")


def test_run_command_gives_up_after_its_timeout() -> None:
    assert run_command(["sleep", "30"], timeout=0.2) == (
        124, "", "sleep did not answer within 0.2 s")


# ---------------------------------------------------------------- macOS


class FakeLaunchctl:
    """A recording stand-in for launchctl, which does not exist on Linux."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        self.calls.append(tuple(argv))
        if argv[1] == "bootout":
            return CommandResult(3, "", "Boot-out failed: 3: No such process\n")
        return CommandResult(0, "", "")


def test_launchd_plist_parses_back(isolated_dirs: Path) -> None:
    agent = plistlib.loads(render_launchd_plist("/Users/me/.local/bin/attuned"))
    assert agent == {
        "Label": "org.attuned.daemon",
        "ProgramArguments": ["/Users/me/.local/bin/attuned", "run"],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ProcessType": "Interactive",
        "StandardOutPath": str(isolated_dirs / "Library" / "Logs" / "attuned.log"),
        "StandardErrorPath": str(isolated_dirs / "Library" / "Logs" / "attuned.log"),
    }


def test_install_on_macos_writes_a_launch_agent_and_bootstraps_it(
        isolated_dirs: Path, exe: Path) -> None:
    fake = FakeLaunchctl()
    result = install(True, fake, argv=[str(exe)], platform="darwin")
    path = isolated_dirs / "Library" / "LaunchAgents" / "org.attuned.daemon.plist"
    assert result.path == path == launchd_agent_path()
    with path.open("rb") as f:
        assert plistlib.load(f)["ProgramArguments"] == [str(exe), "run"]
    uid = os.getuid()
    assert fake.calls == [
        ("launchctl", "bootout", f"gui/{uid}/org.attuned.daemon"),
        ("launchctl", "enable", f"gui/{uid}/org.attuned.daemon"),
        ("launchctl", "bootstrap", f"gui/{uid}", str(path)),
    ]
    assert (isolated_dirs / "Library" / "Logs").is_dir()
    assert not unit_path().exists()

    fake = FakeLaunchctl()
    gone = uninstall(fake, platform="darwin")
    assert gone.removed and not path.exists()
    assert fake.calls == [("launchctl", "bootout", f"gui/{uid}/org.attuned.daemon")]


def test_install_on_macos_without_now_only_writes_the_agent(exe: Path) -> None:
    fake = FakeLaunchctl()
    result = install(False, fake, argv=[str(exe)], platform="darwin")
    assert fake.calls == []
    assert result.path.exists()
    assert logs_command(True, platform="darwin") == [
        "tail", "-f", str(Path(os.environ["HOME"]) / "Library" / "Logs" / "attuned.log")]
