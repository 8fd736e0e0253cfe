"""attuned's face on the desktop, and its start without systemd.

- The desktop entry (`attuned.desktop`, under $XDG_DATA_HOME/applications) and the icon
  (hicolor theme, each PNG size and the SVG, under $XDG_DATA_HOME/icons): notification
  servers find the app's name and icon through the `desktop-entry` hint and the icon
  name `attuned` every nudge carries. Both ship as package data (attuned/data).
- The XDG autostart entry ($XDG_CONFIG_HOME/autostart/attuned.desktop): for sessions
  with no systemd user manager, the desktop session itself starts `attuned run` at each
  login, its log going to a file in the state directory.

Files are written only when they differ (atomically, never through a link) and removed
exactly as written: nothing else in those directories is touched.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path

from attuned.paths import ensure_private_dir
from attuned.system.files import config_home, home_dir, put, unlink_present
from attuned.system.results import InstallResult, ServiceStatus, UninstallResult
from attuned.system.runner import ServiceError, executable_argv

ENTRY_NAME = "attuned.desktop"
ICON_NAME = "attuned"  # the theme name every nudge carries (Notification.icon)
ICON_SIZES = (16, 32, 48, 64, 128, 256)
SHELL = "/bin/sh"

Starter = Callable[[Sequence[str]], None]


# ---------------------------------------------------------------- where


def _xdg(environ: Mapping[str, str], var: str, default: str) -> Path:
    value = environ.get(var)
    # The XDG spec: a relative value is invalid and must be ignored.
    if value and Path(value).is_absolute():
        return Path(value)
    return home_dir(environ) / default


def entry_path(environ: Mapping[str, str]) -> Path:
    """$XDG_DATA_HOME/applications/attuned.desktop (~/.local/share/applications)."""
    return _xdg(environ, "XDG_DATA_HOME", ".local/share") / "applications" / ENTRY_NAME


def icon_root(environ: Mapping[str, str]) -> Path:
    """$XDG_DATA_HOME/icons/hicolor: the theme every desktop falls back to."""
    return _xdg(environ, "XDG_DATA_HOME", ".local/share") / "icons" / "hicolor"


def icon_files(environ: Mapping[str, str]) -> dict[Path, str]:
    """Each icon file installed, and the file in attuned/data/icons it is a copy of."""
    root = icon_root(environ)
    files = {root / f"{n}x{n}" / "apps" / f"{ICON_NAME}.png": f"attuned-{n}.png"
             for n in ICON_SIZES}
    files[root / "scalable" / "apps" / f"{ICON_NAME}.svg"] = "attuned.svg"
    return files


def autostart_path(environ: Mapping[str, str]) -> Path:
    """$XDG_CONFIG_HOME/autostart/attuned.desktop (~/.config/autostart)."""
    return config_home(environ) / "autostart" / ENTRY_NAME


def autostart_log(environ: Mapping[str, str]) -> Path:
    """Where the daemon an autostart entry starts writes its log:
    $XDG_STATE_HOME/attuned/attuned.log (~/.local/state/attuned/attuned.log)."""
    return _xdg(environ, "XDG_STATE_HOME", ".local/state") / "attuned" / "attuned.log"


# ---------------------------------------------------------------- what


def _data(*parts: str) -> bytes:
    try:
        return resources.files("attuned").joinpath("data", *parts).read_bytes()
    except OSError as error:
        raise ServiceError(
            f"a file that ships with attuned is missing ({error}); reinstall attuned, "
            "e.g. `pipx reinstall attuned`.") from error


_RESERVED = re.compile(r"""[\s"'\\><~|&;$*?#()`]""")


def exec_word(arg: str) -> str:
    """One argument of an Exec= line, quoted as the Desktop Entry spec says: an argument
    with a reserved character goes in double quotes, inside which ", `, $ and \\ take a
    backslash; a literal % is %%."""
    if "\n" in arg or "\r" in arg:
        raise ServiceError(f"cannot put a line break in a desktop entry: {arg!r}")
    text = arg.replace("%", "%%")
    if not _RESERVED.search(arg):
        return text
    return '"' + re.sub(r'(["`$\\])', r"\\\1", text) + '"'


def exec_value(argv: Sequence[str]) -> str:
    """The value of an Exec= key running `argv`. The key is also a string, whose
    backslashes are escaped once more (the spec's two levels)."""
    return " ".join(exec_word(a) for a in argv).replace("\\", "\\\\")


def _with_exec(template: str, exec_line: str) -> str:
    lines = template.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.startswith("Exec=")]
    if len(hits) != 1:
        raise ValueError(f"the desktop entry must have exactly one Exec= line, not {len(hits)}")
    lines[hits[0]] = f"Exec={exec_line}\n"
    return "".join(lines)


