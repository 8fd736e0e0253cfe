"""Held nudges (issue 6): a nudge blocked by quiet hours, together mode or the desktop's
do-not-disturb is dropped, deferred, or gathered into one digest, per practice.

The timing core's `quiet` switch is pure and tested with `now` passed in. The service
runs on a real SQLite store with the named fakes of test_review (FakePlanner,
FakeNotifier) and FakePausedNotifier below; the real bus and daemon are covered by
test_held_daemon.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from buses import WAIT, DBusDaemon, Events, run
from dblock import WriteLock
from notification_server import NotificationServer
from service_fakes import FakeNotifier, make, practice, settle, written

from attuned.core import timing
from attuned.core.model import (
    Action,
    AtRule,
    Held,
    HoldMode,
    HoldReason,
    Practice,
    Settings,
    TogetherState,
)
from attuned.core.model import Window as W
from attuned.notify.base import Notification
from attuned.notify.dbus import DBusNotifier
from attuned.state.store import Store

UTCZ = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
QUIET = W(time(22, 0), time(7, 0))
EVENING = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # before quiet hours
AT_2300 = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
AT_2330 = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
MORNING = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)  # quiet hours end


def late(**kw: object) -> Practice:
    """A practice at 23:00 and 23:30, inside quiet hours 22:00-07:00."""
    base: dict[str, object] = dict(rule=AtRule((time(23, 0), time(23, 30))), quiet_hours=QUIET,
                                   messages=("Paper down.",))
    base.update(kw)
    return practice(**base)


# --------------------------------------------------------------------------- timing


def test_the_timing_core_leaves_quiet_hours_out_unless_asked() -> None:
    p = late()
    start, end = EVENING, EVENING + timedelta(days=1)
    assert timing.occurrences(p, start, end, UTCZ, "s") == []  # unchanged default
    assert timing.occurrences(p, start, end, UTCZ, "s", quiet=False) == [AT_2300, AT_2330]
    assert timing.next_occurrence(p, EVENING, UTCZ, "s") is None
    assert timing.next_occurrence(p, EVENING, UTCZ, "s", quiet=False) == AT_2300


def test_quiet_end_is_the_end_of_the_window_that_holds_the_moment() -> None:
    assert timing.quiet_end(QUIET, AT_2300, UTCZ) == MORNING  # evening part: tomorrow
    assert timing.quiet_end(QUIET, MORNING - timedelta(hours=1), UTCZ) == MORNING
    assert timing.quiet_end(QUIET, EVENING, UTCZ) == EVENING  # not quiet: now
    assert timing.quiet_end(W(time(0), time(0)), EVENING, UTCZ) is None  # never ends
    # The window is wall time in the schedule's zone: 07:00 Berlin is 06:00 UTC.
    assert timing.quiet_end(QUIET, AT_2300, BERLIN) == datetime(2026, 12, 2, 7, 0,
                                                                 tzinfo=BERLIN)


def test_next_wall_is_strictly_after_and_skips_a_dst_gap() -> None:
    assert timing.next_wall(time(21, 0), EVENING, UTCZ) == EVENING + timedelta(days=1)
    assert timing.next_wall(time(21, 0), EVENING - timedelta(seconds=1), UTCZ) == EVENING
    # 02:30 does not exist in Berlin on 29 March 2026: the gap's end, 03:00 CEST.
    at = timing.next_wall(time(2, 30), datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN), BERLIN)
    assert at == datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN)
    assert at.utcoffset() == timedelta(hours=2)


# --------------------------------------------------------------------------- drop


def trace(store: Store) -> list[tuple[str, str, str | None]]:
    """The history as (practice, event, reason)."""
    return [(e.practice_id, str(e.kind), e.reason and str(e.reason)) for e in store.history()]


def test_drop_keeps_quiet_hours_out_of_the_plan_and_records_why(store: Store) -> None:
    svc, planner, notifier, clock = make(store, late(), at=EVENING)
    svc.plan_all(startup=True)
    # The next nudge outside quiet hours: none at all for this practice (never planned).
    assert "p:breakfast" not in planner.jobs
    # Fired inside quiet hours anyway (late, after a suspend): dropped, and the history
    # says so and why.
    clock.at = AT_2300
    assert asyncio.run(svc.fire("breakfast", AT_2300)) is None
    assert notifier.sent == [] and store.held() == []
    (e,) = store.history()
    assert (str(e.kind), e.reason, e.due, e.title) == ("dropped", "quiet", AT_2300,
                                                       "Breakfast presence")


# --------------------------------------------------------------------------- defer


def test_defer_shows_one_nudge_when_quiet_hours_end(store: Store) -> None:
    svc, planner, notifier, clock = make(store, late(blocked="defer"), at=EVENING)
    svc.plan_all(startup=True)
    assert planner.jobs["p:breakfast"][0] == AT_2300  # planned inside quiet hours
    clock.at = AT_2300
    assert asyncio.run(svc.fire("breakfast", AT_2300)) is None
    assert planner.jobs["p:breakfast"][0] == AT_2330
    assert planner.jobs["h:breakfast"][0] == MORNING
    clock.at = AT_2330
    asyncio.run(svc.fire("breakfast", AT_2330))
    assert notifier.sent == []
    # Two held nudges of one practice collapse into one: the newest.
    assert [(h.practice_id, h.due, h.reason) for h in store.held()] == [
        ("breakfast", AT_2330, "quiet")]

    clock.at = MORNING
    asyncio.run(svc.fire_key("h:breakfast", MORNING))
    (n,) = notifier.sent
    assert (n.title, n.body) == ("Breakfast presence", "(held through quiet hours) Paper down.")
    (rec,) = store.open_nudges("breakfast")
    assert rec.due == AT_2330 and rec.shown_at == MORNING
    assert store.held() == []
    asyncio.run(svc.fire_key("h:breakfast", MORNING))  # a duplicate timer: nothing more
    assert len(notifier.sent) == 1
    # One nudge held then shown; the one it replaced says so, naming it.
    events = store.history()
    assert [(e.due, str(e.kind), e.reason, e.note) for e in events] == [
        (AT_2300, "held", "quiet", None), (AT_2330, "held", "quiet", None),
        (AT_2300, "dropped", "replaced", rec.id), (AT_2330, "shown", None, None)]
    assert {e.nudge_id for e in events if e.due == AT_2330} == {rec.id}


def test_held_nudges_survive_a_restart(store: Store) -> None:
    p = late(blocked="defer")
    svc, _, _, _ = make(store, p, at=AT_2300)
    asyncio.run(svc.fire("breakfast", AT_2300))
    # A new daemon at 02:00: fresh scheduler, same state directory and history.
    svc2, planner2, notifier2, clock2 = make(store, p, at=AT_2300 + timedelta(hours=3))
    svc2.plan_all(startup=True)
    assert planner2.jobs["h:breakfast"][0] == MORNING
    # Not missed while down: it was held, and 23:30 lies in quiet hours (not planned
    # by the plain plan), so the history holds only that.
    assert trace(store) == [("breakfast", "held", "quiet")]
    clock2.at = MORNING
    asyncio.run(svc2.fire_key("h:breakfast", MORNING))
    assert [n.body for n in notifier2.sent] == ["(held through quiet hours) Paper down."]
    assert trace(store) == [("breakfast", "held", "quiet"), ("breakfast", "shown", None)]


# --------------------------------------------------------------------------- digest


def test_digest_gathers_two_practices_into_one_notification(store: Store) -> None:
    a = late(blocked="digest")
    b = late(id="look-up", title="Look up", messages=("Look up.",), blocked="digest",
             discreet=True)
    svc, planner, notifier, clock = make(store, a, b, at=AT_2300,
                                         settings=Settings(timezone="UTC", quiet_hours=QUIET))
    asyncio.run(svc.fire("breakfast", AT_2300))
    clock.at = AT_2330
    asyncio.run(svc.fire("look-up", AT_2330))
    assert notifier.sent == []
    digest_at = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)  # settings.digest_at
    assert planner.jobs["d:digest"][0] == digest_at

    clock.at = digest_at
    asyncio.run(svc.fire_key("d:digest", digest_at))
    (n,) = notifier.sent
    recs = {r.practice_id: r for r in store.open_nudges()}
    assert n.title == "Nudges that waited for you"
    assert n.body == (f"23:00  Breakfast presence: Paper down.  ({recs['breakfast'].id})\n"
                      f"23:30  ◦  {recs['look-up'].id}\n"  # discreet: no words
                      "Answer each with: attuned done|skip ID")
    assert n.actions == ()
    assert store.held() == []
    # Each is one nudge in the history: held, then shown by the digest.
    assert [(e.nudge_id, str(e.kind)) for e in store.history()] == [
        (recs["breakfast"].id, "held"), (recs["look-up"].id, "held"),
        (recs["breakfast"].id, "shown"), (recs["look-up"].id, "shown")]
    # Each is answerable as any nudge.
    res = asyncio.run(svc.act("look-up", Action.DONE, source="cli"))
    assert res.state == "done"


def test_a_digest_time_inside_quiet_hours_moves_to_their_end(store: Store) -> None:
    s = Settings(timezone="UTC", quiet_hours=W(time(20, 0), time(8, 0)), digest_at=time(21))
    svc, planner, _, _ = make(store, late(blocked="digest", quiet_hours=s.quiet_hours),
                              at=AT_2300, settings=s)
    asyncio.run(svc.fire("breakfast", AT_2300))
    assert planner.jobs["d:digest"][0] == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_a_digest_due_while_the_daemon_was_down_comes_at_start_up(store: Store) -> None:
    p = late(blocked="digest")
    svc, _, _, _ = make(store, p, at=AT_2300)
    asyncio.run(svc.fire("breakfast", AT_2300))
    two_days_later = AT_2300 + timedelta(days=2)
    svc2, planner2, notifier2, _ = make(store, p, at=two_days_later)
    svc2.plan_all(startup=True)
    at, grace = planner2.jobs["d:digest"]
    assert at == datetime(2026, 12, 2, 21, 0, tzinfo=UTC)  # past: the scheduler runs it
    assert grace >= timedelta(days=2)  # now, however late
    asyncio.run(svc2.fire_key("d:digest", at))
    assert len(notifier2.sent) == 1


# --------------------------------------------------------------------------- do-not-disturb


@dataclass
class FakePausedNotifier(FakeNotifier):
    """FAKE: a notifier whose desktop says notifications are paused (dunst's `paused`)."""

    paused: bool = True

    async def do_not_disturb(self) -> bool | None:
        return self.paused


def test_paused_notifications_defer_until_resumed(store: Store) -> None:
    p = practice(blocked="defer")
    svc, planner, _, clock = make(store, p, practice(id="other", title="Other"),
                                  at=datetime(2026, 12, 1, 7, 30, tzinfo=UTC))
    notifier = FakePausedNotifier()
    svc.notifier = notifier
    due = clock.at
    assert asyncio.run(svc.fire("breakfast", due)) is None
    assert asyncio.run(svc.fire("other", due)) is None  # blocked = "drop": dropped
    assert [(h.practice_id, h.reason) for h in store.held()] == [("breakfast", "dnd")]
    assert "h:breakfast" not in planner.jobs  # waits for the event, no polling
    svc.on_dnd_change(True)
    assert "h:breakfast" not in planner.jobs

    clock.at = due + timedelta(minutes=40)
    notifier.paused = False
    svc.on_dnd_change(False)
    assert planner.jobs["h:breakfast"][0] == clock.at
    asyncio.run(svc.fire_key("h:breakfast", clock.at))
    assert [n.body for n in notifier.sent] == [
        "(held while notifications were paused) Paper down."]
    assert [r.practice_id for r in store.open_nudges()] == ["breakfast"]
    assert trace(store) == [("breakfast", "held", "dnd"), ("other", "dropped", "dnd"),
                            ("breakfast", "shown", None)]


def test_still_paused_at_release_it_is_held_again(store: Store) -> None:
    svc, _, _, clock = make(store, practice(blocked="defer"),
                            at=datetime(2026, 12, 1, 7, 30, tzinfo=UTC))
    svc.notifier = FakePausedNotifier()
    asyncio.run(svc.fire("breakfast", clock.at))
    asyncio.run(svc.fire_key("h:breakfast", clock.at))  # e.g. planned at start-up
    assert [h.practice_id for h in store.held()] == ["breakfast"]
    assert trace(store) == [("breakfast", "held", "dnd")]  # the same reason: once


def test_a_notifier_that_cannot_tell_never_blocks(store: Store) -> None:
    svc, _, notifier, clock = make(store, practice(blocked="defer"),
                                   at=datetime(2026, 12, 1, 7, 30, tzinfo=UTC))
    assert asyncio.run(svc.fire("breakfast", clock.at)) is not None
    assert len(notifier.sent) == 1


# --------------------------------------------------------------------------- together gaps


T19 = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)


