"""The history store on real SQLite files in tmp_path."""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dblock import WriteLock

from attuned import paths
from attuned.core.model import Action, NudgeState
from attuned.errors import AttunedError, StoreError
from attuned.state.migrations import VERSIONS
from attuned.state.store import (
    LATEST_VERSION,
    AmbiguousNudgeId,
    DatabaseTooNew,
    EventKind,
    NudgeAlreadyRecorded,
    NudgeNotFound,
    NudgeNotOpen,
    Store,
    StoreUnavailable,
)

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 2, 7, 30, tzinfo=BERLIN)  # a Monday


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    s = Store.open(db, zone=BERLIN, rng=random.Random(7))
    yield s
    s.close()


def shown(store: Store, minutes: int = 0, practice: str = "breakfast", **kw: object) -> str:
    due = T0 + timedelta(minutes=minutes)
    rec = store.record_shown(practice, due, due, "Breakfast", "Notice them.", **kw)  # type: ignore[arg-type]
    return rec.id


# ---- opening, migrations ---------------------------------------------------------------


def test_default_path_is_the_state_dir(isolated_dirs: Path) -> None:
    with Store.open() as s:
        assert s.path == paths.history_db()
        assert s.path.is_file()
        assert s.moved_aside is None


def test_migrations_are_recorded_once_and_reopen_is_idempotent(db: Path) -> None:
    with Store.open(db) as s:
        first = s.schema_versions()
    assert [v for v, _ in first] == list(VERSIONS)
    with Store.open(db) as s:
        assert s.schema_versions() == first  # same rows, same applied_at: nothing re-ran
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (len(VERSIONS),)
    conn.close()


def test_a_database_from_a_newer_attuned_is_left_alone(db: Path) -> None:
    Store.open(db).close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_migrations VALUES (99, '2030-01-01T00:00:00+00:00')")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseTooNew) as e:
        Store.open(db)
    assert str(e.value) == (
        f"the history database at {db} was written by a newer attuned (schema 99, this one "
        f"knows up to {LATEST_VERSION}); upgrade attuned. The database was left as it is")
    assert db.exists()
    assert not list(db.parent.glob("*.corrupt-*"))


def test_garbage_file_is_moved_aside_with_its_bytes_and_a_fresh_db_works(db: Path) -> None:
    garbage = bytes(random.Random(1).randrange(256) for _ in range(10_000))
    db.write_bytes(garbage)
    Path(str(db) + "-wal").write_bytes(b"old wal bytes")
    pinned = datetime(2026, 3, 29, 7, 15, 3)
    with Store.open(db, clock=lambda: pinned) as s:
        assert s.moved_aside == db.with_name("history.db.corrupt-20260329-071503")
        assert s.moved_aside.read_bytes() == garbage
        assert Path(str(s.moved_aside) + "-wal").read_bytes() == b"old wal bytes"
        rec = s.record_shown("walk", T0, T0, "Walk", "Look up.")
        assert s.get(rec.id) == rec
    # The next open finds a healthy database and moves nothing.
    with Store.open(db, clock=lambda: pinned) as s:
        assert s.moved_aside is None
        assert [r.practice_id for r in s.open_nudges()] == ["walk"]


def test_two_corruptions_in_the_same_second_keep_both_files(db: Path) -> None:
    pinned = datetime(2026, 3, 29, 7, 15, 3)
    db.write_bytes(b"first garbage" * 100)
    Store.open(db, clock=lambda: pinned).close()
    db.write_bytes(b"second garbage" * 100)
    with Store.open(db, clock=lambda: pinned) as s:
        assert s.moved_aside is not None
        assert s.moved_aside.name == "history.db.corrupt-20260329-071503-2"
        assert s.moved_aside.read_bytes() == b"second garbage" * 100
    assert (db.parent / "history.db.corrupt-20260329-071503").read_bytes() == (
        b"first garbage" * 100)


def test_malformed_database_is_moved_aside(db: Path) -> None:
    with Store.open(db) as s:
        for i in range(300):
            s.record_shown("p", T0 + timedelta(minutes=i), T0, "t" * 200, "m" * 500)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 20 * page
    data[5 * page: 9 * page] = b"\xa5" * (4 * page)  # trash some b-tree pages
    db.write_bytes(bytes(data))
    with Store.open(db) as s:
        assert s.moved_aside is not None
        assert re.fullmatch(r"history\.db\.corrupt-\d{8}-\d{6}", s.moved_aside.name)
        assert s.moved_aside.read_bytes() == bytes(data)
        assert s.open_nudges() == []


