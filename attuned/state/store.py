"""The history store: every nudge shown, every answer, pending snoozes and repeats.

SQLite through the standard library, at `paths.history_db()` by default.

Durability, and why these settings:
- WAL journal: the daemon and the CLI can use the database at once; readers never
  block the writer.
- `synchronous=FULL` for answers and everything else: with WAL, NORMAL already survives a
  killed process (kill -9), but a power cut can roll back the last commits. An answer we
  told the person we kept ("done" printed, button acknowledged) must survive that too.
- `synchronous=NORMAL` for the one commit that records a nudge as shown (`record_shown`):
  it runs between the nudge coming due and the notification being sent, and its fsync
  made every nudge about 4 ms later (bench/daemon_bench.py; 0.2 ms without). It still
  survives a crash of the process; only a power cut within moments of a nudge could
  lose the record, and then that one nudge is shown again: no answer is lost.
- `busy_timeout` (10 s; `Store.open(busy_timeout=...)`): a second process waits for the
  lock instead of failing. A write that still cannot be made (busy beyond it, disk
  full, read-only) raises `StoreUnavailable`: the daemon keeps it and tries again.
- every change is one `BEGIN IMMEDIATE` transaction: the write lock is taken up front,
  so two processes never both read "open" and then both write an answer.

Times are stored as ISO-8601 UTC text of fixed width (sortable as text) and returned
as aware UTC datetimes. Naive datetimes are refused (a programming error).

A database that SQLite says is not a database, is malformed, fails `quick_check`, or
cannot be read is never deleted: `Store.open` moves it (and its -wal/-shm files) aside
as `history.db.corrupt-YYYYmmdd-HHMMSS`, starts a fresh one, and reports the new
place in `Store.moved_aside` so the daemon can tell the person.

Snooze returns: a snoozed nudge returns as a NEW nudge whose `snoozed_from` is the
snoozed one. `record_shown(..., snoozed_from=X)` (or `record_missed(..., snoozed_from=X)`)
claims X and links it in the same transaction, so a returning snooze is recorded
exactly once whatever crashes. `claim_snooze` is the bare claim for callers that must
claim before they know what to record.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final

from attuned import paths
from attuned.core.model import Action, NudgeState
from attuned.errors import StoreError

SOURCES: Final = ("button", "cli")  # who answered; system events use "daemon"
HOWS: Final = ("noticed", "partly", "missed")  # how a done went (issue 6)
VERDICTS: Final = ("landed", "partly", "not-yet")  # a reflection's verdict (issue 6)

BUSY_TIMEOUT_MS: Final = 10_000  # the default of Store.open(busy_timeout=...), in ms
ID_ALPHABET: Final = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i look-alikes
ID_MIN_LENGTH: Final = 4
_ID_TRIES_PER_LENGTH: Final = 20


class NudgeNotFound(StoreError):
    """No nudge has that id (or id prefix)."""


class AmbiguousNudgeId(StoreError):
    """An id prefix matches more than one nudge."""


class NudgeNotOpen(StoreError):
    """The nudge was already answered, missed, expired, or its snooze already returned."""

    def __init__(self, message: str, record: NudgeRecord) -> None:
        super().__init__(message)
        self.record = record


class NudgeAlreadyRecorded(StoreError):
    """A scheduled nudge for this practice and instant is already in the history."""


class DatabaseTooNew(StoreError):
    """The database was written by a newer attuned; we leave it alone."""


class StoreUnavailable(StoreError):
    """The database could not be used just now: busy beyond the busy timeout, the disk
    full, read-only, an I/O error. Nothing was written; the same write may work later.
    `reason` says why in a few words (for "cannot write its history at PATH: REASON")."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# An event's kind is the state it leaves its nudge in: one vocabulary (the model's), so
# the two cannot drift apart.
EventKind = NudgeState


_ACTION_STATE: Final = {
    Action.DONE: NudgeState.DONE,
    Action.SNOOZE: NudgeState.SNOOZED,
    Action.SKIP: NudgeState.SKIPPED,
    Action.DISMISS: NudgeState.DISMISSED,
}


