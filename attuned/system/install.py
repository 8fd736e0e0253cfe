"""Installing attuned as a user service: a systemd user unit on Linux, a launchd agent on macOS.

The library behind `attuned service install|uninstall|status|logs`. Every outside
command goes through a `Runner`, so the CLI passes `run_command` and tests pass a
recording stand-in. Functions return result objects; they never print. Problems a person
must act on are raised as `ServiceError` with the fix in the message.

Nothing here touches the schedule or the history: uninstall removes only the unit.

The parts, by what they do: attuned.system.runner (outside commands, which attuned),
attuned.system.files (the user's directories, writing files), attuned.system.results,
attuned.system.systemd (the unit) and attuned.system.launchd (the agent). Callers import
all of it from here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

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
    "UninstallResult", "exec_start_line", "executable_argv", "graphical_session_active",
    "graphical_session_hint", "install", "launchd_agent_path", "launchd_log_path",
    "logs_command", "render_launchd_plist", "render_unit", "run_command", "sandbox_problem",
    "status", "systemd_available", "systemd_problem", "systemd_quote", "uninstall",
    "unit_exec_start", "unit_path", "unit_template", "wanted_by",
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
) -> InstallResult:
    """Install the service for this attuned (`argv` overrides which command it runs),
    enable it to start at login, and with `now` (re)start it."""
    env = environ_of(environ)
    if _is_mac(platform):
        return install_launchd(now, runner, argv, env)
    return install_systemd(now, runner, argv, env)


def uninstall(
    runner: Runner, *, platform: str | None = None, environ: Mapping[str, str] | None = None,
) -> UninstallResult:
    """Stop and disable the service and remove its unit. Config and history stay."""
    env = environ_of(environ)
    if _is_mac(platform):
        return uninstall_launchd(runner, env)
    return uninstall_systemd(runner, env)


def status(
    runner: Runner, *, platform: str | None = None, environ: Mapping[str, str] | None = None,
) -> ServiceStatus:
    env = environ_of(environ)
    if _is_mac(platform):
        return status_launchd(runner, env)
    return status_systemd(runner, env)


def logs_command(
    follow: bool, *, platform: str | None = None, environ: Mapping[str, str] | None = None,
) -> list[str]:
    """The command that shows the daemon's log (for the CLI to exec)."""
    if _is_mac(platform):
        return ["tail", "-f" if follow else "-n200", str(launchd_log_path(environ))]
    return ["journalctl", "--user", "-u", UNIT_NAME, *(["-f"] if follow else [])]