def test_held_for_together_time_is_released_at_start_up_when_it_is_on(store: Store) -> None:
    p = practice(when="together", outside="defer")
    svc, _, _, _ = make(store, p, at=T19)
    asyncio.run(svc.fire("breakfast", T19))
    assert [h.reason for h in store.held()] == ["together"]
    # While the daemon was down: `attuned together on` (the CLI wrote it to the store).
    store.set_together(TogetherState(True, None))
    later = T19 + timedelta(hours=2)
    svc2, planner2, notifier2, _ = make(store, p, at=later)
    svc2.plan_all(startup=True)
    assert planner2.jobs["h:breakfast"][0] == later
    asyncio.run(svc2.fire_key("h:breakfast", later))
    (rec,) = store.open_nudges("breakfast")
    assert rec.due == T19 and len(notifier2.sent) == 1
    assert not any(e.kind.value == "missed" for e in store.history())


def test_a_restart_does_not_count_held_or_dropped_nudges_as_missed(store: Store) -> None:
    held = practice(when="together", outside="defer", rule=AtRule((time(19, 0),)))
    dropped = practice(id="dropped", when="together", rule=AtRule((time(19, 0),)))
    svc, _, _, _ = make(store, held, dropped, at=T19)
    asyncio.run(svc.fire("breakfast", T19))
    asyncio.run(svc.fire("dropped", T19))
    # Down for two days, apart all the time: those days' nudges were blocked too.
    svc2, planner2, _, _ = make(store, held, dropped, at=T19 + timedelta(days=2, hours=1))
    svc2.plan_all(startup=True)
    assert trace(store) == [("breakfast", "held", "together"),
                            ("dropped", "dropped", "together")]
    assert planner2.jobs["p:breakfast"][0] == T19 + timedelta(days=3)
    assert "h:breakfast" not in planner2.jobs  # still apart: waits for together time


