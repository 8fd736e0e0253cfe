"""Opening the history database: what `Store.open` finds at the path, and what it does.

- absent, or 0 bytes (nothing in it): a fresh history is made (the empty file is said, once:
  it is no longer empty afterwards);
- damaged (not SQLite, malformed, fails quick_check): moved aside, never deleted, and a
  fresh one made (attuned.state.database.move_aside);
- yours but not readable or not writable (a chmod, another owner): refused with the fix,
  nothing moved, since a permission is not damage;
- another program's SQLite database (its own application id or user version, or tables
  but none of attuned's): refused, named, never changed;
- for a caller that only reads (`read_only`), a file or directory you may not write is
  read through a connection that never writes, with no migration (none yet, in a
  directory you may not write: an empty history, in memory).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from attuned import paths
from attuned.errors import StoreError
from attuned.state import legacy
from attuned.state.database import (
    check,
    connect,
    connect_read_only,
    foreign,
    move_aside,
    permission_problem,
)
from attuned.state.migrations import LATEST_VERSION, DatabaseTooNew, migrate, pending


@dataclass
class Opened:
    conn: sqlite3.Connection
    moved_aside: Path | None = None
    note_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    was_empty: bool = False  # a 0-byte file was there, and is a fresh history now


def unwritable(db: Path) -> str | None:
    """Why a write to `db` is not possible here (the file or its directory read-only),
    or None."""
    if not db.exists():
        if db.parent.is_dir() and not os.access(db.parent, os.W_OK):
            return f"its directory {db.parent} is read-only"
        return None
    if not os.access(db, os.W_OK):
        return f"{db} is read-only"
    if not os.access(db.parent, os.W_OK):
        return f"its directory {db.parent} is read-only"
    return None


def open_read_only(db: Path, busy_timeout: float, why: str) -> Opened:
    """Read a history that cannot be written (`why`): never migrated, never changed.
    None there yet (and none can be made): an empty one, in memory."""
    if not db.exists():
        conn = connect(Path(":memory:"), busy_timeout)
        migrate(conn, db)
        return Opened(conn)
    problem = permission_problem(db, write=False)
    if problem is not None:
        raise StoreError(problem)
    if db.stat().st_size == 0:
        raise StoreError(f"the history database at {db} is empty (0 bytes: nothing in it "
                         f"yet), and it cannot be started fresh because {why}")
    damage = check(db)
    if damage is not None:
        raise StoreError(f"the history database at {db} is damaged ({damage}), and it cannot "
                         f"be moved aside because {why}; make it writable and run attuned "
                         "again, or move it away by hand")
    other = foreign(db)
    if other is not None:
        raise StoreError(other)
    conn = connect_read_only(db, busy_timeout)
    try:
        version = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] or 0
        todo = pending(conn)
    except sqlite3.Error as e:
        conn.close()
        raise StoreError(f"cannot read the history database at {db}: {e}") from e
    if version > LATEST_VERSION:
        conn.close()
        raise DatabaseTooNew(
            f"the history database at {db} was written by a newer attuned "
            f"(schema {version}, this one knows up to {LATEST_VERSION}); "
            "upgrade attuned. The database was left as it is")
    if todo:
        conn.close()
        raise StoreError(f"the history database at {db} must be upgraded (schema {version} "
                         f"to {LATEST_VERSION}) before it can be read, and {why}; make it "
                         "writable and run attuned again")
    return Opened(conn)


def open_read_write(db: Path, busy_timeout: float, clock: Callable[[], datetime]) -> Opened:
    paths.make_dir(db.parent, mode=0o700)  # UnusableDirectory names the fix
    if not os.access(db.parent, os.W_OK | os.X_OK):
        # SQLite writes beside the database (its -wal and -shm), so a read-only directory
        # refuses every write, even to a file you may write.
        mode = f"{db.parent.stat().st_mode & 0o777:04o}"
        raise StoreError(f"the directory of the history database, {db.parent}, is read-only "
                         f"(mode {mode}), and attuned needs to write there; "
                         f"`chmod u+rwx {db.parent}` (nothing was moved or changed)")
    # Serialise check / move-aside / migrate between processes opening at once, so
    # one cannot move aside the fresh database another has just created.
    lock_path = db.with_name(db.name + ".lock")
    try:
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise StoreError(f"cannot open the history database at {db}: {e.strerror}; "
                         "check that the directory is writable") from e
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        problem = permission_problem(db, write=True)
        if problem is not None:
            raise StoreError(problem)
        empty = db.is_file() and db.stat().st_size == 0 and not Path(f"{db}-wal").exists()
        moved: Path | None = None
        damage = check(db)
        if damage is not None:
            moved = move_aside(db, clock())
        else:
            other = foreign(db)
            if other is not None:
                raise StoreError(other)
        conn = connect(db, busy_timeout)
        try:
            migrate(conn, db)
            note_ids, notes = legacy.import_once(conn, db.parent, clock)
        except BaseException:
            conn.close()
            raise
        return Opened(conn, moved, note_ids, notes, was_empty=empty)
    finally:
        os.close(lock_fd)  # closing releases the flock
