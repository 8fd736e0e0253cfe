"""Migration "held while away" (number 5 in attuned.state.migrations).

A nudge may be held because nobody is at the screen ([settings] away = "hold"): the
reason `away` joins together/quiet/dnd in the CHECK constraints of `held.reason` and
`events.reason`. SQLite cannot change a CHECK in place, so both tables are rebuilt by
SQLite's documented procedure (new table, copy, drop, rename, indexes again), as
attuned.state.migration_held does. Unlike that one, the new tables are made from each
table's own schema as the database has it, with only the reason list widened, and every
column is copied by name: a migration numbered before this one but applied after it (a
gap filled later) may have added columns, and they are kept.

Kept in its own module so that it can be renumbered in one line.
"""

from __future__ import annotations

import re
import sqlite3

_OLD = "'together','quiet','dnd'"
_NEW = "'together','quiet','dnd','away'"
_TABLES = ("held", "events")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rebuild(conn: sqlite3.Connection, table: str) -> None:
    row = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?",
                       (table,)).fetchone()
    if row is None:
        raise sqlite3.DatabaseError(f"no table {table} to widen its reasons")
    sql = str(row[0])
    if _NEW in sql:
        return  # already allows it
    if _OLD not in sql:
        raise sqlite3.DatabaseError(f"the table {table} has no reason list to widen")
    new = f"{table}_new"
    created, n = re.subn(r'^\s*CREATE TABLE\s+("[^"]*"|\w+)', f"CREATE TABLE {new}",
                         sql.replace(_OLD, _NEW), count=1)
    if n != 1:
        raise sqlite3.DatabaseError(f"cannot read the schema of the table {table}")
    indexes = [str(r[0]) for r in conn.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?"
        " AND sql IS NOT NULL", (table,))]
    columns = ", ".join(_quoted(str(r[1]))
                        for r in conn.execute(f"PRAGMA table_info({_quoted(table)})"))
    conn.execute(created)
    conn.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {_quoted(table)}")
    conn.execute(f"DROP TABLE {_quoted(table)}")
    conn.execute(f"ALTER TABLE {new} RENAME TO {_quoted(table)}")
    for index in indexes:  # they went with the old table
        conn.execute(index)


def apply(conn: sqlite3.Connection) -> None:
    """Widen the reasons of `held` and `events` by `away`; every row kept as it was."""
    for table in _TABLES:
        _rebuild(conn, table)
