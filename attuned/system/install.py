"""Installing attuned as a user service: a systemd user unit on Linux, a launchd agent on macOS.

The library behind `attuned service install|uninstall|status|logs`. Every outside
command goes through a `Runner`, so the CLI passes `run_command` and tests pass a
recording stand-in. Functions return result objects; they never print. Problems a person
must act on are raised as `ServiceError` with the fix in the message.

Nothing here touches the schedule or the history: uninstall removes only what install
wrote (the unit or autostart entry, the desktop entry and the icon).

The parts, by what they do: attuned.system.runner (outside commands, which attuned),
attuned.system.files (the user's directories, writing files), attuned.system.results,
attuned.system.systemd (the unit), attuned.system.launchd (the agent) and
attuned.system.desktop (the desktop entry, the icon, the autostart entry). Callers import
all of it from here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace

from attuned.system import desktop
from attuned.system.files import environ_of
from attuned.system.launchd import (
    LAUNCHD_LABEL,
    install_launchd,
    launchd_agent_path,
    launchd_log_path,
    render_launchd_plist,
    status_launchd,
    uninstall_launchd,
)
from attuned.system.results import InstallResult, ServiceStatus, UninstallResult
from attuned.system.runner import (
    COMMAND_TIMEOUT,
    CommandResult,
    Runner,
    ServiceError,
    executable_argv,
    run_command,
)
from attuned.system.systemd import (
    DESKTOP_TARGET,
    GRAPHICAL_SESSION_HINT,
    LOGIN_TARGET,
    NO_SANDBOX,
    SANDBOX_PROBE,
    UNIT_NAME,
    UPDATE_ENVIRONMENT,
    exec_start_line,
    graphical_session_active,
    graphical_session_hint,
    install_systemd,
    render_unit,
    sandbox_problem,
    status_systemd,
    systemd_available,
    systemd_problem,
    systemd_quote,
    uninstall_systemd,
    unit_exec_start,
    unit_path,
    unit_template,
    wanted_by,
)

__all__ = [
    "COMMAND_TIMEOUT", "DESKTOP_TARGET", "GRAPHICAL_SESSION_HINT", "LAUNCHD_LABEL",
    "LOGIN_TARGET", "NO_SANDBOX", "SANDBOX_PROBE", "UNIT_NAME", "UPDATE_ENVIRONMENT",
    "CommandResult", "InstallResult", "Runner", "ServiceError", "ServiceStatus",
    "UninstallResult", "environ_of", "exec_start_line", "executable_argv",
    "graphical_session_active", "graphical_session_hint", "install", "launchd_agent_path",
    "launchd_log_path", "logs_command", "render_launchd_plist", "render_unit", "run_command",
    "sandbox_problem", "status", "systemd_available", "systemd_problem", "systemd_quote",
    "uninstall", "unit_exec_start", "unit_path", "unit_template", "uses_autostart",
    "wanted_by",
]


# ---------------------------------------------------------------- entry points


def _is_mac(platform: str | None) -> bool:
    return (sys.platform if platform is None else platform) == "darwin"


def install(
    now: bool,
    runner: Runner,
    *,
    argv: Sequence[str] | None = None,
    platform: str | None = None,
    environ: Mapping[str, str] | None = None,
    autostart: bool = False,
    start: desktop.Starter | None = None,
) -> InstallResult:
    """Install the service for this attuned (`argv` overrides which command it runs),
    enable it to start at login, and with `now` (re)start it. On Linux also the desktop
    entry and icon; where no systemd user manager answers (or with `autostart`), an XDG
    autostart entry instead of the unit (`start` starts it now: tests pass a stand-in)."""
    env = environ_of(environ)
    if _is_mac(platform):
        return install_launchd(now, runner, argv, env)
    problem = None if autostart else systemd_problem(runner)
    if autostart or problem is not None:
        result = desktop.install_autostart(now, argv, env, why=problem, start=start)
    else:
        result = install_systemd(now, runner, argv, env)
        # The unit starts it now: an autostart entry from before would start a second.
        result = replace(result, replaced=desktop.remove_autostart(env))
    changed, files = desktop.install_files(argv, env)
    return replace(result, files=files, files_changed=changed)


def uninstall(
    runner: Runner, *, platform: str | None = None, environ: Mapping[str, str] | None = None,
) -> UninstallResult:
    """Stop and disable the service and remove its unit (or its autostart entry), and the
    desktop entry and icon. Config and history stay."""
    env = environ_of(environ)
    if _is_mac(platform):
        return uninstall_launchd(runner, env)
    if systemd_problem(runner) is not None:
        return desktop.uninstall_autostart(env)
    result = uninstall_systemd(runner, env)
    gone = desktop.remove_autostart(env)
    files = (*((gone,) if gone else ()), *desktop.remove_files(env))
    return replace(result, files=files)


def uses_autostart(runner: Runner, environ: Mapping[str, str]) -> bool:
    """Is the service on Linux the autostart entry: no systemd user manager answers, or
    the entry is installed and the unit is not."""
    if systemd_problem(runner) is not None:
        return True
    return desktop.autostart_installed(environ) and not unit_path(environ).exists()


def status(
    runner: Runner, *, platform: str | None = None, environ: Mapping[str, str] | None = None,
) -> ServiceStatus:
    env = environ_of(environ)
    if _is_mac(platform):
        return status_launchd(runner, env)
    if uses_autostart(runner, env):
        return desktop.status_autostart(env)
    return status_systemd(runner, env)


def journal_is_empty(runner: Runner) -> bool:
    """Whether the journal holds nothing of the service (it never ran under systemd here).
    journalctl -q prints nothing then and exits 0 (without -q: "-- No entries --"); a
    journal it cannot read fails instead, and is left to journalctl itself to tell."""
    probe = runner(["journalctl", "--user", "-u", UNIT_NAME, "-q", "-n", "1", "--no-pager"])
    return probe.returncode == 0 and not probe.stdout.strip()


def logs_command(
    follow: bool, *, platform: str | None = None, environ: Mapping[str, str] | None = None,
    autostart: bool = False,
) -> list[str]:
    """The command that shows the daemon's log (for the CLI to exec); `autostart`: the
    log file of the daemon the autostart entry starts."""
    if _is_mac(platform):
        return ["tail", "-f" if follow else "-n200", str(launchd_log_path(environ))]
    if autostart:
        log = desktop.autostart_log(environ_of(environ))
        return ["tail", "-f" if follow else "-n200", str(log)]
    return ["journalctl", "--user", "-u", UNIT_NAME, *(["-f"] if follow else [])]
