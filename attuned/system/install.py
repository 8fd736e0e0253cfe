"""Installing attuned as a user service: a systemd user unit on Linux, a launchd agent on macOS.

The library behind `attuned service install|uninstall|status|logs`. Every outside
command goes through a `Runner`, so the CLI passes `run_command` and tests pass a
recording stand-in. Functions return result objects; they never print. Problems a person
must act on are raised as `ServiceError` with the fix in the message.

Nothing here touches the schedule or the history: uninstall removes only the unit.
"""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple, Protocol

from attuned.errors import AttunedError
from attuned.fsutil import atomic_write
from attuned.paths import ensure_private_dir

UNIT_NAME = "attuned.service"
LAUNCHD_LABEL = "org.attuned.daemon"
COMMAND_TIMEOUT = 30.0


class ServiceError(AttunedError):
    """The service could not be installed, removed or inspected."""


# ---------------------------------------------------------------- running commands


class CommandResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    def __call__(self, argv: Sequence[str]) -> CommandResult: ...


def run_command(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> CommandResult:
    """The real Runner: run `argv`, capture its output, never raise for a failed command."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        return CommandResult(127, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return CommandResult(124, "", f"{argv[0]} did not answer within {timeout:g} s")
    return CommandResult(done.returncode, done.stdout, done.stderr)


def _shown(argv: Sequence[str]) -> str:
    return " ".join(argv)


def _check(runner: Runner, argv: Sequence[str], after: str) -> CommandResult:
    result = runner(argv)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip() or "no message"
        raise ServiceError(
            f"`{_shown(argv)}` failed (exit {result.returncode}): {said}\n{after}")
    return result


# ---------------------------------------------------------------- which attuned


def executable_argv(
    argv0: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> tuple[str, ...]:
    """The absolute command that runs the attuned running now.

    The console script we were started as (pipx, uv tool, a venv, the system), kept as
    invoked rather than resolved: ~/.local/bin/attuned stays valid when pipx or uv
    rebuild the environment it links into. Under `python -m attuned`, that command.
    Otherwise whatever `attuned` is on PATH, and failing that `python -m attuned`.
    """
    arg0 = sys.argv[0] if argv0 is None else argv0
    path = Path(arg0)
    if path.name == "attuned" and path.is_file():
        return (os.path.abspath(arg0),)
    if path.name == "__main__.py" and path.parent.name == "attuned":
        return (_python(), "-m", "attuned")
    found = which("attuned")
    if found:
        return (os.path.abspath(found),)
    return (_python(), "-m", "attuned")


def _python() -> str:
    # Not resolved: a venv's bin/python is a symlink, and resolving it leaves the venv.
    return os.path.abspath(sys.executable)


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


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def _config_home(environ: Mapping[str, str]) -> Path:
    value = environ.get("XDG_CONFIG_HOME")
    # The XDG spec: a relative value is invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return _home(environ) / ".config"


def unit_path(environ: Mapping[str, str] | None = None) -> Path:
    """~/.config/systemd/user/attuned.service (honouring XDG_CONFIG_HOME)."""
    return _config_home(_env(environ)) / "systemd" / "user" / UNIT_NAME


def _writable_dirs(environ: Mapping[str, str]) -> tuple[Path, Path]:
    """The unit's ReadWritePaths=, which must exist before the daemon starts (under
    ProtectSystem=strict it could not create them itself)."""
    return _config_home(environ) / "attuned", _home(environ) / ".local" / "state" / "attuned"


# ---------------------------------------------------------------- launchd (macOS)


def launchd_agent_path(environ: Mapping[str, str] | None = None) -> Path:
    return _home(_env(environ)) / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"


def launchd_log_path(environ: Mapping[str, str] | None = None) -> Path:
    return _home(_env(environ)) / "Library" / "Logs" / "attuned.log"


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


# ---------------------------------------------------------------- files


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A symlinked unit (`systemctl --user link`) is replaced by our file, not written through.
    atomic_write(path, data, mode=0o644, through_link=False)


def _backup(path: Path, data: bytes) -> Path:
    """Keep `data` (the file being replaced) next to `path`, never overwriting a backup."""
    n = 0
    while True:
        candidate = path.with_name(path.name + (".bak" if n == 0 else f".bak.{n}"))
        if not candidate.exists():
            _write_atomic(candidate, data)
            return candidate
        if candidate.read_bytes() == data:
            return candidate
        n += 1


def _put(path: Path, data: bytes) -> tuple[bool, Path | None]:
    """Write `data` to `path` unless it is already there. Returns (changed, backup)."""
    try:
        old: bytes | None = path.read_bytes()
    except FileNotFoundError:
        old = None
    if old == data:
        return False, None
    backup = _backup(path, old) if old is not None else None
    _write_atomic(path, data)
    return True, backup


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class InstallResult:
    manager: str                          # "systemd" or "launchd"
    path: Path                            # the unit file or agent written
    exec_start: str                       # the command the service runs
    changed: bool                         # False if the same file was already there
    backup: Path | None                   # where a different earlier file was kept
    started: bool                         # started (or restarted) now
    restart_needed: bool                  # running an older unit; restart to pick this up
    commands: tuple[tuple[str, ...], ...]  # what was run, in order
    hint: str | None                      # how to make it start at login, if it won't
    sandbox_off: str | None = None        # why the unit runs without its mount sandbox


@dataclass(frozen=True)
class UninstallResult:
    manager: str
    path: Path
    removed: bool                         # False: nothing was installed
    removed_links: tuple[Path, ...]       # leftover .wants/ links cleaned up
    commands: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ServiceStatus:
    manager: str
    path: Path
    installed: bool                       # the unit file / agent exists
    enabled: str                          # systemctl is-enabled (or launchd: "loaded"/...)
    active: str                           # systemctl is-active: active, inactive, failed...
    exec_start: str | None                # what the installed unit runs
    expected_exec_start: str              # what it would run if installed from this attuned
    detail: str                           # `systemctl --user status` text, for people

    @property
    def points_here(self) -> bool:
        return self.exec_start == self.expected_exec_start


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
        "attuned can still run without it: start `attuned run` from your session's "
        "startup file (for example ~/.xprofile or your window manager's autostart).")


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


def _install_systemd(
    now: bool, runner: Runner, argv: Sequence[str] | None, environ: Mapping[str, str],
) -> InstallResult:
    problem = systemd_problem(runner)
    if problem:
        raise ServiceError(problem)
    exec_start = exec_start_line(argv)
    path = unit_path(environ)
    config_dir, state_dir = _writable_dirs(environ)
    config_dir.mkdir(parents=True, exist_ok=True)
    ensure_private_dir(state_dir)  # history is private, as the daemon would make it
    commands: list[tuple[str, ...]] = [SANDBOX_PROBE]
    sandbox_off = sandbox_problem(runner)
    unit = render_unit(exec_start, private_users=sandbox_off is None)
    changed, backup = _put(path, unit.encode())
    after = f"The unit file is in place at {path}; fix the problem above and run " \
            "`attuned service install` again."

    def run(*args: str) -> CommandResult:
        argv_ = _systemctl(*args)
        commands.append(argv_)
        return _check(runner, argv_, after)

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


def _uninstall_systemd(runner: Runner, environ: Mapping[str, str]) -> UninstallResult:
    problem = systemd_problem(runner)
    if problem:
        raise ServiceError(problem)
    path = unit_path(environ)
    commands: list[tuple[str, ...]] = []
    after = f"Nothing was removed; the unit file is still at {path}."

    def run(*args: str) -> CommandResult:
        argv_ = _systemctl(*args)
        commands.append(argv_)
        return _check(runner, argv_, after)

    present = path.exists()
    if not present and not _stray_links(environ):
        return UninstallResult("systemd", path, False, (), ())
    if present:
        run("disable", "--now", UNIT_NAME)
    # disable removes the links it knows about; links left by hand or to a unit file
    # already deleted would make systemd warn at every login.
    links = tuple(link for link in _stray_links(environ) if _unlink(link))
    path.unlink(missing_ok=True)
    after = f"The unit file {path} was removed."
    run("daemon-reload")
    # Forget a past failure so `systemctl --user --failed` stops listing it; fails
    # harmlessly when there is none.
    commands.append(_systemctl("reset-failed", UNIT_NAME))
    runner(_systemctl("reset-failed", UNIT_NAME))
    return UninstallResult("systemd", path, True, links, tuple(commands))


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _status_systemd(runner: Runner, environ: Mapping[str, str]) -> ServiceStatus:
    problem = systemd_problem(runner)
    if problem:
        raise ServiceError(problem)
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


# ---------------------------------------------------------------- launchd


def _gui_domain() -> str:
    return f"gui/{os.getuid()}"


def _install_launchd(
    now: bool, runner: Runner, argv: Sequence[str] | None, environ: Mapping[str, str],
) -> InstallResult:
    command = tuple(executable_argv() if argv is None else argv)
    path = launchd_agent_path(environ)
    launchd_log_path(environ).parent.mkdir(parents=True, exist_ok=True)
    changed, backup = _put(path, render_launchd_plist(command, environ))
    commands: list[tuple[str, ...]] = []
    if now:
        target = f"{_gui_domain()}/{LAUNCHD_LABEL}"
        # Unload an older copy first; this fails harmlessly when none is loaded.
        commands.append(("launchctl", "bootout", target))
        runner(("launchctl", "bootout", target))
        for argv_ in (("launchctl", "enable", target),
                      ("launchctl", "bootstrap", _gui_domain(), str(path))):
            commands.append(argv_)
            _check(runner, argv_, f"The agent is in place at {path}; it will start at your "
                                  "next login, or fix the problem above and run "
                                  "`attuned service install --now` again.")
    return InstallResult("launchd", path, " ".join(command), changed, backup, now,
                         changed and not now, tuple(commands), None)


def _uninstall_launchd(runner: Runner, environ: Mapping[str, str]) -> UninstallResult:
    path = launchd_agent_path(environ)
    if not path.exists():
        return UninstallResult("launchd", path, False, (), ())
    argv_ = ("launchctl", "bootout", f"{_gui_domain()}/{LAUNCHD_LABEL}")
    runner(argv_)  # fails harmlessly when the agent is not loaded
    path.unlink(missing_ok=True)
    return UninstallResult("launchd", path, True, (), (argv_,))


def _status_launchd(runner: Runner, environ: Mapping[str, str]) -> ServiceStatus:
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
    env = _env(environ)
    if _is_mac(platform):
        return _install_launchd(now, runner, argv, env)
    return _install_systemd(now, runner, argv, env)


def uninstall(
    runner: Runner, *, platform: str | None = None, environ: Mapping[str, str] | None = None,
) -> UninstallResult:
    """Stop and disable the service and remove its unit. Config and history stay."""
    env = _env(environ)
    if _is_mac(platform):
        return _uninstall_launchd(runner, env)
    return _uninstall_systemd(runner, env)


def status(
    runner: Runner, *, platform: str | None = None, environ: Mapping[str, str] | None = None,
) -> ServiceStatus:
    env = _env(environ)
    if _is_mac(platform):
        return _status_launchd(runner, env)
    return _status_systemd(runner, env)


def logs_command(
    follow: bool, *, platform: str | None = None, environ: Mapping[str, str] | None = None,
) -> list[str]:
    """The command that shows the daemon's log (for the CLI to exec)."""
    if _is_mac(platform):
        return ["tail", "-f" if follow else "-n200", str(launchd_log_path(environ))]
    return ["journalctl", "--user", "-u", UNIT_NAME, *(["-f"] if follow else [])]
