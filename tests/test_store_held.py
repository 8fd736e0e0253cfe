"""The store's held nudges, blocked marks and together mode (attuned.state.holding), on a
real SQLite file: one held nudge per practice, the newest; take is atomic across
connections; each change one transaction that survives a reopen."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dblock import WriteLock

from attuned.core.model import Held, HoldMode, HoldReason, TogetherState
from attuned.state.store import EventReason, Store, StoreUnavailable

T0 = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
QUIET, DND, TOGETHER = HoldReason.QUIET, HoldReason.DND, HoldReason.TOGETHER
DEFER, DIGEST = HoldMode.DEFER, HoldMode.DIGEST


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


def test_one_held_nudge_per_practice_the_newest(db: Path) -> None:
    with Store.open(db) as s:
        first = s.hold(Held("breakfast", T0, QUIET, DEFER))
        newest = s.hold(Held("breakfast", T0 + timedelta(minutes=30), QUIET, DEFER))
        older = s.hold(Held("breakfast", T0 - timedelta(days=1), DND, DEFER))
        look = s.hold(Held("look-up", T0, TOGETHER, DEFER))
        assert s.held() == [Held("look-up", T0, TOGETHER, DEFER, look),
                            Held("breakfast", T0 + timedelta(minutes=30), QUIET, DEFER,
                                 newest)]
        # The same nudge held again (still blocked at its release) may change its mode;
        # it stays the same nudge in the history.
        assert s.hold(Held("breakfast", T0 + timedelta(minutes=30), DND, DIGEST)) == newest
        assert s.held("breakfast") == [Held("breakfast", T0 + timedelta(minutes=30), DND,
                                            DIGEST, newest)]
        # Each replaced one says so in the history, naming the one in its place.
        assert [(e.nudge_id, str(e.kind), e.reason and str(e.reason), e.note)
                for e in s.history()] == [
            (older, "held", "dnd", None), (older, "dropped", "replaced", newest),
            (first, "held", "quiet", None), (look, "held", "together", None),
            (newest, "held", "quiet", None), (first, "dropped", "replaced", newest),
            (newest, "held", "dnd", None)]
        assert {s.get(n).state.value for n in (first, older)} == {"dropped"}
        assert s.get(newest).state.value == "held"
    with Store.open(db) as s:  # kept across a restart
        assert [h.practice_id for h in s.held()] == ["look-up", "breakfast"]


def test_reasons_and_modes_are_the_enums_and_strings_are_checked(db: Path) -> None:
    with Store.open(db) as s:
        s.hold(Held("breakfast", T0, "quiet", "digest"))  # type: ignore[arg-type]
        (h,) = s.held()
        assert h.reason is HoldReason.QUIET and h.mode is HoldMode.DIGEST
        with pytest.raises(ValueError, match="'drop' is not a valid HoldMode"):
            s.hold(Held("look-up", T0, QUIET, "drop"))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="naive datetime"):
            s.hold(Held("look-up", T0.replace(tzinfo=None), QUIET, DEFER))
        assert [x.practice_id for x in s.held()] == ["breakfast"]


def test_take_removes_and_returns_only_what_it_asks_for(db: Path) -> None:
    with Store.open(db) as s:
        a = s.hold(Held("a", T0 + timedelta(hours=2), QUIET, DIGEST))
        b = s.hold(Held("b", T0, QUIET, DEFER))
        c = s.hold(Held("c", T0 + timedelta(hours=1), DND, DIGEST))
        assert s.take_held("a", DEFER) == []
        assert s.take_held(mode=DIGEST) == [
            Held("c", T0 + timedelta(hours=1), DND, DIGEST, c),
            Held("a", T0 + timedelta(hours=2), QUIET, DIGEST, a)]
        assert s.take_held("b") == [Held("b", T0, QUIET, DEFER, b)]
        assert s.take_held() == [] and s.held() == []
        # Taken is not yet shown: their nudges stay held until shown or dropped.
        assert {s.get(n).state.value for n in (a, b, c) if n} == {"held"}


def _taker(db: str, practices: list[str], start: multiprocessing.synchronize.Event,
           out: multiprocessing.Queue[list[str]]) -> None:
    got: list[str] = []
    with Store.open(db) as s:
        start.wait(10)
        for pid in practices:
            got.extend(h.practice_id for h in s.take_held(pid))
        got.extend(h.practice_id for h in s.take_held())
    out.put(got)


def test_two_processes_taking_at_once_never_both_get_a_held_nudge(db: Path) -> None:
    names = [f"p{i:03}" for i in range(200)]
    with Store.open(db) as s:
        for n in names:
            s.hold(Held(n, T0, QUIET, DEFER))
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_taker, args=(str(db), order, start, out))
             for order in (names, names[::-1])]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    first, second = results
    assert not set(first) & set(second)
    assert sorted(first + second) == names  # each exactly once, none lost
    with Store.open(db) as s:
        assert s.held() == []


def test_blocked_marks_keep_the_latest_per_practice(db: Path) -> None:
    with Store.open(db) as s:
        assert s.blocked_marks() == {}
        s.mark_blocked("breakfast", T0)
        s.mark_blocked("breakfast", T0 - timedelta(days=1))  # earlier: kept is later
        s.mark_blocked("look-up", T0 - timedelta(days=1))
        s.mark_blocked("look-up", T0)
    with Store.open(db) as s:
        assert s.blocked_marks() == {"breakfast": T0, "look-up": T0}


def test_together_mode_is_one_row_off_until_switched(db: Path) -> None:
    with Store.open(db) as s:
        assert s.together() == TogetherState()
        s.set_together(TogetherState(True, T0))
        s.set_together(TogetherState(True, None))
        assert s.together() == TogetherState(True, None)
        assert s._read("SELECT COUNT(*) AS n FROM together")[0]["n"] == 1
        s.set_together(TogetherState(False, None))
    with Store.open(db) as s:
        assert s.together() == TogetherState()


def test_a_refused_write_changes_nothing_and_says_why(db: Path) -> None:
    with Store.open(db, busy_timeout=0.2) as s:
        nudge = s.hold(Held("breakfast", T0, QUIET, DEFER))
        kept = [Held("breakfast", T0, QUIET, DEFER, nudge)]
        with WriteLock(db):
            with pytest.raises(StoreUnavailable) as e:
                s.hold(Held("breakfast", T0 + timedelta(hours=1), QUIET, DEFER))
            assert e.value.reason == "another process held it for more than 0.2s"
            with pytest.raises(StoreUnavailable):
                s.take_held()
            with pytest.raises(StoreUnavailable):
                s.drop("look-up", T0, EventReason.QUIET)
            assert s.held() == kept  # reads still work
        assert [str(e.kind) for e in s.history()] == ["held"]
        assert s.take_held() == kept
