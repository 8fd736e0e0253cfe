"""X11's idle time on a real Xvfb, with input from xdotool: the MIT-SCREEN-SAVER reader
(ctypes, libXss) and the presence watcher that asks it when the signals say "at the
screen"."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from daemon_harness import UNREACHABLE_BUS
from fakeclock import FakeClock

from attuned.core.presence import PresenceState
from attuned.daemon.presence import PresenceWatcher
from attuned.daemon.x11idle import X11Idle

WAIT = 10.0
T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def xvfb_proc() -> Iterator[subprocess.Popen[bytes]]:
    """A real X server; its display number is in `.display` (chosen by Xvfb itself)."""
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "640x480x24",
                             "-nolisten", "tcp"], pass_fds=(write,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as f:
            number = f.readline().strip()
        assert number, "Xvfb did not say its display"
        proc.display = f":{number}"  # type: ignore[attr-defined]
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(5)


@pytest.fixture
def xvfb(xvfb_proc: subprocess.Popen[bytes]) -> str:
    return str(xvfb_proc.display)  # type: ignore[attr-defined]


def wait_until(check: Callable[[], bool], what: str) -> None:
    """Until `check()`, up to WAIT seconds: X's idle counter runs on the server's own
    clock, which no test can advance."""
    end = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < end, f"no {what} within {WAIT} s"
        time.sleep(0.05)


def touch(display: str) -> None:
    subprocess.run(["xdotool", "mousemove", "--sync", "10", "20"],
                   env={**os.environ, "DISPLAY": display}, check=True, timeout=WAIT)
    subprocess.run(["xdotool", "mousemove", "--sync", "30", "40"],
                   env={**os.environ, "DISPLAY": display}, check=True, timeout=WAIT)


def test_idle_time_grows_and_input_resets_it(xvfb: str) -> None:
    idle = X11Idle(xvfb)
    assert idle.usable
    wait_until(lambda: (idle.seconds() or 0) >= 0.5, "idle time of 0.5 s")
    touch(xvfb)
    after = idle.seconds()
    assert after is not None and after < 0.5


def test_no_such_display_reads_nothing() -> None:
    assert X11Idle(":4999").seconds() is None


def test_the_x_server_ending_leaves_the_reader_alive(xvfb_proc: subprocess.Popen[bytes],
                                                     xvfb: str) -> None:
    idle = X11Idle(xvfb)
    assert idle.seconds() is not None
    xvfb_proc.terminate()
    xvfb_proc.wait(5)
    assert idle.seconds() is None  # not the process ending, as Xlib's default would
    assert idle.seconds() is None


def test_the_watcher_says_idle_after_its_threshold_and_at_the_screen_on_input(
        xvfb: str) -> None:
    clock = FakeClock(T0)
    watcher = PresenceWatcher(clock, session_address=None, system_address=UNREACHABLE_BUS,
                              environ={"DISPLAY": xvfb}, idle_after=timedelta(seconds=0.5))
    asyncio.run(watcher.start())
    assert "X11 idle time on " + xvfb in watcher.sources
    touch(xvfb)
    assert watcher.current().state is PresenceState.AT_SCREEN
    wait_until(lambda: watcher.current().state is PresenceState.IDLE, "idle")
    p = watcher.current()
    assert p.away and p.since is not None
    assert T0 - timedelta(seconds=WAIT + 1) < p.since <= T0 - timedelta(seconds=0.5)
    touch(xvfb)
    assert watcher.current().state is PresenceState.AT_SCREEN
    asyncio.run(watcher.stop())
