"""The control socket: a real server on a real unix socket, real clients.

The server runs in its own event loop on a thread so the synchronous client (what the CLI
uses) and raw sockets can talk to it from the test. Socket paths live in a short directory
under /tmp: AF_UNIX paths are limited to 107 bytes and tmp_path can be longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attuned.daemon import control
from attuned.daemon.control import (
    ControlReplyError,
    ControlServer,
    ControlSocketError,
    InvalidParams,
)
from attuned.errors import AlreadyRunning, ControlError, DaemonNotRunning, PracticeNotFound

METHODS = ("echo", "fail", "boom", "bad", "notdict", "nan", "barrier")
KNOWN = "bad, barrier, boom, echo, fail, nan, notdict"
NOT_FOUND = 'no practice called "tea"; `attuned list` shows the practices'
PROTOCOL_CODES = {
    "too_large", "bad_json", "bad_request", "unknown_method", "invalid_params", "internal",
    "practice_not_found",
}


class Handler:
    """The test's stand-in for the daemon's service: a few methods with known outcomes."""

    def __init__(self, barrier_size: int = 0) -> None:
        self.barrier_size = barrier_size
        self.arrived = 0
        self.all_arrived: asyncio.Event | None = None

    async def __call__(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "echo":
            return {"method": method, "params": params}
        if method == "fail":
            raise PracticeNotFound(NOT_FOUND)
        if method == "boom":
            raise RuntimeError("kaput")
        if method == "bad":
            raise InvalidParams('"for" must be a duration like 20m')
        if method == "notdict":
            return [1]  # type: ignore[return-value]
        if method == "nan":
            return {"x": float("nan")}
        if method == "barrier":
            # Returns only once barrier_size clients are inside at the same time.
            if self.all_arrived is None:
                self.all_arrived = asyncio.Event()
            self.arrived += 1
            if self.arrived == self.barrier_size:
                self.all_arrived.set()
            await asyncio.wait_for(self.all_arrived.wait(), 10)
            return {"arrived": self.arrived}
        raise AssertionError(f"the server let an unknown method through: {method!r}")


class Running:
    """A ControlServer serving on its own loop thread for the length of a `with` block."""

    def __init__(self, path: Path | None, handler: control.Handler, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = ControlServer(path, handler, **kwargs)

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def __enter__(self) -> ControlServer:
        self.thread.start()
        try:
            self.run(self.server.start())
        except BaseException:
            self._stop()
            raise
        return self.server

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self.server.close())
        finally:
            self._stop()

    def _stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="att-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sock_path(short_dir: Path) -> Path:
    return short_dir / "rt" / "control.sock"


@pytest.fixture
def server(sock_path: Path) -> Iterator[ControlServer]:
    with Running(sock_path, Handler(), methods=METHODS) as srv:
        yield srv


def _exchange(path: Path, payload: bytes, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Send raw bytes, half-close, and return every reply line until the server hangs up."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(65536):
                data += chunk
    return [json.loads(line) for line in data.splitlines()]


def _line(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def _err(request_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": {"code": code, "message": message}}


# --- round trip, paths, permissions ---------------------------------------------------


def test_round_trip_on_the_default_path_with_private_permissions(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNED_RUNTIME_DIR", str(short_dir / "rt"))
    with Running(None, Handler(), methods=METHODS) as srv:
        assert srv.path == short_dir / "rt" / "control.sock"
        assert (srv.path.parent.stat().st_mode & 0o777) == 0o700
        assert (srv.path.stat().st_mode & 0o777) == 0o600
        assert control.is_running()
        assert control.call("echo", {"a": [1, "é"]}) == {
            "method": "echo",
            "params": {"a": [1, "é"]},
        }
    assert not srv.path.exists()  # close() removes the socket
    assert not control.is_running()


def test_raw_protocol_echoes_the_id_and_defaults_params(
    server: ControlServer,
) -> None:
    replies = _exchange(
        server.path,
        _line({"id": 7, "method": "echo", "params": {"x": 1}})
        + b"\n   \n"  # blank lines are ignored
        + _line({"method": "echo"})
        + _line({"id": "s", "method": "echo", "params": None})
        + b'{"id": [1], "method": "echo"}',  # a last line without newline is answered too
    )
    assert replies == [
        {"id": 7, "ok": True, "result": {"method": "echo", "params": {"x": 1}}},
        {"id": None, "ok": True, "result": {"method": "echo", "params": {}}},
        {"id": "s", "ok": True, "result": {"method": "echo", "params": {}}},
        {"id": [1], "ok": True, "result": {"method": "echo", "params": {}}},
    ]


# --- errors ---------------------------------------------------------------------------


def test_bad_requests_get_error_replies_and_the_connection_carries_on(
    server: ControlServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="attuned.daemon.control")
    lines = [
        b"not json",
        b"\xff\xfe{}",
        b'{"id": 1, "method": "echo", "params": {"x": NaN}}',
        b"[" * 60_000,
        _line([1, 2]).strip(),
        _line({"id": 2}).strip(),
        _line({"id": 3, "method": ""}).strip(),
        _line({"id": 4, "method": 5}).strip(),
        _line({"id": 5, "method": "frob"}).strip(),
        _line({"id": 6, "method": "echo", "params": [1]}).strip(),
        _line({"id": 7, "method": "fail"}).strip(),
        _line({"id": 8, "method": "bad"}).strip(),
        _line({"id": 9, "method": "boom"}).strip(),
        _line({"id": 10, "method": "notdict"}).strip(),
        _line({"id": 11, "method": "nan"}).strip(),
        _line({"id": 12, "method": "echo", "params": {"still": "here"}}).strip(),
    ]
    replies = _exchange(server.path, b"\n".join(lines) + b"\n")
    bad_request = 'request needs a "method" string'
    internal = "internal error (details in the daemon's log)"
    assert replies[0]["error"]["code"] == "bad_json"
    assert replies[0]["error"]["message"].startswith("request is not valid JSON: Expecting value")
    assert replies[1:] == [
        _err(None, "bad_json", "request is not UTF-8 text"),
        _err(None, "bad_json", "request is not valid JSON: NaN is not valid JSON"),
        _err(None, "bad_json", "request JSON is nested too deeply"),
        _err(None, "bad_request", 'request must be a JSON object with a "method"'),
        _err(2, "bad_request", bad_request),
        _err(3, "bad_request", bad_request),
        _err(4, "bad_request", bad_request),
        _err(5, "unknown_method", f'unknown method "frob"; known methods: {KNOWN}'),
        _err(6, "invalid_params", '"params" must be a JSON object'),
        _err(7, "practice_not_found", NOT_FOUND),
        _err(8, "invalid_params", '"for" must be a duration like 20m'),
        _err(9, "internal", internal),
        _err(10, "internal", internal),
        _err(11, "internal", internal),
        {"id": 12, "ok": True, "result": {"method": "echo", "params": {"still": "here"}}},
    ]
    # Unexpected failures are logged with their traceback for the maintainer.
    assert "RuntimeError: kaput" in caplog.text
    assert len([r for r in caplog.records if r.exc_info]) == 3


def test_long_method_names_are_shortened_in_the_message(server: ControlServer) -> None:
    [reply] = _exchange(server.path, _line({"id": 1, "method": "x" * 5000}))
    assert reply == _err(
        1, "unknown_method", f'unknown method "{"x" * 55}..."; known methods: {KNOWN}'
    )


def test_handler_can_refuse_unknown_methods_itself(sock_path: Path) -> None:
    async def handler(method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise control.UnknownMethod(f'unknown method "{method}"')

    with Running(sock_path, handler), pytest.raises(ControlReplyError) as excinfo:
        control.call("frob", path=sock_path)
    assert (excinfo.value.code, str(excinfo.value)) == ("unknown_method", 'unknown method "frob"')


def test_client_raises_the_daemons_error_message(server: ControlServer) -> None:
    with pytest.raises(ControlError) as excinfo:
        control.call("fail", path=server.path)
    assert isinstance(excinfo.value, ControlReplyError)
    assert excinfo.value.code == "practice_not_found"
    assert str(excinfo.value) == NOT_FOUND
    with pytest.raises(ControlReplyError) as excinfo:
        control.call("frob", path=server.path)
    assert str(excinfo.value) == f'unknown method "frob"; known methods: {KNOWN}'
    # and the server still answers
    assert control.call("echo", path=server.path) == {"method": "echo", "params": {}}


# --- size bound -----------------------------------------------------------------------


def _padded_request(total: int) -> bytes:
    """A valid echo request line of exactly `total` bytes, newline excluded."""
    head = b'{"id": 1, "method": "echo", "params": {"s": "'
    tail = b'"}}'
    return head + b"x" * (total - len(head) - len(tail)) + tail


def test_a_request_of_exactly_64_kib_is_served(server: ControlServer) -> None:
    [reply] = _exchange(server.path, _padded_request(control.MAX_LINE) + b"\n")
    assert reply["ok"] is True
    assert len(reply["result"]["params"]["s"]) > 65_000


@pytest.mark.parametrize("size", [control.MAX_LINE + 1, 70_000, 4 * 1024 * 1024])
def test_an_oversize_request_gets_an_error_and_the_connection_closes(
    server: ControlServer, size: int
) -> None:
    # Valid echo requests follow on the same connection: none may be answered.
    payload = _padded_request(size) + b"\n" + _line({"id": 2, "method": "echo"})
    replies = _exchange(server.path, payload)
    assert replies == [_err(None, "too_large", "request too large (limit 65536 bytes)")]
    assert control.call("echo", path=server.path) == {"method": "echo", "params": {}}


# --- fuzz -----------------------------------------------------------------------------

# Kept small: hypothesis spends far longer generating deep values than the server takes
# to answer them (about 0.6 ms a connection).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
requests = st.fixed_dictionaries(
    {"method": st.sampled_from([*METHODS, "frob", ""]) | st.text() | json_values},
    optional={
        "id": json_values,
        "params": st.dictionaries(st.text(max_size=10), json_values, max_size=3) | json_values,
    },
)
payloads = st.one_of(
    st.binary(max_size=2000),
    json_values.map(lambda v: json.dumps(v).encode() + b"\n"),
    requests.map(lambda r: json.dumps(r).encode() + b"\n"),
    st.lists(requests.map(lambda r: json.dumps(r).encode()), min_size=2, max_size=5).map(
        b"\n".join
    ),
)


def test_a_thousand_random_messages_leave_the_server_serving(
    sock_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The logged tracebacks are checked elsewhere; formatting 1,000 of them here would
    # double this test's time.
    caplog.set_level(logging.CRITICAL, logger="attuned.daemon.control")
    handler = Handler()

    @settings(
        max_examples=1000,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payload=payloads)
    def one_message(payload: bytes) -> None:
        replies = _exchange(sock_path, payload)
        # Exactly one reply per non-blank line, each a well-formed reply.
        assert len(replies) == len([ln for ln in payload.split(b"\n") if ln.strip()])
        for reply in replies:
            assert set(reply) in ({"id", "ok", "result"}, {"id", "ok", "error"})
            if not reply["ok"]:
                assert reply["error"]["code"] in PROTOCOL_CODES
                assert isinstance(reply["error"]["message"], str)

    with Running(sock_path, handler, methods=[m for m in METHODS if m != "barrier"]):
        one_message()
        assert control.call("echo", {"after": "fuzz"}, path=sock_path) == {
            "method": "echo",
            "params": {"after": "fuzz"},
        }


# --- connections ----------------------------------------------------------------------


def test_several_clients_are_served_at_once(sock_path: Path) -> None:
    # Each "barrier" call returns only when all five are inside the handler together,
    # so a server that served one connection at a time would time out here.
    with Running(sock_path, Handler(barrier_size=5), methods=METHODS), ThreadPoolExecutor(
        5
    ) as pool:
        futures = [
            pool.submit(control.call, "barrier", path=sock_path, timeout=10) for _ in range(5)
        ]
        results = [f.result(timeout=15) for f in futures]
    assert all(r["arrived"] == 5 for r in results)


def test_an_idle_client_is_disconnected(sock_path: Path) -> None:
    with Running(sock_path, Handler(), methods=METHODS, idle_timeout=0.3):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(sock_path))
            s.sendall(b'{"id": 1, "method": "ec')  # and then nothing more
            start = time.monotonic()
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            waited = time.monotonic() - start
        assert json.loads(data) == _err(
            None, "idle_timeout", "no request for 0.3 s; closing the connection"
        )
        assert 0.2 < waited < 5
        assert control.call("echo", path=sock_path) == {"method": "echo", "params": {}}


def test_at_the_limit_the_longest_idle_connection_makes_room(sock_path: Path) -> None:
    with (Running(sock_path, Handler(), methods=METHODS, max_connections=2),
          contextlib.ExitStack() as stack):
        held = []
        for _ in range(2):
            s = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
            s.settimeout(10)
            s.connect(str(sock_path))
            s.sendall(_line({"method": "echo"}))
            s.recv(4096)  # answered: this connection is registered on the server
            held.append(s)
        assert control.call("echo", path=sock_path) == {"method": "echo", "params": {}}
        assert held[0].recv(4096) == b""  # the oldest was closed for it
        held[1].sendall(_line({"method": "echo"}))
        assert json.loads(held[1].recv(4096))["ok"]


def test_hundreds_of_silent_connections_do_not_keep_a_client_out(sock_path: Path) -> None:
    with (Running(sock_path, Handler(), methods=METHODS, first_request_timeout=30),
          contextlib.ExitStack() as stack):
        for _ in range(200):
            s = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
            s.connect(str(sock_path))
        for _ in range(5):
            assert control.call("echo", path=sock_path, timeout=5) == {
                "method": "echo", "params": {}}


def test_a_connection_that_sends_nothing_is_closed_sooner_than_an_idle_one(
        sock_path: Path) -> None:
    with Running(sock_path, Handler(), methods=METHODS, first_request_timeout=0.3):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(sock_path))
            start = time.monotonic()
            data = s.recv(4096)
            assert time.monotonic() - start < 5
        assert json.loads(data) == _err(
            None, "idle_timeout", "no request for 0.3 s; closing the connection")


# --- daemon absent or silent ------------------------------------------------------------


def _not_running(path: Path) -> str:
    return (
        f"the attuned daemon is not running (no control socket at {path}); "
        "start it with `attuned run` or `systemctl --user start attuned`"
    )


def test_no_socket_means_not_running(sock_path: Path) -> None:
    with pytest.raises(DaemonNotRunning) as excinfo:
        control.call("status", path=sock_path)
    assert str(excinfo.value) == _not_running(sock_path)
    assert not control.is_running(sock_path)


def test_a_stale_socket_means_not_running(sock_path: Path) -> None:
    _leave_stale_socket(sock_path)
    with pytest.raises(DaemonNotRunning) as excinfo:
        control.call("status", path=sock_path)
    assert str(excinfo.value) == (
        f"the attuned daemon is not running (nothing answers on the control socket "
        f"{sock_path}); start it with `attuned run` or `systemctl --user start attuned`"
    )
    assert not control.is_running(sock_path)


def test_a_silent_daemon_times_out_within_the_timeout(sock_path: Path) -> None:
    sock_path.parent.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(sock_path))
        listener.listen()
        accepted: list[socket.socket] = []
        acceptor = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
        acceptor.start()
        start = time.monotonic()
        with pytest.raises(ControlError) as excinfo:
            control.call("status", path=sock_path, timeout=0.5)
        elapsed = time.monotonic() - start
        acceptor.join(timeout=10)
        for conn in accepted:
            conn.close()
    assert accepted, "the silent server never accepted the connection"
    assert str(excinfo.value) == (
        f"the attuned daemon did not answer within 0.5 s (control socket {sock_path}); "
        "see its log with `journalctl --user -u attuned` or restart it with "
        "`systemctl --user restart attuned`"
    )
    assert 0.45 < elapsed < 1.5


def test_a_daemon_that_hangs_up_without_answering(sock_path: Path) -> None:
    sock_path.parent.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(sock_path))
        listener.listen()

        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.close()

        t = threading.Thread(target=hang_up)
        t.start()
        with pytest.raises(ControlError) as excinfo:
            control.call("status", path=sock_path, timeout=5)
        t.join(timeout=10)
    assert str(excinfo.value) == (
        f"the attuned daemon at {sock_path} closed the connection without answering; "
        "see its log with `journalctl --user -u attuned`"
    )


# --- socket file lifecycle ------------------------------------------------------------


def _leave_stale_socket(path: Path) -> None:
    """What a crashed daemon leaves: a socket file nobody listens on."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(path))
    assert path.is_socket()


