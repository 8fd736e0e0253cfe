"""Watch the schedule file for saves with inotify, inside the asyncio loop.

Costs nothing while idle: the kernel wakes us only when something in the watched
directory changes. Editors save by writing a new file and renaming it over the old one
(vim, many IDEs), or by writing in place; so we watch the DIRECTORY, match the file's
name, and debounce a burst of events into one callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("attuned.watch")

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_IGNORED = 0x00008000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

_MASK = (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE
         | IN_DELETE_SELF | IN_MOVE_SELF)
_EVENT = struct.Struct("iIII")


class InotifyUnavailable(OSError):
    pass


def _libc() -> ctypes.CDLL:
    name = ctypes.util.find_library("c") or "libc.so.6"
    return ctypes.CDLL(name, use_errno=True)


class FileWatcher:
    """Calls `on_change()` once per burst of changes to `path` (debounced)."""

    def __init__(self, path: Path, on_change: Callable[[], None], *, debounce: float = 0.15):
        self.path = path
        self.on_change = on_change
        self.debounce = debounce
        self._fd = -1
        self._wds: dict[int, Path] = {}
        self._names: set[tuple[Path, str]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        libc = _libc()
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise InotifyUnavailable(err, os.strerror(err))
        self._fd = fd
        # The file itself, and (if it is a symlink, as dotfile managers make) its target.
        targets = {self.path.absolute()}
        with contextlib.suppress(OSError):
            targets.add(self.path.resolve())
        for target in targets:
            directory = target.parent
            wd = libc.inotify_add_watch(fd, os.fsencode(directory), _MASK)
            if wd < 0:
                err = ctypes.get_errno()
                raise InotifyUnavailable(err, f"cannot watch {directory}: {os.strerror(err)}")
            self._wds[wd] = directory
            self._names.add((directory, target.name))
        self._loop.add_reader(fd, self._read)
        log.debug("watching %s", ", ".join(str(d) for d in self._wds.values()))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._fd >= 0 and self._loop is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 64 * 1024)
        except BlockingIOError:
            return
        hit = False
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            raw = data[offset:offset + length].rstrip(b"\0")
            offset += length
            directory = self._wds.get(wd)
            if directory is None:
                continue
            if mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED):
                log.warning("the directory %s was moved or removed; edits are no longer "
                            "watched (send SIGHUP or run `attuned reload` after a change)",
                            directory)
                continue
            if (directory, os.fsdecode(raw)) in self._names:
                hit = True
        if hit:
            self._schedule()

    def _schedule(self) -> None:
        assert self._loop is not None
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(self.debounce, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.on_change()
