"""Migration "held nudges in the history" (number 3 in attuned.state.migrations).

A nudge blocked at its moment (quiet hours, together mode, do-not-disturb) is a nudge in
the history from then on: state `held` while it waits, then `shown` (the same nudge), or
`dropped` (never shown: dropped at its moment, replaced by a newer held nudge of its
practice, or its practice removed). Its events say why (`events.reason`), and each held
nudge names its history nudge (`held.nudge_id`).

SQLite cannot change a CHECK constraint in place, so `nudges` and `events` are rebuilt
(SQLite's documented procedure: make the new table, copy, drop the old, rename the new;
attuned.state.migrations runs migrations with foreign keys off and checks them all
before it commits). Every row is kept as it was.

Kept in its own module so that it can be renumbered in one line if another migration
takes its number first.
"""

from __future__ import annotations

from typing import Final

_NUDGE_COLUMNS = (
    "id, practice_id, title, message, due, shown_at, state, snoozed_until, notification_id,"
    " repeat_count, next_repeat_at, snoozed_from, returned_at, returned_as, answered_at,"
    " source, note, how, origin_id, origin_due")
_EVENT_COLUMNS = "seq, nudge_id, kind, at, source, note, how, snoozed_until"

_STATES = "'shown','done','snoozed','skipped','dismissed','missed','expired','held','dropped'"

STATEMENTS: Final[tuple[str, ...]] = (
    f"""CREATE TABLE nudges_new (
        id TEXT PRIMARY KEY,
        practice_id TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT '',
        due TEXT NOT NULL,
        shown_at TEXT,
        state TEXT NOT NULL CHECK (state IN ({_STATES})),
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
    f"INSERT INTO nudges_new ({_NUDGE_COLUMNS}) SELECT {_NUDGE_COLUMNS} FROM nudges",
    "DROP TABLE nudges",
    "ALTER TABLE nudges_new RENAME TO nudges",
    # The indexes went with the old table (as in migration 1).
    """CREATE UNIQUE INDEX nudges_scheduled_once ON nudges(practice_id, due)
       WHERE snoozed_from IS NULL""",
    "CREATE UNIQUE INDEX nudges_returned_from ON nudges(snoozed_from)"
    " WHERE snoozed_from IS NOT NULL",
    "CREATE INDEX nudges_state ON nudges(state)",
    "CREATE INDEX nudges_notification ON nudges(notification_id)",
    f"""CREATE TABLE events_new (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        nudge_id TEXT NOT NULL REFERENCES nudges(id),
        kind TEXT NOT NULL CHECK (kind IN ({_STATES})),
        at TEXT NOT NULL,
        source TEXT,
        note TEXT,
        how TEXT,
        snoozed_until TEXT,
        reason TEXT CHECK (reason IS NULL OR reason IN
            ('together','quiet','dnd','replaced','gone'))
    )""",
    f"INSERT INTO events_new ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS} FROM events",
    "DROP TABLE events",
    "ALTER TABLE events_new RENAME TO events",
    "CREATE INDEX events_at ON events(at)",
    "CREATE INDEX events_nudge ON events(nudge_id)",
    # The held nudge's nudge in the history; NULL for one imported from held.json.
    "ALTER TABLE held ADD COLUMN nudge_id TEXT REFERENCES nudges(id)",
)
