"""The history's rows read as records, and the rows that cannot be read.

A row that another program or a hand edit left wrong (a time that is not one, a NULL
where a value is needed, a state attuned does not know) raises `Unreadable`, naming the
row and what is wrong with it. Readers of many rows leave such a row out and report it
(attuned.state.database.Database.readable); `scan` finds them all, for `attuned doctor`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Final, TypeVar

from attuned.core.history import EventKind, EventReason, HistoryEvent, NudgeRecord, Reflection
from attuned.core.model import Held, HoldMode, HoldReason, NudgeState, TogetherState

T = TypeVar("T")

# What `attuned doctor` is asked for about a row that cannot be read.
DOCTOR: Final = "`attuned doctor` lists such rows"


class Unreadable(ValueError):
    """A row that cannot be read: `what` names it ('nudge "k3f2"', 'event 17'), `why`
    says what is wrong, for a person."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what} ({why})")
        self.what = what
        self.why = why


class _Bad(ValueError):
    """One value of a row is wrong; the message says which and how."""


def _shown(value: object) -> str:
    return "empty" if value is None else f"not a time: {value!r}"


def _time(row: sqlite3.Row, col: str) -> datetime:
    value = row[col]
    if not isinstance(value, str):
        raise _Bad(f"{col} is {_shown(value)}")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{col} is {_shown(value)}") from None
    if at.utcoffset() is None:
        raise _Bad(f"{col} has no time zone: {value!r}")
    return at


def _time_opt(row: sqlite3.Row, col: str) -> datetime | None:
    return None if row[col] is None else _time(row, col)


def _text(row: sqlite3.Row, col: str) -> str:
    value = row[col]
    if not isinstance(value, str):
        raise _Bad(f"{col} is {'empty' if value is None else f'not text: {value!r}'}")
    return value


def _text_opt(row: sqlite3.Row, col: str) -> str | None:
    return None if row[col] is None else _text(row, col)


def _int(row: sqlite3.Row, col: str) -> int:
    value = row[col]
    if not isinstance(value, int):
        raise _Bad(f"{col} is {'empty' if value is None else f'not a number: {value!r}'}")
    return value


def _state(row: sqlite3.Row, col: str) -> NudgeState:
    try:
        return NudgeState(row[col])
    except ValueError:
        raise _Bad(f"{col} is not one attuned knows: {row[col]!r}") from None


def _named(what: str, parse: Callable[[], T]) -> T:
    try:
        return parse()
    except _Bad as e:
        raise Unreadable(what, str(e)) from None


def nudge(row: sqlite3.Row) -> NudgeRecord:
    return _named(f'nudge "{row["id"]}"', lambda: _nudge(row))


def _nudge(row: sqlite3.Row) -> NudgeRecord:
    state = _state(row, "state")
    rec = NudgeRecord(
        id=_text(row, "id"), practice_id=_text(row, "practice_id"),
        title=_text(row, "title"), message=_text(row, "message"),
        due=_time(row, "due"), shown_at=_time_opt(row, "shown_at"), state=state,
        snoozed_until=_time_opt(row, "snoozed_until"),
        notification_id=None if row["notification_id"] is None
        else _int(row, "notification_id"),
        repeat_count=_int(row, "repeat_count"),
        next_repeat_at=_time_opt(row, "next_repeat_at"),
        snoozed_from=_text_opt(row, "snoozed_from"), returned_at=_time_opt(row, "returned_at"),
        returned_as=_text_opt(row, "returned_as"), answered_at=_time_opt(row, "answered_at"),
        source=_text_opt(row, "source"), note=_text_opt(row, "note"), how=_text_opt(row, "how"),
        origin_id=_text(row, "origin_id"), origin_due=_time(row, "origin_due"))
    # What the daemon plans with: an open nudge without its times cannot be planned.
    if state is NudgeState.SHOWN and rec.shown_at is None:
        raise _Bad("shown_at is empty, and a shown nudge needs it")
    if rec.snooze_pending and rec.snoozed_until is None:
        raise _Bad("snoozed_until is empty, and a snoozed nudge needs it")
    return rec


