"""The history database's low level: one SQLite connection, its write transactions and
read guard, the times as stored, and the checks and move-aside of a damaged file at
open. The durability rules are attuned.state.store's (its module docstring)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Self, TypeVar

from attuned.errors import StoreError
from attuned.state.rows import DOCTOR, Unreadable

T = TypeVar("T")
log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS: Final = 10_000  # the default of Store.open(busy_timeout=...), in ms


class StoreUnavailable(StoreError):
    """The database could not be used just now: busy beyond the busy timeout, the disk
    full, read-only, an I/O error. Nothing was written; the same write may work later.
    `reason` says why in a few words (for "cannot write its history at PATH: REASON")."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# Times as stored: ISO-8601 UTC text of fixed width (sortable as text), read back aware.


def ts(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r} given to the store; pass an aware one")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def ts_opt(moment: datetime | None) -> str | None:
    return None if moment is None else ts(moment)


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def dt_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class Database:
    """One connection to the history database, possibly used from two threads."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *,
                 busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self._conn = conn
        self.busy_timeout = busy_timeout  # seconds; what the connection waits for a lock
        self._waiting = busy_timeout  # the wait in force now (see `patience`)
        self._lock = threading.Lock()  # one connection, possibly used from two threads
        self.path = path
        # Told once per row (per open) of each row that cannot be read and was left out.
        self.on_unreadable: Callable[[str], None] = lambda text: log.warning("%s", text)
        self._told_unreadable: set[str] = set()

    def readable(self, rows: Iterable[sqlite3.Row], parse: Callable[[sqlite3.Row], T]
                 ) -> list[T]:
        """`rows` as records, leaving out (and telling of) those that cannot be read."""
        out: list[T] = []
        for row in rows:
            try:
                out.append(parse(row))
            except Unreadable as e:
                self.left_out(e)
        return out

    def left_out(self, e: Unreadable) -> None:
        if str(e) not in self._told_unreadable:
            self._told_unreadable.add(str(e))
            self.on_unreadable(f"the history has a row that cannot be read, left out: {e}; "
                               f"{DOCTOR}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_versions(self) -> list[tuple[int, datetime]]:
        """The migrations recorded in this database: (version, applied_at)."""
        rows = self._read("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        return [(r["version"], dt(r["applied_at"])) for r in rows]

    # ---- low level -----------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction; the write lock taken at BEGIN. `durable=False`: its
        commit survives a crash but not a power cut (no fsync; see attuned.state.store)."""
        with self._lock, self._guard():
            if not durable:
                self._conn.execute("PRAGMA synchronous = NORMAL")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:  # also when COMMIT itself failed
                        self._conn.execute("ROLLBACK")
                    raise
            finally:
                if not durable:
                    self._conn.execute("PRAGMA synchronous = FULL")

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._guard():
            return self._conn.execute(sql, args).fetchall()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                wait = f"{self._waiting:g}s"
                raise StoreUnavailable(
                    f"the history database at {self.path} stayed busy for {wait}; "
                    "another attuned process holds it. Try again in a moment",
                    f"another process held it for more than {wait}") from e
            # Disk full, read-only, I/O: SQLite's own words say which.
            raise StoreUnavailable(f"the history database at {self.path} failed: {e}",
                                   str(e)) from e
        except sqlite3.IntegrityError:
            raise  # a bug in the caller or here, not the person's problem to fix
        except sqlite3.DatabaseError as e:
            if e.sqlite_errorcode in CORRUPT_CODES:
                raise StoreUnavailable(
                    f"the history database at {self.path} is damaged ({e}); restart attuned "
                    "and it will move the damaged file aside and start a fresh one",
                    f"it is damaged ({e})") from e
            raise StoreUnavailable(f"the history database at {self.path} failed: {e}",
                                   str(e)) from e

    @contextlib.contextmanager
    def patience(self, seconds: float) -> Iterator[None]:
        """Wait at most `seconds` for a lock inside this block (then StoreUnavailable):
        for retries on the event loop, which must not stand still for the whole
        busy timeout each time."""
        with self._lock:
            self._conn.execute(f"PRAGMA busy_timeout = {round(seconds * 1000)}")
            self._waiting = seconds
        try:
            yield
        finally:
            with self._lock:
                self._conn.execute(f"PRAGMA busy_timeout = {round(self.busy_timeout * 1000)}")
                self._waiting = self.busy_timeout


# ---- opening helpers ----------------------------------------------------------------

