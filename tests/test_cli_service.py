"""`attuned service install|uninstall|status|logs` through the real CLI (CliRunner).

`systemctl --user` is stood in for by FakeSystemctl (tests/test_install.py), for exact
output in each case; a real user manager runs them in tests/test_user_manager_*.py. The
unit files are really written to the test's $XDG_CONFIG_HOME, the missing-systemd case runs
the real `run_command` against a PATH without systemctl, and `logs` stops at the exec
(a recording stand-in for os.execvp: exec would replace the test process).
"""

from __future__ import annotations

import plistlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_install import (
    ADD_WANTS,
    DISABLE,
    ENABLE,
    GRAPHICAL,
    IS_ACTIVE,
    JOURNAL_PROBE,
    RELOAD,
    RESET,
    RESTART,
    SANDBOX_PROBE,
    SHOW,
    FakeLaunchctl,
    FakeSystemctl,
    fake_attuned,
)

from attuned.cli import service as cli_service
from attuned.cli.root import cli
from attuned.cli.service import Deps
from attuned.system.install import GRAPHICAL_SESSION_HINT, UNIT_NAME, render_unit, run_command


@pytest.fixture
def exe(isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This attuned, as the console script pipx would put in ~/.local/bin."""
    script = fake_attuned(isolated_dirs / ".local" / "bin")
    monkeypatch.setattr(sys, "argv", [str(script), "service"])
    return script


@pytest.fixture
def unit(isolated_dirs: Path) -> Path:
    return isolated_dirs / "config" / "systemd" / "user" / UNIT_NAME


def write_old_unit(unit: Path) -> None:
    """The unit an install of another attuned (in /opt/old) left behind."""
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/opt/old/attuned run\n")


def use(monkeypatch: pytest.MonkeyPatch, **deps: object) -> None:
    monkeypatch.setattr(cli_service, "DEPS", Deps(**deps))  # type: ignore[arg-type]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ran(*commands: tuple[str, ...]) -> str:
    return "Ran:\n" + "".join(f"  {' '.join(c)}\n" for c in commands)


@pytest.fixture
def face(isolated_dirs: Path) -> str:
    """The line install prints for the desktop entry and the icon it wrote."""
    data = isolated_dirs / "data"
    return (f"Wrote {data}/applications/attuned.desktop and the icon in "
            f"{data}/icons/hicolor (16x16 to 256x256, scalable)\n")


# ---------------------------------------------------------------- install


def test_install_prints_the_unit_its_exec_start_and_the_commands_run(
        exe: Path, unit: Path, face: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSystemctl()
    use(monkeypatch, runner=fake)
    result = invoke("service", "install")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Wrote {unit}\n"
        f"  ExecStart={exe} run\n"
        + face
        + ran(SANDBOX_PROBE, RELOAD, ENABLE, GRAPHICAL, IS_ACTIVE)
        + "attuned starts at your next login; to start it now: "
          "systemctl --user start attuned.service\n")
    assert unit.read_text() == render_unit(f"{exe} run", private_users=True)
    # Asked once whether a manager answers.
    assert fake.calls == [SHOW, SANDBOX_PROBE, RELOAD, ENABLE, GRAPHICAL, IS_ACTIVE]


def test_install_says_when_the_sandbox_cannot_be_used(
        exe: Path, unit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, runner=FakeSystemctl(user_namespaces=False))
    result = invoke("service", "install")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        "\nThe sandbox is off: your user service manager could not start a unit with "
        'PrivateUsers=yes (See "systemctl --user status run-u7.service" and "journalctl '
        '--user -xeu run-u7.service" for details.), and systemd 252 applies ProtectSystem= '
        "and ProtectHome= to a user service only with it. attuned runs without them.\n")
    assert unit.read_text() == render_unit(f"{exe} run")


def test_install_now_replacing_an_old_unit_names_the_backup_and_gives_the_session_hint(
        exe: Path, unit: Path, face: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write_old_unit(unit)
    use(monkeypatch, runner=FakeSystemctl(graphical="inactive", service="active"))
    result = invoke("service", "install", "--now")
    assert result.exit_code == 0, result.output
    backup = unit.with_name("attuned.service.bak")
    assert result.stdout == (
        f"Wrote {unit}\n"
        f"  ExecStart={exe} run\n"
        f"Kept the previous unit as {backup}\n"
        + face
        + ran(SANDBOX_PROBE, RELOAD, ENABLE, GRAPHICAL, ADD_WANTS, RESTART)
        + "attuned is running now, and starts again at every login.\n"
        "\n" + GRAPHICAL_SESSION_HINT + "\n")
    assert backup.read_text() == "[Service]\nExecStart=/opt/old/attuned run\n"
    assert "dbus-update-activation-environment --systemd" in result.stdout


def test_install_over_a_running_older_daemon_says_to_restart(
        exe: Path, unit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_old_unit(unit)
    use(monkeypatch, runner=FakeSystemctl(service="active"))
    result = invoke("service", "install")
    assert result.exit_code == 0
    assert result.stdout.endswith(
        "attuned is still running the previous version; restart it to use this one: "
        "systemctl --user restart attuned.service\n")


def test_installing_again_says_the_unit_is_up_to_date(
        exe: Path, unit: Path, face: str, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, runner=FakeSystemctl())
    assert invoke("service", "install").exit_code == 0
    before = unit.stat().st_mtime_ns
    result = invoke("service", "install")
    assert result.exit_code == 0
    assert result.stdout.startswith(
        f"The unit at {unit} is already up to date\n  ExecStart={exe} run\n"
        + face.replace("Wrote ", "Up to date: ")
        + ran(SANDBOX_PROBE, RELOAD, ENABLE, GRAPHICAL))
    assert unit.stat().st_mtime_ns == before
    assert not unit.with_name("attuned.service.bak").exists()


@pytest.fixture
def no_systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH without systemctl: the real run_command then finds no such program."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    use(monkeypatch, runner=run_command)


def test_without_systemd_install_writes_an_autostart_entry_and_says_why(
        exe: Path, unit: Path, face: str, isolated_dirs: Path, no_systemctl: None) -> None:
    entry = isolated_dirs / "config" / "autostart" / "attuned.desktop"
    log = isolated_dirs / "state" / "attuned" / "attuned.log"
    result = invoke("service", "install")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "systemd is not available here: the systemctl command was not found.\n"
        "So your desktop session starts attuned instead, from an XDG autostart entry.\n"
        f"Wrote {entry}\n"
        f'  Exec=/bin/sh -c "exec {exe} run >>{log} 2>&1"\n'
        + face
        + f"Its log: {log} (`attuned service logs`)\n"
        "attuned starts with your next desktop session; to start it now: "
        "attuned service install --now\n")
    assert not unit.exists()
    status = invoke("service", "status")
    assert status.stdout == (
        f"installed: yes ({entry}, an XDG autostart entry)\n"
        "enabled:   enabled\n"
        "running:   inactive\n"
        f'program:   /bin/sh -c "exec {exe} run >>{log} 2>&1" (this attuned)\n'
        f"\nits log: {log}\n")
    removed = invoke("service", "uninstall")
    assert removed.exit_code == 0
    assert removed.stdout.splitlines()[:3] == [
        f"Removed {entry}", f"Removed {isolated_dirs}/data/applications/attuned.desktop",
        f"Removed {isolated_dirs}/data/icons/hicolor/16x16/apps/attuned.png"]
    assert removed.stdout.splitlines()[-2:] == [
        "An attuned it started keeps running until your session ends.",
        "Your schedule and history are kept; `attuned run` still works by hand."]
    assert not entry.exists()
    assert invoke("service", "uninstall").stdout == (
        f"The service is not installed (no {entry}); nothing to remove.\n")


def test_autostart_asked_for_where_systemd_runs_and_the_unit_taking_its_place_later(
        exe: Path, unit: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSystemctl()
    started: list[tuple[str, ...]] = []
    use(monkeypatch, runner=fake, start=lambda argv: started.append(tuple(argv)))
    entry = isolated_dirs / "config" / "autostart" / "attuned.desktop"
    log = isolated_dirs / "state" / "attuned" / "attuned.log"
    result = invoke("service", "install", "--autostart", "--now")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Wrote {entry}"
    assert lines[-4:] == [
        "Ran:", f"  /bin/sh -c 'exec {exe} run >>{log} 2>&1'",
        f"Its log: {log} (`attuned service logs`)",
        "attuned is running now, and starts again with every desktop session."]
    assert started == [("/bin/sh", "-c", f"exec {exe} run >>{log} 2>&1")]
    assert fake.calls == [] and not unit.exists()  # systemd not even asked
    # The service, being the autostart entry, is what status and logs look at.
    assert invoke("service", "status").stdout.startswith(
        f"installed: yes ({entry}, an XDG autostart entry)\n")
    execs = RecordingExec()
    use(monkeypatch, runner=fake, execvp=execs, which=lambda name: f"/usr/bin/{name}")
    r = invoke("service", "logs")
    assert (r.exit_code, r.stderr) == (1, f"attuned: no log yet at {log}: the autostart "
                                          "entry's daemon has not run (`attuned service "
                                          "install --now` starts it).\n")
    log.write_text("started\n")
    assert invoke("service", "logs", "-f").exit_code == 0
    assert execs.calls == [("tail", ["tail", "-f", str(log)])]
    # Installed as a unit later: the entry goes, or a second daemon would race it at login.
    result = invoke("service", "install")
    assert f"Removed {entry}: the unit starts attuned now\n" in result.stdout
    assert unit.exists() and not entry.exists()


def test_a_failing_step_is_reported_once_without_a_traceback(
        exe: Path, unit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, runner=FakeSystemctl(fail={ENABLE: "Failed to enable unit: Access denied\n"}))
    result = invoke("service", "install")
    assert result.exit_code == 1
    assert result.stderr == (
        "attuned: `systemctl --user enable attuned.service` failed (exit 1): "
        "Failed to enable unit: Access denied\n"
        f"The unit file is in place at {unit}; fix the problem above and "
        "run `attuned service install` again.\n")
    assert "Traceback" not in result.output


def test_install_on_macos_writes_a_launch_agent(
        exe: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeLaunchctl()
    use(monkeypatch, runner=fake, platform="darwin")
    result = invoke("service", "install")
    assert result.exit_code == 0, result.output
    agent = isolated_dirs / "Library" / "LaunchAgents" / "org.attuned.daemon.plist"
    assert result.stdout == (
        f"Wrote {agent}\n"
        f"  ProgramArguments: {exe} run\n"
        "attuned starts at your next login; to start it now (or restart an older one): "
        "attuned service install --now\n")
    assert plistlib.loads(agent.read_bytes())["ProgramArguments"] == [str(exe), "run"]
    assert fake.calls == []  # no systemctl asked on macOS, and nothing loaded without --now


# ---------------------------------------------------------------- uninstall


def test_uninstall_removes_the_unit_keeps_config_and_history_and_lists_commands(
        exe: Path, unit: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, runner=FakeSystemctl())
    assert invoke("service", "install").exit_code == 0
    config = isolated_dirs / "config" / "attuned" / "config.toml"
    config.write_text("# mine\n")
    fake = FakeSystemctl(service="active")
    use(monkeypatch, runner=fake)
    result = invoke("service", "uninstall")
    assert result.exit_code == 0, result.output
    data = isolated_dirs / "data"
    icons = [f"Removed {data}/icons/hicolor/{n}x{n}/apps/attuned.png\n"
             for n in (16, 32, 48, 64, 128, 256)]
    assert result.stdout == (
        f"Removed {unit}\n"
        f"Removed {data}/applications/attuned.desktop\n" + "".join(icons)
        + f"Removed {data}/icons/hicolor/scalable/apps/attuned.svg\n"
        + ran(DISABLE, RELOAD, RESET)
        + "Your schedule and history are kept; `attuned run` still works by hand.\n")
    assert not unit.exists()
    assert config.read_text() == "# mine\n"
    assert fake.calls == [SHOW, DISABLE, RELOAD, RESET]


def test_uninstall_when_not_installed_says_there_is_nothing_to_remove(
        unit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSystemctl()
    use(monkeypatch, runner=fake)
    result = invoke("service", "uninstall")
    assert result.exit_code == 0
    assert result.stdout == f"The service is not installed (no {unit}); nothing to remove.\n"
    assert fake.calls == [SHOW]


# ---------------------------------------------------------------- status


def test_status_of_a_running_service_installed_from_this_attuned(
        exe: Path, unit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, runner=FakeSystemctl())
    invoke("service", "install")
    use(monkeypatch, runner=FakeSystemctl(service="active"))
    result = invoke("service", "status")
    assert result.exit_code == 0
    assert result.stdout == (
        f"installed: yes ({unit})\n"
        "enabled:   enabled\n"
        "running:   active\n"
        f"program:   {exe} run (this attuned)\n"
        "\n○ attuned.service - attuned\n")


def test_status_of_a_unit_left_by_an_old_install(
        exe: Path, unit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_old_unit(unit)
    use(monkeypatch, runner=FakeSystemctl(enabled="disabled"))
    result = invoke("service", "status")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:5] == [
        "enabled:   disabled",
        "running:   inactive",
        "program:   /opt/old/attuned run",
        f"           but this attuned is {exe} run; `attuned service install` points the "
        "service here",
    ]


def test_status_when_not_installed(unit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, runner=FakeSystemctl(enabled="not-found"))
    result = invoke("service", "status")
    assert result.exit_code == 0
    assert result.stdout == (f"installed: no ({unit})\n"
                             "Install it with `attuned service install --now`.\n")


# ---------------------------------------------------------------- logs


class RecordingExec:
    """Stands in for os.execvp, which would replace the test process."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, file: str, args: Sequence[str]) -> None:
        self.calls.append((file, list(args)))


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingExec]:
    rec = RecordingExec()
    use(monkeypatch, execvp=rec, which=lambda name: f"/usr/bin/{name}", runner=FakeSystemctl())
    yield rec


