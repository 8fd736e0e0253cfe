"""Holding the history's write lock from outside, as another process would (a second
`attuned` writing, a backup tool, `sqlite3 history.db` left open in a transaction).

    with WriteLock(path):      # BEGIN IMMEDIATE on its own connection
        ...                    # the daemon's writes wait their busy timeout, then fail

A separate connection is a separate lock holder to SQLite, in this process or another.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class WriteLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def take(self) -> WriteLock:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        conn.execute("BEGIN IMMEDIATE")  # the write lock, held until release()
        self._conn = conn
        return self

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None

    def __enter__(self) -> WriteLock:
        return self.take()

    def __exit__(self, *exc: object) -> None:
        self.release()