def event(row: sqlite3.Row) -> HistoryEvent:
    """A row of `events` joined to its nudge (Store.history's query)."""
    nudge_id = row["nudge_id"]

    def kind() -> EventKind:
        try:
            return EventKind(row["kind"])
        except ValueError:
            raise _Bad(f"kind is not one attuned knows: {row['kind']!r}") from None

    def reason() -> EventReason | None:
        try:
            return EventReason(row["reason"]) if row["reason"] is not None else None
        except ValueError:
            raise _Bad(f"reason is not one attuned knows: {row['reason']!r}") from None

    # A nudge's own columns wrong: named as the nudge (said once for all its events).
    due, origin_due, practice_id, title, snoozed_from = _named(f'nudge "{nudge_id}"', lambda: (
        _time(row, "due"), _time(row, "origin_due"), _text(row, "practice_id"),
        _text(row, "title"), _text_opt(row, "snoozed_from")))

    def parse() -> HistoryEvent:
        return HistoryEvent(
            seq=_int(row, "seq"), at=_time(row, "at"), kind=kind(),
            nudge_id=_text(row, "nudge_id"), practice_id=practice_id,
            source=_text_opt(row, "source"), note=_text_opt(row, "note"),
            how=_text_opt(row, "how"), snoozed_until=_time_opt(row, "snoozed_until"),
            snoozed_from=snoozed_from, due=due, origin_id=_text(row, "origin_id"),
            origin_due=origin_due, title=title, reason=reason())

    return _named(f'event {row["seq"]} of nudge "{nudge_id}"', parse)


def reflection(row: sqlite3.Row) -> Reflection:
    def parse() -> Reflection:
        return Reflection(_int(row, "id"), _text(row, "practice_id"), _time(row, "at"),
                          _text(row, "verdict"), _text(row, "text"))

    return _named(f"reflection {row['id']}", parse)


def held(row: sqlite3.Row) -> Held:
    def parse() -> Held:
        try:
            reason, mode = HoldReason(row["reason"]), HoldMode(row["mode"])
        except ValueError:
            raise _Bad(f"reason or mode is not one attuned knows: {row['reason']!r}, "
                       f"{row['mode']!r}") from None
        return Held(_text(row, "practice_id"), _time(row, "due"), reason, mode,
                    _text_opt(row, "nudge_id"))

    return _named(f'the held nudge of practice "{row["practice_id"]}"', parse)


def mark(row: sqlite3.Row) -> tuple[str, datetime]:
    return _named(f'the blocked mark of practice "{row["practice_id"]}"',
                  lambda: (_text(row, "practice_id"), _time(row, "due")))


def together(row: sqlite3.Row) -> TogetherState:
    def parse() -> TogetherState:
        if row["is_on"] not in (0, 1):
            raise _Bad(f"is_on is not 0 or 1: {row['is_on']!r}")
        return TogetherState(bool(row["is_on"]), _time_opt(row, "until"))

    return _named("together mode", parse)


def latest(row: sqlite3.Row, col: str) -> datetime:
    """A practice's latest due (MAX(...) with the id of its nudge), as read."""
    return _named(f'nudge "{row["id"]}"', lambda: _time(row, col))


# ---- for doctor: every row, read as the store reads it ---------------------------------

NUDGES_SQL: Final = (
    "SELECT id, practice_id, title, message, due, shown_at, state, snoozed_until,"
    " notification_id, repeat_count, next_repeat_at, snoozed_from, returned_at,"
    " returned_as, answered_at, source, note, how, origin_id, origin_due FROM nudges")
EVENTS_SQL: Final = (
    "SELECT e.seq, e.at, e.kind, e.nudge_id, n.practice_id, e.source, e.note,"
    " e.how, e.snoozed_until, n.snoozed_from, n.due, n.origin_id, n.origin_due,"
    " n.title, e.reason FROM events e JOIN nudges n ON n.id = e.nudge_id")


def scan(conn: sqlite3.Connection) -> Iterator[Unreadable]:
    """Every row of the history that the store would leave out, table by table."""
    conn.row_factory = sqlite3.Row
    readers: tuple[tuple[str, Callable[[sqlite3.Row], object]], ...] = (
            (NUDGES_SQL + " ORDER BY rowid", nudge),
            (EVENTS_SQL + " ORDER BY e.seq", event),
            ("SELECT id, practice_id, at, verdict, text FROM reflections ORDER BY id",
             reflection),
            ("SELECT practice_id, due, reason, mode, nudge_id FROM held", held),
            ("SELECT practice_id, due FROM blocked", mark),
            ("SELECT is_on, until FROM together", together))
    seen: set[str] = set()  # a nudge's events name it again
    for sql, parse in readers:
        for row in conn.execute(sql):
            try:
                parse(row)
            except Unreadable as e:
                if str(e) not in seen:
                    seen.add(str(e))
                    yield e
