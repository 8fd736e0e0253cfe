"""When the daemon refuses a connection as busy (it read nothing, so did nothing), done,
skip and reflect fall back to the history as when no daemon runs; snooze, which needs the
daemon to bring the nudge back, says so. The refusing daemon is a FAKE: a socket that
answers every connection with the server's own busy reply (a real daemon is busy only
while every one of its connections is being answered, which a test cannot hold still)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attuned.state.store import Store

ROOT = Path(__file__).resolve().parent.parent
BUSY = {"id": None, "ok": False,
        "error": {"code": "busy", "message": "the attuned daemon has too many open connections"}}


@pytest.fixture
def busy_socket() -> Iterator[Path]:
    run = Path(tempfile.mkdtemp(prefix="att-", dir="/tmp"))
    os.chmod(run, 0o700)
    path = run / "control.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall((json.dumps(BUSY) + "\n").encode())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield run
    stop.set()
    srv.close()
    t.join(5)
    path.unlink(missing_ok=True)
    run.rmdir()


def attuned(tmp: Path, run: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ATTUNED_STATE_DIR": str(tmp / "state"),
           "ATTUNED_RUNTIME_DIR": str(run), "XDG_CONFIG_HOME": str(tmp / "config")}
    env.pop("ATTUNED_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "attuned", *args], capture_output=True,
                          text=True, timeout=20, env=env, cwd=ROOT)


def shown(tmp: Path) -> str:
    at = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    with Store.open(tmp / "state" / "history.db") as s:
        return s.record_shown("tea", at, at, "Tea", "Make tea.").id


def test_done_falls_back_to_the_history_when_the_daemon_is_busy(
        tmp_path: Path, busy_socket: Path) -> None:
    nid = shown(tmp_path)
    r = attuned(tmp_path, busy_socket, "done")
    assert r.returncode == 0, r.stderr
    with Store.open(tmp_path / "state" / "history.db") as s:
        rec = s.get(nid)
    assert (str(rec.state), rec.source) == ("done", "cli")


def test_snooze_refused_as_busy_says_what_to_do(tmp_path: Path, busy_socket: Path) -> None:
    nid = shown(tmp_path)
    r = attuned(tmp_path, busy_socket, "snooze")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ("attuned: the attuned daemon has too many open connections; try the "
                        "snooze again in a moment, or answer with `attuned done` / "
                        "`attuned skip`\n")
    with Store.open(tmp_path / "state" / "history.db") as s:
        rec = s.newest_open()
    assert rec is not None and rec.id == nid  # still open: nothing answered


def test_two_hundred_silent_connections_do_not_keep_done_out_of_a_real_daemon(
        tmp_path: Path) -> None:
    from datetime import timedelta

    from daemon_harness import DaemonProcess, practice, settings, utc_now

    start = utc_now().replace(microsecond=0)
    d = DaemonProcess(tmp_path, fake_clock=start, config_text=settings() + practice(
        "tea", once=start + timedelta(seconds=2)))
    held: list[socket.socket] = []
    try:
        d.start()
        d.advance(3)
        d.wait_for_log(r"INFO attuned: nudged tea", 10)
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(d.runtime_dir / "control.sock"))
            held.append(s)
        mark = d.mark()
        r = d.cli("done")
        assert r.returncode == 0, r.stderr
        assert r.stdout == f'Marked done: "Tea" ({d.history()[-1].nudge_id}).\n'
        assert [k for _, k, _src in d.kinds("tea")] == ["shown", "done"]
        assert d.call("status")["open"] == []
        assert d.log_matches("closed an idle control connection to make room", since=mark)
        assert "Traceback" not in d.log_text()
    finally:
        for s in held:
            s.close()
        d.cleanup()