def render_entry(argv: Sequence[str] | None = None) -> str:
    """The shipped desktop entry, running this attuned (its full path)."""
    command = [*(executable_argv() if argv is None else argv), "run"]
    return _with_exec(_data(ENTRY_NAME).decode("utf-8"), exec_value(command))


def autostart_argv(argv: Sequence[str] | None, environ: Mapping[str, str]) -> list[str]:
    """What the autostart entry runs: this attuned's `run`, its output appended to the
    log file (a desktop session keeps no log of what it starts)."""
    command = shlex.join([*(executable_argv() if argv is None else argv), "run"])
    log = shlex.quote(str(autostart_log(environ)))
    return [SHELL, "-c", f"exec {command} >>{log} 2>&1"]


def render_autostart(argv: Sequence[str] | None, environ: Mapping[str, str]) -> str:
    """The XDG autostart entry: the desktop entry's name and icon, starting the daemon."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.4\n"
        "Name=attuned\n"
        "Comment=Starts attuned with your desktop session (written by `attuned service "
        "install`)\n"
        f"Icon={ICON_NAME}\n"
        f"Exec={exec_value(autostart_argv(argv, environ))}\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        "X-GNOME-Autostart-enabled=true\n")


def entry_exec(text: str) -> str | None:
    """The Exec= value of a desktop entry's main group (None if it has none)."""
    group = None
    for line in text.splitlines():
        if line.startswith("["):
            group = line.strip()
        elif group == "[Desktop Entry]" and line.startswith("Exec="):
            return line[len("Exec="):].strip()
    return None


# ---------------------------------------------------------------- the face


def install_files(argv: Sequence[str] | None, environ: Mapping[str, str]
                  ) -> tuple[bool, tuple[Path, ...]]:
    """Write the desktop entry and the icon files. Returns (any changed, their paths)."""
    wanted: dict[Path, bytes] = {entry_path(environ): render_entry(argv).encode()}
    for path, name in icon_files(environ).items():
        wanted[path] = _data("icons", name)
    changed = False
    for path, data in wanted.items():
        changed |= put(path, data)[0]
    return changed, tuple(wanted)


def remove_files(environ: Mapping[str, str]) -> tuple[Path, ...]:
    """Remove the desktop entry and the icon files (only those). Returns what was there."""
    return tuple(p for p in (entry_path(environ), *icon_files(environ)) if unlink_present(p))


# ---------------------------------------------------------------- autostart


def start_detached(argv: Sequence[str]) -> None:
    """The real Starter: `argv` on its own, outliving this command (as the session would
    start it)."""
    subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)


def _running() -> bool:
    from attuned.daemon import control

    return control.is_running()


def install_autostart(now: bool, argv: Sequence[str] | None, environ: Mapping[str, str], *,
                      why: str | None, start: Starter | None = None) -> InstallResult:
    """Write the autostart entry; with `now`, start the daemon as it would (unless one
    answers already). `why`: why not systemd (None: asked for)."""
    path = autostart_path(environ)
    log = autostart_log(environ)
    ensure_private_dir(log.parent)  # the history's directory, as the daemon would make it
    changed, backup = put(path, render_autostart(argv, environ).encode())
    running = _running()
    started = False
    commands: tuple[tuple[str, ...], ...] = ()
    if now and not running:
        command = tuple(autostart_argv(argv, environ))
        (start or start_detached)(command)
        started, commands = True, (command,)
    return InstallResult("autostart", path, exec_value(autostart_argv(argv, environ)),
                         changed, backup, started, changed and running, commands, why,
                         log=log)


def remove_autostart(environ: Mapping[str, str]) -> Path | None:
    """Remove the autostart entry; its path if there was one."""
    path = autostart_path(environ)
    return path if unlink_present(path) else None


def uninstall_autostart(environ: Mapping[str, str]) -> UninstallResult:
    """Remove the autostart entry and the desktop files (a daemon it started keeps
    running until the session ends)."""
    path = autostart_path(environ)
    removed = remove_autostart(environ) is not None
    return UninstallResult("autostart", path, removed, (), (), files=remove_files(environ))


def autostart_installed(environ: Mapping[str, str]) -> bool:
    return autostart_path(environ).is_file()


def status_autostart(environ: Mapping[str, str]) -> ServiceStatus:
    path = autostart_path(environ)
    try:
        text: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError) as e:
        raise ServiceError(f"cannot read {path}: {e}") from e
    enabled = "not-found"
    if text is not None:
        off = re.search(r"^(Hidden=true|X-GNOME-Autostart-enabled=false)\s*$", text, re.M)
        enabled = "disabled" if off else "enabled"
    log = autostart_log(environ)
    return ServiceStatus("autostart", path, text is not None, enabled,
                         "active" if _running() else "inactive",
                         entry_exec(text) if text is not None else None,
                         exec_value(autostart_argv(None, environ)), f"its log: {log}")
