"""A nudge recorded as shown counts as shown once it was sent (`record_sent`); until then
the history says it is being sent, and an unsent one can be recorded as not delivered.
Migration 6 adds the mark; the nudges of a database from before count as sent."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from attuned.core.model import Action, NudgeState
from attuned.state import migrations
from attuned.state.store import Store

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
WHY = "not delivered (attuned stopped before it was sent)"


def kinds(s: Store) -> list[tuple[str, str]]:
    return [(e.nudge_id, e.words) for e in s.history()]


def test_a_nudge_is_sending_until_it_was_sent(tmp_path: Path) -> None:
    with Store.open(tmp_path / "history.db") as s:
        rec = s.record_shown("tea", T0, T0, "Tea", "Tea.")
        assert [r.id for r in s.unsent()] == [rec.id]
        assert kinds(s) == [(rec.id, "sending")]
        s.record_sent(rec.id, T0 + timedelta(seconds=1), 7)
        assert s.unsent() == []
        assert kinds(s) == [(rec.id, "shown")]
        assert s.get(rec.id).notification_id == 7
        # Sent again (a repeat, a take-over): the first time stays, the id is kept.
        s.record_sent(rec.id, T0 + timedelta(minutes=1))
        assert s.get(rec.id).notification_id == 7
        assert s.record_not_delivered(rec.id, T0, WHY) is False  # it was sent


def test_an_unsent_nudge_recorded_as_not_delivered_is_missed_once(tmp_path: Path) -> None:
    with Store.open(tmp_path / "history.db") as s:
        rec = s.record_shown("tea", T0, T0, "Tea", "Tea.")
        later = T0 + timedelta(minutes=20)
        assert s.record_not_delivered(rec.id, later, WHY) is True
        assert s.record_not_delivered(rec.id, later, WHY) is False
        got = s.get(rec.id)
        assert (got.state, got.note) == (NudgeState.MISSED, WHY)
        assert kinds(s) == [(rec.id, "sending"), (rec.id, "missed")]
        assert s.unsent() == []


def test_an_answered_nudge_is_never_recorded_not_delivered(tmp_path: Path) -> None:
    with Store.open(tmp_path / "history.db") as s:
        rec = s.record_shown("tea", T0, T0, "Tea", "Tea.")
        s.answer(rec.id, Action.DONE, T0, "cli")
        assert s.unsent() == []
        assert s.record_not_delivered(rec.id, T0, WHY) is False
        assert s.get(rec.id).state is NudgeState.DONE


def test_the_nudges_of_a_database_from_before_count_as_sent(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with Store.open(db) as s:
        shown = s.record_shown("tea", T0, T0, "Tea", "Tea.")
        s.record_missed("tea", T0 + timedelta(days=1), T0, "asleep", "Tea")
    with closing(sqlite3.connect(db)) as conn, conn:  # as it was before migration 6
        conn.execute("ALTER TABLE nudges DROP COLUMN sent_at")
        conn.execute("DELETE FROM schema_migrations WHERE version = 6")
    with Store.open(db) as s:
        assert s.unsent() == []
        assert kinds(s)[0] == (shown.id, "shown")
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT sent_at FROM nudges ORDER BY due").fetchall() == [
            (conn.execute("SELECT shown_at FROM nudges WHERE id = ?",
                          (shown.id,)).fetchone()[0],), (None,)]


def test_a_database_that_has_6_but_not_5_gets_5_and_keeps_the_mark(tmp_path: Path) -> None:
    # 5 and 6 were written at once on two branches: a database may have either first.
    db = tmp_path / "history.db"
    with Store.open(db) as s:
        rec = s.record_shown("tea", T0, T0, "Tea", "Tea.")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = 5")
    with closing(sqlite3.connect(db)) as conn:
        assert migrations.pending(conn) == [5]
    with Store.open(db) as s:
        assert sorted(v for v, _ in s.schema_versions()) == list(migrations.VERSIONS)
        assert [r.id for r in s.unsent()] == [rec.id]
        assert kinds(s) == [(rec.id, "sending")]