# ---- ids and lookups --------------------------------------------------------------------


def test_ids_are_short_unique_and_never_prefixes_of_each_other(store: Store) -> None:
    ids = [shown(store, i) for i in range(400)]
    assert len(set(ids)) == 400
    assert all(re.fullmatch(r"[2-9a-z]{4,}", i) and re.search(r"\d", i) for i in ids)
    assert sum(len(i) == 4 for i in ids) >= 390  # longer only when needed
    for a in ids:
        assert not any(b != a and b.startswith(a) for b in ids)


def test_get_by_whole_id_and_by_unique_prefix(store: Store) -> None:
    ids = [shown(store, i) for i in range(40)]
    target = ids[0]
    assert store.get(target).id == target
    assert store.get(target.upper()).id == target
    unique = next(target[:k] for k in range(1, 5)
                  if sum(i.startswith(target[:k]) for i in ids) == 1)
    assert store.get(unique).id == target


def test_ambiguous_and_unknown_prefixes_say_what_to_do(store: Store) -> None:
    ids = [shown(store, i) for i in range(200)]
    firsts = [i[0] for i in ids]
    common = max(set(firsts), key=firsts.count)
    matching = sorted(i for i in ids if i.startswith(common))
    with pytest.raises(AmbiguousNudgeId) as e:
        store.get(common)
    listed = ", ".join(matching[:5]) + (", ..." if len(matching) > 5 else "")
    assert str(e.value) == (
        f'"{common}" could be more than one nudge ({listed}); type more of its id')
    missing = next(c + "zz" for c in "23456789abcdefghjkmnpqrstuvwxyz"
                   if not any(i.startswith(c + "zz") for i in ids))
    with pytest.raises(NudgeNotFound) as e2:
        store.get(missing)
    assert str(e2.value) == (
        f'no nudge has an id starting with "{missing}" (`attuned history` lists them)')
    with pytest.raises(NudgeNotFound) as e3:
        store.get("k3-f")
    assert str(e3.value) == ('"k3-f" is not a nudge id; ids look like "k3f2" '
                             "(`attuned history` lists them)")
    assert isinstance(e3.value, AttunedError)


# ---- lifecycle -----------------------------------------------------------------------


def test_shown_nudge_is_open_and_found_by_notification(store: Store) -> None:
    rec = store.record_shown("breakfast", T0, T0 + timedelta(seconds=2), "Breakfast",
                             "Notice them.", notification_id=41)
    assert rec.state is NudgeState.SHOWN and rec.is_open
    assert rec.due == T0 and rec.due.tzinfo is UTC
    assert rec.shown_at == T0 + timedelta(seconds=2)
    assert rec.origin_id == rec.id and rec.origin_due == T0
    assert store.find_by_notification(41) == rec
    assert store.find_by_notification(42) is None
    store.set_notification_id(rec.id, 77)
    assert store.find_by_notification(41) is None
    assert store.find_by_notification(77) is not None
    assert store.forget_notification_ids() == 1
    assert store.find_by_notification(77) is None


def test_done_records_answer_and_closes_the_nudge(store: Store) -> None:
    nid = shown(store, notification_id=5)
    at = T0 + timedelta(minutes=4)
    rec = store.answer(nid, Action.DONE, at, "button", note="she laughed", how="noticed")
    assert (rec.state, rec.answered_at, rec.source, rec.note, rec.how) == (
        NudgeState.DONE, at, "button", "she laughed", "noticed")
    assert not rec.is_open and rec.notification_id is None
    assert store.find_by_notification(5) is None
    assert store.open_nudges() == []
    kinds = [(e.kind, e.source, e.note, e.how) for e in store.history()]
    assert kinds == [(EventKind.SHOWN, "daemon", None, None),
                     (EventKind.DONE, "button", "she laughed", "noticed")]