@pytest.mark.parametrize(("args", "argv"), [
    ((), ["journalctl", "--user", "-u", "attuned.service"]),
    (("-f",), ["journalctl", "--user", "-u", "attuned.service", "-f"]),
    (("--follow",), ["journalctl", "--user", "-u", "attuned.service", "-f"]),
])
def test_logs_execs_journalctl_for_the_unit(
        args: tuple[str, ...], argv: list[str], execs: RecordingExec) -> None:
    result = invoke("service", "logs", *args)
    assert result.exit_code == 0
    assert execs.calls == [("journalctl", argv)]


def test_logs_with_no_journal_entries_says_so_in_its_words(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rec = RecordingExec()
    runner = FakeSystemctl(journal="")
    use(monkeypatch, execvp=rec, which=lambda name: f"/usr/bin/{name}", runner=runner)
    result = invoke("service", "logs")
    assert result.exit_code == 1
    assert result.stderr == (
        "attuned: the journal has no entries for the service: it has not run under systemd "
        "here. Start it with `attuned service install --now`, or run `attuned run` yourself "
        "(its log goes to that terminal).\n")
    assert rec.calls == [] and runner.calls[-1] == JOURNAL_PROBE


def test_real_journalctl_prints_nothing_for_a_unit_with_no_entries() -> None:
    # The fact the probe above rests on: with -q, no "-- No entries --" and exit 0.
    if run_command(["journalctl", "--version"]).returncode != 0:
        pytest.skip("no journalctl on this machine")
    probe = run_command(["journalctl", "--user", "-u", "attuned-never-ran-here.service",
                         "-q", "-n", "1", "--no-pager"])
    assert (probe.returncode, probe.stdout) == (0, "")


def test_logs_without_journalctl_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = RecordingExec()
    use(monkeypatch, execvp=rec, which=lambda name: None, runner=FakeSystemctl())
    result = invoke("service", "logs")
    assert result.exit_code == 1
    assert result.stderr == (
        "attuned: journalctl is not available here, so the service's log cannot be shown. "
        "When attuned runs by hand (`attuned run`), its log goes to that terminal.\n")
    assert rec.calls == []


def test_logs_on_macos_tails_the_agent_log(
        isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = RecordingExec()
    use(monkeypatch, execvp=rec, which=lambda name: f"/usr/bin/{name}", platform="darwin")
    log = isolated_dirs / "Library" / "Logs" / "attuned.log"
    result = invoke("service", "logs", "-f")
    assert result.exit_code == 1
    assert result.stderr == (f"attuned: no log yet at {log}: the agent has not run "
                             "(`attuned service install --now` starts it).\n")
    log.parent.mkdir(parents=True)
    log.write_text("started\n")
    assert invoke("service", "logs", "-f").exit_code == 0
    assert rec.calls == [("tail", ["tail", "-f", str(log)])]


# ---------------------------------------------------------------- help


@pytest.mark.parametrize("args", [
    ("service",), ("service", "install"), ("service", "uninstall"), ("service", "status"),
    ("service", "logs"), ("doctor",),
])
def test_every_command_has_an_example_in_its_help(args: tuple[str, ...]) -> None:
    result = invoke(*args, "--help")
    assert result.exit_code == 0
    example = result.stdout.split("Example:\n", 1)[1].splitlines()[0].strip()
    assert example.startswith("attuned ")