def test_a_plain_practice_is_still_recorded_missed_while_down(store: Store) -> None:
    p = practice(rule=AtRule((time(19, 0),)))
    svc, _, _, _ = make(store, p, at=T19)
    asyncio.run(svc.fire("breakfast", T19))
    svc2, _, _, _ = make(store, p, at=T19 + timedelta(days=2, hours=1))
    svc2.plan_all(startup=True)
    assert [e.kind.value for e in store.history()] == ["shown", "missed"]


def test_a_held_nudge_whose_practice_is_gone_is_dropped_saying_so(store: Store) -> None:
    deferred = late(blocked="defer")
    gathered = late(id="look-up", title="Look up", blocked="digest")
    svc, _, notifier, clock = make(store, deferred, gathered, at=AT_2300)
    asyncio.run(svc.fire("breakfast", AT_2300))
    asyncio.run(svc.fire("look-up", AT_2300))
    # Overnight the person removes one practice and disables the other.
    svc.state.schedule = replace(svc.schedule, practices=(replace(gathered, enabled=False),))
    clock.at = MORNING
    asyncio.run(svc.fire_key("h:breakfast", MORNING))
    asyncio.run(svc.fire_key("d:digest", MORNING))
    assert notifier.sent == [] and store.held() == [] and store.open_nudges() == []
    assert [(e.practice_id, str(e.kind), e.reason, e.at) for e in store.history()] == [
        ("breakfast", "held", "quiet", AT_2300), ("look-up", "held", "quiet", AT_2300),
        ("breakfast", "dropped", "gone", MORNING), ("look-up", "dropped", "gone", MORNING)]


