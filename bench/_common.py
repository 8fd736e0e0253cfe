"""Helpers for the benchmarks: a private dbus-daemon, a minimal notification server that
timestamps what it receives, /proc counters, and a reader for a child's log lines.

Run as a script, this module IS the notification server (a separate process, so the
process being measured shares nothing with it):

    python bench/_common.py serve --address ADDR --record FILE.jsonl

prints `READY <unique name>` once it owns org.freedesktop.Notifications and appends one
JSON line per Notify call: {"t": <time.time() at receipt>, "sender", "app", "summary",
"body", "id"}. Only stdlib imports at module level: the benchmarks import this too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "attuned" / "config.example.toml"  # the shipped example schedule

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir={tmp}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


# read_line and stop_process are near-copies of tests/processes.py's: the bench runs without
# pytest and tests/ is neither a package nor installed, so it keeps its own.


def read_line(fd: int, timeout: float) -> str:
    """One line from a pipe, waiting at most `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 1)  # byte by byte: nothing after the line is swallowed
        if not chunk:
            break
        data += chunk
    return data.decode()


class PrivateBus:
    """A dbus-daemon of our own. No service directories, so nothing gets bus-activated
    (with the stock session config a real dunst could answer instead of our server)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self, timeout: float = 10.0) -> PrivateBus:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "bus.conf"
        config.write_text(_BUS_CONFIG.format(tmp=tempfile.gettempdir()))
        with open(self.workdir / "dbus-daemon.log", "ab") as errlog:
            self.process = subprocess.Popen(
                ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=errlog)
        assert self.process.stdout is not None
        self.address = read_line(self.process.stdout.fileno(), timeout).strip()
        if not self.address:
            self.stop()
            raise RuntimeError(f"dbus-daemon did not print its address within {timeout} s")
        return self

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 5.0) -> int | None:
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return proc.returncode


class ServerProcess:
    """This module's notification server as a subprocess; records go to `record`."""

    def __init__(self, address: str, record: Path) -> None:
        self.address = address
        self.record = record
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> ServerProcess:
        self.record.write_text("")
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "serve", "--address", self.address,
             "--record", str(self.record)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self.process.stdout is not None
        line = read_line(self.process.stdout.fileno(), timeout)
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"notification server did not start: {line!r}")
        return self

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.record.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def wait_for(self, predicate: Any, count: int, timeout: float) -> list[dict[str, Any]]:
        """Records matching `predicate` once there are `count` of them (or at the timeout:
        the caller reports whatever is missing)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.records() if predicate(r)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.process)


# -- /proc ------------------------------------------------------------------------------


def _status_field(path: Path, name: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(f"{name} not in {path}")


def rss_mib(pid: int) -> float:
    return _status_field(Path(f"/proc/{pid}/status"), "VmRSS") / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the whole process (all threads)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def voluntary_switches(pid: int) -> tuple[int, int]:
    """(voluntary context switches summed over every thread, number of threads). Each time
    a thread goes to sleep counts once, so between two readings this counts wakeups."""
    total = threads = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += _status_field(task / "status", "voluntary_ctxt_switches")
            threads += 1
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended between the listing and the read
    return total, threads


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the children's home and environment -----------------------------------------------------


def private_home(home: Path, config_text: str) -> Path:
    """A private set of XDG directories under `home`, with the schedule at its default place
    (returned)."""
    for sub in ("config/attuned", "state", "runtime", "data"):
        (home / sub).mkdir(parents=True)
    (home / "runtime").chmod(0o700)
    config = home / "config" / "attuned" / "config.toml"
    config.write_text(config_text)
    return config


def child_env(home: Path, pycache: Path | None, drop: Sequence[str] = ()) -> dict[str, str]:
    """Our environment without `drop`, pointed at the XDG directories of `private_home`.
    Byte-code caches go to `pycache`, as an installed package has them (pip compiles at
    install) but kept out of the repository; with None there are none at all
    (PYTHONDONTWRITEBYTECODE=1: every start compiles attuned from source)."""
    dropped = {"PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "ATTUNED_CONFIG", *drop}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"), "XDG_DATA_HOME": str(home / "data"),
        "XDG_RUNTIME_DIR": str(home / "runtime"),
        "ATTUNED_STATE_DIR": str(home / "state"), "ATTUNED_RUNTIME_DIR": str(home / "runtime"),
    })
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


# -- reporting --------------------------------------------------------------------------------


def progress(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """`rows` (the first is the header) as a Markdown table, columns padded to one width."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("| " + " | ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def dump_json(results: dict[str, Any], dest: str | None) -> None:
    """The --json option: nothing (None), stdout ("-") or the file `dest`."""
    if dest == "-":
        print(json.dumps(results, indent=2))
    elif dest:
        Path(dest).write_text(json.dumps(results, indent=2) + "\n")
        print(f"figures written to {dest}")


class NotifySocketSink:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET, so the daemon runs as it
    does under `Type=notify` (READY, STATUS on every nudge and reload). Drained on a thread
    into `messages`."""

    def __init__(self, path: Path) -> None:
        import socket

        self.path = path
        self.messages: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                return
            self.messages.append(data.decode(errors="replace"))

    def close(self) -> None:
        import socket

        with contextlib.suppress(OSError):  # not connected: nothing to shut down
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self.path.unlink(missing_ok=True)


# -- a child's log lines ------------------------------------------------------------------


class LineLog:
    """Reads a child's pipe on a thread; every line is kept with the monotonic time it
    arrived, so "how long until the daemon said X" can be asked after the fact."""

    def __init__(self, stream: Any, echo: Any = None) -> None:
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._stream = stream
        self._echo = echo
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for raw in iter(self._stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            with self._cond:
                self.lines.append((time.monotonic(), line))
                self._cond.notify_all()
            if self._echo is not None:
                print(line, file=self._echo, flush=True)

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 30.0) -> float:
        """Monotonic arrival time of the first line from index `after` that matches the
        regex `pattern`; TimeoutError if none within `timeout` s."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, line in self.lines[after:]:
                    if rx.search(line):
                        return t
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = "\n".join(self.tail(10))
                    raise TimeoutError(f"no log line matching {pattern!r} within {timeout} s;"
                                       f" last lines:\n{tail}")
                self._cond.wait(left)

    def tail(self, n: int) -> list[str]:
        """The last `n` lines."""
        with self._cond:
            return [line for _, line in self.lines[-n:]]


# -- the notification server ----------------------------------------------------------------


def serve(address: str, record: Path) -> int:
    import asyncio

    from dbus_fast import Message, MessageType, NameFlag, RequestNameReply
    from dbus_fast.aio import MessageBus

    path = "/org/freedesktop/Notifications"
    iface = "org.freedesktop.Notifications"
    out = open(record, "a")  # noqa: SIM115 (open for the life of the process)
    next_id = [1]

    def handle(msg: Message) -> Message | None:
        received = time.time()  # first thing: this is the instant lateness is measured at
        if msg.message_type is not MessageType.METHOD_CALL or msg.path != path \
                or msg.interface != iface:
            return None
        if msg.member == "GetCapabilities":
            return Message.new_method_return(msg, "as", [["body", "actions"]])
        if msg.member == "GetServerInformation":
            return Message.new_method_return(msg, "ssss", ["bench", "attuned bench", "1", "1.2"])
        if msg.member == "CloseNotification":
            return Message.new_method_return(msg)
        if msg.member == "Notify":
            app, _replaces, _icon, summary, body = msg.body[:5]
            nid, next_id[0] = next_id[0], next_id[0] + 1
            out.write(json.dumps({"t": received, "sender": msg.sender, "app": app,
                                  "summary": summary, "body": body, "id": nid}) + "\n")
            out.flush()
            return Message.new_method_return(msg, "u", [nid])
        return None

    async def run() -> None:
        bus = await MessageBus(bus_address=address).connect()
        bus.add_message_handler(handle)
        reply = await bus.request_name(iface, NameFlag.DO_NOT_QUEUE)
        if reply is not RequestNameReply.PRIMARY_OWNER:
            raise SystemExit(f"could not own {iface}: {reply}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"READY {bus.unique_name}", flush=True)
        await stop.wait()
        bus.disconnect()

    try:
        asyncio.run(run())
    finally:
        out.close()
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--address", required=True)
    p.add_argument("--record", type=Path, required=True)
    args = parser.parse_args()
    sys.exit(serve(args.address, args.record))
