"""Small helpers for the processes tests start (dbus-daemon, the notification server)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from typing import Any


def read_line(fd: int, timeout: float) -> str:
    """One line from a pipe, waiting at most `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


def end_process(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM,
                timeout: float = 5.0) -> None:
    """Send `sig`, wait up to `timeout`, then kill; close its stdout pipe."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    if proc.stdout is not None:
        proc.stdout.close()