def test_together_until_is_read_and_shown_in_the_schedules_zone(store: Store) -> None:
    # 19:00 UTC is 20:00 in Berlin: "until 22:00" means 22:00 Berlin, 21:00 UTC.
    svc, _, _, _ = make(store, practice(when="together"), at=T19, zone=BERLIN)
    res = asyncio.run(svc.together("until", "22:00")).to_json()
    assert res["text"] == "Together mode is on until 22:00."
    state = store.together()
    assert state.until == datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    assert state.active(datetime(2026, 12, 1, 20, 59, tzinfo=UTC))
    assert not state.active(datetime(2026, 12, 1, 21, 0, tzinfo=UTC))


def test_together_on_during_quiet_hours_keeps_the_nudge_held(store: Store) -> None:
    p = practice(when="together", outside="defer", quiet_hours=QUIET)
    svc, planner, notifier, clock = make(store, p, at=T19)
    asyncio.run(svc.fire("breakfast", T19))
    clock.at = AT_2300
    res = asyncio.run(svc.together("on", None)).to_json()
    assert res["released"] == [] and notifier.sent == []
    assert [h.reason for h in store.held()] == ["quiet"]  # held, not dropped
    assert planner.jobs["h:breakfast"][0] == MORNING
    # The same nudge, held again for another reason: the history says both.
    assert [(e.nudge_id, str(e.kind), e.reason) for e in store.history()] == [
        (store.held()[0].nudge_id, "held", "together"),
        (store.held()[0].nudge_id, "held", "quiet")]