CORRUPT_CODES: Final = (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)
_HEADER: Final = b"SQLite format 3\x00"


def connect(db: Path, busy_timeout: float) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
    conn = sqlite3.connect(db, timeout=busy_timeout, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000)}")
    return conn


def check(db: Path) -> str | None:
    """Why the existing file at `db` is unusable, or None (also when it is absent)."""
    if not db.exists():
        return None
    try:
        with open(db, "rb") as f:
            head = f.read(len(_HEADER))
    except OSError as e:
        return f"it cannot be read: {e.strerror}"
    if head and head != _HEADER:
        return "it is not an SQLite database"
    try:
        # Read-only: a read-write connection checkpoints (and so rewrites) a damaged
        # file on close, and on a garbage file deletes its -wal: the check must change
        # nothing, so the bytes moved aside are exactly what was there.
        conn = sqlite3.connect(read_only_uri(db), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.DatabaseError as e:
        return str(e)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as e:
        if e.sqlite_errorcode in CORRUPT_CODES:
            return str(e)
        # Busy, out of disk, I/O trouble: not a reason to move the user's data away.
        raise StoreError(f"cannot check the history database at {db}: {e}") from e
    finally:
        conn.close()
    verdict = [r[0] for r in rows]
    if verdict != ["ok"]:
        return "; ".join(str(v) for v in verdict[:3])
    return None


def move_aside(db: Path, now: datetime) -> Path:
    """Rename `db` and its -wal/-shm/-journal files to a timestamped name; never delete."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    base = db.with_name(f"{db.name}.corrupt-{stamp}")
    n = 2
    while any(Path(str(base) + sfx).exists() for sfx in ("", "-wal", "-shm", "-journal")):
        base = db.with_name(f"{db.name}.corrupt-{stamp}-{n}")
        n += 1
    try:
        for sfx in ("-wal", "-shm", "-journal", ""):
            src = Path(str(db) + sfx)
            if src.exists():
                os.rename(src, str(base) + sfx)
    except OSError as e:
        raise StoreError(
            f"the history database at {db} is damaged and could not be moved aside "
            f"({e.strerror}); move it away by hand and start attuned again") from e
    return base


def permission_problem(db: Path, *, write: bool) -> str | None:
    """Why you may not read (or, `write`, write) the existing file at `db`, with the
    fix, or None. Not damage: nothing is to be moved for it."""
    if not db.exists():
        return None
    need = os.R_OK | (os.W_OK if write else 0)
    if os.access(db, need):
        return None
    st = db.stat()
    mode = f"{st.st_mode & 0o777:04o}"
    if st.st_uid != os.geteuid():
        fix = f"it belongs to another user: `sudo chown $USER {db}`"
    else:
        fix = f"`chmod u+rw {db}`"
    if not os.access(db, os.R_OK):
        what = f"you may not read the history database at {db} (mode {mode})"
    else:
        what = (f"the history database at {db} is read-only (mode {mode}), and attuned "
                "needs to write it")
    return f"{what}; {fix} (nothing was moved or changed)"


def foreign(db: Path) -> str | None:
    """Why the SQLite file at `db` is another program's database, not attuned's history,
    or None (also for an empty one, or one that is absent or cannot be opened)."""
    try:
        conn = sqlite3.connect(read_only_uri(db), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error:
        return None
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if app_id:
        why = f"application id {app_id:#x}"
    elif user_version:
        why = f"user version {user_version}"
    elif tables and "schema_migrations" not in tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        why = f"tables {shown}"
    else:
        return None
    return (f"{db} is another program's SQLite database ({why}), not attuned's history; "
            "attuned leaves it as it is: move it elsewhere, and attuned starts a fresh "
            "history in its place")


def read_only_uri(db: Path) -> str:
    """The URI of a connection to `db` that writes nothing, not even beside it: with no
    -wal and no -shm, nothing has the database open (the main file holds every change)
    and a read-only connection would create both (attuned.state.peek), so it is read as
    immutable."""
    wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
    mode = "ro" if wal.exists() or shm.exists() else "ro&immutable=1"
    return f"{db.resolve().as_uri()}?mode={mode}"


def connect_read_only(db: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection that never writes, for reading a history you may not write (the
    file or its directory read-only)."""
    try:
        conn = sqlite3.connect(read_only_uri(db), uri=True,
                               timeout=busy_timeout, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as e:
        raise StoreError(f"cannot read the history database at {db}: {e}") from e
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000)}")
    return conn
