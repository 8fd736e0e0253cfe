"""The freedesktop D-Bus notifier against a real private dbus-daemon and the test
notification server (tests/notification_server.py), plus bus address resolution."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from buses import WAIT, DBusDaemon, Events, run, wait_for_server
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus
from notification_server import NotificationServer, NotificationServerProcess

from attuned.errors import NotifyError
from attuned.notify.base import EXPIRES_NEVER, NUDGE_ACTIONS, Notification, ServerInfo
from attuned.notify.busaddr import session_bus_address
from attuned.notify.dbus import NOTIFICATIONS_IFACE, DBusNotifier

NUDGE = Notification(
    title="Eye contact",
    body="When your partner comes into the room, look up and meet their eyes.",
    actions=NUDGE_ACTIONS,
)


# -- delivery ------------------------------------------------------------------------


def test_nudge_arrives_with_title_body_actions_and_hints(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    async def main() -> Any:
        notifier = DBusNotifier(session_bus.address)
        try:
            return await notifier.send(NUDGE)
        finally:
            await notifier.aclose()

    delivery = run(main)
    [rec] = notification_server.wait_for_notify(1, timeout=WAIT)
    assert (delivery.backend, delivery.notification_id, delivery.server) == (
        "dbus", rec["id"], "attuned-test-server")
    assert rec["summary"] == "Eye contact"
    assert rec["body"] == "When your partner comes into the room, look up and meet their eyes."
    assert rec["actions"] == ["done", "Done", "snooze", "Snooze", "skip", "Skip"]
    assert (rec["app_name"], rec["app_icon"]) == ("attuned", "attuned")
    assert rec["expire_timeout"] == -1
    assert rec["hints"] == {"desktop-entry": "attuned", "category": "x-attuned.nudge",
                            "urgency": 1}
    # The spec types urgency as a byte; servers reject or ignore other types.
    assert rec["hint_signatures"] == {"desktop-entry": "s", "category": "s", "urgency": "y"}


def test_a_nudge_that_waits_for_its_answer_asks_to_stay(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    """The spec lets a client ask, and no more: expire_timeout 0 is "never expire"; the
    "resident" hint (spec 1.2) keeps it after an action is invoked, until the sender or the
    person removes it. What real servers do with it: tests/test_desktop_facts.py."""
    async def main() -> None:
        notifier = DBusNotifier(session_bus.address)
        try:
            await notifier.send(dataclasses.replace(NUDGE, timeout_ms=EXPIRES_NEVER,
                                                    resident=True))
        finally:
            await notifier.aclose()

    run(main)
    [rec] = notification_server.wait_for_notify(1, timeout=WAIT)
    assert rec["expire_timeout"] == 0
    assert rec["hints"] == {"desktop-entry": "attuned", "category": "x-attuned.nudge",
                            "urgency": 1, "resident": True}
    assert rec["hint_signatures"]["resident"] == "b"


def test_replaces_id_updates_the_same_notification(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    async def main() -> tuple[int | None, int | None]:
        notifier = DBusNotifier(session_bus.address)
        try:
            first = await notifier.send(NUDGE)
            assert first.notification_id is not None
            second = await notifier.send(
                Notification("Eye contact", "Still there?", replaces_id=first.notification_id))
            return first.notification_id, second.notification_id
        finally:
            await notifier.aclose()

    first, second = run(main)
    assert first == second
    recs = notification_server.wait_for_notify(2, timeout=WAIT)
    assert [r["replaces_id"] for r in recs] == [0, first]


def test_actions_and_closes_reach_the_callbacks(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        notifier = DBusNotifier(session_bus.address)
        actions, closes = Events(), Events()
        notifier.on_action, notifier.on_closed = actions, closes
        try:
            first = await notifier.send(NUDGE)
            second = await notifier.send(NUDGE)
            third = await notifier.send(NUDGE)
            assert first.notification_id and second.notification_id and third.notification_id
            # The server is driven from its own thread; it must not block this loop.
            await asyncio.to_thread(notification_server.invoke_action,
                                    first.notification_id, "snooze")
            await actions.wait(1)
            await asyncio.to_thread(notification_server.invoke_action,
                                    second.notification_id, "done")
            await actions.wait(2)
            await asyncio.to_thread(notification_server.close, first.notification_id, 2)
            await closes.wait(1)
            await notifier.close_notification(third.notification_id)
            await closes.wait(2)
            return actions.items, closes.items
        finally:
            await notifier.aclose()

    actions, closes = run(main)
    assert actions == [(1, "snooze"), (2, "done")]
    assert closes == [(1, 2), (3, 3)]
    assert [r["id"] for r in notification_server.records
            if r["method"] == "CloseNotification"] == [3]


@pytest.mark.parametrize("vendor", ["GNOME", "MATE"])
def test_a_bubble_notification_daemon_would_leave_up_is_replaced_before_it_is_closed(
        session_bus: DBusDaemon, vendor: str) -> None:
    """notification-daemon 3.20 ("Notification Daemon" by GNOME) answers CloseNotification
    but leaves the bubble on screen (test_desktop_facts.py): there a withdrawn nudge is
    first replaced by itself with a timeout of 1 ms, which takes it down. MATE's fork of
    the same name takes a closed bubble down: closed as everywhere. A bubble the server
    has already closed is not replaced (it would come back as a new one)."""
    server = NotificationServer(session_bus.address, name="Notification Daemon",
                                vendor=vendor).start()
    stay = dataclasses.replace(NUDGE, timeout_ms=EXPIRES_NEVER, resident=True)

    async def main() -> tuple[int, int]:
        notifier = DBusNotifier(session_bus.address)
        closes = Events()
        notifier.on_closed = closes
        try:
            answered = (await notifier.send(stay)).notification_id
            dismissed = (await notifier.send(stay)).notification_id
            assert answered and dismissed
            await asyncio.to_thread(server.close, dismissed, 2)
            await closes.wait(1)
            await notifier.close_notification(answered)
            await closes.wait(2)
            await notifier.close_notification(dismissed)
            return answered, dismissed
        finally:
            await notifier.aclose()

    try:
        answered, dismissed = run(main)
        calls = [r for r in server.records if r["method"] in ("Notify", "CloseNotification")]
    finally:
        server.stop()
    sent, _, *rest = calls
    assert [(r["method"], r.get("replaces_id"), r.get("expire_timeout", r["id"]))
            for r in [sent, *rest]] == [
        ("Notify", 0, 0),
        *([("Notify", answered, 1)] if vendor == "GNOME" else []),
        ("CloseNotification", None, answered), ("CloseNotification", None, dismissed)]
    if vendor == "GNOME":  # the same bubble but for its timeout
        keep = ("app_name", "app_icon", "summary", "body", "actions", "hints")
        assert {k: rest[0][k] for k in keep} == {k: sent[k] for k in keep}


def test_a_click_in_one_write_mostly_reaches_the_client_in_one_read(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    """The test server's `click` writes ActionInvoked and NotificationClosed(2) with one
    `sock.send`; dbus-daemon relays them, and dbus-fast dispatches every message of one
    read from one reader callback, with no loop turn between. Measured: 185 of 200 clicks
    came in one read (sent separately: 0 of 200). So the tests that click really meet the
    case that lost answers, most of the time."""
    async def main() -> int:
        notifier = DBusNotifier(session_bus.address)
        loop = asyncio.get_running_loop()
        turns, seen = [0], Events()

        def turn() -> None:
            turns[0] += 1

        def on_signal(*args: Any) -> None:
            seen((*args, turns[0]))
            loop.call_soon(turn)  # runs only once the reader callback has returned

        notifier.on_action = notifier.on_closed = on_signal
        together = 0
        try:
            for i in range(20):
                d = await notifier.send(NUDGE)
                assert d.notification_id is not None
                await asyncio.to_thread(notification_server.click, d.notification_id, "done")
                (_, key, t1), (_, reason, t2) = (await seen.wait(2 * i + 2))[-2:]
                assert (key, reason) == ("done", 2)  # in that order, always
                together += t1 == t2
        finally:
            await notifier.aclose()
        return together

    assert run(main) >= 1


def test_signals_that_overtake_the_notify_reply_are_passed_on(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    """A press whose signals come before (or in the same read as) Notify's reply is
    dispatched before send() has the id: the notifier passes it on, for its owner to
    keep until the id is known (Service keeps such early signals)."""
    async def main() -> tuple[list[Any], int | None]:
        notifier = DBusNotifier(session_bus.address)
        heard = Events()
        notifier.on_action = lambda nid, key: heard(("action", nid, key))
        notifier.on_closed = lambda nid, reason: heard(("closed", nid, reason))
        try:
            await asyncio.to_thread(notification_server.click_on_arrival, "snooze")
            d = await notifier.send(NUDGE)
            early = list(heard.items)  # heard while send() awaited its reply
            return early, d.notification_id
        finally:
            await notifier.aclose()

    early, nid = run(main)
    assert early == [("action", nid, "snooze"), ("closed", nid, 2)]


def test_server_information_and_capabilities_are_reported(session_bus: DBusDaemon) -> None:
    async def main() -> tuple[Any, bool, Any, bool]:
        notifier = DBusNotifier(session_bus.address)
        try:
            with NotificationServer(session_bus.address, name="with-buttons"):
                with_actions = await notifier.refresh_server_info()
                supports = notifier.supports_actions
            changes = Events()
            notifier.on_server_change = changes
            await changes.wait(1)  # the first server left
            with NotificationServer(session_bus.address, actions=False, name="plain"):
                plain = await wait_for_server(changes, lambda i: i is not None)
                return with_actions, supports, plain, notifier.supports_actions
        finally:
            await notifier.aclose()

    with_actions, supports, plain, plain_supports = run(main)
    assert with_actions == ServerInfo("with-buttons", "attuned tests", "1.0", "1.2",
                                      ("body", "actions"))
    assert supports is True
    assert plain == ServerInfo("plain", "attuned tests", "1.0", "1.2", ("body",))
    assert plain_supports is False


def test_capabilities_are_cached_until_the_server_changes(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    async def main() -> None:
        notifier = DBusNotifier(session_bus.address)
        try:
            for _ in range(3):
                await notifier.send(NUDGE)
        finally:
            await notifier.aclose()

    run(main)
    methods = [r["method"] for r in notification_server.records]
    assert methods.count("GetCapabilities") == 1
    assert methods.count("GetServerInformation") == 1
    assert methods.count("Notify") == 3


# -- failures and recovery ---------------------------------------------------------------


def test_connect_to_a_missing_bus_says_where_and_why(tmp_path: Path) -> None:
    address = f"unix:path={tmp_path}/no-bus"

    async def main() -> None:
        await DBusNotifier(address).connect()

    with pytest.raises(NotifyError) as excinfo:
        run(main)
    assert str(excinfo.value) == (
        f"Cannot connect to the D-Bus session bus at {address}: "
        "FileNotFoundError: [Errno 2] No such file or directory")


def test_no_bus_address_at_all_is_explained(tmp_path: Path) -> None:
    async def main() -> None:
        await DBusNotifier(environ={"XDG_RUNTIME_DIR": str(tmp_path)}).send(NUDGE)

    with pytest.raises(NotifyError) as excinfo:
        run(main)
    assert str(excinfo.value) == (
        "No D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus "
        "does not exist. Run attuned inside your desktop session, or pass the variable to "
        "the service manager (systemctl --user import-environment DBUS_SESSION_BUS_ADDRESS).")


def test_no_server_fails_with_reason_then_a_server_appearing_gets_the_next_nudge(
        session_bus: DBusDaemon) -> None:
    async def main() -> tuple[str, Any, Any]:
        notifier = DBusNotifier(session_bus.address)
        try:
            assert await notifier.connect() is None
            with pytest.raises(NotifyError) as excinfo:
                await notifier.send(NUDGE)
            with NotificationServer(session_bus.address) as server:
                delivery = await notifier.send(NUDGE)
                recs = await asyncio.to_thread(server.wait_for_notify, 1, WAIT)
            return str(excinfo.value), delivery, recs
        finally:
            await notifier.aclose()

    error, delivery, recs = run(main)
    assert error == (
        f"No notification server is running on the session bus ({session_bus.address}): "
        "The name org.freedesktop.Notifications was not provided by any .service files")
    assert delivery.backend == "dbus"
    assert [r["summary"] for r in recs] == ["Eye contact"]


def test_a_server_the_bus_can_start_is_told_apart_from_none_and_not_started(
        session_bus: DBusDaemon, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    activating = DBusDaemon(tmp_path / "activating", services={
        "org.freedesktop.Notifications": ["/bin/touch", str(marker)]}).start()

    async def main() -> list[bool | None]:
        found: list[bool | None] = []
        for address in (activating.address, session_bus.address):
            notifier = DBusNotifier(address)
            try:
                found += [await notifier.connect(), await notifier.server_activatable()]
            finally:
                await notifier.aclose()
        unreachable = DBusNotifier("unix:path=/nonexistent/attuned-test-bus")
        found.append(await unreachable.server_activatable())  # cannot tell: False
        return found

    try:
        assert run(main) == [None, True, None, False, False]
    finally:
        activating.stop()
    assert not marker.exists()  # asking started nothing


def test_server_restarted_mid_run_is_picked_up_without_reconnecting(
        session_bus: DBusDaemon) -> None:
    async def main() -> tuple[Any, Any, list[Any]]:
        notifier = DBusNotifier(session_bus.address)
        changes, actions = Events(), Events()
        notifier.on_server_change, notifier.on_action = changes, actions
        try:
            with NotificationServer(session_bus.address, name="first"):
                await notifier.send(NUDGE)
            await wait_for_server(changes, lambda i: i is None)
            with NotificationServer(session_bus.address, actions=False, name="second") as srv:
                info = await wait_for_server(
                    changes, lambda i: i is not None and i.name == "second")
                delivery = await notifier.send(NUDGE)
                assert delivery.notification_id is not None
                await asyncio.to_thread(srv.invoke_action, delivery.notification_id, "skip")
                await actions.wait(1)
            return info, delivery, actions.items
        finally:
            await notifier.aclose()

    info, delivery, actions = run(main)
    assert info.capabilities == ("body",)
    assert (delivery.backend, delivery.server) == ("dbus", "second")
    assert actions == [(delivery.notification_id, "skip")]


def test_bus_killed_and_restarted_at_a_new_address_reconnects_on_the_next_nudge(
        tmp_path: Path) -> None:
    buses = [DBusDaemon(tmp_path / "bus1").start()]
    servers = [NotificationServer(buses[0].address, name="old").start()]

    async def main() -> tuple[str, Any]:
        # The address is asked for at each connect (a re-login may move the bus).
        notifier = DBusNotifier(lambda: buses[-1].address)
        changes = Events()
        notifier.on_server_change = changes
        try:
            await notifier.send(NUDGE)
            buses[0].kill()
            await wait_for_server(changes, lambda i: i is None)
            assert not notifier.connected
            buses.append(DBusDaemon(tmp_path / "bus2").start())
            servers.append(NotificationServer(buses[1].address, name="new").start())
            delivery = await notifier.send(NUDGE)
            return notifier.address or "", delivery
        finally:
            await notifier.aclose()

    try:
        address, delivery = run(main)
        assert address == buses[1].address != buses[0].address
        assert (delivery.backend, delivery.server) == ("dbus", "new")
        assert [r["summary"] for r in servers[1].wait_for_notify(1, WAIT)] == ["Eye contact"]
    finally:
        for server in servers:
            server.stop()
        for bus in buses:
            bus.stop()


def test_signals_reach_only_the_connection_that_sent_the_nudge(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    """Pins the routing the one-connection design relies on: ActionInvoked is addressed
    to the connection that called Notify, so another connection, even one with a match
    rule for the interface, never sees it (dbus-daemon delivers addressed signals to
    their destination only)."""

    async def main() -> tuple[list[Any], list[str]]:
        sender = DBusNotifier(session_bus.address)
        heard, overheard = Events(), []
        sender.on_action = heard
        bystander = await MessageBus(bus_address=session_bus.address).connect()

        def listen(msg: Message) -> None:
            if msg.message_type is MessageType.SIGNAL and msg.interface == NOTIFICATIONS_IFACE:
                overheard.append(str(msg.member))

        bystander.add_message_handler(listen)
        rule = f"type='signal',interface='{NOTIFICATIONS_IFACE}'"
        await bystander.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus", member="AddMatch", signature="s", body=[rule]))
        try:
            delivery = await sender.send(NUDGE)
            assert delivery.notification_id is not None
            await asyncio.to_thread(notification_server.invoke_action,
                                    delivery.notification_id, "done")
            await heard.wait(1)
            # A round trip on the bystander's connection: whatever the bus sent it
            # before this reply has been handled by now.
            await bystander.call(Message(
                destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus", member="GetId"))
            return heard.items, overheard
        finally:
            await sender.aclose()
            bystander.disconnect()

    heard, overheard = run(main)
    assert heard == [(1, "done")]
    assert overheard == []


# -- the server as a separate process (how daemon tests use it) --------------------------


def test_server_process_records_and_is_controlled_over_dbus(
        session_bus: DBusDaemon, tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    with NotificationServerProcess(session_bus.address, actions=False, name="proc",
                                   record=record) as server:
        async def main() -> tuple[Any, list[Any], list[Any]]:
            notifier = DBusNotifier(session_bus.address)
            actions, closes = Events(), Events()
            notifier.on_action, notifier.on_closed = actions, closes
            try:
                delivery = await notifier.send(NUDGE)
                await asyncio.to_thread(server.invoke_action, delivery.notification_id,
                                        "done")
                await actions.wait(1)
                await asyncio.to_thread(server.close, delivery.notification_id, 1)
                await closes.wait(1)
                return notifier.server_info, actions.items, closes.items
            finally:
                await notifier.aclose()

        info, actions, closes = run(main)
        [rec] = server.wait_for_notify(1, timeout=WAIT)
        with pytest.raises(TimeoutError) as excinfo:
            server.wait_for_notify(2, timeout=0.2)
        assert str(excinfo.value) == "1 Notify calls after 0.2 s, wanted 2"
    assert server.process is not None and server.process.returncode is not None
    assert info.name == "proc" and info.capabilities == ("body",)
    assert actions == [(rec["id"], "done")]
    assert closes == [(rec["id"], 1)]
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [line["method"] for line in lines] == [
        "GetServerInformation", "GetCapabilities", "Notify"]
    assert lines[2]["summary"] == "Eye contact"


# -- bus address resolution --------------------------------------------------------------


def test_session_bus_variable_wins(tmp_path: Path) -> None:
    assert session_bus_address({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x",
                                "XDG_RUNTIME_DIR": str(tmp_path)}) == "unix:path=/x"


def test_runtime_dir_bus_socket_is_used_when_the_variable_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "bus"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        for environ in ({"XDG_RUNTIME_DIR": str(tmp_path)},
                        {"XDG_RUNTIME_DIR": str(tmp_path), "DBUS_SESSION_BUS_ADDRESS": " "}):
            assert session_bus_address(environ) == f"unix:path={path}"


def test_no_bus_is_none(tmp_path: Path) -> None:
    assert session_bus_address({}) is None
    assert session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) is None
    (tmp_path / "bus").write_text("not a socket")
    assert session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) is None


def test_notifier_finds_the_bus_in_the_runtime_dir(tmp_path: Path) -> None:
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])  # per-test, from conftest
    with DBusDaemon(tmp_path / "bus", socket_path=runtime / "bus") as bus, \
            NotificationServer(bus.address) as server:
        async def main() -> tuple[Any, str | None]:
            notifier = DBusNotifier()  # os.environ: no DBUS_SESSION_BUS_ADDRESS here
            try:
                return await notifier.send(NUDGE), notifier.address
            finally:
                await notifier.aclose()

        delivery, address = run(main)
        assert "DBUS_SESSION_BUS_ADDRESS" not in os.environ
        assert address == f"unix:path={runtime}/bus"
        assert delivery.backend == "dbus"
        assert len(server.wait_for_notify(1, WAIT)) == 1


# -- library facts ------------------------------------------------------------------------


def test_dbus_fast_cancelling_a_disconnect_wait_cancels_the_bus_future(
        session_bus: DBusDaemon) -> None:
    """dbus-fast 5.2: wait_for_disconnect() awaits the bus's one shared future, so
    cancelling a task that waits on it cancels that future for everyone. DBusNotifier
    therefore never cancels its disconnect watcher and shields its own wait."""

    async def main() -> bool:
        bus = await MessageBus(bus_address=session_bus.address).connect()
        waiter = asyncio.ensure_future(bus.wait_for_disconnect())
        await asyncio.sleep(0)  # let the waiter start awaiting (not a wait for an event)
        waiter.cancel()
        bus.disconnect()
        try:
            await asyncio.wait_for(bus.wait_for_disconnect(), WAIT)
        except asyncio.CancelledError:
            return True
        return False

    assert run(main) is True


def test_aclose_leaves_nothing_running(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    async def main() -> set[Any]:
        before = asyncio.all_tasks()
        notifier = DBusNotifier(session_bus.address)
        await notifier.send(NUDGE)
        await notifier.aclose()
        await asyncio.sleep(0)  # one loop turn for the finished watcher's callbacks
        return {t for t in asyncio.all_tasks() - before if not t.done()}

    assert run(main) == set()
    assert notification_server.wait_for_notify(1, WAIT)
