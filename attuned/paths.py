"""Where attuned keeps things. XDG locations, each overridable.

On Linux the XDG base directories are computed here, as platformdirs gives them ($XDG_*
when absolute, else under an absolute $HOME, else the password entry's home;
tests/test_paths_xdg.py compares the two): platformdirs itself imports tempfile, shutil,
bz2 and lzma, over a megabyte in the daemon and milliseconds in every command. Other
systems ask platformdirs.

Overrides (for tests, and for people with unusual set-ups):
  ATTUNED_CONFIG       the schedule file
  ATTUNED_STATE_DIR    history database, random seed
  ATTUNED_RUNTIME_DIR  control socket, lock file
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from attuned.errors import UnusableDirectory

APP = "attuned"


def config_path(override: str | os.PathLike[str] | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    env = os.environ.get("ATTUNED_CONFIG")
    if env:
        return Path(env).expanduser()
    return config_dir() / "config.toml"


def _home() -> str:
    home = os.environ.get("HOME", "")
    if not os.path.isabs(home):
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    if not os.path.isabs(home):
        raise UnusableDirectory("could not find your home directory: set HOME (or "
                                "XDG_CONFIG_HOME and XDG_STATE_HOME) to an absolute path")
    return home.rstrip("/") or "/"


def _xdg(variable: str, under_home: str) -> Path:
    """$variable when it is an absolute path (the XDG rule), else ~/under_home; then APP."""
    path = os.environ.get(variable, "")
    if not os.path.isabs(path):
        path = os.path.join(_home(), under_home)
    return Path(path) / APP


def config_dir() -> Path:
    if sys.platform.startswith("linux"):
        return _xdg("XDG_CONFIG_HOME", ".config")
    import platformdirs

    return Path(platformdirs.user_config_dir(APP))


def user_practices_dir() -> Path:
    return config_dir() / "practices"


def state_dir() -> Path:
    env = os.environ.get("ATTUNED_STATE_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform.startswith("linux"):
        return _xdg("XDG_STATE_HOME", ".local/state")
    import platformdirs

    return Path(platformdirs.user_state_dir(APP))


def runtime_dir() -> Path:
    env = os.environ.get("ATTUNED_RUNTIME_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / APP
    # No runtime dir (no logind session): fall back to a private per-user dir.
    return Path(f"/tmp/{APP}-{os.getuid()}")


def history_db() -> Path:
    return state_dir() / "history.db"


def seed_file() -> Path:
    return state_dir() / "seed"


def control_socket() -> Path:
    return runtime_dir() / "control.sock"


def lock_file() -> Path:
    return runtime_dir() / "daemon.lock"


def make_dir(path: Path, *, mode: int = 0o777, instead: str | None = None) -> Path:
    """Create `path` and its parents if missing. When that fails, UnusableDirectory naming
    the folder, what is in its way and the fix; `instead` is the other way out ("give
    another schedule file with --config"), by default the setting that chose the folder."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=mode)
    except OSError as e:
        raise UnusableDirectory(_cannot_make(path, e, instead)) from e
    return path


def _cannot_make(path: Path, error: OSError, instead: str | None) -> str:
    why, fix = error.strerror or str(error), "check its permissions"
    try:
        existing = next((p for p in (path, *path.parents) if p.exists()), None)
    except OSError:  # an ancestor we may not even look into
        existing = None
    if existing is not None and not existing.is_dir():
        why, fix = f"{existing} is a file, not a folder", "move that file away"
    elif existing is not None and existing != path:
        fix = f"check that you may write in {existing}"
    if instead is None:
        instead = next((f"set {name} to another folder" for name, chosen in
                        (("ATTUNED_STATE_DIR", state_dir), ("ATTUNED_RUNTIME_DIR", runtime_dir))
                        if path == chosen()), None)
    return f"cannot make the folder {path}: {why}; {fix}" + (f", or {instead}" if instead else "")


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (0700) if missing, as make_dir does; tighten it if it is ours and
    too open."""
    make_dir(path, mode=0o700)
    st = path.stat()
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        path.chmod(0o700)
    return path
