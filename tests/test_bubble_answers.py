"""Answers pressed on a bubble, on a real private bus: the core (Service, on a real SQLite
store, with the named FakePlanner) talks through the real D-Bus notifier to the test
notification server, which sends what xfce4-notifyd 0.7.3, notification-daemon 3.20 and
mate-notification-daemon 1.26 send on a button: ActionInvoked(id, key) and at once
NotificationClosed(id, 2), here in one write (`click`; most of the time that reaches us in
one read, see test_notify_dbus.py). 5 of 9 Done clicks on xfce were once recorded as
"dismissed"; every answer here must be kept, the close after it no second event.
The daemon as a real process does the same in test_daemon_answers.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from buses import WAIT, DBusDaemon, Events, run
from notification_server import NotificationServer
from service_fakes import FakePlanner, make, practice, settle

from attuned.app.service import Service
from attuned.core.model import NudgeState, Practice
from attuned.notify.dbus import DBusNotifier
from attuned.state.store import Store

T0 = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
END = date(2026, 12, 7)
ASK = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)  # END's reflection question
ANSWERS = [("done", NudgeState.DONE, None),
           ("snooze", NudgeState.SNOOZED, timedelta(minutes=10)),
           ("snooze-long", NudgeState.SNOOZED, timedelta(hours=1)),
           ("skip", NudgeState.SKIPPED, None)]


@dataclass
class OnBus:
    svc: Service
    planner: FakePlanner
    server: NotificationServer
    closes: Events  # every NotificationClosed the core was told of: (id, reason)

    async def answered(self, count: int) -> None:
        """Wait until `count` closes were handled (each comes after its answer), then for
        the core's tasks (withdrawing the bubbles)."""
        await self.closes.wait(count, WAIT)
        await settle(self.svc)

    async def call(self, fn: Callable[..., None], *args: object) -> None:
        """A method of the server, from its own thread: this loop must keep running."""
        await asyncio.to_thread(fn, *args)


@asynccontextmanager
async def on_bus(store: Store, address: str, server: NotificationServer, *ps: Practice,
                 at: datetime) -> AsyncIterator[OnBus]:
    svc, planner, _, _ = make(store, *ps, at=at)
    notifier = DBusNotifier(address)
    closes = Events()

    def on_closed(nid: int, reason: int) -> None:
        svc.on_closed(nid, reason)
        closes(nid, reason)

    notifier.on_action, notifier.on_closed = svc.on_action, on_closed
    notifier.on_reply = lambda nid, text: svc.on_reply(nid, text)
    svc.notifier = notifier
    try:
        yield OnBus(svc, planner, server, closes)
    finally:
        await notifier.aclose()


def kinds(store: Store, nudge_id: str) -> list[str]:
    return [e.kind.value for e in store.history() if e.nudge_id == nudge_id]


def withdrawn(server: NotificationServer) -> list[int]:
    return [r["id"] for r in server.records if r["method"] == "CloseNotification"]


@pytest.mark.parametrize(("key", "state", "back_in"), ANSWERS)
def test_each_press_closed_in_the_same_write_is_kept(
        store: Store, session_bus: DBusDaemon, notification_server: NotificationServer,
        key: str, state: NudgeState, back_in: timedelta | None) -> None:
    async def main() -> str:
        async with on_bus(store, session_bus.address, notification_server, at=T0) as b:
            rec = await b.svc.fire("breakfast", T0)
            assert rec is not None
            [shown] = notification_server.notifies
            await b.call(notification_server.click, shown["id"], key)
            await b.answered(1)
            if back_in is not None:
                assert b.planner.jobs[f"s:{rec.id}"][0] == T0 + back_in
            return rec.id

    nudge = run(main)
    assert kinds(store, nudge) == ["shown", str(state)]
    assert store.get(nudge).source == "button"
    assert withdrawn(notification_server) == [1]


