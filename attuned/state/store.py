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

Besides the history it keeps the nudges held back (each also a nudge in the history, held
then shown or dropped), the blocked marks and together mode (attuned.state.holding); the
JSON files those were kept in before are imported once at open (attuned.state.legacy),
and what was wrong with them is in `Store.notes`.

Times are stored as ISO-8601 UTC text of fixed width (sortable as text) and returned
as aware UTC datetimes. Naive datetimes are refused (a programming error).

A database that SQLite says is not a database, is malformed, or fails `quick_check` is
never deleted: `Store.open` moves it (and its -wal/-shm files) aside
as `history.db.corrupt-YYYYmmdd-HHMMSS`, starts a fresh one, and reports the new
place in `Store.moved_aside` so the daemon can tell the person. What it does with the
other files it may find there (not yours to write, empty, another program's):
attuned.state.opening. Rows that cannot be read: attuned.state.rows.

Snooze returns: a snoozed nudge returns as a NEW nudge whose `snoozed_from` is the
snoozed one. `record_shown(..., snoozed_from=X)` (or `record_missed(..., snoozed_from=X)`)
claims X and links it in the same transaction, so a returning snooze is recorded
exactly once whatever crashes. `claim_snooze` is the bare claim for callers that must
claim before they know what to record.

Where the parts live: the records it returns in attuned.core.history, the schema in
attuned.state.migrations, the connection, transactions and damaged-file handling in
attuned.state.database. Callers import all of it from here.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable, Collection
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Final

from attuned import paths
from attuned.core.history import (
    EventKind,
    EventReason,
    HistoryEvent,
    NudgeRecord,
    Reflection,
    moment,
    not_open_message,
    unrecorded_shown,
)
from attuned.core.model import Action, NudgeState
from attuned.errors import StoreError
from attuned.fsutil import NotRegularFile, refuse_irregular
from attuned.state import legacy, opening, rows
from attuned.state.database import (
    BUSY_TIMEOUT_MS,
    StoreUnavailable,
    dt,
    ts,
    ts_opt,
)
from attuned.state.holding import Holding
from attuned.state.migrations import LATEST_VERSION, DatabaseTooNew
from attuned.state.peek import OPEN_WHERE
from attuned.state.sending import Sending

# The store's whole vocabulary, wherever each piece is defined (callers import it here).
__all__ = [
    "BUSY_TIMEOUT_MS", "HOWS", "ID_ALPHABET", "LATEST_VERSION", "SOURCES", "VERDICTS",
    "AmbiguousNudgeId", "DatabaseTooNew", "EventKind", "EventReason", "HistoryEvent",
    "NudgeAlreadyRecorded", "NudgeNotFound", "NudgeNotOpen", "NudgeRecord", "Reflection",
    "Store", "StoreUnavailable", "empty_words", "not_open_message", "unrecorded_shown",
]


def empty_words(db: Path) -> str:
    """What the person is told, once, of a 0-byte history started fresh."""
    return (f"the history database at {db} was empty (0 bytes: nothing was in it), so it "
            "was started fresh")

SOURCES: Final = ("button", "cli", "phone")  # who answered; system events use "daemon"
HOWS: Final = ("noticed", "partly", "missed")  # how a done went (issue 6)
VERDICTS: Final = ("landed", "partly", "not-yet")  # a reflection's verdict (issue 6)

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


_ACTION_STATE: Final = {
    Action.DONE: NudgeState.DONE,
    Action.SNOOZE: NudgeState.SNOOZED,
    Action.SKIP: NudgeState.SKIPPED,
    Action.DISMISS: NudgeState.DISMISSED,
}


# `NudgeRecord.is_open` in SQL, one definition for the store and shell completion.
_OPEN = OPEN_WHERE

_NUDGE_COLUMNS = (
    "id, practice_id, title, message, due, shown_at, state, snoozed_until, notification_id,"
    " repeat_count, next_repeat_at, snoozed_from, returned_at, returned_as, answered_at,"
    " source, note, how, origin_id, origin_due"
)


def _nudge(row: sqlite3.Row) -> NudgeRecord:
    """One nudge that must be read (asked for by its id): StoreError if it cannot be."""
    try:
        return rows.nudge(row)
    except rows.Unreadable as e:
        raise StoreError(f"{e.what} cannot be read from the history: {e.why}; "
                         f"{rows.DOCTOR}") from None


class Store(Holding, Sending):
    """The history database. Open with `Store.open(path)`; close (or use `with`)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *,
                 moved_aside: Path | None = None, zone: tzinfo | None = None,
                 rng: random.Random | None = None,
                 busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        super().__init__(conn, path, busy_timeout=busy_timeout)
        self.moved_aside = moved_aside  # where a corrupt database was moved, this open
        self.was_empty = False  # this open found a 0-byte file and started it fresh
        # For the person, once: what was wrong with the old state files imported
        # (attuned.state.legacy), where they went, what was kept. Kept in the database
        # until a front-end that tells them calls `notes_told`.
        self.notes: list[str] = []
        self._note_ids: list[int] = []
        self.zone = zone  # for times in error messages; None: the system's zone
        self._rng = rng or random.SystemRandom()

    # ---- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, zone: tzinfo | None = None,
             rng: random.Random | None = None,
             clock: Callable[[], datetime] = datetime.now,
             busy_timeout: float = BUSY_TIMEOUT_MS / 1000, read_only: bool = False) -> Store:
        """Open (creating, migrating, or replacing a corrupt one) the history database;
        what is done with each kind of file found there: attuned.state.opening.

        `clock` gives the local time for the corrupt file's name (tests pin it).
        `busy_timeout`: seconds a write waits for another process's lock before it fails.
        `read_only`: the caller only reads; a history that cannot be written here is then
        read as it is (no migration, no import) instead of refused.
        The old state files next to it (held.json, blocked.json, together.json) are
        imported once (attuned.state.legacy); `notes` says what was wrong with them.
        Raises DatabaseTooNew if a newer attuned wrote it, StoreError if it cannot be used.
        """
        db = Path(path) if path is not None else paths.history_db()
        try:
            refuse_irregular(db)
        except NotRegularFile as e:
            raise StoreError(f"{db} is not a regular file ({e.kind}); the history is a plain "
                             "SQLite file: move this one away and attuned starts a new one"
                             ) from None
        why = opening.unwritable(db) if read_only else None
        if why is not None:
            opened = opening.open_read_only(db, busy_timeout, why)
        else:
            opened = opening.open_read_write(db, busy_timeout, clock)
        store = cls(opened.conn, db, moved_aside=opened.moved_aside, zone=zone, rng=rng,
                    busy_timeout=busy_timeout)
        store._note_ids, store.notes = opened.note_ids, opened.notes
        store.was_empty = opened.was_empty
        return store

    def notes_told(self) -> None:
        """The person has been told `notes` (the daemon's log and notification, or the
        CLI's stderr): they are not told again."""
        if self._note_ids:
            with self._tx() as conn:
                legacy.told(conn, self._note_ids)
            self._note_ids = []

    # ---- low level -----------------------------------------------------------------

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
            (nudge_id, kind.value, ts(at), source, note, how, ts_opt(snoozed_until)))

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
                " AND snoozed_from IS NULL", (practice_id, ts(due))).fetchone()
            if dup is not None:
                raise NudgeAlreadyRecorded(
                    f'practice "{practice_id}" already has a nudge for '
                    f"{moment(due, self.zone, None)} (\"{dup['id']}\"); "
                    "it is not recorded twice")
        conn.execute(
            f"INSERT INTO nudges ({_NUDGE_COLUMNS}) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, NULL, ?, 0, ?, ?, NULL, NULL, ?, ?, ?, NULL, ?, ?)",
            (new_id, practice_id, title, message, ts(due), ts_opt(shown_at), state.value,
             notification_id, ts_opt(next_repeat_at), snoozed_from, ts_opt(answered_at),
             source, note, origin_id, ts(origin_due)))
        if snoozed_from is not None:
            # The claim and the return land in one transaction: exactly once.
            conn.execute("UPDATE nudges SET returned_at = COALESCE(returned_at, ?),"
                         " returned_as = ? WHERE id = ?",
                         (ts(shown_at or answered_at or due), new_id, snoozed_from))
        return new_id

    # ---- writing -------------------------------------------------------------------

    def record_shown(self, practice_id: str, due: datetime, shown_at: datetime, title: str,
                     message: str, notification_id: int | None = None,
                     snoozed_from: str | None = None,
                     next_repeat_at: datetime | None = None,
                     nudge_id: str | None = None, sent: bool = False) -> NudgeRecord:
        """Record a nudge as shown (state shown). Record BEFORE showing it; it is being
        sent until `record_sent` (`sent`: it was sent already, before it was recorded).

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
            if sent:
                conn.execute("UPDATE nudges SET sent_at = ? WHERE id = ?",
                             (ts(shown_at), new_id))
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
        """Remember the notification server's id for a nudge (while that server runs:
        `forget_notification_ids`)."""
        with self._tx() as conn:
            self._get_row(conn, nudge_id)
            conn.execute("UPDATE nudges SET notification_id = ? WHERE id = ?",
                         (notification_id, nudge_id))

    def forget_notification_ids(self, keep_for: str | None = None) -> int:
        """Clear every notification id, unless `keep_for` (a notification server's
        identity) is the server that issued them: its bubbles are still up, and an
        answer closes them. The ids are from then on `keep_for`'s. Returns how many
        were cleared."""
        with self._tx() as conn:
            row = conn.execute("SELECT identity FROM bubble_server").fetchone()
            cleared = 0
            if keep_for is None or row is None or row["identity"] != keep_for:
                cleared = conn.execute("UPDATE nudges SET notification_id = NULL"
                                       " WHERE notification_id IS NOT NULL").rowcount
            conn.execute("DELETE FROM bubble_server")
            if keep_for is not None:
                conn.execute("INSERT INTO bubble_server (id, identity) VALUES (1, ?)",
                             (keep_for,))
            return cleared

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
                (state.value, ts(at), source, note, how, ts_opt(snooze_until), nudge_id))
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
                (ts(at), nudge_id))
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
                " AND returned_at IS NULL", (ts(at), nudge_id))
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
                         " next_repeat_at = ? WHERE id = ?", (ts_opt(next_at), nudge_id))
            return rec.repeat_count + 1

    def add_reflection(self, practice_id: str, at: datetime, verdict: str,
                       text: str = "") -> Reflection:
        """Record how a practice's period went (issue 6)."""
        if verdict not in VERDICTS:
            raise StoreError(f'"{verdict}" is not a verdict; say one of: {", ".join(VERDICTS)}')
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO reflections (practice_id, at, verdict, text) VALUES (?, ?, ?, ?)",
                (practice_id, ts(at), verdict, text))
            rid = cur.lastrowid
            assert rid is not None
            return Reflection(rid, practice_id, dt(ts(at)), verdict, text)

    # ---- reading -------------------------------------------------------------------

    def get(self, id_or_prefix: str) -> NudgeRecord:
        """The nudge with this id, or the one whose id starts with this prefix."""
        key = id_or_prefix.strip().lower()
        if not key or any(c not in ID_ALPHABET for c in key):
            raise NudgeNotFound(f'"{id_or_prefix}" is not a nudge id; ids look like "k3f2" '
                                "(`attuned history` lists them)")
        found = self._read(f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE id >= ? AND id < ?"
                           " ORDER BY id LIMIT 6", (key, key + "\x7f"))
        exact = [r for r in found if r["id"] == key]
        if exact:
            return _nudge(exact[0])
        if not found:
            raise NudgeNotFound(f'no nudge has an id starting with "{key}" '
                                "(`attuned history` lists them)")
        if len(found) > 1:
            shown = ", ".join(r["id"] for r in found[:5]) + (", ..." if len(found) > 5 else "")
            raise AmbiguousNudgeId(f'"{key}" could be more than one nudge ({shown}); '
                                   "type more of its id")
        return _nudge(found[0])

    def find_by_notification(self, notification_id: int) -> NudgeRecord | None:
        """The open nudge shown as this notification (by the server running), if any."""
        found = self.readable(self._read(
            f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE notification_id = ? AND {_OPEN}"
            " ORDER BY shown_at DESC, rowid DESC LIMIT 1", (notification_id,)), rows.nudge)
        return found[0] if found else None

    def open_nudges(self, practice_id: str | None = None) -> list[NudgeRecord]:
        """Open nudges (shown, or snoozed and not yet back), oldest shown first."""
        sql = f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE {_OPEN}"
        args: list[Any] = []
        if practice_id is not None:
            sql += " AND practice_id = ?"
            args.append(practice_id)
        return self.readable(self._read(sql + " ORDER BY shown_at, rowid", args), rows.nudge)

    def newest_open(self, practice_id: str | None = None) -> NudgeRecord | None:
        """The most recently shown open nudge (of one practice): the CLI's default."""
        found = self.open_nudges(practice_id)
        return found[-1] if found else None

    def pending_snoozes(self) -> list[NudgeRecord]:
        """Snoozed nudges whose return is not yet claimed, soonest first."""
        found = self._read(f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE state = 'snoozed'"
                          " AND returned_at IS NULL ORDER BY snoozed_until, rowid")
        return self.readable(found, rows.nudge)

    def pending_repeats(self) -> list[NudgeRecord]:
        """Shown, unanswered nudges with a repeat due, soonest first."""
        found = self._read(f"SELECT {_NUDGE_COLUMNS} FROM nudges WHERE state = 'shown'"
                          " AND next_repeat_at IS NOT NULL ORDER BY next_repeat_at, rowid")
        return self.readable(found, rows.nudge)

    def last_fired(self, practice_id: str) -> datetime | None:
        """The latest planned instant of a scheduled nudge of this practice that is in
        the history (shown or missed); snooze returns do not count. The daemon fires
        only occurrences after it."""
        return self._last_fired(practice_id).get(practice_id)

    def last_fired_all(self) -> dict[str, datetime]:
        """`last_fired` of every practice with a scheduled nudge in the history, in one
        query (10,000 practices: one query each cost 0.2 s at start-up)."""
        return self._last_fired(None)

    def _last_fired(self, practice_id: str | None) -> dict[str, datetime]:
        # Only dues that start with a digit (< ":") count: another text there sorts after
        # every time and would hide the practice's real latest one. One that starts
        # with a digit and is still no time: the older ones are looked at in turn.
        # (SQLite gives the bare column `id` from the row holding the MAX.)
        sql = ("SELECT practice_id, id, MAX(due) AS due FROM nudges"
               " WHERE snoozed_from IS NULL AND due < ':'")
        args: list[Any] = []
        if practice_id is not None:
            sql += " AND practice_id = ?"
            args.append(practice_id)
        out: dict[str, datetime] = {}
        for r in self._read(sql + " GROUP BY practice_id", args):
            try:
                out[r["practice_id"]] = rows.latest(r, "due")
                continue
            except rows.Unreadable as e:  # in shape but no time (a 13th month)
                self.left_out(e)
            for older in self._read(  # rare: one by one, newest first, to a readable one
                    "SELECT practice_id, id, due FROM nudges WHERE practice_id = ?"
                    " AND snoozed_from IS NULL AND due < ? ORDER BY due DESC",
                    (r["practice_id"], r["due"])):
                try:
                    out[r["practice_id"]] = rows.latest(older, "due")
                    break
                except rows.Unreadable as e:
                    self.left_out(e)
        return out

    def history(self, practice_id: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> list[HistoryEvent]:
        """Events with `since <= at < until`, oldest first."""
        where, args = _filters("n.practice_id", "e.at", practice_id, since, until)
        found = self._read(rows.EVENTS_SQL + where + " ORDER BY e.at, e.seq", args)
        return self.mark_unsent(self.readable(found, rows.event))

    def practice_ids(self) -> set[str]:
        """Every practice the history knows: with a nudge or a reflection."""
        found = self._read("SELECT practice_id FROM nudges UNION "
                           "SELECT practice_id FROM reflections", ())
        return {str(r["practice_id"]) for r in found}

    def reflections(self, practice_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None) -> list[Reflection]:
        """Reflections with `since <= at < until`, oldest first."""
        sql = "SELECT id, practice_id, at, verdict, text FROM reflections"
        where, args = _filters("practice_id", "at", practice_id, since, until)
        return self.readable(self._read(sql + where + " ORDER BY at, id", args),
                             rows.reflection)


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
        args.append(ts(since))
    if until is not None:
        clauses.append(f"{at_col} < ?")
        args.append(ts(until))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
