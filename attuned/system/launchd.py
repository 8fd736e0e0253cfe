"""The launchd agent (macOS): its plist, its log file, and loading, unloading and
inspecting it with `launchctl`."""

from __future__ import annotations

import os
import plistlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from attuned.system.files import environ_of, home_dir, put
from attuned.system.results import InstallResult, ServiceStatus, UninstallResult
from attuned.system.runner import Runner, check, executable_argv

LAUNCHD_LABEL = "org.attuned.daemon"


# ---------------------------------------------------------------- launchd (macOS)


def launchd_agent_path(environ: Mapping[str, str] | None = None) -> Path:
    return home_dir(environ_of(environ)) / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"


def launchd_log_path(environ: Mapping[str, str] | None = None) -> Path:
    return home_dir(environ_of(environ)) / "Library" / "Logs" / "attuned.log"


def render_launchd_plist(
    exec_path: str | Sequence[str], environ: Mapping[str, str] | None = None,
) -> bytes:
    """A launchd agent that runs `<exec_path> run` at login and again if it fails."""
    argv = [exec_path] if isinstance(exec_path, str) else list(exec_path)
    log = str(launchd_log_path(environ))
    agent = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": [*argv, "run"],
        "RunAtLoad": True,
        # Restart after a crash, not after a clean `attuned stop`.
        "KeepAlive": {"SuccessfulExit": False},
        "ProcessType": "Interactive",
        # launchd does not expand "~": absolute paths only.
        "StandardOutPath": log,
        "StandardErrorPath": log,
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML)



# ---------------------------------------------------------------- launchd


def _gui_domain() -> str:
    return f"gui/{os.getuid()}"


def install_launchd(
    now: bool, runner: Runner, argv: Sequence[str] | None, environ: Mapping[str, str],
) -> InstallResult:
    command = tuple(executable_argv() if argv is None else argv)
    path = launchd_agent_path(environ)
    launchd_log_path(environ).parent.mkdir(parents=True, exist_ok=True)
    changed, backup = put(path, render_launchd_plist(command, environ))
    commands: list[tuple[str, ...]] = []
    if now:
        target = f"{_gui_domain()}/{LAUNCHD_LABEL}"
        # Unload an older copy first; this fails harmlessly when none is loaded.
        commands.append(("launchctl", "bootout", target))
        runner(("launchctl", "bootout", target))
        for argv_ in (("launchctl", "enable", target),
                      ("launchctl", "bootstrap", _gui_domain(), str(path))):
            commands.append(argv_)
            check(runner, argv_, f"The agent is in place at {path}; it will start at your "
                                  "next login, or fix the problem above and run "
                                  "`attuned service install --now` again.")
    return InstallResult("launchd", path, " ".join(command), changed, backup, now,
                         changed and not now, tuple(commands), None)


def uninstall_launchd(runner: Runner, environ: Mapping[str, str]) -> UninstallResult:
    path = launchd_agent_path(environ)
    if not path.exists():
        return UninstallResult("launchd", path, False, (), ())
    argv_ = ("launchctl", "bootout", f"{_gui_domain()}/{LAUNCHD_LABEL}")
    runner(argv_)  # fails harmlessly when the agent is not loaded
    path.unlink(missing_ok=True)
    return UninstallResult("launchd", path, True, (), (argv_,))


def status_launchd(runner: Runner, environ: Mapping[str, str]) -> ServiceStatus:
    path = launchd_agent_path(environ)
    command: str | None = None
    if path.exists():
        with path.open("rb") as f:
            args = plistlib.load(f).get("ProgramArguments", [])
        command = " ".join(str(a) for a in args)
    shown = runner(("launchctl", "print", f"{_gui_domain()}/{LAUNCHD_LABEL}"))
    loaded = "loaded" if shown.returncode == 0 else "not loaded"
    running = "active" if re.search(r"^\s*state = running", shown.stdout, re.M) else "inactive"
    expected = " ".join([*executable_argv(), "run"])
    return ServiceStatus("launchd", path, path.exists(), loaded, running, command, expected,
                         (shown.stdout or shown.stderr).rstrip())