def test_a_stale_socket_is_replaced(sock_path: Path) -> None:
    _leave_stale_socket(sock_path)
    sock_path.chmod(0o666)
    with Running(sock_path, Handler(), methods=METHODS):
        assert (sock_path.stat().st_mode & 0o777) == 0o600  # ours now, not the stale one
        assert control.call("echo", path=sock_path) == {"method": "echo", "params": {}}


def test_a_live_socket_is_not_taken_over(server: ControlServer) -> None:
    second = Running(server.path, Handler(), methods=METHODS)
    with pytest.raises(AlreadyRunning) as excinfo, second:
        pass
    assert str(excinfo.value) == (
        f"another attuned daemon is already answering on {server.path}; "
        "stop it with `systemctl --user stop attuned`"
    )
    assert control.call("echo", path=server.path) == {"method": "echo", "params": {}}


def test_a_file_in_the_way_is_left_alone(sock_path: Path) -> None:
    sock_path.parent.mkdir(mode=0o700)
    sock_path.write_text("my notes\n")
    with pytest.raises(ControlSocketError) as excinfo, Running(sock_path, Handler()):
        pass
    assert str(excinfo.value) == (
        f"{sock_path} exists and is not a socket; attuned will not remove it. "
        "Move it away, then start attuned again"
    )
    assert sock_path.read_text() == "my notes\n"


