"""The single-instance lock, exercised across real processes."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from attuned.daemon import lock
from attuned.errors import AlreadyRunning

HOLDER = """
import sys
from pathlib import Path
from attuned.daemon import lock
held = lock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
"""

ACQUIRE_AND_REPORT = """
import sys
from pathlib import Path
from attuned.daemon import lock
from attuned.errors import AlreadyRunning
try:
    lock.acquire(Path(sys.argv[1]))
except AlreadyRunning as e:
    print(e)
    sys.exit(3)
print("acquired")
"""


def _message(pid: int) -> str:
    return (
        f"attuned is already running for this user (pid {pid}); "
        f"stop it with `systemctl --user stop attuned` or `kill {pid}`"
    )


def _read_line(proc: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no output from pid {proc.pid} within {timeout} s"
    return proc.stdout.readline().strip()


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A separate process holding the lock at tmp_path/run/daemon.lock."""
    path = tmp_path / "run" / "daemon.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert _read_line(proc) == "locked"
        yield proc, path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def test_acquire_creates_a_private_dir_and_records_our_pid(tmp_path: Path) -> None:
    path = tmp_path / "run" / "daemon.lock"
    with lock.acquire(path) as held:
        assert held.held
        assert (path.parent.stat().st_mode & 0o777) == 0o700
        assert (path.stat().st_mode & 0o777) == 0o600
        assert path.read_text() == f"{os.getpid()}\n"
        assert lock.read_holder(path) == os.getpid()
    assert not held.held


def test_default_path_is_in_the_runtime_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNED_RUNTIME_DIR", str(tmp_path / "rt"))
    with lock.acquire() as held:
        assert held.path == tmp_path / "rt" / "daemon.lock"
        assert lock.read_holder() == os.getpid()


def test_second_acquire_in_another_process_names_the_holder(
    holder: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, path = holder
    with pytest.raises(AlreadyRunning) as excinfo:
        lock.acquire(path)
    assert str(excinfo.value) == _message(proc.pid)
    # The failed attempt must not have wiped the holder's pid.
    assert path.read_text() == f"{proc.pid}\n"
    # And a third process is told the same.
    third = subprocess.run(
        [sys.executable, "-c", ACQUIRE_AND_REPORT, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert third.returncode == 3
    assert third.stdout.strip() == _message(proc.pid)


def test_second_acquire_in_the_same_process_is_refused(tmp_path: Path) -> None:
    # flock locks belong to the open file, so even our own second open is refused.
    path = tmp_path / "daemon.lock"
    with lock.acquire(path), pytest.raises(AlreadyRunning) as excinfo:
        lock.acquire(path)
    assert str(excinfo.value) == _message(os.getpid())


def test_after_kill_9_of_the_holder_the_lock_is_free(
    holder: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, path = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert path.read_text() == f"{proc.pid}\n"  # the stale pid is still in the file
    assert lock.read_holder(path) is None  # ...but that process is gone
    with lock.acquire(path):
        assert path.read_text() == f"{os.getpid()}\n"


def test_release_clears_the_pid_and_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "daemon.lock"
    held = lock.acquire(path)
    held.release()
    held.release()  # twice is harmless
    assert path.read_text() == ""
    assert lock.read_holder(path) is None
    result = subprocess.run(
        [sys.executable, "-c", ACQUIRE_AND_REPORT, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "acquired")


def test_a_locked_file_without_a_pid_yet_is_still_reported(tmp_path: Path) -> None:
    # A daemon that has just locked but not yet written its pid.
    import fcntl

    path = tmp_path / "daemon.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(AlreadyRunning) as excinfo:
            lock.acquire(path)
    finally:
        os.close(fd)
    assert str(excinfo.value) == (
        f"attuned is already running for this user (it holds {path}); "
        "stop it with `systemctl --user stop attuned`"
    )


@pytest.mark.parametrize("content", ["", "garbage\n", "0\n", "-5\n"])
def test_read_holder_ignores_content_that_is_not_a_pid(tmp_path: Path, content: str) -> None:
    path = tmp_path / "daemon.lock"
    path.write_text(content)
    assert lock.read_holder(path) is None
    assert lock.read_holder(tmp_path / "missing.lock") is None
