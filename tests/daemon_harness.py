"""The daemon as a real subprocess, for end-to-end tests.

    d = DaemonProcess(tmp_path, bus=session_bus.address).start()   # waits for "ready"
    d.wait_for_log(r"nudged look-up", timeout=10)                     # no polling sleeps
    d.call("status")                                                  # the control socket
    d.cli("done", "look-up")                                          # `attuned ...` run
    d.history()                                                       # the SQLite history
    d.stop()                                                          # SIGTERM, bounded

Every daemon gets its own config, state and runtime directories. The runtime directory
is short and under /tmp (AF_UNIX socket paths are limited to 107 bytes, and pytest's
tmp_path is long). The system bus is never the real one: ATTUNED_SYSTEM_BUS_ADDRESS
points at a fake logind's private bus or at an address nothing listens on.

Also here: `settings(...)` and `practice(pid, once=due_in(2))` write schedule text (a
`once` moment whole seconds ahead, in the schedule's zone); `Daemons` makes daemons for
a test and cleans them up (the `daemons` fixture: this module is registered as a pytest
plugin from conftest.py); `FakeLogind` (a FAKE org.freedesktop.login1 on a private bus,
emitting PrepareForSleep on request, driven synchronously from a thread).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from attuned.daemon import control
from attuned.state.store import HistoryEvent, Store

UNREACHABLE_BUS = "unix:path=/nonexistent/attuned-test-bus"
START_TIMEOUT = 15.0
# Exits take ~0.12 s; the bound is loose so a starved CPU does not fail unrelated tests.
# The lifecycle test holds the daemon to the 1 s.
STOP_TIMEOUT = 5.0
SRC = Path(__file__).resolve().parent.parent


def utc_now() -> datetime:
    return datetime.now(UTC)


def toml_moment(at: datetime, zone: str = "UTC") -> str:
    """A TOML local date-time (to the second) for `at` in `zone` (the schedule's)."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S")


def practice(pid: str, *, once: datetime | None = None, title: str | None = None,
             message: str | None = None, extra: str = "", zone: str = "UTC") -> str:
    """One [[practice]] table; `once` defaults to 2 s from now, rounded up to a second."""
    at = once if once is not None else due_in(2)
    return (f'[[practice]]\nid = "{pid}"\ntitle = "{title or pid.title()}"\n'
            f'message = "{message or "Time for " + pid}"\n'
            f"once = {toml_moment(at, zone)}\n{extra}\n")


def due_in(seconds: float) -> datetime:
    """A whole second at least `seconds` from now (the TOML moment has no fraction)."""
    at = utc_now() + timedelta(seconds=seconds)
    return at.replace(microsecond=0) + timedelta(seconds=1)


def settings(*, snooze: str = "2s", snooze_long: str = "4s", grace: str = "15m",
             extra: str = "", zone: str = "UTC") -> str:
    return (f'[settings]\ntimezone = "{zone}"\nquiet_hours = "none"\ngrace = "{grace}"\n'
            f'snooze = "{snooze}"\nsnooze_long = "{snooze_long}"\n{extra}\n')


class LogTimeout(AssertionError):
    pass


class DaemonProcess:
    """`python -m attuned --config CFG run -v` with private directories and buses."""

    def __init__(self, tmp: Path, *, bus: str | None = None, system_bus: str | None = None,
                 config_text: str | None = None, fake_clock: bool | datetime = False,
                 env: dict[str, str] | None = None, name: str = "daemon",
                 runtime_dir: Path | None = None) -> None:
        self.tmp = tmp
        self.config = tmp / "config" / "attuned" / "config.toml"
        self.state_dir = tmp / "state"
        # Short, under /tmp: the control socket's path must fit in 107 bytes.
        self.runtime_dir = runtime_dir or Path(tempfile.mkdtemp(prefix="att-", dir="/tmp"))
        self.bus = bus
        self.system_bus = system_bus or UNREACHABLE_BUS
        # FAKE clock (tests/fakeclock_daemon.py): True starts it at the real now, a
        # datetime at that moment; it moves only when the test moves it.
        self.fake_clock = fake_clock
        self.fake_start: datetime | None = None
        self.extra_env = env or {}
        self.name = name
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if config_text is not None:
            self.config.write_text(config_text)

    # ------------------------------------------------------------------ environment

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "ATTUNED_STATE_DIR": str(self.state_dir),
            "ATTUNED_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_CONFIG_HOME": str(self.tmp / "config"),
            "XDG_STATE_HOME": str(self.tmp / "xdg-state"),
            # No $XDG_RUNTIME_DIR/bus fallback to a bus we did not start.
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "ATTUNED_SYSTEM_BUS_ADDRESS": self.system_bus,
            "DBUS_SESSION_BUS_ADDRESS": self.bus or UNREACHABLE_BUS,
            "PYTHONUNBUFFERED": "1",
        })
        for var in ("ATTUNED_CONFIG", "NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_USEC"):
            env.pop(var, None)
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, wait_ready: bool = True, timeout: float = START_TIMEOUT
              ) -> DaemonProcess:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.lines_at_start = len(self.lines)
        if self.fake_clock is False:
            argv = [sys.executable, "-m", "attuned", "--config", str(self.config), "run", "-v"]
        else:
            if self.fake_start is None:  # a restart goes on from where the clock was
                self.fake_start = (utc_now() if self.fake_clock is True
                                   else self.fake_clock)
            argv = [sys.executable, str(SRC / "tests" / "fakeclock_daemon.py"),
                    "--start", self.fake_start.isoformat(), "--config", str(self.config),
                    "-v"]
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=self.env(), cwd=str(SRC))
        self._reader = threading.Thread(target=self._read, args=(self.process,),
                                        name=f"{self.name}-stderr", daemon=True)
        self._reader.start()
        if wait_ready:
            self.wait_for_log(r"INFO attuned: ready; next:", timeout,
                              since=self.lines_at_start)
        return self

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM; asserts the daemon exits within `timeout` seconds. Returns its code."""
        proc = self.process
        assert proc is not None
        if proc.poll() is None:
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                raise AssertionError(
                    f"the daemon did not exit within {timeout} s of SIGTERM; log:\n"
                    + self.log_text()) from None
            self.stop_seconds = time.monotonic() - started
        self._join()
        return proc.returncode

    def kill(self) -> None:
        """kill -9: no clean-up of any kind in the daemon."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        self._join()

    def wait_exit(self, timeout: float) -> int:
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the daemon did not exit within {timeout} s; log:\n"
                                 + self.log_text()) from None
        self._join()
        return code

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(5)

    def cleanup(self) -> None:
        """Kill whatever still runs and remove the runtime directory (fixtures call it)."""
        self.kill()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    # ------------------------------------------------------------------ the log

    def log_text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def mark(self) -> int:
        """A cursor into the log: pass it as `since` to look only at later lines."""
        with self._cond:
            return len(self.lines)

    def wait_for_log(self, pattern: str, timeout: float, *, since: int = 0,
                     count: int = 1) -> list[re.Match[str]]:
        """The first `count` log lines (from line `since`) matching `pattern`, waiting at
        most `timeout` seconds for them. Fails with the whole log on timeout."""
        rx = re.compile(pattern)

        def found() -> list[re.Match[str]]:
            out = []
            for line in self.lines[since:]:
                m = rx.search(line)
                if m:
                    out.append(m)
            return out

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matches = found()
                if len(matches) >= count:
                    return matches[:count]
                left = deadline - time.monotonic()
                exited = self.process is not None and self.process.poll() is not None
                if left <= 0 or (exited and not (self._reader and self._reader.is_alive())):
                    raise LogTimeout(
                        f"{len(matches)} log lines matching {pattern!r} after {timeout} s "
                        f"(wanted {count}); "
                        f"{'the daemon exited; ' if exited else ''}log:\n"
                        + "\n".join(self.lines))
                self._cond.wait(min(left, 0.5))

    def log_matches(self, pattern: str, *, since: int = 0) -> list[str]:
        rx = re.compile(pattern)
        with self._cond:
            return [line for line in self.lines[since:] if rx.search(line)]

    # ------------------------------------------------------------------ talking to it

    def call(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 5.0) -> dict[str, Any]:
        return control.call(method, params, path=self.runtime_dir / "control.sock",
                            timeout=timeout)

    def cli(self, *args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        """`attuned --config CFG ARGS...` with this daemon's environment."""
        return subprocess.run(
            [sys.executable, "-m", "attuned", "--config", str(self.config), *args],
            capture_output=True, text=True, env=self.env(), timeout=timeout, cwd=str(SRC))

    # ------------------------------------------------------------------ its FAKE clock

    def _clock(self, method: str, seconds: float = 0.0, timeout: float = 30.0) -> datetime:
        assert self.fake_clock is not False, "started without fake_clock"
        reply = control.call(method, {"seconds": seconds},
                             path=self.runtime_dir / "fakeclock.sock", timeout=timeout)
        now = datetime.fromisoformat(str(reply["now"]))
        self.fake_start = now
        return now

    def advance(self, seconds: float) -> datetime:
        """FAKE: `seconds` of awake time pass; every nudge due on the way comes, in order,
        and what it started finishes. Returns the daemon's now."""
        return self._clock("advance", seconds)

    def advance_to(self, moment: datetime) -> datetime:
        return self.advance(max(0.0, (moment - self.now()).total_seconds()))

    def suspend(self, seconds: float) -> datetime:
        """FAKE suspend: the wall clock jumps, the daemon's timers stand still."""
        return self._clock("suspend", seconds)

    def step_clock(self, seconds: float) -> datetime:
        """FAKE: the wall clock is set forward (+) or back (-)."""
        return self._clock("step", seconds)

    def now(self) -> datetime:
        return self._clock("now")

    def down_until(self, moment: datetime) -> None:
        """FAKE: the daemon is not running and the time is now `moment`; the next start
        begins there."""
        assert not self.running(), "down_until is for a daemon that is not running"
        self.fake_start = moment

    def ahead(self, seconds: float) -> datetime:
        """A whole second at least `seconds` after the daemon's (FAKE) now: a `once`
        moment for `practice(...)` that comes after `advance(seconds + 1)`."""
        return (self.now() + timedelta(seconds=seconds)).replace(microsecond=0) \
            + timedelta(seconds=1)

    def rewrite(self, text: str, timeout: float = 10.0) -> None:
        """Save the schedule as `text` and wait until the daemon has reloaded it (its file
        watcher runs on real time, whatever the clock)."""
        mark = self.mark()
        self.config.write_text(text)
        self.wait_for_log(r"INFO attuned: reloaded ", timeout, since=mark)

    def history(self) -> list[HistoryEvent]:
        store = Store.open(self.state_dir / "history.db")
        try:
            return store.history()
        finally:
            store.close()

    def kinds(self, practice_id: str | None = None) -> list[tuple[str, str, str | None]]:
        """(practice, kind, source) of every history event, oldest first."""
        return [(e.practice_id, str(e.kind), e.source) for e in self.history()
                if practice_id is None or e.practice_id == practice_id]


class Daemons:
    """Makes daemons for one test and cleans every one of them up (a fixture's helper)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.made: list[DaemonProcess] = []

    def __call__(self, **kwargs: Any) -> DaemonProcess:
        d = DaemonProcess(self.tmp, **kwargs)
        self.made.append(d)
        return d

    def close(self) -> None:
        for d in self.made:
            d.cleanup()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    made = Daemons(tmp_path)
    try:
        yield made
    finally:
        made.close()


# ---------------------------------------------------------------------- fake logind


class FakeLogind:
    """FAKE logind: owns org.freedesktop.login1 on a private bus (standing in for the
    system bus) and emits PrepareForSleep when asked. Runs on its own thread so
    synchronous tests can drive it."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-logind",
                                        daemon=True)
        self._bus: Any = None

    def start(self) -> FakeLogind:
        from dbus_fast import RequestNameReply
        from dbus_fast.aio import MessageBus

        from attuned.daemon.sleepwatch import LOGIND

        self._thread.start()

        async def connect() -> Any:
            bus = await MessageBus(bus_address=self.address).connect()
            reply = await bus.request_name(LOGIND)
            assert reply == RequestNameReply.PRIMARY_OWNER
            return bus

        self._bus = self._run(connect())
        return self

    def _run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def prepare_for_sleep(self, sleeping: bool) -> None:
        from dbus_fast import Message, MessageType

        from attuned.daemon.sleepwatch import LOGIND_PATH, MANAGER

        async def emit() -> None:
            await self._bus.send(Message(
                message_type=MessageType.SIGNAL, path=LOGIND_PATH, interface=MANAGER,
                member="PrepareForSleep", signature="b", body=[sleeping]))

        self._run(emit())

    def stop(self) -> None:
        if self._bus is not None:
            self._loop.call_soon_threadsafe(self._bus.disconnect)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> FakeLogind:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
