"""Where attuned keeps things. XDG locations via platformdirs, each overridable.

Overrides (for tests, and for people with unusual set-ups):
  ATTUNED_CONFIG       the schedule file
  ATTUNED_STATE_DIR    history database, random seed
  ATTUNED_RUNTIME_DIR  control socket, lock file
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "attuned"


def config_path(override: str | os.PathLike[str] | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    env = os.environ.get("ATTUNED_CONFIG")
    if env:
        return Path(env).expanduser()
    return config_dir() / "config.toml"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP))


def user_practices_dir() -> Path:
    return config_dir() / "practices"


def state_dir() -> Path:
    env = os.environ.get("ATTUNED_STATE_DIR")
    if env:
        return Path(env).expanduser()
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


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (0700) if missing; tighten it if it is ours and too open."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        path.chmod(0o700)
    return path
