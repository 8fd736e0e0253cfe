"""One daemon per user: an flock on a file in the runtime directory, holding our pid.

flock locks belong to the open file and vanish when the process dies, however it dies,
so a lock file left behind by `kill -9` never blocks the next start. The file is never
unlinked: unlinking a locked file lets a second daemon lock a fresh inode while the first
still runs. On release the pid is cleared instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from attuned import fsutil, paths
from attuned.errors import AlreadyRunning, AttunedError


class LockFileError(AttunedError):
    """The lock file cannot be opened at all (permissions, a directory in the way)."""


class DaemonLock:
    """The held lock. Release it (or leave the `with` block) when the daemon stops."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Clear our pid and drop the lock; calling it twice is harmless."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # still locked: this pid is ours to clear
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> DaemonLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def acquire(path: Path | None = None) -> DaemonLock:
    """Take the per-user daemon lock or raise AlreadyRunning naming the holder's pid."""
    lock_path = paths.lock_file() if path is None else path
    paths.ensure_private_dir(lock_path.parent)
    try:
        # No O_TRUNC: the file may hold the running daemon's pid. O_CLOEXEC: a child we
        # spawn (notify-send...) must not keep the lock alive after we die.
        fd = os.open(
            lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
        )
    except OSError as e:
        raise LockFileError(
            f"cannot open the lock file {lock_path}: {e.strerror or e}; "
            "set ATTUNED_RUNTIME_DIR to a directory of yours"
        ) from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(_running_message(lock_path)) from None
    except BaseException:
        os.close(fd)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as e:
        # A full runtime directory (its tmpfs, a quota): said in one line, like the open.
        os.close(fd)
        raise LockFileError(
            f"cannot write the lock file {lock_path}: {e.strerror or e}; free space "
            "there, or set ATTUNED_RUNTIME_DIR to a directory of yours with room"
        ) from e
    except BaseException:
        os.close(fd)
        raise
    return DaemonLock(lock_path, fd)


def _running_message(lock_path: Path) -> str:
    # The holder writes its pid just after locking; give it a moment if we raced it.
    pid = read_holder(lock_path)
    for _ in range(10):
        if pid is not None:
            break
        time.sleep(0.01)
        pid = read_holder(lock_path)
    if pid is None:
        return (
            f"attuned is already running for this user (it holds {lock_path}); "
            "stop it with `systemctl --user stop attuned`"
        )
    return (
        f"attuned is already running for this user (pid {pid}); "
        f"stop it with `systemctl --user stop attuned` or `kill {pid}`"
    )


def read_holder(path: Path | None = None) -> int | None:
    """The pid written in the daemon's lock file (see fsutil.lock_holder)."""
    return fsutil.lock_holder(paths.lock_file() if path is None else path)