@dataclass(frozen=True)
class NudgeRecord:
    """One nudge as the history holds it. Times are aware (UTC)."""

    id: str
    practice_id: str
    title: str
    message: str
    due: datetime  # the planned instant (for a snooze return: when the snooze ended)
    shown_at: datetime | None  # None: never shown (missed)
    state: NudgeState
    snoozed_until: datetime | None
    notification_id: int | None  # the server's id; meaningful only in this daemon run
    repeat_count: int
    next_repeat_at: datetime | None
    snoozed_from: str | None  # the nudge this one brings back after a snooze
    returned_at: datetime | None  # set when this snoozed nudge's return was claimed
    returned_as: str | None  # the nudge it came back as
    answered_at: datetime | None  # time of the answer, miss or expiry
    source: str | None  # "button" | "cli" for answers, "daemon" for miss/expiry
    note: str | None
    how: str | None  # None | "noticed" | "partly" | "missed"
    origin_id: str  # first nudge of a snooze chain (itself if not a return)
    origin_due: datetime  # that first nudge's due: the day it counts for

    @property
    def is_open(self) -> bool:
        """Still waiting: shown and unanswered, or snoozed and not yet returned."""
        if self.state is NudgeState.SHOWN:
            return True
        return self.state is NudgeState.SNOOZED and self.returned_at is None

    @property
    def snooze_pending(self) -> bool:
        return self.state is NudgeState.SNOOZED and self.returned_at is None


@dataclass(frozen=True)
class HistoryEvent:
    """One line of the history log: something that happened to a nudge."""

    seq: int
    at: datetime
    kind: EventKind
    nudge_id: str
    practice_id: str
    source: str | None  # "button" | "cli" | "daemon"
    note: str | None
    how: str | None
    snoozed_until: datetime | None  # for kind snoozed
    snoozed_from: str | None  # for kind shown/missed of a snooze return
    due: datetime  # the nudge's planned instant
    origin_id: str  # the snooze chain's first nudge
    origin_due: datetime  # the day the event counts for in stats
    title: str


@dataclass(frozen=True)
class Reflection:
    id: int
    practice_id: str
    at: datetime
    verdict: str  # "landed" | "partly" | "not-yet"
    text: str


# Numbered migrations: (version, statements). Append only; never edit a released one.
MIGRATIONS: Final[tuple[tuple[int, tuple[str, ...]], ...]] = (
    (
        1,
        (
            """CREATE TABLE nudges (
                id TEXT PRIMARY KEY,
                practice_id TEXT NOT NULL,
                title TEXT NOT NULL DEFAULT '',
                message TEXT NOT NULL DEFAULT '',
                due TEXT NOT NULL,
                shown_at TEXT,
                state TEXT NOT NULL CHECK (state IN
                    ('shown','done','snoozed','skipped','dismissed','missed','expired')),
                snoozed_until TEXT,
                notification_id INTEGER,
                repeat_count INTEGER NOT NULL DEFAULT 0,
                next_repeat_at TEXT,
                snoozed_from TEXT REFERENCES nudges(id),
                returned_at TEXT,
                returned_as TEXT REFERENCES nudges(id),
                answered_at TEXT,
                source TEXT,
                note TEXT,
                how TEXT CHECK (how IS NULL OR how IN ('noticed','partly','missed')),
                origin_id TEXT NOT NULL,
                origin_due TEXT NOT NULL
            )""",
            # Nothing scheduled fires twice: one row per (practice, planned instant),
            # snooze returns excepted (they carry the snooze's end as their due).
            """CREATE UNIQUE INDEX nudges_scheduled_once ON nudges(practice_id, due)
               WHERE snoozed_from IS NULL""",
            "CREATE UNIQUE INDEX nudges_returned_from ON nudges(snoozed_from)"
            " WHERE snoozed_from IS NOT NULL",
            "CREATE INDEX nudges_state ON nudges(state)",
            "CREATE INDEX nudges_notification ON nudges(notification_id)",
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                nudge_id TEXT NOT NULL REFERENCES nudges(id),
                kind TEXT NOT NULL CHECK (kind IN
                    ('shown','done','snoozed','skipped','dismissed','missed','expired')),
                at TEXT NOT NULL,
                source TEXT,
                note TEXT,
                how TEXT,
                snoozed_until TEXT
            )""",
            "CREATE INDEX events_at ON events(at)",
            "CREATE INDEX events_nudge ON events(nudge_id)",
            """CREATE TABLE reflections (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                practice_id TEXT NOT NULL,
                at TEXT NOT NULL,
                verdict TEXT NOT NULL CHECK (verdict IN ('landed','partly','not-yet')),
                text TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX reflections_practice ON reflections(practice_id, at)",
        ),
    ),
)
LATEST_VERSION: Final = MIGRATIONS[-1][0]


