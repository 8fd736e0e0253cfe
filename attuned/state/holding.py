"""The store's part for nudges held back and for together mode (migrations 2 and 3).

A nudge blocked at its time (quiet hours, together mode, do-not-disturb; see
attuned.app.holding) is dropped, or held: one per practice, the newest, until it is
released or gathered into the digest. Either way it is a nudge in the history from that
moment (migration 3): `held` while it waits, then `shown` as the same nudge, or `dropped`
(at its moment, replaced by a newer held nudge of its practice, or its practice gone), each
event with its reason. The blocked marks keep, per practice, the planned instant of its
newest nudge held or dropped, so a restart does not count those as missed. Together mode
is one row (none: off).

Each method is one transaction (BEGIN IMMEDIATE, synchronous=FULL), as every write of
the store; see attuned.state.store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import UTC, datetime

from attuned.core.history import EventKind, EventReason, NudgeRecord
from attuned.core.model import Held, HoldMode, HoldReason, NudgeState, TogetherState
from attuned.state import rows
from attuned.state.database import Database, ts, ts_opt

# Newest wins: a held nudge replaces the one kept for its practice unless that one is
# later (a re-hold of the same nudge, with another mode, replaces it).
_HOLD = """INSERT INTO held (practice_id, due, reason, mode) VALUES (?, ?, ?, ?)
           ON CONFLICT (practice_id) DO UPDATE SET
               due = excluded.due, reason = excluded.reason, mode = excluded.mode
           WHERE excluded.due >= held.due"""
_KEEP = """INSERT INTO held (practice_id, due, reason, mode, nudge_id) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (practice_id) DO UPDATE SET due = excluded.due,
               reason = excluded.reason, mode = excluded.mode, nudge_id = excluded.nudge_id"""
_MARK = """INSERT INTO blocked (practice_id, due) VALUES (?, ?)
           ON CONFLICT (practice_id) DO UPDATE SET due = excluded.due
           WHERE excluded.due > blocked.due"""
_SET_TOGETHER = """INSERT INTO together (id, is_on, until) VALUES (1, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET is_on = excluded.is_on,
                                                 until = excluded.until"""
_HELD_COLUMNS = "practice_id, due, reason, mode, nudge_id"


def hold_row(conn: sqlite3.Connection, item: Held) -> None:
    """A held nudge without its history nudge, inside a transaction the caller holds
    (the import of the old held.json, whose entries have none)."""
    conn.execute(_HOLD, (item.practice_id, ts(item.due), HoldReason(item.reason).value,
                         HoldMode(item.mode).value))


def mark_row(conn: sqlite3.Connection, practice_id: str, due: datetime) -> None:
    conn.execute(_MARK, (practice_id, ts(due)))


def together_row(conn: sqlite3.Connection, state: TogetherState) -> None:
    conn.execute(_SET_TOGETHER, (int(state.on), ts_opt(state.until)))


def _event(conn: sqlite3.Connection, nudge_id: str, kind: EventKind, at: datetime,
           reason: EventReason | None = None, note: str | None = None) -> None:
    conn.execute("INSERT INTO events (nudge_id, kind, at, source, note, reason)"
                 " VALUES (?, ?, ?, 'daemon', ?, ?)",
                 (nudge_id, kind.value, ts(at), note,
                  None if reason is None else EventReason(reason).value))


def _scheduled(conn: sqlite3.Connection, practice_id: str, due: datetime
               ) -> sqlite3.Row | None:
    """The history's nudge of `practice_id` planned for `due` (snooze returns aside)."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT id, state FROM nudges WHERE practice_id = ? AND due = ?"
        " AND snoozed_from IS NULL", (practice_id, ts(due))).fetchone()
    return row


def _to_dropped(conn: sqlite3.Connection, nudge_id: str, at: datetime,
                reason: EventReason, other: str | None = None) -> bool:
    """A held nudge in the history becomes dropped (False: it was not held)."""
    cur = conn.execute("UPDATE nudges SET state = 'dropped', answered_at = ?,"
                       " source = 'daemon' WHERE id = ? AND state = 'held'", (ts(at), nudge_id))
    if cur.rowcount != 1:
        return False
    _event(conn, nudge_id, EventKind.DROPPED, at, reason, other)
    return True


