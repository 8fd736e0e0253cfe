"""The daemon's local control socket (JSON lines over a unix socket) and its client.

Protocol, one JSON object per line (UTF-8, at most 64 KiB per line):

  request  {"id": <any JSON>, "method": "status", "params": {...}}   (id, params optional)
  reply    {"id": <same>, "ok": true,  "result": {...}}
           {"id": <same>, "ok": false, "error": {"code": "...", "message": "..."}}

Error codes from the protocol itself: too_large, bad_json, bad_request, unknown_method,
invalid_params, forbidden, busy, idle_timeout, internal. An AttunedError raised by the handler
gets its class name in snake case (PracticeNotFound -> "practice_not_found").

The socket lives in a 0700 directory, is itself 0600, and a peer with another uid is
refused (SO_PEERCRED). Blank lines are ignored; a final line without a newline is still
answered (so `printf '{"method":"status"}' | nc -U ...` works).

A connection gets FIRST_REQUEST_TIMEOUT for its first request and IDLE_TIMEOUT between
later ones. At MAX_CONNECTIONS a new client closes the one that has waited longest for
a request; only when every connection is being answered is it refused as busy (before
reading anything, so the CLI may fall back to the history).

The client is synchronous and imports nothing from asyncio: the CLI's quick commands must
stay quick (importing asyncio costs about 70 ms).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import socket
import stat
import struct
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attuned import paths
from attuned.errors import (
    AlreadyRunning,
    AttunedError,
    ControlError,
    DaemonBusy,
    DaemonNotRunning,
)

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024  # request line limit, excluding the newline
MAX_REPLY = 16 * 1024 * 1024  # what the client accepts; replies can list many nudges
IDLE_TIMEOUT = 60.0
# A connection that has sent nothing yet gets this long: clients send their request at
# once, and idle connections held open must not keep the owner's commands out.
FIRST_REQUEST_TIMEOUT = 5.0
MAX_CONNECTIONS = 64

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

_INTERNAL = "internal error (details in the daemon's log)"
_START_HINT = "start it with `attuned run` or `systemctl --user start attuned`"


class ControlSocketError(AttunedError):
    """The control socket cannot be set up (path in the way, too long, wrong owner)."""


class UnknownMethod(ControlError):
    """Raised by a handler for a method it does not serve; replied as unknown_method."""


class InvalidParams(ControlError):
    """A request's parameter of the wrong type or value (or one the method does not
    take); replied as invalid_params, naming it. Nothing is done for such a request."""


# The longest text a parameter may carry (a note, a reflection): a line a person typed.
MAX_TEXT = 2000


class Params:
    """A request's parameters, checked by type and value as a handler takes them.

    A handler names the parameters its method takes (`allow`); any other is refused, and
    so is a value of the wrong type (a number, a list, null where text is asked for) or
    out of range. An absent optional parameter is None."""

    def __init__(self, method: str, params: Mapping[str, object],
                 allow: Collection[str]) -> None:
        self.method = method
        self._params = params
        unknown = sorted(set(params) - set(allow))
        if unknown:
            takes = ", ".join(f'"{a}"' for a in allow) or "none"
            raise InvalidParams(f'"{method}" takes no parameter {_short(unknown[0])} '
                                f"(it takes: {takes})")

    def text(self, name: str, *, required: bool = False, empty: bool = False,
             choices: Collection[str] | None = None, max_len: int = MAX_TEXT) -> str | None:
        if name not in self._params:
            if required:
                raise InvalidParams(f'"{self.method}" needs the parameter "{name}"')
            return None
        value = self._params[name]
        if not isinstance(value, str):
            raise InvalidParams(f'parameter "{name}" of "{self.method}" must be text, not '
                                f"{_json_kind(value)}")
        if not value and not empty:
            raise InvalidParams(f'parameter "{name}" of "{self.method}" must not be empty')
        if len(value) > max_len:
            raise InvalidParams(f'parameter "{name}" of "{self.method}" is longer than '
                                f"{max_len} characters")
        if choices is not None and value not in choices:
            raise InvalidParams(f'parameter "{name}" of "{self.method}" must be one of '
                                f"{', '.join(choices)}, not {_short(value)}")
        return value

    def duration(self, name: str, *, most: timedelta) -> timedelta | None:
        """A duration like "20m", longer than zero and at most `most`."""
        from attuned.core.durations import format_duration, parse_duration

        text = self.text(name)
        if text is None:
            return None
        try:
            length = parse_duration(text)
        except ValueError as e:
            raise InvalidParams(f'parameter "{name}" of "{self.method}": {e}') from None
        if length > most:
            raise InvalidParams(f'parameter "{name}" of "{self.method}": {_short(text)} is '
                                f"longer than {format_duration(most)}")
        return length


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class ControlReplyError(ControlError):
    """The daemon answered a request with an error; `code` says which kind."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class _Reject(Exception):
    """A request the server answers with an error without calling the handler."""

    def __init__(self, code: str, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def _code_for(error: AttunedError) -> str:
    if isinstance(error, UnknownMethod):
        return "unknown_method"
    if isinstance(error, InvalidParams):
        return "invalid_params"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


def _short(value: str, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 4] + '..."'


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _error(request_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": {"code": code, "message": message}}


def _encode(reply: dict[str, Any]) -> bytes:
    # Strict JSON any client can read: no NaN, and ASCII so that a lone surrogate sent in
    # a request and echoed back cannot make the reply unencodable.
    return (json.dumps(reply, allow_nan=False) + "\n").encode("ascii")


def _socket_answers(path: Path) -> bool:
    """True if something accepts connections on the unix socket at `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except TimeoutError:
            return True  # listening, backlog full: alive but busy
        return True


class ControlServer:
    """Serves `handler(method, params) -> result` on a unix socket, one task per client."""

    def __init__(
        self,
        path: Path | None,
        handler: Handler,
        *,
        methods: Collection[str] | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        first_request_timeout: float = FIRST_REQUEST_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.path = paths.control_socket() if path is None else path
        self._handler = handler
        self._methods = None if methods is None else frozenset(methods)
        self._idle_timeout = idle_timeout
        self._first_timeout = min(first_request_timeout, idle_timeout)
        self._max_connections = max_connections
        # Each connection's writer, and since when it has waited for a request (None while
        # one is being answered): at the limit, the longest waiting one makes room.
        self._waiting: dict[asyncio.Task[Any], tuple[asyncio.StreamWriter, float | None]] = {}
        self._evicted: set[asyncio.Task[Any]] = set()
        self._server: asyncio.AbstractServer | None = None
        self._inode: tuple[int, int] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        import asyncio

        directory = paths.ensure_private_dir(self.path.parent)
        owner = directory.stat().st_uid
        if owner != os.getuid():
            raise ControlSocketError(
                f"the control socket directory {directory} belongs to uid {owner}, not to you "
                f"(uid {os.getuid()}); remove it or set ATTUNED_RUNTIME_DIR to a directory of yours"
            )
        self._clear_stale()  # blocks at most 1 s, once, at start-up
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
        except OSError as e:
            sock.close()
            raise ControlSocketError(
                f"cannot create the control socket {self.path}: {e.strerror or e}; "
                "set ATTUNED_RUNTIME_DIR to a short directory of yours"
            ) from e
        # The 0700 directory already keeps others out between bind and chmod.
        os.chmod(self.path, 0o600)
        st = os.stat(self.path)
        self._inode = (st.st_dev, st.st_ino)
        # sock= rather than path=: asyncio 3.11's create_unix_server(path=...) deletes any
        # socket file at the path, even one a live daemon is serving.
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_LINE)
        log.info("control socket listening on %s", self.path)

    def _clear_stale(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlSocketError(
                f"{self.path} exists and is not a socket; attuned will not remove it. "
                "Move it away, then start attuned again"
            )
        if _socket_answers(self.path):
            raise AlreadyRunning(
                f"another attuned daemon is already answering on {self.path}; "
                "stop it with `systemctl --user stop attuned`"
            )
        log.info("replacing stale control socket %s (nothing answered on it)", self.path)
        self.path.unlink(missing_ok=True)

    async def close(self) -> None:
        import asyncio

        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Remove the socket only if it is still ours (not one a newer daemon bound since).
        if self._inode is not None:
            try:
                st = os.lstat(self.path)
                if (st.st_dev, st.st_ino) == self._inode:
                    self.path.unlink()
            except FileNotFoundError:
                pass
            self._inode = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import asyncio

        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            refusal = self._refusal(writer)
            if refusal is not None:
                await self._send(writer, refusal)
                return
            await self._conversation(reader, writer)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or stopped reading: nothing to answer
        except Exception:
            log.exception("control connection failed unexpectedly")
        finally:
            self._tasks.discard(task)
            self._waiting.pop(task, None)
            self._evicted.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _refusal(self, writer: asyncio.StreamWriter) -> dict[str, Any] | None:
        sock = writer.get_extra_info("socket")
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", creds)
        if uid != os.getuid():
            log.warning("refused a control connection from uid %d (pid %d)", uid, pid)
            return _error(
                None,
                "forbidden",
                f"this attuned daemon belongs to uid {os.getuid()}; "
                f"connections from uid {uid} are refused",
            )
        if len(self._tasks) > self._max_connections and not self._make_room():
            log.warning("refused a control connection: %d already open", len(self._tasks) - 1)
            return _error(None, "busy", "the attuned daemon has too many open connections")
        return None

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for a request; False when every
        open connection is being answered."""
        idle = [(since, task, writer) for task, (writer, since) in self._waiting.items()
                if since is not None]
        if not idle:
            return False
        _since, task, writer = min(idle, key=lambda x: x[0])
        log.info("closed an idle control connection to make room for a new one")
        # Closed, not cancelled: a cancelled connection task is logged by asyncio's
        # stream callback as an error. Its read ends at EOF and it leaves quietly.
        self._waiting.pop(task, None)
        self._tasks.discard(task)
        self._evicted.add(task)
        writer.close()
        return True

    async def _conversation(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        import asyncio

        task = asyncio.current_task()
        assert task is not None
        at_eof = False
        timeout = self._first_timeout
        while not at_eof:
            self._waiting[task] = (writer, time.monotonic())
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
            except asyncio.IncompleteReadError as eof:
                line, at_eof = eof.partial, True
            except asyncio.LimitOverrunError:
                await self._send(
                    writer,
                    _error(None, "too_large", f"request too large (limit {MAX_LINE} bytes)"),
                )
                return
            except TimeoutError:
                await self._send(
                    writer,
                    _error(
                        None,
                        "idle_timeout",
                        f"no request for {timeout:g} s; closing the connection",
                    ),
                )
                return
            if task in self._evicted:
                return  # closed to make room: what it had sent of a line is not answered
            self._waiting[task] = (writer, None)
            if line.strip():
                timeout = self._idle_timeout
                await self._send(writer, await self._answer(line))

    async def _send(self, writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
        import asyncio

        try:
            data = _encode(reply)
        except (TypeError, ValueError):
            log.exception("control handler returned a result that is not JSON")
            data = _encode(_error(reply.get("id"), "internal", _INTERNAL))
        writer.write(data)
        # Bounded: a client that never reads must not pin this task.
        await asyncio.wait_for(writer.drain(), self._idle_timeout)

    async def _answer(self, line: bytes) -> dict[str, Any]:
        request_id: Any = None
        try:
            request_id, method, params = self._parse(line)
            result = await self._handler(method, params)
            if not isinstance(result, dict):
                raise TypeError(f"handler returned {type(result).__name__}, not a dict")
        except _Reject as r:
            log.info("control request rejected (%s): %s", r.code, r.message)
            return _error(r.request_id, r.code, r.message)
        except AttunedError as e:
            return _error(request_id, _code_for(e), str(e))
        except Exception:
            log.exception("control request failed")
            return _error(request_id, "internal", _INTERNAL)
        return {"id": request_id, "ok": True, "result": result}

    def _parse(self, line: bytes) -> tuple[Any, str, dict[str, Any]]:
        try:
            request = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError as e:
            raise _Reject("bad_json", "request is not UTF-8 text") from e
        except RecursionError as e:
            raise _Reject("bad_json", "request JSON is nested too deeply") from e
        except ValueError as e:
            raise _Reject("bad_json", f"request is not valid JSON: {e}") from e
        if not isinstance(request, dict):
            raise _Reject("bad_request", "request must be a JSON object with a \"method\"")
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params", {})
        if not isinstance(method, str) or not method:
            raise _Reject("bad_request", 'request needs a "method" string', request_id)
        if self._methods is not None and method not in self._methods:
            known = ", ".join(sorted(self._methods))
            raise _Reject(
                "unknown_method",
                f"unknown method {_short(str(method))}; known methods: {known}",
                request_id,
            )
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise _Reject("invalid_params", '"params" must be a JSON object', request_id)
        return request_id, method, params


# --- client (synchronous; used by the CLI) -------------------------------------------

_ids = itertools.count(1)



def _connect(sock: socket.socket, address: str, remaining: Callable[[], float]) -> None:
    """Connect, waiting while the daemon's queue of connections is full: a Unix socket
    refuses at once (EAGAIN) rather than waiting in line as TCP would, and a daemon
    busy making room for the owner's command empties that queue within moments."""
    while True:
        sock.settimeout(remaining())
        try:
            sock.connect(address)
            return
        except BlockingIOError:
            time.sleep(min(0.02, remaining()))


def call(
    method: str,
    params: dict[str, Any] | None = None,
    *,
    path: Path | None = None,
    timeout: float = 3.0,
) -> dict[str, Any]:
    """Send one request to the daemon and return its result; never waits beyond `timeout`.

    Raises DaemonNotRunning when no daemon listens, ControlReplyError (a ControlError)
    when it answers with an error, ControlError when it does not answer in time.
    """
    sock_path = paths.control_socket() if path is None else path
    deadline = time.monotonic() + timeout
    request_id = f"{os.getpid()}-{next(_ids)}"
    data = _encode({"id": request_id, "method": method, "params": params or {}})

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def no_answer() -> ControlError:
        return ControlError(
            f"the attuned daemon did not answer within {timeout:g} s (control socket "
            f"{sock_path}); see its log with `journalctl --user -u attuned` or restart it "
            "with `systemctl --user restart attuned`"
        )

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            _connect(sock, str(sock_path), remaining)
        except FileNotFoundError as e:
            raise DaemonNotRunning(
                f"the attuned daemon is not running (no control socket at {sock_path}); "
                f"{_START_HINT}"
            ) from e
        except ConnectionRefusedError as e:  # a socket file left by a daemon that died
            raise DaemonNotRunning(
                "the attuned daemon is not running (nothing answers on the control socket "
                f"{sock_path}); {_START_HINT}"
            ) from e
        except PermissionError as e:
            raise ControlError(
                f"cannot reach the attuned daemon at {sock_path}: permission denied "
                "(it belongs to another user)"
            ) from e
        except TimeoutError as e:
            raise no_answer() from e
        except OSError as e:
            raise ControlError(
                f"cannot reach the attuned daemon at {sock_path}: {e.strerror or e}"
            ) from e
        buffer = b""
        try:
            sock.settimeout(remaining())
            # The daemon may have answered (e.g. refused us) and hung up before we finished.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(data)
            while b"\n" not in buffer:
                sock.settimeout(remaining())
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                if len(buffer) > MAX_REPLY:
                    raise ControlError(
                        f"the attuned daemon sent a reply larger than {MAX_REPLY} bytes"
                    )
        except TimeoutError as e:
            raise no_answer() from e
        except ConnectionResetError:
            pass  # data sent before the reset has been read; judged below
    line, newline, _rest = buffer.partition(b"\n")
    if not newline:
        raise ControlError(
            f"the attuned daemon at {sock_path} closed the connection without answering; "
            "see its log with `journalctl --user -u attuned`"
        )
    return _read_reply(line, request_id)


def _read_reply(line: bytes, request_id: str) -> dict[str, Any]:
    try:
        reply = json.loads(line.decode("utf-8"))
    except ValueError as e:
        raise ControlError(f"the attuned daemon sent a reply that is not JSON: {e}") from e
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise ControlError("the attuned daemon sent a reply attuned cannot read")
    if reply["ok"]:
        result = reply.get("result")
        if reply.get("id") != request_id or not isinstance(result, dict):
            raise ControlError("the attuned daemon sent a reply attuned cannot read")
        return result
    error = reply.get("error")
    if not isinstance(error, dict):
        raise ControlError("the attuned daemon sent a reply attuned cannot read")
    message = error.get("message")
    code = error.get("code")
    if code == "busy" and isinstance(message, str):
        raise DaemonBusy(message)
    raise ControlReplyError(
        message if isinstance(message, str) else "the attuned daemon reported an error",
        code if isinstance(code, str) else "error",
    )


def is_running(path: Path | None = None) -> bool:
    """True if a daemon accepts connections on the control socket."""
    sock_path = paths.control_socket() if path is None else path
    try:
        return _socket_answers(sock_path)
    except OSError:
        return False
