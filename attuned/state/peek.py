"""A look at the history that changes nothing: the open nudges, for shell completion.

Completion runs at every Tab, beside a daemon that may be writing. So this never creates
the database or a file beside it, never waits for a lock for more than a moment, and gives
nothing rather than an error.

A fact found here (SQLite 3.40, tests/test_cli_completion.py shows it): a read-only
connection ("mode=ro") to a WAL database whose -wal and -shm files are absent creates both,
and leaves them behind. They are absent only when no connection has the database open,
and then the main file holds every change: it is read as immutable (no locks, no files).
When they are there, a writer has it open, and a read-only connection reads the WAL too.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# `NudgeRecord.is_open` in SQL: shown and unanswered, or snoozed and not yet returned.
OPEN_WHERE: Final = "(state = 'shown' OR (state = 'snoozed' AND returned_at IS NULL))"

# The longest a look waits for another connection's lock: a Tab must answer at once.
WAIT_S: Final = 0.05


@dataclass(frozen=True)
class OpenNudge:
    id: str
    practice_id: str
    title: str


def open_nudges(db: Path, limit: int = 50) -> list[OpenNudge]:
    """The open nudges, newest shown first; none when the database is absent, busy,
    damaged or cannot be read."""
    wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
    try:
        if not db.is_file():
            return []
        if not wal.exists() and not shm.exists():
            mode = "ro&immutable=1"
        elif wal.exists() and shm.exists():
            mode = "ro"
        else:
            return []  # a crashed writer's leftovers: only a writer may recover them
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode={mode}", uri=True,
                               timeout=WAIT_S)
    except (OSError, sqlite3.Error):
        return []
    try:
        rows = conn.execute(
            f"SELECT id, practice_id, title FROM nudges WHERE {OPEN_WHERE}"
            " ORDER BY shown_at DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [OpenNudge(str(i), str(p), str(t)) for i, p, t in rows]
