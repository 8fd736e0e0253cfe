"""The store's part for nudges held back and for together mode (migration 2's tables).

A nudge blocked at its time (quiet hours, together mode, do-not-disturb; see
attuned.app.practising) is dropped, or held: one per practice, the newest, until it is
released or gathered into the digest. The blocked marks keep, per practice, the planned
instant of its newest nudge held or dropped, so a restart does not count those as missed.
Together mode is one row (none: off).

Each method is one transaction (BEGIN IMMEDIATE, synchronous=FULL), as every write of
the store; see attuned.state.store.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from attuned.core.model import Held, HoldMode, HoldReason, TogetherState
from attuned.state.database import Database, dt, dt_opt, ts, ts_opt

# Newest wins: a held nudge replaces the one kept for its practice unless that one is
# later (a re-hold of the same nudge, with another mode, replaces it).
_HOLD = """INSERT INTO held (practice_id, due, reason, mode) VALUES (?, ?, ?, ?)
           ON CONFLICT (practice_id) DO UPDATE SET
               due = excluded.due, reason = excluded.reason, mode = excluded.mode
           WHERE excluded.due >= held.due"""
_MARK = """INSERT INTO blocked (practice_id, due) VALUES (?, ?)
           ON CONFLICT (practice_id) DO UPDATE SET due = excluded.due
           WHERE excluded.due > blocked.due"""
_SET_TOGETHER = """INSERT INTO together (id, is_on, until) VALUES (1, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET is_on = excluded.is_on,
                                                 until = excluded.until"""


def hold_row(conn: sqlite3.Connection, item: Held) -> None:
    """`Store.hold` inside a transaction the caller holds (the file import's too)."""
    conn.execute(_HOLD, (item.practice_id, ts(item.due), HoldReason(item.reason).value,
                         HoldMode(item.mode).value))


def mark_row(conn: sqlite3.Connection, practice_id: str, due: datetime) -> None:
    conn.execute(_MARK, (practice_id, ts(due)))


def together_row(conn: sqlite3.Connection, state: TogetherState) -> None:
    conn.execute(_SET_TOGETHER, (int(state.on), ts_opt(state.until)))


def _held(row: sqlite3.Row) -> Held:
    return Held(row["practice_id"], dt(row["due"]), HoldReason(row["reason"]),
                HoldMode(row["mode"]))


class Holding(Database):
    """Held nudges, blocked marks and together mode, in the history database."""

    def hold(self, item: Held) -> None:
        """Keep a held nudge: one per practice, the newest (by its planned instant)."""
        with self._tx() as conn:
            hold_row(conn, item)

    def held(self, practice_id: str | None = None) -> list[Held]:
        """The held nudges (of one practice), oldest due first."""
        sql = "SELECT practice_id, due, reason, mode FROM held"
        args: tuple[str, ...] = ()
        if practice_id is not None:
            sql += " WHERE practice_id = ?"
            args = (practice_id,)
        return [_held(r) for r in self._read(sql + " ORDER BY due, practice_id", args)]

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
            rows = conn.execute(f"DELETE FROM held{where}"
                                " RETURNING practice_id, due, reason, mode", args).fetchall()
        return sorted((_held(r) for r in rows), key=lambda h: (h.due, h.practice_id))

    def mark_blocked(self, practice_id: str, due: datetime) -> None:
        """Note that the nudge of `practice_id` planned for `due` was held or dropped
        (an earlier one than the mark already kept changes nothing)."""
        with self._tx() as conn:
            mark_row(conn, practice_id, due)

    def blocked_marks(self) -> dict[str, datetime]:
        """Per practice, the planned instant of its newest nudge held or dropped."""
        return {r["practice_id"]: dt(r["due"])
                for r in self._read("SELECT practice_id, due FROM blocked")}

    def together(self) -> TogetherState:
        """Together mode as last switched (off if it never was)."""
        rows = self._read("SELECT is_on, until FROM together WHERE id = 1")
        if not rows:
            return TogetherState()
        return TogetherState(bool(rows[0]["is_on"]), dt_opt(rows[0]["until"]))

    def set_together(self, state: TogetherState) -> None:
        with self._tx() as conn:
            together_row(conn, state)
