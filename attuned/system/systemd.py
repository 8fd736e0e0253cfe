"""The systemd user unit: its ExecStart= line, the shipped template, the sandbox probe,
the targets that start it, and installing, removing and inspecting it with
`systemctl --user`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from attuned.paths import ensure_private_dir
from attuned.system.files import config_home, environ_of, home_dir, put, unlink_present
from attuned.system.results import InstallResult, ServiceStatus, UninstallResult
from attuned.system.runner import (
    CommandResult,
    Runner,
    ServiceError,
    check,
    executable_argv,
)

UNIT_NAME = "attuned.service"


_SAFE = re.compile(r"[A-Za-z0-9_./+,:@=%$~-]+")
_REFUSED = re.compile(r"[\"'\\\x00-\x1f\x7f]")


def systemd_quote(arg: str, program: bool = False) -> str:
    """Quote one word for an Exec*= line. systemd expands %specifiers everywhere and
    $VARIABLES in arguments (not in the program path: checked with systemd-analyze 252),
    so those are doubled; a word with any other unusual character is double-quoted."""
    if program and _REFUSED.search(arg):
        # systemd rejects such a program path however it is quoted ("Executable name
        # contains special characters", systemd-analyze 252).
        raise ServiceError(
            f"systemd cannot start a program whose path contains quotes, backslashes or "
            f"control characters: {arg!r}.\nInstall attuned at a plainer path (pipx puts it "
            "in ~/.local/bin) and run `attuned service install` again.")
    if "\n" in arg or "\r" in arg:
        raise ServiceError(f"cannot put a line break in a systemd unit: {arg!r}")
    text = arg.replace("%", "%%")
    if not program:
        text = text.replace("$", "$$")
    if _SAFE.fullmatch(arg):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_start_line(argv: Sequence[str] | None = None) -> str:
    """The ExecStart= value that runs the daemon with this attuned."""
    words = [*(executable_argv() if argv is None else argv), "run"]
    return " ".join(systemd_quote(word, program=(i == 0)) for i, word in enumerate(words))


# ---------------------------------------------------------------- the systemd unit


def unit_template() -> str:
    """The shipped unit (attuned/data/attuned.service, the same file as systemd/attuned.service)."""
    try:
        return (resources.files("attuned") / "data" / UNIT_NAME).read_text(encoding="utf-8")
    except OSError as error:
        raise ServiceError(
            f"the unit template that ships with attuned is missing ({error}); "
            "reinstall attuned, e.g. `pipx reinstall attuned`.") from error


def render_unit(exec_start: str, template: str | None = None, *,
                private_users: bool = False) -> str:
    """The template with its one ExecStart= line replaced by `exec_start`, and with
    `private_users` a PrivateUsers=yes line above its ProtectSystem= line."""
    text = unit_template() if template is None else template
    lines = text.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.startswith("ExecStart=")]
    if len(hits) != 1:
        raise ValueError(
            f"the unit template must have exactly one ExecStart= line, not {len(hits)}")
    lines[hits[0]] = f"ExecStart={exec_start}\n"
    if private_users:
        at = next((i for i, line in enumerate(lines) if line.startswith("ProtectSystem=")),
                  None)
        if at is None:
            raise ValueError("the unit template has no ProtectSystem= line")
        lines.insert(at, "PrivateUsers=yes\n")
    return "".join(lines)


# A throwaway unit with the option the sandbox needs on systemd 252. Where the user manager
# cannot set up a user namespace it fails, and so would the service with PrivateUsers=yes.
SANDBOX_PROBE = ("systemd-run", "--user", "--wait", "--quiet", "--collect",
                 "--property=PrivateUsers=yes", "true")

NO_SANDBOX = (
    "The sandbox is off: your user service manager could not start a unit with "
    "PrivateUsers=yes ({why}), and systemd 252 applies ProtectSystem= and ProtectHome= to "
    "a user service only with it. attuned runs without them.")


def sandbox_problem(runner: Runner) -> str | None:
    """None if the user manager can start a unit with PrivateUsers=yes, else why not."""
    result = runner(SANDBOX_PROBE)
    if result.returncode == 0:
        return None
    said = (result.stderr or result.stdout).strip().splitlines()
    return said[-1] if said else f"exit {result.returncode}"


def unit_exec_start(unit_text: str) -> str | None:
    """The ExecStart= value of a unit file (the last one, as systemd would use it)."""
    found = None
    for line in unit_text.splitlines():
        if line.startswith("ExecStart="):
            found = line[len("ExecStart="):].strip()
    return found



def unit_path(environ: Mapping[str, str] | None = None) -> Path:
    """~/.config/systemd/user/attuned.service (honouring XDG_CONFIG_HOME)."""
    return config_home(environ_of(environ)) / "systemd" / "user" / UNIT_NAME


def _writable_dirs(environ: Mapping[str, str]) -> tuple[Path, Path]:
    """The unit's ReadWritePaths=, which must exist before the daemon starts (under
    ProtectSystem=strict it could not create them itself)."""
    return config_home(environ) / "attuned", home_dir(environ) / ".local" / "state" / "attuned"



# ---------------------------------------------------------------- systemd


def _systemctl(*args: str) -> tuple[str, ...]:
    return ("systemctl", "--user", *args)


def systemd_problem(runner: Runner) -> str | None:
    """None if `systemctl --user` reaches a user service manager, else why not, for people."""
    result = runner(_systemctl("show", "--property=Version"))
    if result.returncode == 0:
        return None
    if result.returncode == 127:
        why = "the systemctl command was not found"
    else:
        said = (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
        why = f"`systemctl --user` could not reach your user service manager ({said})"
    return (
        f"systemd is not available here: {why}.\n"
        "attuned can still start with your desktop session without it: "
        "`attuned service install` writes an XDG autostart entry for that.")


def systemd_available(runner: Runner) -> bool:
    return systemd_problem(runner) is None


UPDATE_ENVIRONMENT = (
    "dbus-update-activation-environment --systemd "
    "DISPLAY WAYLAND_DISPLAY XDG_CURRENT_DESKTOP DBUS_SESSION_BUS_ADDRESS")

GRAPHICAL_SESSION_HINT = f"""\
Your session has not started graphical-session.target, which the service starts with;
plain window managers (i3, sway, openbox, ...) usually never start it. So attuned now
also starts with your login (default.target), like this one.

