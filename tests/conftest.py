"""Shared fixtures. Every test runs with its own config, state and runtime directories,
so nothing touches the real user's files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from attuned.state.store import Store

# Private buses, the test notification server and their fixtures (tests/buses.py); the
# `daemons` fixture for end-to-end daemon tests (tests/daemon_harness.py).
pytest_plugins = ["buses", "daemon_harness", "user_manager"]


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    for sub in ("config", "state", "runtime", "data"):
        (home / sub).mkdir(parents=True)
    (home / "runtime").chmod(0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "runtime"))
    for var in ("ATTUNED_CONFIG", "ATTUNED_STATE_DIR", "ATTUNED_RUNTIME_DIR", "NOTIFY_SOCKET",
                "JOURNAL_STREAM", "WATCHDOG_USEC", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh history store for service-level tests (test_store.py has its own)."""
    s = Store.open(tmp_path / "history.db")
    yield s
    s.close()