@pytest.mark.parametrize(("action", "state", "word"), [
    (Action.DONE, NudgeState.DONE, "done"),
    (Action.SKIP, NudgeState.SKIPPED, "skipped"),
    (Action.DISMISS, NudgeState.DISMISSED, "dismissed"),
])
def test_answering_twice_says_when_it_was_answered(
        store: Store, action: Action, state: NudgeState, word: str) -> None:
    nid = shown(store)
    store.answer(nid, action, T0 + timedelta(minutes=4), "cli")
    with pytest.raises(NudgeNotOpen) as e:
        store.answer(nid, Action.DONE, T0 + timedelta(minutes=9), "cli")
    assert str(e.value) == f'nudge "{nid}" was already answered: {word} at 07:34'
    assert e.value.record.state is state
    # On another day the date is spelled out.
    with pytest.raises(NudgeNotOpen) as e2:
        store.answer(nid, Action.SKIP, T0 + timedelta(days=1), "cli")
    assert str(e2.value) == f'nudge "{nid}" was already answered: {word} at 2026-03-02 07:34'
    assert [e.kind for e in store.history()].count(EventKind(state.value)) == 1


def test_snooze_returns_once_as_a_linked_nudge(store: Store) -> None:
    nid = shown(store, notification_id=9)
    until = T0 + timedelta(minutes=10)
    rec = store.answer(nid, Action.SNOOZE, T0 + timedelta(minutes=1), "button",
                       snooze_until=until)
    assert rec.state is NudgeState.SNOOZED and rec.snoozed_until == until and rec.is_open
    assert rec.notification_id is None  # the notification was closed by the snooze
    assert [r.id for r in store.pending_snoozes()] == [nid]
    back = store.record_shown("breakfast", until, until, "Breakfast (snoozed)", "Again.",
                              snoozed_from=nid)
    assert back.snoozed_from == nid and back.origin_id == nid and back.origin_due == T0
    assert store.pending_snoozes() == []
    old = store.get(nid)
    assert (old.returned_as, old.returned_at, old.is_open) == (back.id, until, False)
    with pytest.raises(NudgeNotOpen) as e:
        store.record_shown("breakfast", until, until, "x", "y", snoozed_from=nid)
    assert str(e.value) == (
        f'nudge "{nid}" was snoozed and came back as "{back.id}" at 07:40; answer that one')
    with pytest.raises(NudgeNotOpen) as e2:
        store.answer(nid, Action.DONE, until, "cli")
    assert str(e2.value) == str(e.value)
    assert store.newest_open() == back
    # last_fired ignores the return: it is about scheduled instants.
    assert store.last_fired("breakfast") == T0


def test_claim_snooze_is_true_once_then_the_return_is_recorded(store: Store) -> None:
    nid = shown(store)
    until = T0 + timedelta(minutes=10)
    store.answer(nid, Action.SNOOZE, T0, "cli", snooze_until=until)
    assert store.claim_snooze(nid, until) is True
    assert store.claim_snooze(nid, until) is False
    assert store.pending_snoozes() == []
    with pytest.raises(NudgeNotOpen) as e:
        store.answer(nid, Action.DONE, until, "cli")
    assert str(e.value) == (
        f'nudge "{nid}" was snoozed and its return is already on its way (07:40)')
    back = store.record_missed("breakfast", until, until + timedelta(hours=2),
                               "the daemon was not running", snoozed_from=nid)
    assert back.state is NudgeState.MISSED and back.shown_at is None
    assert store.get(nid).returned_as == back.id


def test_a_snoozed_nudge_can_be_done_from_the_cli_before_it_returns(store: Store) -> None:
    nid = shown(store)
    store.answer(nid, Action.SNOOZE, T0, "button", snooze_until=T0 + timedelta(hours=1))
    store.answer(nid, Action.SNOOZE, T0 + timedelta(minutes=5), "cli",
                 snooze_until=T0 + timedelta(minutes=30))
    assert store.pending_snoozes()[0].snoozed_until == T0 + timedelta(minutes=30)
    rec = store.answer(nid, Action.DONE, T0 + timedelta(minutes=7), "cli")
    assert rec.state is NudgeState.DONE
    assert store.pending_snoozes() == []
    assert store.claim_snooze(nid, T0 + timedelta(minutes=30)) is False
    assert [e.kind.value for e in store.history()] == ["shown", "snoozed", "snoozed", "done"]


def test_missed_and_expired_are_closed_with_their_own_words(store: Store) -> None:
    missed = store.record_missed("walk", T0, T0 + timedelta(hours=3),
                                 "the computer was asleep", title="Walk")
    assert (missed.state, missed.note, missed.source) == (
        NudgeState.MISSED, "the computer was asleep", "daemon")
    with pytest.raises(NudgeNotOpen) as e:
        store.answer(missed.id, Action.DONE, T0 + timedelta(hours=3), "cli")
    assert str(e.value) == f'nudge "{missed.id}" is closed: it was missed at 10:30'
    nid = shown(store)
    assert store.expire(nid, T0 + timedelta(hours=1)) is True
    assert store.expire(nid, T0 + timedelta(hours=2)) is False
    with pytest.raises(NudgeNotOpen) as e2:
        store.answer(nid, Action.SKIP, T0 + timedelta(hours=1), "cli")
    assert str(e2.value) == f'nudge "{nid}" is closed: it expired at 08:30 without an answer'
    assert [(ev.kind.value, ev.note) for ev in store.history()] == [
        ("shown", None), ("expired", None), ("missed", "the computer was asleep")]


