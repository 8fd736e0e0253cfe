"""A FIFO where the history or the schedule should be: every command and the daemon say
so in one line and exit, instead of waiting forever for a writer (each run here is under
a timeout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_harness import Daemons, practice, settings

ROOT = Path(__file__).resolve().parent.parent


def history_fifo_message(db: Path) -> str:
    return (f"attuned: {db} is not a regular file (a named pipe); the history is a plain "
            "SQLite file: move this one away and attuned starts a new one\n")


@pytest.mark.parametrize("command", [["history"], ["done"], ["skip"], ["stats"]])
def test_a_fifo_as_the_history_is_one_line(tmp_path: Path, command: list[str]) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.mkfifo(state / "history.db")
    config = tmp_path / "config.toml"
    config.write_text(settings() + practice("tea"))
    env = {**os.environ, "ATTUNED_STATE_DIR": str(state),
           "ATTUNED_RUNTIME_DIR": str(tmp_path / "run")}
    env.pop("ATTUNED_CONFIG", None)
    r = subprocess.run([sys.executable, "-m", "attuned", "--config", str(config), *command],
                       capture_output=True, text=True, timeout=20, env=env, cwd=ROOT)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", history_fifo_message(
        state / "history.db"))


def test_the_daemon_with_a_fifo_as_the_history_exits_saying_so(daemons: Daemons) -> None:
    d = daemons(config_text=settings() + practice("tea"))
    os.mkfifo(d.state_dir / "history.db")
    d.start(wait_ready=False)
    assert d.wait_exit(timeout=15) != 0
    assert history_fifo_message(d.state_dir / "history.db").removeprefix(
        "attuned: ").strip() in d.log_text()
    assert "Traceback" not in d.log_text()


def test_the_daemon_with_a_fifo_as_the_schedule_does_not_hang(daemons: Daemons) -> None:
    d = daemons()
    os.mkfifo(d.config)
    d.start(wait_ready=False)
    d.wait_for_log(r"is not a regular file \(a named pipe\)", timeout=15)
    assert "Traceback" not in d.log_text()


def test_doctor_names_a_fifo_as_the_history_without_waiting_on_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.mkfifo(state / "history.db")
    config = tmp_path / "config.toml"
    config.write_text(settings() + practice("tea"))
    env = {**os.environ, "ATTUNED_STATE_DIR": str(state),
           "ATTUNED_RUNTIME_DIR": str(tmp_path / "run")}
    env.pop("ATTUNED_CONFIG", None)
    r = subprocess.run([sys.executable, "-m", "attuned", "--config", str(config), "doctor"],
                       capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    lines = r.stdout.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("✗ history"))
    assert lines[i:i + 2] == [
        f"✗ history         {state / 'history.db'} is not a regular file (a named pipe)",
        "                  fix: move it away: attuned then starts a fresh history in its place",
    ]
    assert r.returncode == 1
