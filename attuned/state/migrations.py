"""The history database's schema: numbered migrations, applied in order at open and
recorded in `schema_migrations` (version, applied_at). Append only; never edit a
released one. Each version not yet recorded is applied, in order: a number left free
by one branch and taken later (a gap) is still applied to a database that has the
versions after it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from attuned.errors import StoreError
from attuned.state import migration_away, migration_held, migration_sent
from attuned.state.database import ts


class DatabaseTooNew(StoreError):
    """The database was written by a newer attuned; we leave it alone."""


# A step of a migration: an SQL statement, or a function run on the connection (for a
# step that must read the schema it changes).
Step = str | Callable[[sqlite3.Connection], None]

# Numbered migrations: (version, steps).
MIGRATIONS: Final[tuple[tuple[int, tuple[Step, ...]], ...]] = (
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
    (
        2,
        (
            # Nudges held back (quiet hours, together mode, do-not-disturb): one per
            # practice, the newest.
            """CREATE TABLE held (
                practice_id TEXT PRIMARY KEY,
                due TEXT NOT NULL,
                reason TEXT NOT NULL CHECK (reason IN ('together','quiet','dnd')),
                mode TEXT NOT NULL CHECK (mode IN ('defer','digest'))
            )""",
            # Per practice, the planned instant of its newest nudge held or dropped: a
            # restart does not count those as missed.
            """CREATE TABLE blocked (
                practice_id TEXT PRIMARY KEY,
                due TEXT NOT NULL
            )""",
            # Together mode: at most one row; none means off.
            """CREATE TABLE together (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                is_on INTEGER NOT NULL CHECK (is_on IN (0, 1)),
                until TEXT
            )""",
            # The JSON files these tables replace (held.json, blocked.json, together.json),
            # each imported once: recorded in the import's own transaction.
            """CREATE TABLE imported_files (
                name TEXT PRIMARY KEY,
                imported_at TEXT NOT NULL
            )""",
            # What the person must be told of that import (a damaged file moved aside),
            # kept until a front-end that tells has told it (Store.notes_told).
            """CREATE TABLE notes (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at TEXT NOT NULL,
                text TEXT NOT NULL,
                told_at TEXT
            )""",
        ),
    ),
    # Held and dropped nudges in the history (the tables rebuilt with the new states).
    (3, migration_held.STATEMENTS),
    (
        4,
        (
            # Who issued the notification ids kept in nudges.notification_id: the
            # notification server's identity (its bus's id, its unique name, its pid).
            # At most one row. Ids are kept across a restart of the daemon only while
            # the same server runs: another server's id 1 is someone else's bubble.
            """CREATE TABLE bubble_server (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                identity TEXT NOT NULL
            )""",
        ),
    ),
    # A nudge held while nobody is at the screen: the reason `away`.
    (5, (migration_away.apply,)),
    # When a nudge's notification was sent (accepted by the server), not only recorded.
    (6, migration_sent.STATEMENTS),
)
LATEST_VERSION: Final = MIGRATIONS[-1][0]
VERSIONS: Final = tuple(v for v, _ in MIGRATIONS)


def pending(conn: sqlite3.Connection) -> list[int]:
    """The versions this attuned knows that the database has not had yet, in order."""
    done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
    return [v for v in VERSIONS if v not in done]


def migrate(conn: sqlite3.Connection, db: Path) -> None:
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # see attuned.state.store
        # Off while migrating: a migration may rebuild a table others refer to (SQLite's
        # procedure for changing a constraint), and a DROP TABLE with foreign keys on
        # would delete through them. Every reference is checked before the commit.
        conn.execute("PRAGMA foreign_keys = OFF")
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
            now = ts(datetime.now(UTC))
            todo = pending(conn)
            for version, steps in MIGRATIONS:
                if version not in todo:
                    continue
                for step in steps:
                    if isinstance(step, str):
                        conn.execute(step)
                    else:
                        step(conn)
                conn.execute("INSERT INTO schema_migrations (version, applied_at)"
                             " VALUES (?, ?)", (version, now))
            broken = conn.execute("PRAGMA foreign_key_check").fetchall() if todo else []
            if broken:
                n = len(broken)
                rows = "1 row refers to a row that is not" if n == 1 else \
                    f"{n} rows refer to rows that are not"
                raise StoreError(f"cannot prepare the history database at {db}: {rows} "
                                 f"there (table {broken[0][0]}); it was left as it was")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as e:
        raise StoreError(f"cannot prepare the history database at {db}: {e}") from e
