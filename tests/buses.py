"""Private D-Bus daemons for tests, and pytest fixtures built on them.

Registered from conftest.py (`pytest_plugins = ["buses"]`), so every test can ask for:

  session_bus          a fresh private bus (DBusDaemon) for the test; `.address`, `.env()`
  system_bus           a second, independent private bus (for a fake logind)
  notification_server  a NotificationServer (tests/notification_server.py) running in a
                       thread on `session_bus`, advertising "actions"

Async helpers for tests that drive asyncio code from sync tests: `run(main)` (asyncio.run
with a 30 s bound), `Events` (a callback that records its calls; `await ev.wait(n)`),
`wait_for_server(events, predicate)`.

Or use the classes directly: `DBusDaemon(workdir).start()` / `.stop()` / `.kill()`;
`DBusDaemon(workdir, socket_path=P)` listens on a fixed socket path (e.g.
$XDG_RUNTIME_DIR/bus) instead of an abstract socket; `allow_all_users=True` lets other
users than the bus's own connect.

The buses use their own configuration with NO service directories: with the stock
`--session` config, a call to org.freedesktop.Notifications when no server runs would
make dbus-daemon start whatever notification daemon is installed (dunst installs an
activation file), and "no server" tests would talk to a real dunst. A test that wants
activation names what may be started: `DBusDaemon(workdir, services={name: argv})`
writes those activation files into a service directory of its own (dbus-daemon gives
the started program DBUS_STARTER_ADDRESS).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from notification_server import NotificationServer
from processes import end_process, read_line

START_TIMEOUT = 10.0
WAIT = 5.0  # default timeout of every wait in the async helpers below
T = TypeVar("T")

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>{listen}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class DBusDaemon:
    """One private dbus-daemon process, owned by the test that started it."""

    def __init__(self, workdir: Path | None = None, *, socket_path: Path | None = None,
                 services: Mapping[str, Sequence[str]] | None = None,
                 allow_all_users: bool = False) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="attuned-bus-"))
        self.socket_path = socket_path
        # Bus names this bus may start on demand (D-Bus activation), and the command each.
        self.services = dict(services or {})
        # By default only the bus's own user may connect; a server run as another user
        # (sway and mako refuse root) needs this.
        self.allow_all_users = allow_all_users
        self.process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self, timeout: float = START_TIMEOUT) -> DBusDaemon:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.socket_path is not None:
            listen = f"unix:path={self.socket_path}"
        else:
            # Abstract sockets on Linux: nothing on disk, a fresh address per start.
            listen = "unix:tmpdir=/tmp"
        text = _CONFIG.format(listen=listen)
        if self.services:
            directory = Path(tempfile.mkdtemp(prefix="services-", dir=self.workdir))
            for name, argv in self.services.items():
                (directory / f"{name}.service").write_text(
                    f"[D-BUS Service]\nName={name}\nExec={shlex.join(argv)}\n")
            text = text.replace("<auth>EXTERNAL</auth>",
                                f"<auth>EXTERNAL</auth>\n  <servicedir>{directory}</servicedir>")
        if self.allow_all_users:
            text = text.replace('<policy context="default">',
                                '<policy context="default">\n    <allow user="*"/>')
        fd, config = tempfile.mkstemp(prefix="bus-", suffix=".conf", dir=self.workdir)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        # Its stderr (e.g. "Failed to set fd limit" when not privileged) goes to a file.
        with open(self.workdir / "dbus-daemon.log", "ab") as errlog:
            self.process = subprocess.Popen(
                ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=errlog)
        assert self.process.stdout is not None
        line = read_line(self.process.stdout.fileno(), timeout)
        if not line:
            self.kill()
            raise RuntimeError(f"dbus-daemon did not print its address within {timeout} s")
        self.address = line.strip()
        return self

    def env(self) -> dict[str, str]:
        """os.environ with this bus as the session bus (for subprocesses)."""
        return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.address}

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        self._end(signal.SIGTERM, timeout)

    def kill(self, timeout: float = 5.0) -> None:
        """End the daemon abruptly: every client sees its connection drop."""
        self._end(signal.SIGKILL, timeout)

    def _end(self, sig: int, timeout: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        end_process(self.process, sig, timeout)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)

    def __enter__(self) -> DBusDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def session_bus(tmp_path: Path) -> Iterator[DBusDaemon]:
    with DBusDaemon(tmp_path / "session-bus") as bus:
        yield bus


@pytest.fixture
def system_bus(tmp_path: Path) -> Iterator[DBusDaemon]:
    """Another private bus standing in for the system bus (fake logind lives here)."""
    with DBusDaemon(tmp_path / "system-bus") as bus:
        yield bus


@pytest.fixture
def notification_server(session_bus: DBusDaemon) -> Iterator[NotificationServer]:
    with NotificationServer(session_bus.address) as server:
        yield server


# -- async helpers ---------------------------------------------------------------------


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(main(), 30)

    return asyncio.run(bounded())


class Events:
    """Callback results collected in the test's event loop, awaitable with a timeout."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, *args: Any) -> None:
        self.items.append(args if len(args) != 1 else args[0])
        self._changed.set()

    async def wait(self, count: int = 1, timeout: float = WAIT) -> list[Any]:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.items


async def wait_for_server(events: Events, want: Callable[[Any], bool]) -> Any:
    """Wait until on_server_change reported something `want` accepts."""
    async with asyncio.timeout(WAIT):
        while True:
            for item in events.items:
                if want(item):
                    return item
            await events.wait(len(events.items) + 1)
