"""The core's decisions, on a real SQLite store, with two named fakes: FakePlanner (records
the jobs the core asks the scheduler for) and FakeNotifier (records what would be shown).
The real scheduler and a real bus are exercised by the daemon tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import service_fakes
from service_fakes import Clock, FakeNotifier, FakePlanner, practice, settle

from attuned.app.service import ScheduleState, Service, changed_practices
from attuned.core.model import Action, AtRule, EveryRule, NudgeState, Practice, Schedule, Settings
from attuned.notify.base import EXPIRES_NEVER, URGENCY_NORMAL, Delivery, Notification
from attuned.state.store import EventKind, Store

UTCZ = ZoneInfo("UTC")
T0 = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)


def make(store: Store, *practices: Practice, at: datetime = T0) -> tuple[Service, FakePlanner,
                                                                          FakeNotifier, Clock]:
    return service_fakes.make(store, *practices, at=at)


def test_fire_records_then_shows_with_buttons_and_plans_the_next(store: Store) -> None:
    svc, planner, notifier, _ = make(store)
    rec = asyncio.run(svc.fire("breakfast", T0))
    assert rec is not None and store.get(rec.id).state == NudgeState.SHOWN
    (n,) = notifier.sent
    assert (n.title, n.body) == ("Breakfast presence", "Paper down.")
    assert [k for k, _ in n.actions] == ["done", "snooze", "snooze-long", "skip"]
    assert [label for _, label in n.actions] == ["Done", "Snooze 10m", "Snooze 1h", "Skip"]
    assert planner.jobs["p:breakfast"][0] == T0 + timedelta(days=1)
    assert store.get(rec.id).notification_id == 1


def test_the_same_planned_nudge_is_never_shown_twice(store: Store) -> None:
    svc, _, notifier, _ = make(store)
    asyncio.run(svc.fire("breakfast", T0))
    assert asyncio.run(svc.fire("breakfast", T0)) is None
    assert len(notifier.sent) == 1


def test_done_from_the_button_closes_the_bubble(store: Store) -> None:
    svc, _, notifier, clock = make(store)
    rec = asyncio.run(svc.fire("breakfast", T0))
    assert rec is not None
    clock.at = T0 + timedelta(minutes=3)

    async def press() -> None:
        svc.on_action(1, "done")
        assert await svc.tasks.idle(10)

    asyncio.run(press())
    got = store.get(rec.id)
    assert (got.state, got.source) == (NudgeState.DONE, "button")
    assert notifier.closed == [1]


def test_snooze_comes_back_once_and_says_so(store: Store) -> None:
    svc, planner, notifier, clock = make(store)
    rec = asyncio.run(svc.fire("breakfast", T0))
    assert rec is not None
    res = asyncio.run(svc.act(None, Action.SNOOZE, source="cli", snooze_for=timedelta(
        minutes=20)))
    assert res.snoozed_until == T0 + timedelta(minutes=20)
    assert planner.jobs[f"s:{rec.id}"][0] == T0 + timedelta(minutes=20)
    clock.at = T0 + timedelta(minutes=20)
    back = asyncio.run(svc.fire_snooze(rec.id, T0 + timedelta(minutes=20)))
    assert back is not None and back.snoozed_from == rec.id
    assert notifier.sent[-1].title == "Breakfast presence (snoozed)"
    assert asyncio.run(svc.fire_snooze(rec.id, T0 + timedelta(minutes=20))) is None
    assert len(notifier.sent) == 2


def test_the_long_snooze_button_uses_snooze_long(store: Store) -> None:
    svc, planner, _, _ = make(store)
    rec = asyncio.run(svc.fire("breakfast", T0))
    assert rec is not None

    async def press() -> None:
        svc.on_action(1, "snooze-long")
        assert await svc.tasks.idle(10)

    asyncio.run(press())
    assert planner.jobs[f"s:{rec.id}"][0] == T0 + timedelta(hours=1)


def test_repeat_replaces_in_place_then_stops(store: Store) -> None:
    p = practice(repeat=timedelta(minutes=15), repeat_max=2)
    svc, planner, notifier, clock = make(store, p)
    rec = asyncio.run(svc.fire("breakfast", T0))
    assert rec is not None
    assert planner.jobs[f"r:{rec.id}"][0] == T0 + timedelta(minutes=15)
    for i in (1, 2):
        clock.at = T0 + timedelta(minutes=15 * i)
        planner.jobs.pop(f"r:{rec.id}", None)  # the scheduler drops a job once it fired
        asyncio.run(svc.fire_repeat(rec.id, clock.at))
        assert notifier.sent[-1].replaces_id == i  # the bubble before it, replaced
    assert len(notifier.sent) == 3
    assert f"r:{rec.id}" not in planner.jobs
    assert store.get(rec.id).repeat_count == 2


def test_answer_within_expires_an_unanswered_nudge(store: Store) -> None:
    svc, planner, notifier, clock = make(store, practice(answer_within=timedelta(hours=1)))
    rec = asyncio.run(svc.fire("breakfast", T0))
    assert rec is not None
    assert planner.jobs[f"x:{rec.id}"][0] == T0 + timedelta(hours=1)
    clock.at = T0 + timedelta(hours=1)
    asyncio.run(svc.expire(rec.id))
    assert store.get(rec.id).state == NudgeState.EXPIRED
    assert notifier.closed == [1]


def test_without_answer_within_the_next_nudge_expires_the_last(store: Store) -> None:
    svc, _, notifier, clock = make(store)
    first = asyncio.run(svc.fire("breakfast", T0))
    clock.at = T0 + timedelta(days=1)
    asyncio.run(svc.fire("breakfast", T0 + timedelta(days=1)))
    assert first is not None and store.get(first.id).state == NudgeState.EXPIRED
    # Its bubble, which asked to stay up, is taken down before the new one is shown.
    assert notifier.closed == [1]


def test_closing_the_bubble_is_dismissed_never_done(store: Store) -> None:
    svc, _, _, _ = make(store)
    rec = asyncio.run(svc.fire("breakfast", T0))
    assert rec is not None
    svc.on_closed(1, 1)  # expired on screen: not the person's answer
    assert store.get(rec.id).state == NudgeState.SHOWN
    svc.on_closed(1, 2)  # dismissed by the person
    assert store.get(rec.id).state == NudgeState.DISMISSED


def test_missed_beyond_grace_is_recorded_and_the_next_planned(store: Store) -> None:
    svc, planner, notifier, clock = make(store)
    clock.at = T0 + timedelta(hours=2)
    svc.on_missed("p:breakfast", T0)
    (ev,) = [e for e in store.history() if e.kind == EventKind.MISSED]
    assert ev.due == T0
    assert notifier.sent == []
    assert planner.jobs["p:breakfast"][0] == T0 + timedelta(days=1)


def test_start_up_collapses_nudges_missed_while_down_into_one(store: Store) -> None:
    svc, planner, _notifier, clock = make(store)
    asyncio.run(svc.fire("breakfast", T0))
    # Down for three days; started at 09:00 on the fourth, long past that day's grace.
    clock.at = T0 + timedelta(days=3, hours=1, minutes=30)
    svc.plan_all(startup=True)
    missed = [e for e in store.history() if e.kind == EventKind.MISSED]
    assert len(missed) == 1
    assert missed[0].due == T0 + timedelta(days=3)
    assert "3 due" in (missed[0].note or "")
    assert planner.jobs["p:breakfast"][0] == T0 + timedelta(days=4)


def test_start_up_within_grace_still_delivers_todays_nudge(store: Store) -> None:
    svc, planner, _, clock = make(store)
    clock.at = T0 + timedelta(minutes=5)
    svc.plan_all(startup=True)
    assert planner.jobs["p:breakfast"][0] == T0  # in the past, inside its grace: at once


def test_pending_snoozes_come_back_after_a_restart(store: Store) -> None:
    svc, _, _, _ = make(store)
    rec = asyncio.run(svc.fire("breakfast", T0))
    asyncio.run(svc.act(None, Action.SNOOZE, source="cli"))
    svc2, planner2, _, _ = make(store)  # a new daemon on the same database
    svc2.restore_pending()
    assert rec is not None
    assert planner2.jobs[f"s:{rec.id}"][0] == T0 + timedelta(minutes=10)


def test_a_disabled_practice_is_not_planned(store: Store) -> None:
    svc, planner, _, _ = make(store, practice(enabled=False))
    svc.plan_all(startup=True)
    assert planner.jobs == {}


def test_a_button_pressed_before_the_id_is_known_still_counts(store: Store) -> None:
    """D-Bus delivers ActionInvoked at once, while the code awaiting Notify's reply resumes
    a loop turn later: the answer must wait for the id, not be dropped."""
    svc, _, _, _ = make(store)

    class EagerServer(FakeNotifier):  # FAKE: a person faster than the reply
        async def send(self, n: Notification) -> Delivery:
            d = await super().send(n)
            svc.on_action(d.notification_id or 0, "done")
            return d

    eager = EagerServer()
    svc.notifier = eager

    async def go() -> str:
        rec = await svc.fire("breakfast", T0)
        assert rec is not None
        assert await svc.tasks.idle(10)
        return rec.id

    nudge = asyncio.run(go())
    assert store.get(nudge).state == NudgeState.DONE
    assert eager.closed == [1]
    assert svc.signals.waiting == 0


def test_a_reload_sees_which_practices_changed_not_which_moved() -> None:
    tea = practice(id="tea", title="Tea", line=10)
    walk = practice(id="walk", title="Walk", line=20)
    old = Schedule(Settings(timezone="UTC"), (practice(line=1), tea, walk), "t.toml")
    # A practice inserted above shifts every line below it: not a change of those.
    moved = Schedule(old.settings, (practice(id="new", line=1), practice(line=6),
                                    practice(id="tea", title="Tea", line=15)), "t.toml")
    assert changed_practices(old, moved) == {"new", "walk"}  # added, removed
    retitled = Schedule(old.settings, (practice(line=1), practice(id="tea", title="Tea!",
                                                                 line=10), walk), "t.toml")
    assert changed_practices(old, retitled) == {"tea"}
    assert changed_practices(old, old) == set()
    # Settings fold into every practice's timing (quiet hours, grace): re-plan them all.
    assert changed_practices(old, Schedule(Settings(timezone="UTC", grace=timedelta(1)),
                                           old.practices, "t.toml")) is None


def test_plan_all_only_replans_the_practices_named(store: Store) -> None:
    svc, planner, _, _ = make(store, practice(), practice(id="tea"), practice(id="walk"),
                              at=T0 - timedelta(hours=2))
    svc.plan_all(startup=True)
    assert set(planner.jobs) == {"p:breakfast", "p:tea", "p:walk"}
    kept = (T0 + timedelta(days=3), timedelta(minutes=1))
    planner.jobs["p:breakfast"] = kept  # not named: left exactly as it is
    svc.state = ScheduleState(Schedule(svc.schedule.settings, (
        practice(), practice(id="tea", rule=AtRule((time(9, 0),)))), "test.toml"), svc.now())
    assert svc.plan_all(startup=False, only={"tea", "walk"}) == 2  # tea moved, walk gone
    assert planner.jobs["p:breakfast"] == kept
    assert planner.jobs["p:tea"][0] == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert "p:walk" not in planner.jobs


# ------------------------------------------------------------------ answers from the bubble
#
# xfce4-notifyd 0.7.3, notification-daemon 3.20 and mate-notification-daemon 1.26 send, on
# a button, ActionInvoked(id, key) and at once NotificationClosed(id, 2), often in one
# socket read. dbus-fast then runs the two callbacks back to back, with no loop turn
# between: exactly what these tests do (tests/test_bubble_answers.py does it on a bus).

END = date(2026, 12, 7)
ASK = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)  # END's reflection question
ANSWERS = [("done", NudgeState.DONE, None),
           ("snooze", NudgeState.SNOOZED, timedelta(minutes=10)),
           ("snooze-long", NudgeState.SNOOZED, timedelta(hours=1)),
           ("skip", NudgeState.SKIPPED, None)]


def kinds(store: Store, nudge_id: str) -> list[str]:
    return [e.kind.value for e in store.history() if e.nudge_id == nudge_id]


@pytest.mark.parametrize(("key", "state", "back_in"), ANSWERS)
def test_a_press_and_its_close_in_one_read_keep_the_press(
        store: Store, key: str, state: NudgeState, back_in: timedelta | None) -> None:
    svc, planner, notifier, _ = make(store)

    async def go() -> str:
        rec = await svc.fire("breakfast", T0)
        assert rec is not None
        svc.on_action(1, key)
        svc.on_closed(1, 2)  # right behind it, before any task could run
        await settle(svc)
        return rec.id

    nudge = asyncio.run(go())
    got = store.get(nudge)
    assert (got.state, got.source) == (state, "button")
    assert kinds(store, nudge) == ["shown", str(state)]  # the close is no second event
    assert notifier.closed == [1]
    if back_in is not None:
        assert planner.jobs[f"s:{nudge}"][0] == T0 + back_in


def test_an_inline_reply_and_its_close_in_one_read_keep_the_reply(store: Store) -> None:
    svc, _, notifier, _ = make(store)

    async def go() -> str:
        rec = await svc.fire("breakfast", T0)
        assert rec is not None
        svc.on_reply(1, "she smiled")
        svc.on_closed(1, 2)
        await settle(svc)
        return rec.id

    nudge = asyncio.run(go())
    assert (store.get(nudge).state, store.get(nudge).note) == (NudgeState.DONE, "she smiled")
    assert kinds(store, nudge) == ["shown", "done"]
    assert notifier.closed == [1]


@pytest.mark.parametrize("verdict", ["landed", "partly", "not-yet"])
def test_a_reflections_press_and_its_close_keep_the_verdict(store: Store,
                                                            verdict: str) -> None:
    svc, _, notifier, _ = make(store, practice(until=END), at=ASK)

    async def go() -> None:
        await svc.fire_key("e:breakfast", ASK)
        svc.on_action(1, verdict)
        svc.on_closed(1, 2)
        await settle(svc)

    asyncio.run(go())
    assert [r.verdict for r in store.reflections("breakfast")] == [verdict]
    question = store.history(practice_id="reflect:breakfast")
    assert [(e.kind.value, e.note) for e in question] == [("shown", None), ("done", verdict)]
    # A server that keeps the bubble after a press (the resident hint) has it withdrawn.
    assert notifier.closed == [1]


class OvertakingServer(FakeNotifier):
    """FAKE: the person's press (and the server's close) reach the daemon before Notify's
    reply does, as when they come in the same read as the reply."""

    def __init__(self, svc: Service, *presses: tuple[str, str]) -> None:
        super().__init__()
        self.svc = svc
        self.presses = list(presses)

    async def send(self, n: Notification) -> Delivery:
        d = await super().send(n)
        nid = d.notification_id or 0
        kind, arg = self.presses.pop(0)
        if kind == "reply":
            self.svc.on_reply(nid, arg)
        else:
            self.svc.on_action(nid, arg)
        self.svc.on_closed(nid, 2)
        return d


@pytest.mark.parametrize(("press", "state"), [
    (("action", "done"), NudgeState.DONE), (("action", "snooze"), NudgeState.SNOOZED),
    (("action", "snooze-long"), NudgeState.SNOOZED), (("action", "skip"), NudgeState.SKIPPED),
    (("reply", "we laughed"), NudgeState.DONE)])
def test_a_press_and_close_before_the_id_is_known_keep_the_press(
        store: Store, press: tuple[str, str], state: NudgeState) -> None:
    svc, _, _, _ = make(store)
    server = svc.notifier = OvertakingServer(svc, press)

    async def go() -> str:
        rec = await svc.fire("breakfast", T0)
        assert rec is not None
        await settle(svc)
        return rec.id

    nudge = asyncio.run(go())
    assert kinds(store, nudge) == ["shown", str(state)]
    assert server.closed == [1]
    assert svc.signals.waiting == 0


@pytest.mark.parametrize("verdict", ["landed", "partly", "not-yet"])
def test_a_reflections_press_before_the_id_is_known_keeps_the_verdict(
        store: Store, verdict: str) -> None:
    svc, _, _, _ = make(store, practice(until=END), at=ASK)
    svc.notifier = OvertakingServer(svc, ("action", verdict))

    async def go() -> None:
        await svc.fire_key("e:breakfast", ASK)
        await settle(svc)

    asyncio.run(go())
    assert [r.verdict for r in store.reflections("breakfast")] == [verdict]
    question = store.history(practice_id="reflect:breakfast")
    assert [e.kind.value for e in question] == ["shown", "done"]


def test_nine_presses_each_closed_at_once_keep_nine_of_nine(store: Store) -> None:
    ids = [f"p{i}" for i in range(9)]
    svc, _, notifier, _ = make(store, *(practice(id=i) for i in ids))

    async def go() -> list[str]:
        recs = [await svc.fire(i, T0) for i in ids]
        for n in range(1, 10):  # one after the other, no loop turn anywhere
            svc.on_action(n, "done")
            svc.on_closed(n, 2)
        await settle(svc)
        return [r.id for r in recs if r is not None]

    nudges = asyncio.run(go())
    assert [store.get(n).state for n in nudges] == [NudgeState.DONE] * 9
    assert sorted(notifier.closed) == list(range(1, 10))


def test_a_bubble_that_expired_leaves_the_nudge_open_for_the_cli(store: Store) -> None:
    svc, _, _, clock = make(store)
    rec = asyncio.run(svc.fire("breakfast", T0))
    assert rec is not None
    svc.on_closed(1, 1)  # the server's timeout (and MATE's close button): no answer
    assert [o["nudge"] for o in asyncio.run(svc.status()).to_json()["open"]] == [rec.id]
    clock.at = T0 + timedelta(hours=2)
    res = asyncio.run(svc.act(None, Action.DONE, source="cli"))
    assert (res.nudge_id, res.state) == (rec.id, "done")
    assert kinds(store, rec.id) == ["shown", "done"]


def test_nudges_and_questions_ask_the_server_to_keep_them_up(store: Store) -> None:
    svc, _, notifier, clock = make(store, practice(until=END), at=ASK)
    asyncio.run(svc.fire_key("e:breakfast", ASK))
    clock.at = ASK + timedelta(hours=13)
    asyncio.run(svc.fire("breakfast", datetime(2026, 12, 8, 7, 30, tzinfo=UTC)))
    question, nudge = notifier.sent
    for n in (question, nudge):
        # Never expire, kept after a press (withdrawn by us), normal urgency (critical is
        # for what must not be missed: a nudge is gentle).
        assert (n.timeout_ms, n.resident, n.urgency) == (EXPIRES_NEVER, True, URGENCY_NORMAL)


# ------------------------------------------------------------------ no burst of late nudges

EVERY_MINUTE = EveryRule(timedelta(minutes=1))
START = datetime(2026, 11, 25, 7, 30, 20, tzinfo=UTC)  # 20 s after a minute's nudge


async def run_due(svc: Service, planner: FakePlanner, clock: Clock) -> None:
    """FAKE scheduler: fire every practice job already due at the clock's time, as
    APScheduler does at once for a job set in the past (bounded, for the old burst)."""
    for _ in range(100):
        due = sorted((at, key) for key, (at, _) in planner.jobs.items()
                     if key.startswith("p:") and at <= clock.at)
        if not due:
            return
        at, key = due[0]
        del planner.jobs[key]
        await svc.fire_key(key, at)


def shown_dues(store: Store, pid: str) -> list[datetime]:
    return [e.due for e in store.history(pid) if e.kind == EventKind.SHOWN]


def test_a_first_start_brings_one_nudge_per_practice_not_the_whole_grace(
        store: Store) -> None:
    ps = [practice(id=pid, rule=EVERY_MINUTE) for pid in ("look-up", "tea", "walk")]
    svc, planner, notifier, clock = make(store, *ps, at=START)
    svc.plan_all(startup=True)
    asyncio.run(run_due(svc, planner, clock))
    assert len(notifier.sent) == 3
    for pid in ("look-up", "tea", "walk"):
        assert shown_dues(store, pid) == [START.replace(second=0)]  # the latest, 07:30
        assert planner.jobs[f"p:{pid}"][0] == START.replace(second=0) + timedelta(minutes=1)
    # No history before: nothing to call missed.
    assert [e for e in store.history() if e.kind == EventKind.MISSED] == []


def test_a_start_after_15_minutes_down_is_one_nudge_and_one_missed_record(
        store: Store) -> None:
    before, _, _, _ = make(store, practice(id="look-up", rule=EVERY_MINUTE),
                           at=START - timedelta(minutes=15))
    asyncio.run(before.fire("look-up", START.replace(second=0) - timedelta(minutes=15)))
    # That daemon stopped after its 07:15 nudge; a new one starts 15 min later.
    svc, planner, notifier, clock = make(store, practice(id="look-up", rule=EVERY_MINUTE),
                                         at=START)
    svc.plan_all(startup=True)
    asyncio.run(run_due(svc, planner, clock))
    assert len(notifier.sent) == 1
    assert shown_dues(store, "look-up")[-1] == START.replace(second=0)
    [missed] = [e for e in store.history() if e.kind == EventKind.MISSED]
    assert missed.due == START.replace(second=0) - timedelta(minutes=1)  # 07:29
    assert missed.note == "the daemon was not running (14 due)"  # 07:16 to 07:29
    assert planner.jobs["p:look-up"][0] == START.replace(second=0) + timedelta(minutes=1)


def test_a_nudge_fired_late_shows_the_latest_and_plans_after_now(store: Store) -> None:
    # A resume: the job for 07:00 comes 10.5 min late, inside its 15 min grace.
    svc, planner, notifier, clock = make(store, practice(id="look-up", rule=EVERY_MINUTE),
                                         at=datetime(2026, 11, 25, 7, 10, 30, tzinfo=UTC))
    planner.jobs["p:look-up"] = (datetime(2026, 11, 25, 7, 0, tzinfo=UTC),
                                 timedelta(minutes=15))
    asyncio.run(run_due(svc, planner, clock))
    assert len(notifier.sent) == 1
    assert shown_dues(store, "look-up") == [datetime(2026, 11, 25, 7, 10, tzinfo=UTC)]
    [missed] = [e for e in store.history() if e.kind == EventKind.MISSED]
    assert missed.due == datetime(2026, 11, 25, 7, 9, tzinfo=UTC)
    assert missed.note == "late, a later one came in its place (10 due)"  # 07:00-07:09
    assert planner.jobs["p:look-up"][0] == datetime(2026, 11, 25, 7, 11, tzinfo=UTC)


def test_a_job_missed_past_its_grace_brings_the_latest_inside_it_once(store: Store) -> None:
    # Asleep from before 06:00 to 07:10:30: the 06:00 job is reported missed.
    svc, planner, notifier, clock = make(store, practice(id="look-up", rule=EVERY_MINUTE),
                                         at=datetime(2026, 11, 25, 7, 10, 30, tzinfo=UTC))
    svc.on_missed("p:look-up", datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    asyncio.run(run_due(svc, planner, clock))
    assert len(notifier.sent) == 1
    assert shown_dues(store, "look-up") == [datetime(2026, 11, 25, 7, 10, tzinfo=UTC)]
    [missed] = [e for e in store.history() if e.kind == EventKind.MISSED]
    assert missed.due == datetime(2026, 11, 25, 7, 9, tzinfo=UTC)
    assert missed.note == "later than its grace (70 due)"  # 06:00 to 07:09
    assert planner.jobs["p:look-up"][0] == datetime(2026, 11, 25, 7, 11, tzinfo=UTC)


def test_at_exit_a_nudge_being_sent_ends_before_the_history_closes(store: Store) -> None:
    svc, _, _, _ = make(store, at=T0)
    gate = asyncio.Event()

    class SlowNotifier(FakeNotifier):
        async def send(self, n: Notification) -> Delivery:
            await gate.wait()  # a server slow to answer Notify
            return await super().send(n)

    svc.notifier = SlowNotifier()

    async def main() -> None:
        svc.on_due("p:breakfast", T0)  # as the scheduler calls it: the send runs in a task
        await asyncio.sleep(0)
        asyncio.get_running_loop().call_later(0.05, gate.set)
        await svc.finish(5.0)
        assert len(svc.tasks) == 0

    asyncio.run(main())
    rec = store.newest_open()
    assert rec is not None and rec.notification_id == 1  # its bubble's id was kept