If its notifications do not appear, let services started by systemd and D-Bus reach your
display and session bus: add this line to your window manager's startup file (~/.xinitrc
before its exec line, ~/.xprofile, or an `exec` line in the i3 or sway config):

    {UPDATE_ENVIRONMENT}"""

LOGIN_TARGET = "default.target"          # reached at every login, desktop or not
DESKTOP_TARGET = "graphical-session.target"


def graphical_session_active(runner: Runner) -> bool:
    result = runner(_systemctl("is-active", DESKTOP_TARGET))
    return result.returncode == 0 and result.stdout.strip() == "active"


def graphical_session_hint(runner: Runner) -> str | None:
    """Text with the fix when graphical-session.target is not active, else None."""
    return None if graphical_session_active(runner) else GRAPHICAL_SESSION_HINT


def wanted_by(runner: Runner, target: str) -> bool:
    """Does `target` pull the service in when it starts (enable, add-wants)? Asked of the
    target: the unit's own WantedBy= lists only targets loaded now, and
    graphical-session.target is not loaded in a session that never reached it."""
    result = runner(_systemctl("show", target, "--property=Wants", "--value"))
    return result.returncode == 0 and UNIT_NAME in result.stdout.split()


def _stray_links(environ: Mapping[str, str]) -> list[Path]:
    """Links to our unit left in *.wants/ or *.requires/ (by enable or add-wants)."""
    unit_dir = unit_path(environ).parent
    if not unit_dir.is_dir():
        return []
    found = []
    for pattern in ("*.wants", "*.requires"):
        for sub in unit_dir.glob(pattern):
            link = sub / UNIT_NAME
            if link.is_symlink():
                found.append(link)
    return sorted(found)


def install_systemd(
    now: bool, runner: Runner, argv: Sequence[str] | None, environ: Mapping[str, str],
) -> InstallResult:
    """(The caller has asked whether a user manager answers: systemd_problem.)"""
    exec_start = exec_start_line(argv)
    path = unit_path(environ)
    config_dir, state_dir = _writable_dirs(environ)
    config_dir.mkdir(parents=True, exist_ok=True)
    ensure_private_dir(state_dir)  # history is private, as the daemon would make it
    commands: list[tuple[str, ...]] = [SANDBOX_PROBE]
    sandbox_off = sandbox_problem(runner)
    unit = render_unit(exec_start, private_users=sandbox_off is None)
    changed, backup = put(path, unit.encode())
    after = f"The unit file is in place at {path}; fix the problem above and run " \
            "`attuned service install` again."

    def run(*args: str) -> CommandResult:
        argv_ = _systemctl(*args)
        commands.append(argv_)
        return check(runner, argv_, after)

    run("daemon-reload")
    run("enable", UNIT_NAME)
    commands.append(_systemctl("is-active", DESKTOP_TARGET))
    hint = graphical_session_hint(runner)
    if hint is not None:
        # A session that never reaches graphical-session.target: the [Install] section's
        # link alone would leave the service stopped after every later login.
        run("add-wants", LOGIN_TARGET, UNIT_NAME)
    restart_needed = False
    if now:
        # restart, not start: a reinstall must replace a daemon running an older build.
        run("restart", UNIT_NAME)
    elif changed:
        state = runner(_systemctl("is-active", UNIT_NAME))
        commands.append(_systemctl("is-active", UNIT_NAME))
        restart_needed = state.stdout.strip() in ("active", "activating", "reloading")
    return InstallResult("systemd", path, exec_start, changed, backup, now, restart_needed,
                         tuple(commands), hint, sandbox_off)


def uninstall_systemd(runner: Runner, environ: Mapping[str, str]) -> UninstallResult:
    """(The caller has asked whether a user manager answers: systemd_problem.)"""
    path = unit_path(environ)
    commands: list[tuple[str, ...]] = []
    after = f"Nothing was removed; the unit file is still at {path}."

    def run(*args: str) -> CommandResult:
        argv_ = _systemctl(*args)
        commands.append(argv_)
        return check(runner, argv_, after)

    present = path.exists()
    if not present and not _stray_links(environ):
        return UninstallResult("systemd", path, False, (), ())
    if present:
        run("disable", "--now", UNIT_NAME)
    # disable removes the links it knows about; links left by hand or to a unit file
    # already deleted would make systemd warn at every login.
    links = tuple(link for link in _stray_links(environ) if unlink_present(link))
    path.unlink(missing_ok=True)
    after = f"The unit file {path} was removed."
    run("daemon-reload")
    # Forget a past failure so `systemctl --user --failed` stops listing it; fails
    # harmlessly when there is none.
    commands.append(_systemctl("reset-failed", UNIT_NAME))
    runner(_systemctl("reset-failed", UNIT_NAME))
    return UninstallResult("systemd", path, True, links, tuple(commands))


def status_systemd(runner: Runner, environ: Mapping[str, str]) -> ServiceStatus:
    """(The caller has asked whether a user manager answers: systemd_problem.)"""
    path = unit_path(environ)
    try:
        exec_start = unit_exec_start(path.read_text(encoding="utf-8"))
        installed = True
    except FileNotFoundError:
        exec_start, installed = None, False
    # is-enabled/is-active print their answer and exit non-zero for "no": not errors.
    enabled = runner(_systemctl("is-enabled", UNIT_NAME)).stdout.strip() or "unknown"
    active = runner(_systemctl("is-active", UNIT_NAME)).stdout.strip() or "unknown"
    shown = runner(_systemctl("status", "--no-pager", "--lines=10", UNIT_NAME))
    detail = (shown.stdout or shown.stderr).rstrip()
    return ServiceStatus("systemd", path, installed, enabled, active, exec_start,
                         exec_start_line(), detail)