def _ts(dt: datetime) -> str:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r} given to the store; pass an aware one")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _ts_opt(dt: datetime | None) -> str | None:
    return None if dt is None else _ts(dt)


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _dt_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# `NudgeRecord.is_open` in SQL: shown and unanswered, or snoozed and not yet returned.
_OPEN = "(state = 'shown' OR (state = 'snoozed' AND returned_at IS NULL))"

_NUDGE_COLUMNS = (
    "id, practice_id, title, message, due, shown_at, state, snoozed_until, notification_id,"
    " repeat_count, next_repeat_at, snoozed_from, returned_at, returned_as, answered_at,"
    " source, note, how, origin_id, origin_due"
)


def _nudge(row: sqlite3.Row) -> NudgeRecord:
    return NudgeRecord(
        id=row["id"],
        practice_id=row["practice_id"],
        title=row["title"],
        message=row["message"],
        due=_dt(row["due"]),
        shown_at=_dt_opt(row["shown_at"]),
        state=NudgeState(row["state"]),
        snoozed_until=_dt_opt(row["snoozed_until"]),
        notification_id=row["notification_id"],
        repeat_count=row["repeat_count"],
        next_repeat_at=_dt_opt(row["next_repeat_at"]),
        snoozed_from=row["snoozed_from"],
        returned_at=_dt_opt(row["returned_at"]),
        returned_as=row["returned_as"],
        answered_at=_dt_opt(row["answered_at"]),
        source=row["source"],
        note=row["note"],
        how=row["how"],
        origin_id=row["origin_id"],
        origin_due=_dt(row["origin_due"]),
    )


def unrecorded_shown(nudge_id: str, practice_id: str, due: datetime, shown_at: datetime,
                     title: str, message: str, *, snoozed_from: str | None = None,
                     next_repeat_at: datetime | None = None) -> NudgeRecord:
    """The record `record_shown` would return, for a nudge shown before the database
    could take it (the daemon records it under `nudge_id` once it can)."""
    return NudgeRecord(
        id=nudge_id, practice_id=practice_id, title=title, message=message, due=due,
        shown_at=shown_at, state=NudgeState.SHOWN, snoozed_until=None, notification_id=None,
        repeat_count=0, next_repeat_at=next_repeat_at, snoozed_from=snoozed_from,
        returned_at=None, returned_as=None, answered_at=None, source=None, note=None,
        how=None, origin_id=nudge_id, origin_due=due)


def _moment(dt: datetime, zone: tzinfo | None, ref: datetime | None) -> str:
    """'07:34', or '2026-03-29 07:34' when it is not the same day as `ref`."""
    local = dt.astimezone(zone)
    if ref is not None and ref.astimezone(zone).date() == local.date():
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def not_open_message(rec: NudgeRecord, zone: tzinfo | None = None,
                     ref: datetime | None = None) -> str:
    """Why `rec` cannot be answered, for a person."""
    at = "" if rec.answered_at is None else " at " + _moment(rec.answered_at, zone, ref)
    if rec.state is NudgeState.SNOOZED:
        back = "" if rec.returned_at is None else _moment(rec.returned_at, zone, ref)
        if rec.returned_as:
            return (f'nudge "{rec.id}" was snoozed and came back as "{rec.returned_as}"'
                    f" at {back}; answer that one")
        return f'nudge "{rec.id}" was snoozed and its return is already on its way ({back})'
    if rec.state is NudgeState.MISSED:
        return f'nudge "{rec.id}" is closed: it was missed{at}'
    if rec.state is NudgeState.EXPIRED:
        return f'nudge "{rec.id}" is closed: it expired{at} without an answer'
    return f'nudge "{rec.id}" was already answered: {rec.state.value}{at}'


