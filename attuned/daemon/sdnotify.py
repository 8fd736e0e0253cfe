"""The sd_notify protocol: tell systemd how the daemon is doing.

A few newline-separated KEY=VALUE lines in one datagram to the AF_UNIX socket named by
$NOTIFY_SOCKET (a path, or an abstract name when it starts with "@"). Written here rather
than depending on a package: it is a dozen lines, and the packages are unmaintained.

Without $NOTIFY_SOCKET (run by hand, or by launchd) every call does nothing. A failed send
is logged once and otherwise ignored: the daemon must never stop over its status report.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _address(value: str) -> str | None:
    """The socket address for $NOTIFY_SOCKET, or None if we cannot use it."""
    if value.startswith("@"):
        # Abstract namespace: a leading NUL byte instead of "@".
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    # systemd 254+ may also hand out "vsock:..." addresses (VMs); not ours to handle.
    return None


class SdNotifier:
    """Sends state changes to the service manager. Cheap to create; opens its socket lazily."""

    def __init__(self, environ: Mapping[str, str] | None = None, *, pid: int | None = None) -> None:
        env = os.environ if environ is None else environ
        self._env = dict(env)
        self._pid = os.getpid() if pid is None else pid
        raw = self._env.get("NOTIFY_SOCKET", "")
        self._addr = _address(raw) if raw else None
        if raw and self._addr is None:
            log.warning("NOTIFY_SOCKET=%r is not a socket path; not reporting to systemd", raw)
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._addr is not None

    def notify(self, *fields: str) -> bool:
        """Send KEY=VALUE fields in one datagram. True if it was sent."""
        if self._addr is None:
            return False
        message = "\n".join(fields).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            # Never block the event loop on a full socket queue: drop the message instead.
            self._sock.sendto(message, socket.MSG_DONTWAIT, self._addr)
        except OSError as error:
            if not self._warned:
                self._warned = True
                log.warning(
                    "could not report to systemd through NOTIFY_SOCKET (%s); "
                    "carrying on without it, further failures are not logged", error)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Start-up (or a reload) is complete."""
        fields = ["READY=1"]
        if status is not None:
            fields.append(_status_field(status))
        return self.notify(*fields)

    def reloading(self) -> bool:
        """A reload begins. systemd wants the monotonic time with it (253+ requires it for
        notify-reload; 252 ignores the field); send ready() when the reload is done."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        """One line shown by `systemctl --user status attuned`."""
        return self.notify(_status_field(text))

    def watchdog(self) -> bool:
        """Keep-alive ping; send it every watchdog_interval() / 2 seconds."""
        return self.notify("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds within which systemd expects a ping, or None if the watchdog is off
        (no WATCHDOG_USEC, a bad value, or WATCHDOG_PID naming another process)."""
        raw_pid = self._env.get("WATCHDOG_PID")
        if raw_pid:
            try:
                if int(raw_pid) != self._pid:
                    return None
            except ValueError:
                return None
        raw = self._env.get("WATCHDOG_USEC")
        if not raw:
            return None
        try:
            usec = int(raw)
        except ValueError:
            return None
        if usec <= 0:
            return None
        return usec / 1_000_000

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _status_field(text: str) -> str:
    # A newline would start a new field; STATUS= is a single line.
    return "STATUS=" + " ".join(text.splitlines())
