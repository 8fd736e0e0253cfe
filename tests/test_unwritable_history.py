"""When the history cannot be written for a while (another process holds its lock beyond
the busy timeout, the disk is full), nudges still come, the practice goes on, and what
could not be written (nudges, answers) is written once the history takes it, exactly
once; the person is told once. A real SQLite store, its lock held from a second
connection (tests/dblock.py); the named fakes of tests/service_fakes.py around it. The
daemon as a real process: test_daemon_unwritable.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from dblock import WriteLock
from service_fakes import Clock, FakeNotifier, FakePlanner, make, practice, settle, written

from attuned.app import holding
from attuned.app.service import Service
from attuned.core.model import Action, AtRule, NudgeState
from attuned.state.store import EventKind, Store

T0 = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
CANNOT_WRITE_TITLE = "attuned cannot write its history"
BUSY = 0.2  # the store's busy timeout here, in seconds (10 s in the daemon)


@pytest.fixture
def quick_store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "history.db", busy_timeout=BUSY)
    yield s
    s.close()


def told(store: Store, reason: str = f"another process held it for more than {BUSY:g}s"
         ) -> str:
    return (f"attuned cannot write its history at {store.path}: {reason}; nudges still "
            "come, answers are kept once it can write again")


def quick(store: Store, *ps: object) -> tuple[Service, FakePlanner, FakeNotifier, Clock]:
    svc, planner, notifier, clock = make(store, *ps, at=T0)  # type: ignore[arg-type]
    svc.backlog.first_retry = 0.05  # the daemon's first retry is after 1 s
    return svc, planner, notifier, clock


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def kinds(store: Store) -> list[tuple[str, str, str | None]]:
    return [(e.practice_id, str(e.kind), e.source) for e in store.history()]


def test_a_nudge_the_history_refuses_is_shown_the_next_planned_and_recorded_later(
        quick_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="attuned")
    svc, planner, notifier, _ = quick(quick_store)

    async def scenario() -> None:
        with WriteLock(quick_store.path):
            await svc.fire_key("p:breakfast", T0)  # as the scheduler calls it
            await settle(svc)
            assert quick_store.history() == []  # nothing could be written yet
            # The practice goes on: tomorrow's nudge is planned.
            assert planner.jobs["p:breakfast"][0] == T0 + timedelta(days=1)
        await written(svc)

    asyncio.run(scenario())
    assert [(n.title, n.body) for n in notifier.sent] == [
        ("Breakfast presence", "Paper down."), (CANNOT_WRITE_TITLE, told(quick_store))]
    [ev] = quick_store.history()
    assert (ev.practice_id, ev.kind, ev.due) == ("breakfast", EventKind.SHOWN, T0)
    # Recorded under the id it was shown with, and with its bubble's id: buttons work.
    assert quick_store.get(ev.nudge_id).notification_id == 1
    assert messages(caplog, logging.WARNING) == [told(quick_store)]
    assert f"attuned can write its history at {quick_store.path} again" in messages(
        caplog, logging.INFO)


def test_many_nudges_in_one_outage_tell_the_person_once(
        quick_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="attuned")
    tea = practice(id="tea", title="Tea", rule=AtRule((time(7, 31),)))
    svc, planner, notifier, clock = quick(quick_store, practice(), tea)

    async def scenario() -> None:
        with WriteLock(quick_store.path):
            await svc.fire_key("p:breakfast", T0)
            clock.at = T0 + timedelta(minutes=1)
            await svc.fire_key("p:tea", clock.at)
            await settle(svc)
        await written(svc)

    asyncio.run(scenario())
    assert sorted(n.title for n in notifier.sent) == ["Breakfast presence", "Tea",
                                                      CANNOT_WRITE_TITLE]
    assert kinds(quick_store) == [("breakfast", "shown", "daemon"), ("tea", "shown", "daemon")]
    assert messages(caplog, logging.WARNING) == [told(quick_store)]
    assert {k for k in planner.jobs if k.startswith("p:")} == {"p:breakfast", "p:tea"}


def test_a_button_pressed_before_the_nudge_could_be_recorded_answers_it_then(
        quick_store: Store) -> None:
    svc, _, _, _ = quick(quick_store)

    async def scenario() -> None:
        with WriteLock(quick_store.path):
            await svc.fire_key("p:breakfast", T0)
            svc.on_action(1, "done")  # its bubble is id 1
            await settle(svc)
        await written(svc)
        await settle(svc)

    asyncio.run(scenario())
    assert kinds(quick_store) == [("breakfast", "shown", "daemon"),
                                  ("breakfast", "done", "button")]


def test_an_answer_the_history_refuses_is_kept_and_written_once(
        quick_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="attuned")
    svc, planner, notifier, clock = quick(quick_store, practice(repeat=timedelta(minutes=15),
                                                                repeat_max=2))

    async def scenario() -> str:
        rec = await svc.fire("breakfast", T0)
        assert rec is not None
        clock.at = T0 + timedelta(minutes=3)
        with WriteLock(quick_store.path):
            svc.on_action(1, "snooze")
            await settle(svc)
            assert quick_store.get(rec.id).state == NudgeState.SHOWN  # not written yet
            # Answered as far as the person can see: bubble closed, no more repeats.
            assert notifier.closed == [1]
            assert f"r:{rec.id}" not in planner.jobs
        await written(svc)
        return rec.id

    nudge = asyncio.run(scenario())
    got = quick_store.get(nudge)
    assert (got.state, got.source, got.answered_at) == (
        NudgeState.SNOOZED, "button", T0 + timedelta(minutes=3))
    assert got.snoozed_until == T0 + timedelta(minutes=13)  # from the press, not the write
    assert planner.jobs[f"s:{nudge}"][0] == T0 + timedelta(minutes=13)
    assert kinds(quick_store) == [("breakfast", "shown", "daemon"),
                                  ("breakfast", "snoozed", "button")]
    assert [n.title for n in notifier.sent] == ["Breakfast presence", CANNOT_WRITE_TITLE]
    assert messages(caplog, logging.WARNING) == [told(quick_store)]


def test_a_full_disk_is_named_and_the_nudge_written_when_there_is_room(
        quick_store: Store) -> None:
    # SQLite's page limit gives the same error as a full disk (SQLITE_FULL); the nudge's
    # words need more pages than are allowed until the limit is lifted.
    words = "Paper down. " * 2000
    svc, _, notifier, _ = quick(quick_store, practice(messages=(words,)))
    conn = quick_store._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]

    async def scenario() -> None:
        conn.execute(f"PRAGMA max_page_count = {pages}")
        await svc.fire_key("p:breakfast", T0)
        await settle(svc)
        conn.execute("PRAGMA max_page_count = 1073741823")
        await written(svc)

    asyncio.run(scenario())
    assert [(n.title, n.body) for n in notifier.sent] == [
        ("Breakfast presence", words),
        (CANNOT_WRITE_TITLE, told(quick_store, "database or disk is full"))]
    assert kinds(quick_store) == [("breakfast", "shown", "daemon")]


def test_a_nudge_never_written_within_its_bound_is_logged_with_its_words(
        quick_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="attuned")
    svc, planner, notifier, clock = quick(quick_store)

    async def scenario() -> str | None:
        with WriteLock(quick_store.path):
            rec = await svc.fire("breakfast", T0)
            clock.at = T0 + timedelta(minutes=16)  # past its grace (15 min) and 5 min
            svc.backlog.flush()
        await written(svc)
        return rec.id if rec else None

    nudge = asyncio.run(scenario())
    assert messages(caplog, logging.ERROR) == [
        f'not recorded in the history: the nudge "Breakfast presence: Paper down." '
        f"({nudge}, due Wed 07:30); the history could not be written (another process "
        f"held it for more than {BUSY:g}s)"]
    assert quick_store.history() == []
    assert [n.title for n in notifier.sent] == ["Breakfast presence", CANNOT_WRITE_TITLE]
    assert planner.jobs["p:breakfast"][0] == T0 + timedelta(days=1)
    assert svc.unrecorded == {} and svc.signals.in_flight == 0


def test_a_snooze_comes_back_while_the_history_is_locked_and_is_recorded_once(
        quick_store: Store) -> None:
    svc, _, notifier, clock = quick(quick_store)

    async def scenario() -> str:
        rec = await svc.fire("breakfast", T0)
        assert rec is not None
        await svc.act(None, Action.SNOOZE, source="cli")
        clock.at = T0 + timedelta(minutes=10)
        with WriteLock(quick_store.path):
            await svc.fire_key(f"s:{rec.id}", clock.at)
            await settle(svc)
        await written(svc)
        return rec.id

    nudge = asyncio.run(scenario())
    assert notifier.sent[1].title == "Breakfast presence (snoozed)"
    shown = [e for e in quick_store.history() if e.kind == EventKind.SHOWN]
    assert [e.snoozed_from for e in shown] == [None, nudge]


def test_a_repeat_while_the_history_is_locked_still_plans_the_next(
        quick_store: Store) -> None:
    svc, planner, notifier, clock = quick(quick_store, practice(repeat=timedelta(minutes=15),
                                                                repeat_max=3))

    async def scenario() -> str:
        rec = await svc.fire("breakfast", T0)
        assert rec is not None
        clock.at = T0 + timedelta(minutes=15)
        planner.jobs.pop(f"r:{rec.id}")  # the scheduler drops a job once it fired
        with WriteLock(quick_store.path):
            await svc.fire_key(f"r:{rec.id}", clock.at)
            assert planner.jobs[f"r:{rec.id}"][0] == T0 + timedelta(minutes=30)
            await settle(svc)
        await written(svc)
        return rec.id

    nudge = asyncio.run(scenario())
    assert [(n.title, n.replaces_id) for n in notifier.sent] == [
        ("Breakfast presence", 0), ("Breakfast presence", 1), (CANNOT_WRITE_TITLE, 0)]
    assert quick_store.get(nudge).repeat_count == 1


def test_a_held_nudge_released_while_the_history_is_locked_is_shown_and_kept(
        quick_store: Store) -> None:
    svc, _, notifier, _ = quick(quick_store)

    async def scenario() -> None:
        with WriteLock(quick_store.path):
            p = svc.practice("breakfast")
            assert p is not None
            await holding.show_held(svc, p, T0, "(held through quiet hours)")
            await settle(svc)
        await written(svc)

    asyncio.run(scenario())
    assert notifier.sent[0].body == "(held through quiet hours) Paper down."
    assert kinds(quick_store) == [("breakfast", "shown", "daemon")]