def test_a_nudge_held_while_the_history_refuses_writes_is_kept_and_written_later(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "quick.db", busy_timeout=0.2)
    p = practice(when="together", outside="defer", rule=AtRule((time(19, 0),)))
    svc, planner, notifier, _ = make(store, p, at=T19)
    svc.backlog.first_retry = 0.05  # the daemon's first retry is after 1 s

    async def scenario() -> None:
        with WriteLock(store.path):
            await svc.fire_key("p:breakfast", T19)
            await settle(svc)
            assert store.held() == []  # nothing could be written yet
        await written(svc)

    try:
        asyncio.run(scenario())
        (h,) = store.held()
        assert h == Held("breakfast", T19, HoldReason.TOGETHER, HoldMode.DEFER, h.nudge_id)
        assert trace(store) == [("breakfast", "held", "together")]
        assert store.blocked_marks() == {"breakfast": T19}
        assert [n.title for n in notifier.sent] == ["attuned cannot write its history"]
        assert planner.jobs["p:breakfast"][0] == T19 + timedelta(days=1)
    finally:
        store.close()


# --------------------------------------------------------------------------- inline reply


def test_an_inline_reply_is_the_note_of_a_done_answer(store: Store) -> None:
    svc, _, notifier, clock = make(store, practice(), at=datetime(2026, 12, 1, 7, 30,
                                                                  tzinfo=UTC))

    async def go() -> None:
        rec = await svc.fire("breakfast", clock.at)
        assert rec is not None
        svc.on_reply(1, "she smiled\nback")
        await settle(svc)

    asyncio.run(go())
    (done,) = [e for e in store.history() if e.kind.value == "done"]
    assert (done.source, done.note) == ("button", "she smiled back")
    assert notifier.closed == [1]
    svc.on_reply(99, "unknown")  # nothing to answer: ignored



