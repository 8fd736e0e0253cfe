"""The per-user random seed that `random` practices draw their times from, so the daemon
and `attuned next` agree. A tiny I/O edge: one small file in the state directory."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from attuned.errors import AttunedError
from attuned.fsutil import fsync_dir
from attuned.paths import ensure_private_dir

_VALID = re.compile(r"[0-9a-f]{16,128}")


class SeedError(AttunedError):
    """The seed file cannot be read or written."""


def _read(path: Path) -> str | None:
    """The seed in `path`; None if there is no file; "" if the file is not a valid seed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SeedError(
            f"cannot read the random seed {path}: {e.strerror}; check its permissions"
        ) from e
    try:
        text = raw.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return ""
    return text if _VALID.fullmatch(text) else ""


def _move_aside(path: Path) -> Path:
    """Rename a corrupt seed to seed.corrupt[.N]; never delete what a person may want."""
    n = 0
    while True:
        target = path.with_name(f"{path.name}.corrupt" + (f".{n}" if n else ""))
        if not target.exists():
            path.rename(target)
            return target
        n += 1


def _create(path: Path) -> None:
    """Write a fresh seed, 0600, so that the file appears whole or not at all. If someone
    else (the daemon, the CLI) creates it first, theirs wins: link() refuses to replace."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(16) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        # The link must survive a power cut: a seed made again would move every
        # random practice's times.
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def load_seed(path: Path) -> str:
    """The seed stored at `path`, created (random, 16 bytes as hex, mode 0600) if missing.
    A corrupt or empty seed file is moved aside to `<name>.corrupt` and a new one made."""
    try:
        ensure_private_dir(path.parent)
        for _ in range(3):
            seed = _read(path)
            if seed:
                return seed
            if seed == "":
                _move_aside(path)
            _create(path)
    except OSError as e:
        raise SeedError(
            f"cannot write the random seed {path}: {e.strerror}; check that its folder "
            "is writable"
        ) from e
    raise SeedError(f"the random seed {path} keeps disappearing; is something deleting it?")
