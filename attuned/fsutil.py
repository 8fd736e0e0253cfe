"""Writing files so that a crash or a full disk never leaves half a file behind."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, mode: int | None = None,
                 through_link: bool = True) -> None:
    """Replace `path` with `data` all at once.

    A temp file in the same directory is written, flushed and fsynced, given the
    permission bits of the file it replaces (or `mode`; a new file gets 0o644 less the
    umask), renamed over `path`, and the directory is fsynced. If `path` is a symlink the
    file it points to is replaced and the link is kept (dotfile managers rely on that);
    `through_link=False` replaces the link itself instead.
    On any failure the temp file is removed and the old file is left exactly as it was;
    the OSError is raised for the caller to word.
    """
    target = Path(os.path.realpath(path)) if through_link else Path(path)
    directory = target.parent
    keep: int | None = mode
    if keep is None:
        try:
            keep = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            keep = None  # a new file: let the kernel apply the umask to 0o644
    fd, tmp = _create_temp(directory, target.name)
    try:
        with os.fdopen(fd, "wb") as f:
            if keep is not None:
                os.fchmod(f.fileno(), keep)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def _create_temp(directory: Path, name: str) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = directory / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o644), tmp
        except FileExistsError:
            continue


def fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable. Some file systems cannot fsync a directory.
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)