def test_expire_after_an_answer_changes_nothing(store: Store) -> None:
    nid = shown(store)
    store.answer(nid, Action.DONE, T0, "cli")
    assert store.expire(nid, T0 + timedelta(hours=1)) is False
    assert store.get(nid).state is NudgeState.DONE


def test_nothing_scheduled_is_recorded_twice(store: Store) -> None:
    nid = shown(store)
    with pytest.raises(NudgeAlreadyRecorded) as e:
        store.record_missed("breakfast", T0, T0, "late")
    assert str(e.value) == (
        f'practice "breakfast" already has a nudge for 2026-03-02 07:30 ("{nid}"); '
        "it is not recorded twice")
    assert store.last_fired("breakfast") == T0
    assert store.last_fired("walk") is None
    assert len(store.history()) == 1


def test_last_fired_all_is_last_fired_of_every_practice_in_one_query(store: Store) -> None:
    shown(store)
    shown(store, minutes=60)
    later = shown(store, minutes=30, practice="walk")
    store.answer(later, Action.SNOOZE, T0 + timedelta(minutes=31), "cli",
                 snooze_until=T0 + timedelta(hours=5))
    store.record_shown("walk", T0 + timedelta(hours=5), T0 + timedelta(hours=5), "Walk", "x",
                       snoozed_from=later)  # a snooze return: not a scheduled instant
    store.record_missed("tea", T0 + timedelta(minutes=5), T0, "asleep")
    assert store.last_fired_all() == {
        "breakfast": T0 + timedelta(minutes=60),
        "walk": T0 + timedelta(minutes=30),
        "tea": T0 + timedelta(minutes=5),
    }
    assert {p: store.last_fired(p) for p in ("breakfast", "walk", "tea")} == \
        store.last_fired_all()


def test_recording_a_nudge_shown_skips_the_fsync_and_answers_keep_it(store: Store) -> None:
    # record_shown commits with synchronous=NORMAL (it delays the nudge); every other
    # write, an answer above all, with FULL: the setting is back to FULL after it.
    full = 2
    conn = store._conn
    nid = shown(store)
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == full
    with pytest.raises(NudgeAlreadyRecorded):
        shown(store)
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == full  # after a failure too
    store.answer(nid, Action.DONE, T0, "cli")
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == full


def test_repeats_count_up_and_stop(store: Store) -> None:
    nid = shown(store, next_repeat_at=T0 + timedelta(minutes=15))
    assert [r.id for r in store.pending_repeats()] == [nid]
    assert store.bump_repeat(nid, T0 + timedelta(minutes=30)) == 1
    assert store.pending_repeats()[0].next_repeat_at == T0 + timedelta(minutes=30)
    assert store.bump_repeat(nid, None) == 2
    assert store.pending_repeats() == []
    assert store.get(nid).repeat_count == 2
    store.answer(nid, Action.DONE, T0 + timedelta(minutes=40), "cli")
    with pytest.raises(NudgeNotOpen):
        store.bump_repeat(nid, None)


def test_answer_refuses_bad_arguments_plainly(store: Store) -> None:
    nid = shown(store)
    with pytest.raises(StoreError) as e:
        store.answer(nid, Action.SKIP, T0, "cli", how="partly")
    assert str(e.value) == "how it went goes only with done, not with skip"
    with pytest.raises(StoreError) as e2:
        store.answer(nid, Action.DONE, T0, "cli", how="great")
    assert str(e2.value) == (
        '"great" is not how a practice went; say one of: noticed, partly, missed')
    with pytest.raises(ValueError, match="snooze_until"):
        store.answer(nid, Action.SNOOZE, T0, "cli")
    with pytest.raises(ValueError, match="naive datetime"):
        store.answer(nid, Action.DONE, datetime(2026, 3, 2, 8), "cli")
    with pytest.raises(NudgeNotFound) as e3:
        store.answer("zzzz", Action.DONE, T0, "cli")
    assert str(e3.value) == 'no nudge "zzzz" in the history'
    assert store.get(nid).is_open  # nothing changed


