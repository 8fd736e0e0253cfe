"""The JSON files held nudges and together mode were kept in before they moved into the
history database: `held.json`, `blocked.json` and `together.json` in the state directory.

`Store.open` imports them once, under its open lock: every valid entry goes into the
database in one transaction, which also records the file as imported (so it is never
imported twice, even if renaming it fails or the process dies right after). Then the
file is renamed aside, never deleted: `NAME.imported` when every entry was good, else
`NAME.damaged-YYYYmmdd-HHMMSS`, and a note for the person says what was kept and where
the file went. A together.json that cannot be read leaves together mode off (the safe
reading: nothing is shown that waits for together time), and says so.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from attuned.core.model import Held, HoldMode, HoldReason, TogetherState
from attuned.state.database import ts
from attuned.state.holding import hold_row, mark_row, together_row

HELD: Final = "held.json"
BLOCKED: Final = "blocked.json"
TOGETHER: Final = "together.json"
FILES: Final = (HELD, BLOCKED, TOGETHER)


class Damaged(ValueError):
    """A file or an entry that cannot be read; the message says why, for a person."""


@dataclass(frozen=True)
class _Read:
    """What one file held: its valid entries and what was wrong with the others."""

    held: tuple[Held, ...] = ()
    marks: tuple[tuple[str, datetime], ...] = ()
    together: TogetherState | None = None
    entries: int = 0  # how many entries the file had
    problems: tuple[str, ...] = ()  # one per damaged entry
    unreadable: str | None = None  # why the whole file could not be read


def _moment(value: object, key: str) -> datetime:
    if not isinstance(value, str):
        raise Damaged(f'"{key}" is not a date: {json.dumps(value)}')
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Damaged(f'"{key}" is not a date: {json.dumps(value)}') from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise Damaged(f'"{key}" has no time zone: {json.dumps(value)}')
    return at


def _text(d: dict[str, Any], key: str) -> str:
    if key not in d:
        raise Damaged(f'"{key}" is missing')
    value = d[key]
    if not isinstance(value, str) or not value:
        raise Damaged(f'"{key}" is not a name: {json.dumps(value)}')
    return value


def _held_entry(d: object) -> Held:
    if not isinstance(d, dict):
        raise Damaged(f"it is not a table of practice, due, reason and mode: {json.dumps(d)}")
    practice = _text(d, "practice")
    if "due" not in d:
        raise Damaged('"due" is missing')
    due = _moment(d["due"], "due")
    reason, mode = _text(d, "reason"), _text(d, "mode")
    if reason not in set(HoldReason):
        raise Damaged(f'"reason" is not together, quiet or dnd: {json.dumps(reason)}')
    if mode not in set(HoldMode):
        raise Damaged(f'"mode" is not defer or digest: {json.dumps(mode)}')
    return Held(practice, due, HoldReason(reason), HoldMode(mode))


def _load(path: Path) -> object:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise Damaged("it is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise Damaged(f"it is not JSON: {e}") from None


def _read_held(path: Path) -> _Read:
    data = _load(path)
    if not isinstance(data, list):
        raise Damaged("it is not a list of held nudges")
    held: list[Held] = []
    problems: list[str] = []
    for n, d in enumerate(data, 1):
        try:
            held.append(_held_entry(d))
        except Damaged as e:
            problems.append(f"entry {n}: {e}")
    return _Read(held=tuple(held), entries=len(data), problems=tuple(problems))


def _read_blocked(path: Path) -> _Read:
    data = _load(path)
    if not isinstance(data, dict):
        raise Damaged("it is not a table of practices and times")
    marks: list[tuple[str, datetime]] = []
    problems: list[str] = []
    for practice, value in data.items():
        try:
            if not practice:
                raise Damaged("a practice without a name")
            marks.append((practice, _moment(value, practice)))
        except Damaged as e:
            problems.append(str(e))
    return _Read(marks=tuple(marks), entries=len(data), problems=tuple(problems))


def _read_together(path: Path) -> _Read:
    data = _load(path)
    if not isinstance(data, dict):
        raise Damaged("it is not a table of on and until")
    on = data.get("on")
    if not isinstance(on, bool):
        raise Damaged(f'"on" is not true or false: {json.dumps(on)}')
    until = data.get("until")
    return _Read(together=TogetherState(on, None if until is None else _moment(until, "until")),
                 entries=1)


_READERS: Final[dict[str, Callable[[Path], _Read]]] = {
    HELD: _read_held, BLOCKED: _read_blocked, TOGETHER: _read_together}


def import_once(conn: sqlite3.Connection, directory: Path,
                now: Callable[[], datetime]) -> tuple[list[int], list[str]]:
    """Import what is left to import in `directory`, keep the notes about it, and return
    every note not yet told: (their ids, their texts). A database that refuses the import
    now leaves the files as they are, for the next open: said, never fatal (nudges come
    without them)."""
    try:
        notes = import_files(conn, directory, now)
    except sqlite3.Error as e:
        return [], [f"the held nudges and together mode in {directory} could not be moved "
                    f"into the history database yet ({e}); their files were left as they "
                    "are and attuned tries again when it next starts"]
    try:
        if notes:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT INTO notes (at, text) VALUES (?, ?)",
                                 [(ts(datetime.now(UTC)), n) for n in notes])
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        rows = conn.execute("SELECT id, text FROM notes WHERE told_at IS NULL"
                            " ORDER BY id").fetchall()
    except sqlite3.Error:
        return [], notes  # told now at least, if not kept for later
    return [r[0] for r in rows], [r[1] for r in rows]


def told(conn: sqlite3.Connection, ids: list[int]) -> None:
    conn.executemany("UPDATE notes SET told_at = ? WHERE id = ?",
                     [(ts(datetime.now(UTC)), i) for i in ids])


def import_files(conn: sqlite3.Connection, directory: Path,
                 now: Callable[[], datetime]) -> list[str]:
    """Import the old JSON files in `directory` not yet imported; the notes for the
    person (none when every file was whole). `now`: local time, for the damaged name.
    Raises sqlite3.Error if the database refuses the import (nothing is renamed then)."""
    present = [name for name in FILES if (directory / name).exists()]
    if not present:
        return []  # the usual open: three stat calls
    notes: list[str] = []
    imported: list[tuple[Path, _Read]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name in present:
            path = directory / name
            seen = conn.execute("SELECT 1 FROM imported_files WHERE name = ?",
                                (name,)).fetchone()
            if seen is not None:
                continue  # imported before and the rename did not happen: leave it be
            try:
                got = _READERS[name](path)
            except Damaged as e:
                got = _Read(unreadable=str(e))
            except OSError as e:
                notes.append(f"{path} could not be read ({e.strerror}); it was left where it "
                             "is, to be tried again")
                continue
            for item in got.held:
                hold_row(conn, item)
            for practice, due in got.marks:
                mark_row(conn, practice, due)
            if name == TOGETHER:
                together_row(conn, got.together or TogetherState())  # unreadable: apart
            conn.execute("INSERT INTO imported_files (name, imported_at) VALUES (?, ?)",
                         (name, ts(datetime.now(UTC))))
            imported.append((path, got))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    stamp = now().strftime("%Y%m%d-%H%M%S")
    for path, got in imported:
        damaged = got.unreadable is not None or bool(got.problems)
        target = _free(path.with_name(f"{path.name}.damaged-{stamp}" if damaged
                                      else f"{path.name}.imported"))
        try:
            os.rename(path, target)
        except OSError as e:
            moved = (f"it could not be moved aside ({e.strerror}) and is no longer read "
                     "(nothing was deleted)")
            if not damaged:
                notes.append(f"{path} was imported into the history database; {moved}")
        else:
            moved = f"the file was moved aside to {target} (nothing was deleted)"
        if damaged:
            notes.append(_damaged_note(path, got, moved))
    return notes


def _free(target: Path) -> Path:
    """`target`, or `target-2`, `target-3`...: never over an existing file."""
    n, free = 2, target
    while free.exists() or free.is_symlink():
        free = target.with_name(f"{target.name}-{n}")
        n += 1
    return free


def _damaged_note(path: Path, got: _Read, moved: str) -> str:
    if path.name == TOGETHER:
        return (f"{path} could not be read ({got.unreadable}), so together mode is off "
                f"(`attuned together on` switches it on); {moved}")
    what = "held nudges" if path.name == HELD else "blocked marks"
    if got.unreadable is not None:
        return (f"{path} could not be read ({got.unreadable}), so none of its {what} "
                f"was kept; {moved}")
    bad = len(got.problems)
    kept = got.entries - bad
    shown = "; ".join(got.problems[:3]) + ("; ..." if bad > 3 else "")
    damaged = f"{bad} damaged {'entry' if bad == 1 else 'entries'} of {got.entries}"
    good = {0: "none was kept", 1: "the good one was kept"}.get(
        kept, f"the {kept} good ones were kept")
    return f"{path} had {damaged} ({shown}); {good}; {moved}"
