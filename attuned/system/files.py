"""The user's directories (from the environment given, as XDG says) and writing the
service's files: atomically, never through a link, a different earlier file kept aside."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from attuned.fsutil import atomic_write


def environ_of(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def home_dir(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def config_home(environ: Mapping[str, str]) -> Path:
    value = environ.get("XDG_CONFIG_HOME")
    # The XDG spec: a relative value is invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return home_dir(environ) / ".config"


def unlink_present(path: Path) -> bool:
    """Remove `path`; whether it was there (uninstall says what it removed)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A symlinked unit (`systemctl --user link`) is replaced by our file, not written through.
    atomic_write(path, data, mode=0o644, through_link=False)


def _backup(path: Path, data: bytes) -> Path:
    """Keep `data` (the file being replaced) next to `path`, never overwriting a backup."""
    n = 0
    while True:
        candidate = path.with_name(path.name + (".bak" if n == 0 else f".bak.{n}"))
        if not candidate.exists():
            write_atomic(candidate, data)
            return candidate
        if candidate.read_bytes() == data:
            return candidate
        n += 1


def put(path: Path, data: bytes) -> tuple[bool, Path | None]:
    """Write `data` to `path` unless it is already there. Returns (changed, backup)."""
    try:
        old: bytes | None = path.read_bytes()
    except FileNotFoundError:
        old = None
    if old == data:
        return False, None
    backup = _backup(path, old) if old is not None else None
    write_atomic(path, data)
    return True, backup