# --------------------------------------------------------------------------- on the bus


def test_inline_reply_is_offered_where_advertised_and_answers_done(
        tmp_path: Path, session_bus: DBusDaemon) -> None:
    store = Store.open(tmp_path / "h.db")
    replies = Events()

    async def main() -> str:
        notifier = DBusNotifier(session_bus.address)
        svc, _, _, clock = make(store, practice(), at=datetime(2026, 12, 1, 7, 30,
                                                               tzinfo=UTC))
        svc.notifier = notifier

        def on_reply(nid: int, text: str) -> None:
            svc.on_reply(nid, text)
            replies(nid, text)

        notifier.on_reply = on_reply
        try:
            rec = await svc.fire("breakfast", clock.at)
            assert rec is not None
            [shown] = await asyncio.to_thread(server.wait_for_notify, 1, WAIT)
            await asyncio.to_thread(server.reply, shown["id"], "she laughed")
            await replies.wait(1)
            await settle(svc)
            return rec.id
        finally:
            await notifier.aclose()

    with NotificationServer(session_bus.address, inline_reply=True) as server:
        nudge_id = run(main)
        [shown] = server.notifies
    assert shown["actions"][-2:] == ["inline-reply", "How did it go? (a note)"]
    assert shown["actions"][:2] == ["done", "Done"]
    done = store.get(nudge_id)
    assert (done.state.value, done.note, done.source) == ("done", "she laughed", "button")
    store.close()


def test_no_inline_reply_where_the_server_does_not_advertise_it(
        session_bus: DBusDaemon, notification_server: NotificationServer) -> None:
    async def main() -> None:
        notifier = DBusNotifier(session_bus.address)
        try:
            await notifier.send(Notification("t", "b", actions=(("done", "Done"),)))
            await notifier.send(Notification("no answers", "b"))  # not a nudge: no reply
        finally:
            await notifier.aclose()

    run(main)
    assert [r["actions"] for r in notification_server.wait_for_notify(2, WAIT)] == [
        ["done", "Done"], []]


def test_dunsts_pause_is_read_and_its_change_is_heard(session_bus: DBusDaemon) -> None:
    changes = Events()

    async def main() -> list[bool | None]:
        notifier = DBusNotifier(session_bus.address)
        notifier.on_dnd_change = changes
        try:
            await notifier.connect()
            seen = [await notifier.do_not_disturb()]
            await asyncio.to_thread(server.set_paused, True)
            await changes.wait(1)
            seen.append(await notifier.do_not_disturb())
            await asyncio.to_thread(server.set_paused, False)
            await changes.wait(2)
            seen.append(await notifier.do_not_disturb())
            return seen
        finally:
            await notifier.aclose()

    with NotificationServer(session_bus.address, dunst=True) as server:
        assert run(main) == [False, True, False]
    assert changes.items == [True, False]


def test_a_server_without_a_pause_switch_cannot_tell(
        session_bus: DBusDaemon, notification_server: NotificationServer) -> None:
    async def main() -> bool | None:
        notifier = DBusNotifier(session_bus.address)
        try:
            await notifier.connect()
            return await notifier.do_not_disturb()
        finally:
            await notifier.aclose()

    assert run(main) is None
    # Not connected at all: cannot tell either.
    assert asyncio.run(DBusNotifier("unix:path=/nonexistent").do_not_disturb()) is None
