"""Held and dropped nudges in the history (migration 3), on real SQLite files: a held
nudge is one nudge, held then shown; one dropped says why; the schema's CHECK constraints
know the new states; a database of the schema before is migrated with every row kept."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from attuned.core.model import Action, Held, HoldMode, HoldReason, NudgeState
from attuned.errors import StoreError
from attuned.state.migrations import MIGRATIONS, VERSIONS
from attuned.state.store import EventReason, NudgeAlreadyRecorded, NudgeNotOpen, Store

T0 = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=8)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


def trace(s: Store) -> list[tuple[str, str, str | None, datetime]]:
    return [(e.nudge_id, str(e.kind), e.reason and str(e.reason), e.at) for e in s.history()]


def test_a_held_nudge_shown_later_is_one_nudge_held_then_shown(db: Path) -> None:
    with Store.open(db) as s:
        nid = s.hold(Held("breakfast", T0, HoldReason.QUIET, HoldMode.DEFER),
                     title="Breakfast presence", message="Paper down.")
        assert nid is not None
        rec = s.get(nid)
        assert (rec.state, rec.shown_at, rec.title, rec.message) == (
            NudgeState.HELD, None, "Breakfast presence", "Paper down.")
        assert s.open_nudges() == []  # not shown: nothing to answer yet
        with pytest.raises(NudgeNotOpen, match=f'nudge "{nid}" has not been shown yet'):
            s.answer(nid, Action.DONE, at=T0, source="cli")
        # Nothing scheduled is recorded twice: the held one is that nudge.
        with pytest.raises(NudgeAlreadyRecorded):
            s.record_shown("breakfast", T0, LATER, "Breakfast presence", "Paper down.")
        shown = s.show_held(nid, LATER, "Paper down, again.")
        assert shown is not None and shown.id == nid
        assert (shown.state, shown.shown_at, shown.message) == (NudgeState.SHOWN, LATER,
                                                                "Paper down, again.")
        assert s.held() == [] and [r.id for r in s.open_nudges()] == [nid]
        assert s.show_held(nid, LATER, "twice") is None  # shown already: nothing again
        assert trace(s) == [(nid, "held", "quiet", T0), (nid, "shown", None, LATER)]
        assert s.last_fired("breakfast") == T0


def test_a_dropped_nudge_says_why_and_is_recorded_once(db: Path) -> None:
    with Store.open(db) as s:
        nid = s.drop("breakfast", T0, EventReason.DND, title="Breakfast presence",
                     message="Paper down.", at=T0 + timedelta(seconds=1))
        assert nid is not None
        rec = s.get(nid)
        assert (rec.state, rec.shown_at, rec.answered_at, rec.source) == (
            NudgeState.DROPPED, None, T0 + timedelta(seconds=1), "daemon")
        assert s.drop("breakfast", T0, EventReason.DND) is None  # a duplicate timer
        assert s.hold(Held("breakfast", T0, HoldReason.DND, HoldMode.DEFER)) is None
        assert s.held() == []
        assert trace(s) == [(nid, "dropped", "dnd", T0 + timedelta(seconds=1))]
        assert s.blocked_marks() == {"breakfast": T0}


def test_a_held_nudge_given_up_is_dropped_and_leaves_the_held_ones(db: Path) -> None:
    with Store.open(db) as s:
        nid = s.hold(Held("breakfast", T0, HoldReason.TOGETHER, HoldMode.DEFER))
        assert s.drop("breakfast", T0, EventReason.GONE, at=LATER) == nid
        assert s.held() == [] and s.get(nid).state is NudgeState.DROPPED
        assert s.show_held(nid, LATER, "too late") is None  # dropped: never shown
        assert trace(s) == [(nid, "held", "together", T0), (nid, "dropped", "gone", LATER)]


def test_a_held_nudge_that_was_shown_otherwise_is_not_held(db: Path) -> None:
    with Store.open(db) as s:
        rec = s.record_shown("breakfast", T0, T0, "Breakfast presence", "Paper down.")
        assert s.hold(Held("breakfast", T0, HoldReason.QUIET, HoldMode.DEFER)) is None
        assert s.held() == [] and trace(s) == [(rec.id, "shown", None, T0)]


def test_the_schema_checks_the_new_states_and_reasons(db: Path) -> None:
    Store.open(db).close()
    conn = sqlite3.connect(db)
    insert = ("INSERT INTO nudges (id, practice_id, due, state, origin_id, origin_due)"
              " VALUES (?, 'p', ?, ?, ?, 'x')")
    conn.execute(insert, ("a2a2", "1", "held", "a2a2"))
    conn.execute(insert, ("b3b3", "2", "dropped", "b3b3"))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        conn.execute(insert, ("c4c4", "3", "vanished", "c4c4"))
    event = "INSERT INTO events (nudge_id, kind, at, reason) VALUES ('a2a2', ?, 'x', ?)"
    conn.execute(event, ("held", "quiet"))
    conn.execute(event, ("dropped", "replaced"))
    for kind, reason in (("held", "because"), ("paused", None)):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            conn.execute(event, (kind, reason))
    conn.close()


# --------------------------------------------------------------------------- migration


def old_database(db: Path, *, orphan: bool = False) -> None:
    """A history of the schema before migration 3 (as the attuned before wrote it): a
    snoozed nudge and its return, their events, a held nudge, together mode."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                 " applied_at TEXT NOT NULL)")
    for version, statements in MIGRATIONS:
        if version >= 3:
            break
        for stmt in statements:
            conn.execute(stmt)
        conn.execute("INSERT INTO schema_migrations VALUES (?, '2026-11-01T00:00:00+00:00')",
                     (version,))
    t = "2026-11-30T07:30:00.000000+00:00"
    back = "2026-11-30T07:40:00.000000+00:00"
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("INSERT INTO nudges (id, practice_id, title, message, due, shown_at, state,"
                 " snoozed_until, origin_id, origin_due, returned_at, returned_as)"
                 " VALUES ('k3f2', 'breakfast', 'Breakfast', 'Paper down.', ?, ?, 'snoozed',"
                 " ?, 'k3f2', ?, NULL, NULL)", (t, t, back, t))
    conn.execute("INSERT INTO nudges (id, practice_id, title, message, due, shown_at, state,"
                 " snoozed_from, answered_at, source, note, how, origin_id, origin_due)"
                 " VALUES ('m4n5', 'breakfast', 'Breakfast', 'Paper down.', ?, ?, 'done',"
                 " 'k3f2', ?, 'cli', 'she smiled', 'noticed', 'k3f2', ?)", (back, back, back, t))
    conn.execute("UPDATE nudges SET returned_at = ?, returned_as = 'm4n5' WHERE id = 'k3f2'",
                 (back,))
    for nudge, kind, at in (("k3f2", "shown", t), ("k3f2", "snoozed", t),
                            ("m4n5", "shown", back), ("m4n5", "done", back)):
        conn.execute("INSERT INTO events (nudge_id, kind, at, source) VALUES (?, ?, ?, 'x')",
                     (nudge, kind, at))
    conn.execute("INSERT INTO held VALUES ('look-up', ?, 'quiet', 'defer')", (t,))
    conn.execute("INSERT INTO together VALUES (1, 1, NULL)")
    if orphan:  # a row the old schema let in only with foreign keys off
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("INSERT INTO events (nudge_id, kind, at) VALUES ('gone', 'done', ?)",
                     (t,))
    conn.close()


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    try:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("nudges", "events", "held", "together")}
    finally:
        conn.close()


