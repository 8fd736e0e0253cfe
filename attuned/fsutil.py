"""Writing files so that a crash or a full disk never leaves half a file behind, and
taking turns with other processes that write the same file."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
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
        import secrets  # here: entry.py reads through this module before OpenSSL may load

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


class LockBusy(Exception):
    """Another process held the lock for longer than we were willing to wait."""


class CannotLock(OSError):
    """The lock file cannot be opened or made (a read-only directory, say)."""


@contextlib.contextmanager
def held_lock(path: Path, wait: float) -> Iterator[None]:
    """Hold an exclusive flock on the lock file `path` for the `with` block.

    flock locks belong to the open file and vanish when the process dies, however it
    dies, so a crashed holder never leaves the lock held. The file is made on demand and
    unlinked by its holder before it lets go, so nothing stays behind; a waiter that then
    gets the lock of the unlinked file sees that the path no longer names it and tries
    again on the new one. Our pid is written in it, a hint for messages. LockBusy after
    `wait` seconds; CannotLock when the file cannot be made (a read-only directory).
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise CannotLock(e.errno, e.strerror, str(path)) from None
        try:
            _lock_by(fd, deadline)
            try:
                now = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            mine = os.fstat(fd)
            if now is not None and (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # its holder unlinked it while we waited: take the new one
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # a killed holder's pid may still be in it
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        try:
            with contextlib.suppress(OSError):
                os.unlink(path)  # still ours: nobody else can hold this file now
        finally:
            os.close(fd)  # releases the lock


def _lock_by(fd: int, deadline: float) -> None:
    # flock has no timeout, so try without blocking, sleeping a little more each time.
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockBusy from None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.02)


def lock_holder(lock_path: Path) -> int | None:
    """The pid written in the lock file, if any and that process exists.

    A hint for messages, not proof: it takes no lock (probing with flock would make a
    daemon starting at that instant fail), so after `kill -9` and pid reuse it can name
    an unrelated process.
    """
    try:
        text = lock_path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    pid = int(text)
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # exists, owned by someone else
    return pid


class NotRegularFile(OSError):
    """The path is a FIFO, a device or a socket; `kind` says which, in words."""

    def __init__(self, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({kind})")
        self.kind = kind


class TooLarge(OSError):
    def __init__(self, limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit} bytes")
        self.limit = limit


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes. A FIFO would
    block the reader (O_NONBLOCK keeps even the open from waiting for a writer) and a
    device such as /dev/zero never ends, so neither is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFile(file_kind(mode))
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise TooLarge(limit)
    return b"".join(chunks)


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def refuse_irregular(path: Path) -> None:
    """NotRegularFile when `path` (followed through links) exists and is no regular file
    or directory: opening a FIFO waits for a writer, so it is refused before any open."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # absent or unreachable: the open that follows says so
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise NotRegularFile(file_kind(mode))
