"""Whether a nudge recorded as shown was sent: `nudges.sent_at` (migration 6).

A nudge is recorded before its notification goes out (never shown twice after a crash);
it counts as shown once the server accepted the Notify, or a fallback delivered it. One
left unsent by a run that stopped in between is delivered again by the next run, or
recorded as not delivered (state missed, the reason as its note)."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime

from attuned.core.history import EventKind, HistoryEvent, NudgeRecord
from attuned.core.model import NudgeState
from attuned.state import rows
from attuned.state.database import Database, StoreUnavailable, ts

_UNSENT = "state = 'shown' AND sent_at IS NULL"


class Sending(Database):
    """The sent mark of the nudges in the history database."""

    def record_sent(self, nudge_id: str, at: datetime,
                    notification_id: int | None = None) -> None:
        """`nudge_id`'s notification was accepted at `at` (its server's id, if any).
        Without an fsync: lost only to a power cut, and then it is sent once more."""
        with self._tx(durable=False) as conn:
            conn.execute("UPDATE nudges SET sent_at = COALESCE(sent_at, ?),"
                         " notification_id = COALESCE(?, notification_id) WHERE id = ?",
                         (ts(at), notification_id, nudge_id))

    def unsent(self) -> list[NudgeRecord]:
        """Open nudges recorded as shown whose notification was never sent, oldest first."""
        found = self._read(rows.NUDGES_SQL + f" WHERE {_UNSENT} ORDER BY due", ())
        return self.readable(found, rows.nudge)

    def record_not_delivered(self, nudge_id: str, at: datetime, reason: str) -> bool:
        """Close an unsent nudge as never delivered (missed, `reason` its note). False if
        it was sent or answered meanwhile."""
        with self._tx() as conn:
            cur = conn.execute(
                f"UPDATE nudges SET state = ?, answered_at = ?, source = 'daemon',"
                f" note = ? WHERE id = ? AND {_UNSENT}",
                (NudgeState.MISSED.value, ts(at), reason, nudge_id))
            if cur.rowcount == 0:
                return False
            conn.execute("INSERT INTO events (nudge_id, kind, at, source, note)"
                         " VALUES (?, ?, ?, 'daemon', ?)",
                         (nudge_id, EventKind.MISSED.value, ts(at), reason))
            return True

    def _unsent_ids(self) -> set[str]:
        """The nudges shown (recorded so) but never sent: open ones and those recorded
        not delivered since (none from a history too old to say: read-only, never
        migrated)."""
        try:
            found = self._read("SELECT id FROM nudges WHERE sent_at IS NULL"
                               " AND shown_at IS NOT NULL", ())
        except (sqlite3.OperationalError, StoreUnavailable):
            return set()
        return {str(r["id"]) for r in found}

    def mark_unsent(self, events: list[HistoryEvent]) -> list[HistoryEvent]:
        """`events` with the shown ones of unsent nudges marked so (nobody saw them)."""
        unsent = self._unsent_ids()
        return [dataclasses.replace(e, sent=False)
                if e.kind is EventKind.SHOWN and e.nudge_id in unsent else e
                for e in events]