def test_newest_open_and_open_nudges_per_practice(store: Store) -> None:
    a = shown(store, 0, "breakfast")
    b = shown(store, 5, "walk")
    c = shown(store, 10, "breakfast")
    assert [r.id for r in store.open_nudges()] == [a, b, c]
    assert store.newest_open().id == c  # type: ignore[union-attr]
    assert store.newest_open("walk").id == b  # type: ignore[union-attr]
    store.answer(c, Action.DONE, T0 + timedelta(minutes=11), "cli")
    assert store.newest_open("breakfast").id == a  # type: ignore[union-attr]
    assert store.newest_open("meditation") is None


def test_history_filters_by_practice_and_half_open_range(store: Store) -> None:
    for i in range(4):
        shown(store, 60 * i, "breakfast" if i % 2 == 0 else "walk")
    evs = store.history(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert [e.at for e in evs] == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert {e.practice_id for e in store.history(practice_id="walk")} == {"walk"}


def test_reflections_round_trip(store: Store) -> None:
    r = store.add_reflection("breakfast", T0, "partly", "Mornings are rushed.")
    assert store.reflections() == [r]
    assert r.at == T0 and r.verdict == "partly"
    with pytest.raises(StoreError) as e:
        store.add_reflection("breakfast", T0, "great")
    assert str(e.value) == '"great" is not a verdict; say one of: landed, partly, not-yet'
    assert store.reflections(practice_id="walk") == []


def test_data_survives_reopen_and_a_second_connection_sees_it(db: Path) -> None:
    with Store.open(db) as a, Store.open(db) as b:
        rec = a.record_shown("walk", T0, T0, "Walk", "Look up.")
        b.answer(rec.id, Action.DONE, T0, "cli")
        assert a.get(rec.id).state is NudgeState.DONE
    with Store.open(db) as c:
        assert c.get(rec.id).state is NudgeState.DONE


def test_opening_at_once_moves_a_corrupt_file_aside_only_once(db: Path) -> None:
    # Four openers at once (threads here; the lock is an flock, so processes alike):
    # one moves the garbage aside, the others find the fresh database healthy.
    from concurrent.futures import ThreadPoolExecutor

    db.write_bytes(b"not a database at all" * 50)
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store.open(db), range(4)))
    try:
        moved = [s.moved_aside for s in stores if s.moved_aside is not None]
        assert len(moved) == 1
        assert moved[0].read_bytes() == b"not a database at all" * 50
        assert len(list(db.parent.glob("history.db.corrupt-*"))) == 1
        assert [v for v, _ in stores[0].schema_versions()] == list(VERSIONS)
    finally:
        for s in stores:
            s.close()


# ---- a database that cannot be written for now ----------------------------------------


def test_a_write_waits_the_busy_timeout_for_a_held_lock_then_says_why(db: Path) -> None:
    with Store.open(db, zone=BERLIN, busy_timeout=0.3) as s, WriteLock(db):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as e:
            shown(s)
        waited = time.monotonic() - started
        assert 0.25 <= waited < 3, f"waited {waited:.2f} s"
        assert str(e.value) == (f"the history database at {db} stayed busy for 0.3s; another "
                                "attuned process holds it. Try again in a moment")
        assert e.value.reason == "another process held it for more than 0.3s"
        with s.patience(0.05), pytest.raises(StoreUnavailable) as quick:
            shown(s)
        assert quick.value.reason == "another process held it for more than 0.05s"
        # Reading still works: WAL readers do not wait for the writer.
        assert s.history() == []
    with Store.open(db) as s:
        assert s.history() == []  # nothing half-written


def test_a_nudge_shown_before_it_could_be_recorded_keeps_its_id(store: Store) -> None:
    taken = shown(store)
    fresh = store.new_id(avoid={"k3f2"})
    assert fresh != taken and fresh != "k3f2"
    rec = store.record_shown("tea", T0, T0, "Tea", "Two cups.", nudge_id=fresh,
                             notification_id=7)
    assert (rec.id, rec.notification_id) == (fresh, 7)
    # An id taken meanwhile is not reused: the record says which one it got.
    again = store.record_shown("tea", T0 + timedelta(hours=1), T0, "Tea", "Two cups.",
                               nudge_id=fresh)
    assert again.id != fresh