class Store:
    """The history database. Open with `Store.open(path)`; close (or use `with`)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *,
                 moved_aside: Path | None = None, zone: tzinfo | None = None,
                 rng: random.Random | None = None,
                 busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self._conn = conn
        self.busy_timeout = busy_timeout  # seconds; what the connection waits for a lock
        self._waiting = busy_timeout  # the wait in force now (see `patience`)
        self._lock = threading.Lock()  # one connection, possibly used from two threads
        self.path = path
        self.moved_aside = moved_aside  # where a corrupt database was moved, this open
        self.zone = zone  # for times in error messages; None: the system's zone
        self._rng = rng or random.SystemRandom()

    # ---- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, zone: tzinfo | None = None,
             rng: random.Random | None = None,
             clock: Callable[[], datetime] = datetime.now,
             busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> Store:
        """Open (creating, migrating, or replacing a corrupt one) the history database.

        `clock` gives the local time for the corrupt file's name (tests pin it).
        `busy_timeout`: seconds a write waits for another process's lock before it fails.
        Raises DatabaseTooNew if a newer attuned wrote it, StoreError if it cannot be used.
        """
        db = Path(path) if path is not None else paths.history_db()
        db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
            moved: Path | None = None
            problem = _check(db)
            if problem is not None:
                moved = _move_aside(db, clock())
            conn = _connect(db, busy_timeout)
            try:
                _migrate(conn, db)
            except BaseException:
                conn.close()
                raise
            return cls(conn, db, moved_aside=moved, zone=zone, rng=rng,
                       busy_timeout=busy_timeout)
        finally:
            os.close(lock_fd)  # closing releases the flock

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_versions(self) -> list[tuple[int, datetime]]:
        """The migrations recorded in this database: (version, applied_at)."""
        rows = self._read("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        return [(r["version"], _dt(r["applied_at"])) for r in rows]

    # ---- low level -----------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction; the write lock taken at BEGIN. `durable=False`: its
        commit survives a crash but not a power cut (no fsync; see the module docstring)."""
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
            if e.sqlite_errorcode in _CORRUPT_CODES:
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

    def _get_row(self, conn: sqlite3.Connection, nudge_id: str) -> NudgeRecord:
        row = conn.execute(f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE id = ?",
                           (nudge_id,)).fetchone()
        if row is None:
            raise NudgeNotFound(f'no nudge "{nudge_id}" in the history')
        return _nudge(row)

    def _new_id(self, conn: sqlite3.Connection, avoid: Collection[str] = ()) -> str:
        """A short random id; longer only when short ones keep colliding.

        No id is a prefix of another, so typing a whole id is never ambiguous. Ids hold
        at least one digit so they do not read as practice names.
        """
        length = ID_MIN_LENGTH
        while True:
            for _ in range(_ID_TRIES_PER_LENGTH):
                cand = "".join(self._rng.choice(ID_ALPHABET) for _ in range(length))
                if not any(c.isdigit() for c in cand) or cand in avoid:
                    continue
                if not self._clashes(conn, cand):
                    return cand
            length += 1

    @staticmethod
    def _clashes(conn: sqlite3.Connection, cand: str) -> bool:
        """Is `cand` an id in use, a prefix of one, or has one as its prefix?"""
        prefixes = [cand[:k] for k in range(ID_MIN_LENGTH, len(cand) + 1)]
        marks = ",".join("?" * len(prefixes))
        clash = conn.execute(
            f"SELECT 1 FROM nudges WHERE id IN ({marks}) OR (id > ? AND id < ?)"
            " LIMIT 1", (*prefixes, cand, cand + "\x7f")).fetchone()
        return clash is not None

    def _event(self, conn: sqlite3.Connection, nudge_id: str, kind: EventKind, at: datetime,
               source: str | None, note: str | None = None, how: str | None = None,
               snoozed_until: datetime | None = None) -> None:
        conn.execute(
            "INSERT INTO events (nudge_id, kind, at, source, note, how, snoozed_until)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (nudge_id, kind.value, _ts(at), source, note, how, _ts_opt(snoozed_until)))

    def _insert(self, conn: sqlite3.Connection, *, practice_id: str, due: datetime,
                shown_at: datetime | None, state: NudgeState, title: str, message: str,
                notification_id: int | None, snoozed_from: str | None,
                next_repeat_at: datetime | None, answered_at: datetime | None,
                source: str | None, note: str | None, nudge_id: str | None = None) -> str:
        if nudge_id is None or self._clashes(conn, nudge_id):
            new_id = self._new_id(conn)
        else:
            new_id = nudge_id
        origin_id, origin_due = new_id, due
        if snoozed_from is not None:
            old = self._get_row(conn, snoozed_from)
            if old.state is not NudgeState.SNOOZED or old.returned_as is not None:
                raise NudgeNotOpen(not_open_message(old, self.zone, due), old)
            origin_id, origin_due = old.origin_id, old.origin_due
        else:
            dup = conn.execute(
                "SELECT id FROM nudges WHERE practice_id = ? AND due = ?"
                " AND snoozed_from IS NULL", (practice_id, _ts(due))).fetchone()
            if dup is not None:
                raise NudgeAlreadyRecorded(
                    f'practice "{practice_id}" already has a nudge for '
                    f"{_moment(due, self.zone, None)} (\"{dup['id']}\"); "
                    "it is not recorded twice")
        conn.execute(
            f"INSERT INTO nudges ({_NUDGE_COLUMNS}) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, NULL, ?, 0, ?, ?, NULL, NULL, ?, ?, ?, NULL, ?, ?)",
            (new_id, practice_id, title, message, _ts(due), _ts_opt(shown_at), state.value,
             notification_id, _ts_opt(next_repeat_at), snoozed_from, _ts_opt(answered_at),
             source, note, origin_id, _ts(origin_due)))
        if snoozed_from is not None:
            # The claim and the return land in one transaction: exactly once.
            conn.execute("UPDATE nudges SET returned_at = COALESCE(returned_at, ?),"
                         " returned_as = ? WHERE id = ?",
                         (_ts(shown_at or answered_at or due), new_id, snoozed_from))
        return new_id

    # ---- writing -------------------------------------------------------------------

    def record_shown(self, practice_id: str, due: datetime, shown_at: datetime, title: str,
                     message: str, notification_id: int | None = None,
                     snoozed_from: str | None = None,
                     next_repeat_at: datetime | None = None,
                     nudge_id: str | None = None) -> NudgeRecord:
        """Record a nudge as shown (state shown). Record BEFORE showing it.

        `nudge_id`: the id to give it (from `new_id`, for a nudge shown before it could
        be recorded), unless that id has been taken meanwhile; the record says which.
        `snoozed_from`: this nudge is the return of that snoozed nudge; it is claimed and
        linked in this same transaction (NudgeNotOpen if it was answered or returned).
        A second scheduled nudge for the same practice and `due` raises
        NudgeAlreadyRecorded: nothing scheduled is delivered twice.
        Committed without an fsync (safe against crashes, not power cuts): it delays the
        nudge, and at worst a nudge is shown twice.
        """
        with self._tx(durable=False) as conn:
            new_id = self._insert(
                conn, practice_id=practice_id, due=due, shown_at=shown_at,
                state=NudgeState.SHOWN, title=title, message=message,
                notification_id=notification_id, snoozed_from=snoozed_from,
                next_repeat_at=next_repeat_at, answered_at=None, source=None, note=None,
                nudge_id=nudge_id)
            self._event(conn, new_id, EventKind.SHOWN, shown_at, "daemon")
            return self._get_row(conn, new_id)

    def record_missed(self, practice_id: str, due: datetime, at: datetime, reason: str,
                      title: str = "", message: str = "",
                      snoozed_from: str | None = None) -> NudgeRecord:
        """Record a nudge that was never shown (e.g. due while the machine slept, past
        its grace). `reason` is kept as the note, for the person reading the history."""
        with self._tx() as conn:
            new_id = self._insert(
                conn, practice_id=practice_id, due=due, shown_at=None,
                state=NudgeState.MISSED, title=title, message=message, notification_id=None,
                snoozed_from=snoozed_from, next_repeat_at=None, answered_at=at,
                source="daemon", note=reason)
            self._event(conn, new_id, EventKind.MISSED, at, "daemon", note=reason)
            return self._get_row(conn, new_id)

    def new_id(self, avoid: Collection[str] = ()) -> str:
        """An id no nudge has (nor any of `avoid`), chosen by reading only: for a nudge
        shown while the database cannot be written, recorded later under this id. If
        even reading fails, an unchecked one (`record_shown` checks it again anyway)."""
        try:
            with self._lock, self._guard():
                return self._new_id(self._conn, avoid)
        except StoreUnavailable:
            while True:
                cand = "".join(self._rng.choice(ID_ALPHABET) for _ in range(ID_MIN_LENGTH))
                if any(c.isdigit() for c in cand) and cand not in avoid:
                    return cand

    def set_notification_id(self, nudge_id: str, notification_id: int | None) -> None:
        """Remember the notification server's id for a nudge (this daemon run only)."""
        with self._tx() as conn:
            self._get_row(conn, nudge_id)
            conn.execute("UPDATE nudges SET notification_id = ? WHERE id = ?",
                         (notification_id, nudge_id))

    def forget_notification_ids(self) -> int:
        """Clear every notification id; the daemon calls it at start (a new server run
        may reuse old ids). Returns how many were cleared."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE nudges SET notification_id = NULL WHERE notification_id IS NOT NULL")
            return cur.rowcount

    def answer(self, nudge_id: str, action: Action, at: datetime, source: str,
               note: str | None = None, how: str | None = None,
               snooze_until: datetime | None = None) -> NudgeRecord:
        """Answer an open nudge: done, snooze (needs `snooze_until`), skip or dismiss.

        `nudge_id` is a whole id (use `get` to resolve a prefix). A nudge that is not
        open raises NudgeNotOpen with a message for the person. A snoozed nudge that has
        not returned yet can be answered again (done from the CLI, or a new snooze).
        """
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        if action is Action.SNOOZE and snooze_until is None:
            raise ValueError("a snooze needs snooze_until")
        if action is not Action.SNOOZE and snooze_until is not None:
            raise ValueError("snooze_until goes only with a snooze")
        if how is not None and how not in HOWS:
            raise StoreError(f'"{how}" is not how a practice went; '
                             f"say one of: {', '.join(HOWS)}")
        if how is not None and action is not Action.DONE:
            raise StoreError(f"how it went goes only with done, not with {action.value}")
        state = _ACTION_STATE[action]
        with self._tx() as conn:
            rec = self._get_row(conn, nudge_id)
            if not rec.is_open:
                raise NudgeNotOpen(not_open_message(rec, self.zone, at), rec)
            conn.execute(
                "UPDATE nudges SET state = ?, answered_at = ?, source = ?, note = ?, how = ?,"
                " snoozed_until = COALESCE(?, snoozed_until), notification_id = NULL,"
                " next_repeat_at = NULL WHERE id = ?",
                (state.value, _ts(at), source, note, how, _ts_opt(snooze_until), nudge_id))
            self._event(conn, nudge_id, state, at, source, note=note, how=how,
                        snoozed_until=snooze_until)
            return self._get_row(conn, nudge_id)

    def expire(self, nudge_id: str, at: datetime) -> bool:
        """Close an open nudge that got no answer in time. False if it was no longer
        open (answered meanwhile, e.g. from the CLI): nothing changes then."""
        with self._tx() as conn:
            rec = self._get_row(conn, nudge_id)
            if not rec.is_open:
                return False
            conn.execute(
                "UPDATE nudges SET state = 'expired', answered_at = ?, source = 'daemon',"
                " notification_id = NULL, next_repeat_at = NULL WHERE id = ?",
                (_ts(at), nudge_id))
            self._event(conn, nudge_id, EventKind.EXPIRED, at, "daemon")
            return True

    def claim_snooze(self, nudge_id: str, at: datetime) -> bool:
        """Claim a pending snooze's return. True for exactly one caller, ever.

        Prefer `record_shown(..., snoozed_from=nudge_id)`, which claims and records the
        return in one transaction; after a bare claim, record the return with
        `record_shown`/`record_missed` and `snoozed_from`, which accept a claimed one.
        """
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE nudges SET returned_at = ? WHERE id = ? AND state = 'snoozed'"
                " AND returned_at IS NULL", (_ts(at), nudge_id))
            return cur.rowcount == 1

    def bump_repeat(self, nudge_id: str, next_at: datetime | None) -> int:
        """Count one more repeat of a shown, unanswered nudge and set when the next is due
        (None: no more). Returns the new repeat count. Call it BEFORE re-showing, so a
        crash never repeats twice. NudgeNotOpen if it was answered meanwhile."""
        with self._tx() as conn:
            rec = self._get_row(conn, nudge_id)
            if rec.state is not NudgeState.SHOWN:
                raise NudgeNotOpen(not_open_message(rec, self.zone, next_at), rec)
            conn.execute("UPDATE nudges SET repeat_count = repeat_count + 1,"
                         " next_repeat_at = ? WHERE id = ?", (_ts_opt(next_at), nudge_id))
            return rec.repeat_count + 1

    def add_reflection(self, practice_id: str, at: datetime, verdict: str,
                       text: str = "") -> Reflection:
        """Record how a practice's period went (issue 6)."""
        if verdict not in VERDICTS:
            raise StoreError(f'"{verdict}" is not a verdict; say one of: {", ".join(VERDICTS)}')
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO reflections (practice_id, at, verdict, text) VALUES (?, ?, ?, ?)",
                (practice_id, _ts(at), verdict, text))
            rid = cur.lastrowid
            assert rid is not None
            return Reflection(rid, practice_id, _dt(_ts(at)), verdict, text)

    # ---- reading -------------------------------------------------------------------

    def get(self, id_or_prefix: str) -> NudgeRecord:
        """The nudge with this id, or the one whose id starts with this prefix."""
        key = id_or_prefix.strip().lower()
        if not key or any(c not in ID_ALPHABET for c in key):
            raise NudgeNotFound(f'"{id_or_prefix}" is not a nudge id; ids look like "k3f2" '
                                "(`attuned history` lists them)")
        rows = self._read(f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE id >= ? AND id < ?"
                          " ORDER BY id LIMIT 6", (key, key + "\x7f"))
        exact = [r for r in rows if r["id"] == key]
        if exact:
            return _nudge(exact[0])
        if not rows:
            raise NudgeNotFound(f'no nudge has an id starting with "{key}" '
                                "(`attuned history` lists them)")
        if len(rows) > 1:
            shown = ", ".join(r["id"] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise AmbiguousNudgeId(f'"{key}" could be more than one nudge ({shown}); '
                                   "type more of its id")
        return _nudge(rows[0])

    def find_by_notification(self, notification_id: int) -> NudgeRecord | None:
        """The open nudge shown as this notification (this daemon run), if any."""
        rows = self._read(
            f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE notification_id = ? AND {_OPEN}"
            " ORDER BY shown_at DESC, rowid DESC LIMIT 1", (notification_id,))
        return _nudge(rows[0]) if rows else None

    def open_nudges(self, practice_id: str | None = None) -> list[NudgeRecord]:
        """Open nudges (shown, or snoozed and not yet back), oldest shown first."""
        sql = f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE {_OPEN}"
        args: list[Any] = []
        if practice_id is not None:
            sql += " AND practice_id = ?"
            args.append(practice_id)
        return [_nudge(r) for r in self._read(sql + " ORDER BY shown_at, rowid", args)]

    def newest_open(self, practice_id: str | None = None) -> NudgeRecord | None:
        """The most recently shown open nudge (of one practice): the CLI's default."""
        found = self.open_nudges(practice_id)
        return found[-1] if found else None

    def pending_snoozes(self) -> list[NudgeRecord]:
        """Snoozed nudges whose return is not yet claimed, soonest first."""
        rows = self._read(f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE state = 'snoozed'"
                          " AND returned_at IS NULL ORDER BY snoozed_until, rowid")
        return [_nudge(r) for r in rows]

    def pending_repeats(self) -> list[NudgeRecord]:
        """Shown, unanswered nudges with a repeat due, soonest first."""
        rows = self._read(f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE state = 'shown'"
                          " AND next_repeat_at IS NOT NULL ORDER BY next_repeat_at, rowid")
        return [_nudge(r) for r in rows]

    def last_fired(self, practice_id: str) -> datetime | None:
        """The latest planned instant of a scheduled nudge of this practice that is in
        the history (shown or missed); snooze returns do not count. The daemon fires
        only occurrences after it."""
        rows = self._read("SELECT MAX(due) AS m FROM nudges WHERE practice_id = ?"
                          " AND snoozed_from IS NULL", (practice_id,))
        return _dt_opt(rows[0]["m"])

    def last_fired_all(self) -> dict[str, datetime]:
        """`last_fired` of every practice with a scheduled nudge in the history, in one
        query (10,000 practices: one query each cost 0.2 s at start-up)."""
        rows = self._read("SELECT practice_id, MAX(due) AS m FROM nudges"
                          " WHERE snoozed_from IS NULL GROUP BY practice_id")
        return {r["practice_id"]: _dt(r["m"]) for r in rows}

    def history(self, practice_id: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> list[HistoryEvent]:
        """Events with `since <= at < until`, oldest first."""
        sql = ("SELECT e.seq, e.at, e.kind, e.nudge_id, n.practice_id, e.source, e.note,"
               " e.how, e.snoozed_until, n.snoozed_from, n.due, n.origin_id, n.origin_due,"
               " n.title FROM events e JOIN nudges n ON n.id = e.nudge_id")
        where, args = _filters("n.practice_id", "e.at", practice_id, since, until)
        rows = self._read(sql + where + " ORDER BY e.at, e.seq", args)
        return [HistoryEvent(
            seq=r["seq"], at=_dt(r["at"]), kind=EventKind(r["kind"]), nudge_id=r["nudge_id"],
            practice_id=r["practice_id"], source=r["source"], note=r["note"], how=r["how"],
            snoozed_until=_dt_opt(r["snoozed_until"]), snoozed_from=r["snoozed_from"],
            due=_dt(r["due"]), origin_id=r["origin_id"], origin_due=_dt(r["origin_due"]),
            title=r["title"]) for r in rows]

    def reflections(self, practice_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None) -> list[Reflection]:
        """Reflections with `since <= at < until`, oldest first."""
        sql = "SELECT id, practice_id, at, verdict, text FROM reflections"
        where, args = _filters("practice_id", "at", practice_id, since, until)
        rows = self._read(sql + where + " ORDER BY at, id", args)
        return [Reflection(r["id"], r["practice_id"], _dt(r["at"]), r["verdict"], r["text"])
                for r in rows]


def _filters(practice_col: str, at_col: str, practice_id: str | None,
             since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    """The WHERE clause shared by the history queries: one practice, `since <= at < until`."""
    clauses: list[str] = []
    args: list[Any] = []
    if practice_id is not None:
        clauses.append(f"{practice_col} = ?")
        args.append(practice_id)
    if since is not None:
        clauses.append(f"{at_col} >= ?")
        args.append(_ts(since))
    if until is not None:
        clauses.append(f"{at_col} < ?")
        args.append(_ts(until))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


# ---- opening helpers ----------------------------------------------------------------

_CORRUPT_CODES: Final = (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)
_HEADER: Final = b"SQLite format 3\x00"


def _connect(db: Path, busy_timeout: float) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
    conn = sqlite3.connect(db, timeout=busy_timeout, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000)}")
    return conn


def _check(db: Path) -> str | None:
    """Why the existing file at `db` is unusable, or None (also when it is absent)."""
    if not db.exists():
        return None
    if not os.access(db, os.R_OK | os.W_OK):
        return "it cannot be read or written"
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
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True,
                               timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.DatabaseError as e:
        return str(e)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as e:
        if e.sqlite_errorcode in _CORRUPT_CODES:
            return str(e)
        # Busy, out of disk, I/O trouble: not a reason to move the user's data away.
        raise StoreError(f"cannot check the history database at {db}: {e}") from e
    finally:
        conn.close()
    verdict = [r[0] for r in rows]
    if verdict != ["ok"]:
        return "; ".join(str(v) for v in verdict[:3])
    return None


def _move_aside(db: Path, now: datetime) -> Path:
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


def _migrate(conn: sqlite3.Connection, db: Path) -> None:
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # see the module docstring
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            current = row[0] or 0
            if current > LATEST_VERSION:
                raise DatabaseTooNew(
                    f"the history database at {db} was written by a newer attuned "
                    f"(schema {current}, this one knows up to {LATEST_VERSION}); "
                    "upgrade attuned. The database was left as it is")
            now = _ts(datetime.now(UTC))
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                for stmt in statements:
                    conn.execute(stmt)
                conn.execute("INSERT INTO schema_migrations (version, applied_at)"
                             " VALUES (?, ?)", (version, now))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        raise StoreError(f"cannot prepare the history database at {db}: {e}") from e