def test_an_inline_reply_closed_in_the_same_write_is_kept(
        store: Store, session_bus: DBusDaemon) -> None:
    async def main() -> str:
        async with on_bus(store, session_bus.address, server, at=T0) as b:
            rec = await b.svc.fire("breakfast", T0)
            assert rec is not None
            await b.call(server.reply_and_close, 1, "she laughed")
            await b.answered(1)
            return rec.id

    with NotificationServer(session_bus.address, inline_reply=True) as server:
        nudge = run(main)
        assert withdrawn(server) == [1]
    assert kinds(store, nudge) == ["shown", "done"]
    assert store.get(nudge).note == "she laughed"


@pytest.mark.parametrize("verdict", ["landed", "partly", "not-yet"])
def test_a_reflections_press_closed_in_the_same_write_is_kept(
        store: Store, session_bus: DBusDaemon, notification_server: NotificationServer,
        verdict: str) -> None:
    async def main() -> None:
        async with on_bus(store, session_bus.address, notification_server,
                          practice(until=END), at=ASK) as b:
            await b.svc.fire_key("e:breakfast", ASK)
            await b.call(notification_server.click, 1, verdict)
            await b.answered(1)

    run(main)
    assert [r.verdict for r in store.reflections("breakfast")] == [verdict]
    question = store.history(practice_id="reflect:breakfast")
    assert [e.kind.value for e in question] == ["shown", "done"]
    assert withdrawn(notification_server) == [1]


@pytest.mark.parametrize(("key", "state"), [(k, s) for k, s, _ in ANSWERS])
def test_a_press_that_overtakes_the_notify_reply_is_kept(
        store: Store, session_bus: DBusDaemon, notification_server: NotificationServer,
        key: str, state: NudgeState) -> None:
    async def main() -> str:
        async with on_bus(store, session_bus.address, notification_server, at=T0) as b:
            await b.call(notification_server.click_on_arrival, key)
            rec = await b.svc.fire("breakfast", T0)
            assert rec is not None
            await b.answered(1)
            return rec.id

    nudge = run(main)
    assert kinds(store, nudge) == ["shown", str(state)]


@pytest.mark.parametrize("verdict", ["landed", "partly", "not-yet"])
def test_a_reflections_press_that_overtakes_the_notify_reply_is_kept(
        store: Store, session_bus: DBusDaemon, notification_server: NotificationServer,
        verdict: str) -> None:
    async def main() -> None:
        async with on_bus(store, session_bus.address, notification_server,
                          practice(until=END), at=ASK) as b:
            await b.call(notification_server.click_on_arrival, verdict)
            await b.svc.fire_key("e:breakfast", ASK)
            await b.answered(1)

    run(main)
    assert [r.verdict for r in store.reflections("breakfast")] == [verdict]
    question = store.history(practice_id="reflect:breakfast")
    assert [e.kind.value for e in question] == ["shown", "done"]


def test_nine_clicks_in_a_row_keep_nine_of_nine(
        store: Store, session_bus: DBusDaemon, notification_server: NotificationServer
        ) -> None:
    ids = [f"p{i}" for i in range(9)]

    async def main() -> list[str]:
        async with on_bus(store, session_bus.address, notification_server,
                          *(practice(id=i) for i in ids), at=T0) as b:
            recs = [await b.svc.fire(i, T0) for i in ids]

            def click_all() -> None:  # one write each, as fast as the server can
                for n in range(1, 10):
                    notification_server.click(n, "done")

            await b.call(click_all)
            await b.answered(9)
            return [r.id for r in recs if r is not None]

    nudges = run(main)
    assert [kinds(store, n) for n in nudges] == [["shown", "done"]] * 9
    assert sorted(withdrawn(notification_server)) == list(range(1, 10))


def test_an_expired_bubble_leaves_the_nudge_open(
        store: Store, session_bus: DBusDaemon, notification_server: NotificationServer
        ) -> None:
    async def main() -> str:
        async with on_bus(store, session_bus.address, notification_server, at=T0) as b:
            rec = await b.svc.fire("breakfast", T0)
            assert rec is not None
            await b.call(notification_server.close, 1, 1)  # expired (MATE: its close button)
            await b.answered(1)
            assert [o["nudge"] for o in (await b.svc.status()).to_json()["open"]] == [rec.id]
            return rec.id

    assert kinds(store, run(main)) == ["shown"]  # answerable from the CLI: attuned done