def test_close_leaves_a_newer_daemons_socket_alone(sock_path: Path) -> None:
    first = Running(sock_path, Handler(), methods=METHODS)
    with first:
        # Someone (a newer daemon) replaced the socket file while we ran.
        sock_path.unlink()
        _leave_stale_socket(sock_path)
        newer_inode = sock_path.stat().st_ino
    assert sock_path.stat().st_ino == newer_inode


def test_a_path_too_long_for_a_unix_socket_is_explained(short_dir: Path) -> None:
    path = short_dir / ("d" * 100) / "control.sock"
    with pytest.raises(ControlSocketError) as excinfo, Running(path, Handler()):
        pass
    assert str(excinfo.value) == (
        f"cannot create the control socket {path}: AF_UNIX path too long; "
        "set ATTUNED_RUNTIME_DIR to a short directory of yours"
    )


# --- another user ----------------------------------------------------------------------

NOBODY = 65534


def _as_nobody(action: Callable[[], str]) -> str:
    """Run `action` in a forked child whose uid and gid are nobody's; return what it says."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest machinery from here on, only os._exit
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            said = action()
        except BaseException as e:
            said = f"child failed: {type(e).__name__}: {e}"
        os.write(write_end, said.encode())
        os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 15)
        assert ready, "the child running as nobody said nothing within 15 s"
        out = b""
        while chunk := os.read(read_end, 65536):
            out += chunk
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    return out.decode()


def _client_says(path: Path) -> Callable[[], str]:
    def action() -> str:
        try:
            return json.dumps(control.call("echo", path=path, timeout=5))
        except ControlReplyError as e:
            return f"{e.code}: {e}"
        except ControlError as e:
            return f"ControlError: {e}"

    return action


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="switching to another uid (nobody) needs root"
)


@needs_root
def test_another_user_is_kept_out_by_permissions(server: ControlServer) -> None:
    assert _as_nobody(_client_says(server.path)) == (
        f"ControlError: cannot reach the attuned daemon at {server.path}: "
        "permission denied (it belongs to another user)"
    )


@needs_root
def test_another_uid_is_refused_even_when_permissions_let_it_in(
    server: ControlServer, short_dir: Path
) -> None:
    # Open the way on purpose, so that only the SO_PEERCRED check stands between.
    short_dir.chmod(0o711)
    server.path.parent.chmod(0o711)
    server.path.chmod(0o666)
    assert _as_nobody(_client_says(server.path)) == (
        f"forbidden: this attuned daemon belongs to uid {os.getuid()}; "
        f"connections from uid {NOBODY} are refused"
    )
    assert control.call("echo", path=server.path) == {"method": "echo", "params": {}}


def test_the_client_does_not_import_asyncio() -> None:
    # The CLI's quick commands use the client; asyncio alone costs ~70 ms to import.
    code = ("import sys, attuned.daemon.control; "
            "print(sorted(m for m in sys.modules if 'asyncio' in m))")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"



def test_a_full_queue_of_connections_is_waited_out_not_reported_unreachable(
        tmp_path: Path) -> None:
    # A Unix socket whose listen queue is full refuses a connect at once (EAGAIN), where
    # TCP would wait in line: a daemon busy with many clients must not look unreachable.
    path = tmp_path / "full.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(0)
    queued: list[socket.socket] = []
    try:
        while True:  # fill the queue until the kernel refuses
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(str(path))
            except BlockingIOError:
                s.close()
                break
            queued.append(s)
        assert queued

        def serve() -> None:
            server.settimeout(10)
            for _ in range(len(queued) + 1):
                conn, _ = server.accept()
                with conn:
                    conn.settimeout(0.5)
                    try:
                        request = json.loads(conn.makefile("rb").readline())
                    except (TimeoutError, ValueError):
                        continue  # one of the fillers: it never sends
                    conn.sendall(json.dumps({"id": request["id"], "ok": True,
                                             "result": {"heard": request["method"]}}
                                            ).encode() + b"\n")
                    return

        timer = threading.Timer(0.3, serve)
        timer.start()
        assert control.call("status", path=path, timeout=10) == {"heard": "status"}
        timer.join(10)
    finally:
        for s in queued:
            s.close()
        server.close()
