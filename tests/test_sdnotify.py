"""sd_notify: the messages systemd would receive, read from a real datagram socket."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from attuned.daemon.sdnotify import SdNotifier


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing where systemd's notify socket would be."""
    path = tmp_path / "notify"
    assert len(str(path)) < 100, "AF_UNIX paths are limited to 108 bytes"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def fields(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_status_watchdog_stopping_arrive_as_sent(
        receiver: tuple[socket.socket, str]) -> None:
    sock, path = receiver
    n = SdNotifier({"NOTIFY_SOCKET": path})
    assert n.enabled
    assert n.ready()
    assert fields(sock) == ["READY=1"]
    assert n.ready(status="next: breakfast at 08:00")
    assert fields(sock) == ["READY=1", "STATUS=next: breakfast at 08:00"]
    assert n.status("next: eye contact at 18:30")
    assert fields(sock) == ["STATUS=next: eye contact at 18:30"]
    assert n.watchdog()
    assert fields(sock) == ["WATCHDOG=1"]
    assert n.stopping()
    assert fields(sock) == ["STOPPING=1"]
    n.close()


def test_status_is_kept_to_one_line(receiver: tuple[socket.socket, str]) -> None:
    sock, path = receiver
    SdNotifier({"NOTIFY_SOCKET": path}).status("two\nlines")
    # A raw newline would have made "lines" a field of its own.
    assert fields(sock) == ["STATUS=two lines"]


def test_reloading_carries_the_monotonic_time_then_ready(
        receiver: tuple[socket.socket, str]) -> None:
    sock, path = receiver
    n = SdNotifier({"NOTIFY_SOCKET": path})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    n.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    n.ready()
    first = fields(sock)
    assert first[0] == "RELOADING=1"
    key, _, value = first[1].partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after
    assert fields(sock) == ["READY=1"]


def test_abstract_socket_name_with_at_sign() -> None:
    name = f"attuned-test-{uuid.uuid4()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert SdNotifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert fields(sock) == ["READY=1"]
    finally:
        sock.close()


def test_without_notify_socket_everything_is_a_quiet_no_op(
        caplog: pytest.LogCaptureFixture) -> None:
    n = SdNotifier({})
    assert not n.enabled
    assert not n.ready()
    assert not n.reloading()
    assert not n.watchdog()
    assert n.watchdog_interval() is None
    assert caplog.records == []


def test_send_failure_is_logged_once_and_never_raised(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    n = SdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with caplog.at_level(logging.WARNING, logger="attuned.daemon.sdnotify"):
        assert not n.ready()
        assert not n.watchdog()
        assert not n.stopping()
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(
        "could not report to systemd through NOTIFY_SOCKET ([Errno 2] No such file or directory)")


def test_a_full_socket_queue_drops_messages_instead_of_blocking(
        receiver: tuple[socket.socket, str]) -> None:
    # Linux queues only net.unix.max_dgram_qlen (10) datagrams for an unread socket; a
    # blocking sendto would then hang the daemon until systemd reads. We drop instead.
    _sock, path = receiver
    n = SdNotifier({"NOTIFY_SOCKET": path})
    results = [n.watchdog() for _ in range(200)]
    assert results[0] is True
    assert False in results


def test_unusable_notify_socket_value_disables(caplog: pytest.LogCaptureFixture) -> None:
    n = SdNotifier({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not n.enabled
    assert "NOTIFY_SOCKET='vsock:2:1234' is not a socket path" in caplog.text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "120000000"}, 120.0),
        ({"WATCHDOG_USEC": "1500000"}, 1.5),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": "4242"}, 120.0),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": "4243"}, None),  # another process
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": "x"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert SdNotifier(env, pid=4242).watchdog_interval() == expected


def test_watchdog_pid_defaults_to_our_own_pid() -> None:
    env = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert SdNotifier(env).watchdog_interval() == 2.0


def test_reads_the_process_environment_by_default(
        receiver: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch) -> None:
    sock, path = receiver
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert SdNotifier().ready()
    assert fields(sock) == ["READY=1"]