def test_a_database_of_the_schema_before_keeps_every_row(db: Path) -> None:
    old_database(db)
    before = dump(db)
    with Store.open(db) as s:
        assert [v for v, _ in s.schema_versions()] == list(VERSIONS)
        assert [(e.nudge_id, str(e.kind), e.reason) for e in s.history()] == [
            ("k3f2", "shown", None), ("k3f2", "snoozed", None), ("m4n5", "shown", None),
            ("m4n5", "done", None)]
        done = s.get("m4n5")
        assert (done.snoozed_from, done.origin_id, done.note, done.how) == (
            "k3f2", "k3f2", "she smiled", "noticed")
        assert s.get("k3f2").returned_as == "m4n5"
        # The one held before has no nudge in the history; it is shown as a new one.
        (h,) = s.held()
        assert (h.practice_id, h.reason, h.nudge_id) == ("look-up", "quiet", None)
        assert s.together().on
    after = dump(db)
    # + sent_at: the nudges shown before count as sent when they were shown (col 5).
    assert after["nudges"] == [(*row, row[5]) for row in before["nudges"]]
    assert [row[:-1] for row in after["events"]] == before["events"]  # + reason, empty
    assert after["held"] == [(*row, None) for row in before["held"]]
    assert after["together"] == before["together"]
    # Foreign keys are enforced again once migrated.
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    with Store.open(db) as s:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            s._conn.execute("INSERT INTO events (nudge_id, kind, at)"
                            " VALUES ('nope', 'done', 'x')")
        # And the new states work on the migrated file.
        assert s.hold(Held("look-up", T0, HoldReason.QUIET, HoldMode.DEFER)) is not None


def test_a_migration_that_would_break_a_reference_leaves_the_file_as_it_was(db: Path) -> None:
    old_database(db, orphan=True)

    with pytest.raises(StoreError) as e:
        Store.open(db)
    assert str(e.value) == (f"cannot prepare the history database at {db}: 1 row refers to a "
                            "row that is not there (table events); it was left as it was")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (2,)
    assert "'held'" not in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'nudges'"
                                        ).fetchone()[0]
    conn.close()

