"""The daemon speaks sd_notify: the messages systemd would get, received on a real
datagram socket the test creates, from `python -m attuned run` as a real subprocess.

NOTIFY_SOCKET and WATCHDOG_USEC are what systemd would set for a Type=notify unit with
WatchdogSec=; the watchdog here is 0.4 s so its pings come several times a second. The
session bus is a private dbus-daemon (with a test notification server where it matters)
and the system bus address points at nothing, so the real buses are never touched.

`SdDaemon` and `NotifyReceiver` are also used by tests/test_doctor.py.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from buses import DBusDaemon
from daemon_harness import SRC, START_TIMEOUT, UNREACHABLE_BUS
from notification_server import NotificationServer

WATCHDOG_USEC = 400_000

# One daily practice six hours away: nothing fires while the test runs, and the STATUS
# line is known (the daemon plans only within the year ahead).
_AT = datetime.now(UTC) + timedelta(hours=6)
CONFIG = f"""\
[settings]
timezone = "UTC"
quiet_hours = "none"

[[practice]]
id = "evening"
title = "Evening"
message = "Ask how the day felt for them."
at = "{_AT:%H:%M}"
"""
STATUS = f"STATUS=next: evening at {_AT:%a %H:%M}"


@dataclass(frozen=True)
class Datagram:
    at: float                 # time.monotonic() when it was read
    fields: tuple[str, ...]

    @property
    def first(self) -> str:
        return self.fields[0]


class NotifyReceiver:
    """A datagram socket standing where systemd's notify socket would be. Its path is
    short and under /tmp: AF_UNIX paths are limited to 107 bytes."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="att-sd-", dir="/tmp"))
        self.path = str(self.dir / "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.seen: list[Datagram] = []

    def read(self, timeout: float) -> Datagram | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        d = Datagram(time.monotonic(), tuple(data.decode().split("\n")))
        self.seen.append(d)
        return d

    def wait_for(self, want: Callable[[Datagram], bool], timeout: float = 10.0) -> Datagram:
        """The next datagram `want` accepts (others are kept in `seen`)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            d = self.read(left)
            if d is not None and want(d):
                return d
        raise AssertionError(f"no such message within {timeout} s; got {self.seen}")

    def wait_first(self, field: str, timeout: float = 10.0) -> Datagram:
        return self.wait_for(lambda d: d.first == field, timeout)

    def collect(self, seconds: float) -> list[Datagram]:
        """Everything that arrives in the next `seconds` (reads bounded by that time)."""
        deadline = time.monotonic() + seconds
        got = []
        while (left := deadline - time.monotonic()) > 0:
            d = self.read(left)
            if d is not None:
                got.append(d)
        return got

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SdDaemon:
    """`python -m attuned --config CFG run` with private directories, as systemd would
    start it (NOTIFY_SOCKET, WATCHDOG_USEC), its stderr kept in a file."""

    def __init__(self, tmp: Path, *, bus: str, notify: str | None,
                 config_text: str | None = CONFIG, watchdog_usec: int | None = WATCHDOG_USEC,
                 extra_env: dict[str, str] | None = None) -> None:
        self.config = tmp / "daemon-config" / "config.toml"
        self.state_dir = tmp / "daemon-state"
        # Short, under /tmp: the control socket path must fit in 107 bytes.
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="att-rt-", dir="/tmp"))
        self.log_path = tmp / "daemon.log"
        self.config.parent.mkdir(parents=True, exist_ok=True)
        if config_text is not None:
            self.config.write_text(config_text)
        env = dict(os.environ)
        for var in ("ATTUNED_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                    "JOURNAL_STREAM", "ATTUNED_FAKE_CLOCK"):
            env.pop(var, None)
        env.update({
            "ATTUNED_STATE_DIR": str(self.state_dir),
            "ATTUNED_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),  # no $XDG_RUNTIME_DIR/bus fallback
            "ATTUNED_SYSTEM_BUS_ADDRESS": UNREACHABLE_BUS,
            "DBUS_SESSION_BUS_ADDRESS": bus,
        })
        if notify is not None:
            env["NOTIFY_SOCKET"] = notify
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        env.update(extra_env or {})
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def control_socket(self) -> Path:
        return self.runtime_dir / "control.sock"

    def start(self) -> SdDaemon:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "attuned", "--config", str(self.config), "run"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env,
                cwd=str(SRC))
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 10.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def cleanup(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


@pytest.fixture
def receiver() -> Iterator[NotifyReceiver]:
    r = NotifyReceiver()
    yield r
    r.close()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., SdDaemon]]:
    made: list[SdDaemon] = []

    def make(**kwargs: object) -> SdDaemon:
        d = SdDaemon(tmp_path, **kwargs)  # type: ignore[arg-type]
        made.append(d)
        return d

    yield make
    for d in made:
        d.cleanup()


def monotonic_usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def started(daemons: Callable[..., SdDaemon], receiver: NotifyReceiver, bus: str,
            **kwargs: object) -> SdDaemon:
    d = daemons(bus=bus, notify=receiver.path, **kwargs).start()
    try:
        receiver.wait_first("READY=1", START_TIMEOUT)
    except AssertionError as e:
        raise AssertionError(f"{e}\ndaemon log:\n{d.log()}") from None
    return d


# ---------------------------------------------------------------------- tests


def test_ready_comes_once_the_schedule_is_loaded_and_the_bus_connected(
        daemons: Callable[..., SdDaemon], receiver: NotifyReceiver,
        session_bus: DBusDaemon, notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, notify=receiver.path).start()
    ready = receiver.wait_first("READY=1", START_TIMEOUT)
    assert ready.fields == ("READY=1",)
    # The daemon asked the server who it is before saying it was ready (the server
    # records each call before it replies).
    asked = [r["method"] for r in notification_server.records]
    assert "GetServerInformation" in asked and "GetCapabilities" in asked
    # Nothing before READY but watchdog pings: no STATUS from a half-loaded schedule.
    before = receiver.seen[:receiver.seen.index(ready)]
    assert {x.fields for x in before} <= {("WATCHDOG=1",)}
    # Then the next nudge of the schedule it loaded.
    status = receiver.wait_for(lambda x: x.first.startswith("STATUS="))
    assert status.fields == (STATUS,)
    d.signal(signal.SIGTERM)
    assert d.wait() == 0


def test_watchdog_pings_come_at_half_the_interval(
        daemons: Callable[..., SdDaemon], receiver: NotifyReceiver,
        session_bus: DBusDaemon) -> None:
    d = started(daemons, receiver, session_bus.address)
    pings = [x.at for x in receiver.collect(1.2) if x.fields == ("WATCHDOG=1",)]
    # 0.4 s watchdog -> a ping every 0.2 s (the daemon sleeps half the interval after
    # each): about six in 1.2 s. Read times jitter under load, so judge the count and the
    # median gap, not single gaps.
    assert 3 <= len(pings) <= 8, receiver.seen
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert 0.12 <= statistics.median(gaps) <= 0.35, gaps
    d.signal(signal.SIGTERM)
    assert d.wait() == 0


def test_no_watchdog_pings_without_watchdog_usec(
        daemons: Callable[..., SdDaemon], receiver: NotifyReceiver,
        session_bus: DBusDaemon) -> None:
    d = started(daemons, receiver, session_bus.address, watchdog_usec=None)
    assert [x for x in receiver.collect(0.5) if x.first == "WATCHDOG=1"] == []
    assert ("WATCHDOG=1",) not in {x.fields for x in receiver.seen}
    d.signal(signal.SIGTERM)
    assert d.wait() == 0


def test_sighup_reload_is_framed_by_reloading_and_ready(
        daemons: Callable[..., SdDaemon], receiver: NotifyReceiver,
        session_bus: DBusDaemon) -> None:
    d = started(daemons, receiver, session_bus.address)
    receiver.wait_for(lambda x: x.first.startswith("STATUS="))
    before = monotonic_usec()
    d.signal(signal.SIGHUP)
    reloading = receiver.wait_first("RELOADING=1")
    after = monotonic_usec()
    assert len(reloading.fields) == 2
    key, _, value = reloading.fields[1].partition("=")
    # systemd (253+) requires the sender's CLOCK_MONOTONIC with RELOADING=1.
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after
    ready = receiver.wait_first("READY=1")
    status = receiver.wait_for(lambda x: x.first.startswith("STATUS="))
    assert reloading.at <= ready.at <= status.at
    assert status.fields == (STATUS,)
    d.signal(signal.SIGTERM)
    assert d.wait() == 0


def test_a_failed_reload_still_ends_with_ready(
        daemons: Callable[..., SdDaemon], receiver: NotifyReceiver,
        session_bus: DBusDaemon) -> None:
    # Without READY=1 after RELOADING=1, systemd would show the unit as reloading for good.
    d = started(daemons, receiver, session_bus.address)
    broken = d.config.with_name("config.toml.new")
    broken.write_text(CONFIG.replace('at = "', 'at = "soon'))
    os.replace(broken, d.config)  # an editor's save: the daemon's file watch reloads
    receiver.wait_first("RELOADING=1")
    receiver.wait_first("READY=1")
    assert "the schedule was not reloaded" in d.log()
    assert d.process is not None and d.process.poll() is None
    # `systemctl status` says the file is broken and that the last good schedule runs.
    status = receiver.wait_for(lambda x: x.first.startswith("STATUS="))
    assert status.fields == (STATUS.replace(
        "STATUS=", "STATUS=the schedule file has a problem (`attuned check` shows it); "
        "the last good schedule runs; "),)
    d.signal(signal.SIGTERM)
    assert d.wait() == 0


def test_a_file_broken_from_the_start_shows_in_the_status(
        daemons: Callable[..., SdDaemon], receiver: NotifyReceiver,
        session_bus: DBusDaemon) -> None:
    d = started(daemons, receiver, session_bus.address,
                config_text=CONFIG.replace('at = "', 'at = "soon'))
    status = receiver.wait_for(lambda x: x.first.startswith("STATUS="))
    assert status.fields == ("STATUS=the schedule file has a problem (`attuned check` shows "
                             "it); nothing runs until it is fixed; next: nothing planned",)
    d.signal(signal.SIGTERM)
    assert d.wait() == 0


def test_sigterm_sends_stopping_and_exits_cleanly(
        daemons: Callable[..., SdDaemon], receiver: NotifyReceiver,
        session_bus: DBusDaemon) -> None:
    d = started(daemons, receiver, session_bus.address)
    d.signal(signal.SIGTERM)
    stopping = receiver.wait_first("STOPPING=1")
    assert stopping.fields == ("STOPPING=1",)
    assert d.wait() == 0
    # Nothing after STOPPING: the watchdog stopped with it.
    assert receiver.collect(0.3) == []


def test_ready_without_any_session_bus_so_systemd_never_waits_for_one(
        daemons: Callable[..., SdDaemon], receiver: NotifyReceiver) -> None:
    # Nudges then go to the log; the unit must still come up rather than time out.
    d = started(daemons, receiver, UNREACHABLE_BUS)
    assert "no session bus yet" in d.log()
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