class Holding(Database):
    """Held nudges, blocked marks and together mode, in the history database."""

    # The nudges' own parts, which attuned.state.store.Store (this class's subclass) has.
    def _new_id(self, conn: sqlite3.Connection, avoid: Collection[str] = ()) -> str:
        raise NotImplementedError

    def _get_row(self, conn: sqlite3.Connection, nudge_id: str) -> NudgeRecord:
        raise NotImplementedError

    def _add(self, conn: sqlite3.Connection, practice_id: str, due: datetime,
             state: NudgeState, title: str, message: str, at: datetime) -> str:
        nudge_id = self._new_id(conn)
        conn.execute(
            "INSERT INTO nudges (id, practice_id, title, message, due, state, answered_at,"
            " source, origin_id, origin_due) VALUES (?, ?, ?, ?, ?, ?, ?, 'daemon', ?, ?)",
            (nudge_id, practice_id, title, message, ts(due), state.value,
             ts(at) if state is NudgeState.DROPPED else None, nudge_id, ts(due)))
        return nudge_id

    def _kept_due(self, kept: sqlite3.Row) -> datetime:
        """The due of the held nudge kept for a practice; one that cannot be read is
        told of and taken as older than any (the new one replaces it)."""
        try:
            return rows.held(kept).due
        except rows.Unreadable as e:
            self.left_out(e)
            return datetime.min.replace(tzinfo=UTC)

    def hold(self, item: Held, *, title: str = "", message: str = "",
             at: datetime | None = None) -> str | None:
        """Keep a held nudge: one per practice, the newest (by its planned instant), as a
        nudge in the history (state held, `title` and `message` its words; `at`: when it
        was held, by default its due). The one it replaces is dropped ("replaced"); one
        older than the one kept is dropped at once. The same nudge held again keeps its
        history nudge (a new held event only when the reason changed). Returns its
        nudge's id; None when that nudge is in the history as something else already
        (shown, dropped): nothing is held then. Its blocked mark is set with it."""
        reason = HoldReason(item.reason)
        mode = HoldMode(item.mode)
        when = at or item.due
        with self._tx() as conn:
            found = _scheduled(conn, item.practice_id, item.due)
            if found is not None and found["state"] != NudgeState.HELD.value:
                return None
            kept = conn.execute(f"SELECT {_HELD_COLUMNS} FROM held WHERE practice_id = ?",
                                (item.practice_id,)).fetchone()
            mark_row(conn, item.practice_id, item.due)
            if found is None:
                nudge_id = self._add(conn, item.practice_id, item.due, NudgeState.HELD,
                                     title, message, when)
                _event(conn, nudge_id, EventKind.HELD, when, EventReason(reason.value))
            else:
                nudge_id = found["id"]
            if kept is not None and self._kept_due(kept) > item.due:
                # A newer one of its practice waits already: this one is replaced at once.
                _to_dropped(conn, nudge_id, when, EventReason.REPLACED, kept["nudge_id"])
                return str(nudge_id)
            if found is not None:
                last = conn.execute("SELECT reason FROM events WHERE nudge_id = ? AND"
                                    " kind = 'held' ORDER BY seq DESC LIMIT 1",
                                    (nudge_id,)).fetchone()
                if last is None or last["reason"] != reason.value:
                    _event(conn, nudge_id, EventKind.HELD, when, EventReason(reason.value))
            if kept is not None and kept["nudge_id"] not in (None, nudge_id):
                _to_dropped(conn, kept["nudge_id"], when, EventReason.REPLACED, nudge_id)
            conn.execute(_KEEP, (item.practice_id, ts(item.due), reason.value, mode.value,
                                 nudge_id))
            return str(nudge_id)

    def drop(self, practice_id: str, due: datetime, reason: EventReason, *,
             title: str = "", message: str = "", at: datetime | None = None) -> str | None:
        """Record a nudge that is not shown at all: blocked at its moment with nothing to
        wait for, or held and then given up (its practice gone). A held one becomes
        dropped; otherwise a new nudge in state dropped. `at`: when, by default its due.
        Returns its id; None when that nudge is in the history as something else
        already. Its blocked mark is set with it."""
        when = at or due
        reason = EventReason(reason)
        with self._tx() as conn:
            found = _scheduled(conn, practice_id, due)
            if found is not None and found["state"] != NudgeState.HELD.value:
                return None
            mark_row(conn, practice_id, due)
            if found is not None:
                conn.execute("DELETE FROM held WHERE nudge_id = ?", (found["id"],))
                _to_dropped(conn, found["id"], when, reason)
                return str(found["id"])
            nudge_id = self._add(conn, practice_id, due, NudgeState.DROPPED, title, message,
                                 when)
            _event(conn, nudge_id, EventKind.DROPPED, when, reason)
            return nudge_id

    def show_held(self, nudge_id: str, shown_at: datetime, message: str, *,
                  next_repeat_at: datetime | None = None) -> NudgeRecord | None:
        """A held nudge is shown now: the same nudge, from held to shown, with the words
        it is shown with. As `record_shown`, before it is shown, and without an fsync.
        None when it is no longer held (shown or dropped already): show nothing then."""
        with self._tx(durable=False) as conn:
            cur = conn.execute(
                "UPDATE nudges SET state = 'shown', shown_at = ?, message = ?,"
                " next_repeat_at = ? WHERE id = ? AND state = 'held'",
                (ts(shown_at), message, ts_opt(next_repeat_at), nudge_id))
            if cur.rowcount != 1:
                return None
            conn.execute("DELETE FROM held WHERE nudge_id = ?", (nudge_id,))
            _event(conn, nudge_id, EventKind.SHOWN, shown_at)
            return self._get_row(conn, nudge_id)

    def miss_held(self, nudge_id: str, at: datetime, note: str) -> bool:
        """A held nudge never shown in its grace (nobody came back to the screen) is
        missed, as one due while the machine slept: the same nudge, from held to missed,
        `note` saying why. False when it was not held (shown or dropped already)."""
        with self._tx() as conn:
            cur = conn.execute("UPDATE nudges SET state = 'missed', answered_at = ?,"
                               " note = ?, source = 'daemon' WHERE id = ? AND state = 'held'",
                               (ts(at), note, nudge_id))
            if cur.rowcount != 1:
                return False
            conn.execute("DELETE FROM held WHERE nudge_id = ?", (nudge_id,))
            _event(conn, nudge_id, EventKind.MISSED, at, note=note)
            return True

    def held(self, practice_id: str | None = None) -> list[Held]:
        """The held nudges (of one practice), oldest due first."""
        sql = f"SELECT {_HELD_COLUMNS} FROM held"
        args: tuple[str, ...] = ()
        if practice_id is not None:
            sql += " WHERE practice_id = ?"
            args = (practice_id,)
        return self.readable(self._read(sql + " ORDER BY due, practice_id", args), rows.held)

    def take_held(self, practice_id: str | None = None,
                  mode: HoldMode | None = None) -> list[Held]:
        """Remove and return the held nudges (of one practice, of one mode), oldest due
        first. Atomic: of two takers at once, each held nudge goes to exactly one."""
        clauses: list[str] = []
        args: list[str] = []
        if practice_id is not None:
            clauses.append("practice_id = ?")
            args.append(practice_id)
        if mode is not None:
            clauses.append("mode = ?")
            args.append(HoldMode(mode).value)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._tx() as conn:
            taken = conn.execute(f"DELETE FROM held{where} RETURNING {_HELD_COLUMNS}",
                                 args).fetchall()
        return sorted(self.readable(taken, rows.held), key=lambda h: (h.due, h.practice_id))

    def mark_blocked(self, practice_id: str, due: datetime) -> None:
        """Note that the nudge of `practice_id` planned for `due` was held or dropped
        (an earlier one than the mark already kept changes nothing)."""
        with self._tx() as conn:
            mark_row(conn, practice_id, due)

    def blocked_marks(self) -> dict[str, datetime]:
        """Per practice, the planned instant of its newest nudge held or dropped."""
        return dict(self.readable(self._read("SELECT practice_id, due FROM blocked"), rows.mark))

    def together(self) -> TogetherState:
        """Together mode as last switched (off if it never was)."""
        rows_ = self._read("SELECT is_on, until FROM together WHERE id = 1")
        found = self.readable(rows_, rows.together)  # one that cannot be read: off, told
        return found[0] if found else TogetherState()

    def set_together(self, state: TogetherState) -> None:
        with self._tx() as conn:
            together_row(conn, state)
