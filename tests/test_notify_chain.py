"""The notifier chain: D-Bus first, then the fallbacks, every outcome logged."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from buses import WAIT, DBusDaemon, Events, run, wait_for_server
from notification_server import NotificationServer
from test_notify_dbus import NUDGE

from attuned.errors import NotifyError
from attuned.notify.base import EXPIRES_NEVER, Delivery, Notification
from attuned.notify.chain import NotifierChain, default_chain
from attuned.notify.dbus import DBusNotifier
from attuned.notify.log import LogNotifier, format_nudge
from attuned.notify.plyer_backend import PlyerNotifier

LOGGER = "attuned.notify"

NO_BUTTONS_HINT = "answer nudges from a terminal with `attuned done|snooze|skip`"


class FakePlyer:
    """Stands in for plyer.notification.notify: plyer on this machine would shell out to
    notify-send on the very bus under test, so the test decides what plyer does."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.fail:
            raise RuntimeError("no notification backend on this platform")


def send_once(make: Callable[[], NotifierChain]) -> Delivery:
    """Send NUDGE through a chain made on the test's event loop, then close the chain."""

    async def main() -> Delivery:
        chain = make()
        try:
            return await chain.send(NUDGE)
        finally:
            await chain.aclose()

    return run(main)


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)


def test_delivers_over_dbus_and_logs_it(
        notification_server: NotificationServer, session_bus: DBusDaemon,
        caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()

    async def main() -> Any:
        chain = NotifierChain(DBusNotifier(session_bus.address), LogNotifier(stream))
        try:
            delivery = await chain.send(NUDGE)
            return delivery, chain.last_delivery, chain.server_info
        finally:
            await chain.aclose()

    delivery, last, info = run(main)
    assert delivery == last
    assert (delivery.backend, delivery.server) == ("dbus", "attuned-test-server")
    assert info.capabilities == ("body", "actions")
    assert stream.getvalue() == ""
    assert 'nudge "Eye contact" delivered via dbus to attuned-test-server (id 1)' in (
        messages(caplog))
    assert ("notification server: attuned-test-server 1.0 by attuned tests "
            "(capabilities: body, actions)") in messages(caplog)
    assert not any(NO_BUTTONS_HINT in m for m in messages(caplog))


def test_actions_reach_the_owner_through_the_chain(
        notification_server: NotificationServer, session_bus: DBusDaemon) -> None:
    async def main() -> list[Any]:
        chain = NotifierChain(DBusNotifier(session_bus.address), LogNotifier(io.StringIO()))
        actions, closes = Events(), Events()
        chain.on_action, chain.on_closed = actions, closes
        try:
            delivery = await chain.send(NUDGE)
            assert delivery.notification_id is not None
            await asyncio.to_thread(notification_server.invoke_action,
                                    delivery.notification_id, "done")
            await actions.wait(1)
            await chain.close_notification(delivery.notification_id)
            await closes.wait(1)
            return [*actions.items, *closes.items]
        finally:
            await chain.aclose()

    assert run(main) == [(1, "done"), (1, 3)]


def test_server_without_actions_still_gets_nudges_and_the_cli_hint_is_logged_once(
        session_bus: DBusDaemon, caplog: pytest.LogCaptureFixture) -> None:
    with NotificationServer(session_bus.address, actions=False, name="plain") as server:
        async def main() -> list[Any]:
            chain = NotifierChain(DBusNotifier(session_bus.address), LogNotifier(io.StringIO()))
            try:
                return [await chain.send(NUDGE) for _ in range(3)]
            finally:
                await chain.aclose()

        deliveries = run(main)
        assert [r["actions"] for r in server.wait_for_notify(3, WAIT)] == [
            ["done", "Done", "snooze", "Snooze", "skip", "Skip"]] * 3
    assert {d.backend for d in deliveries} == {"dbus"}
    hints = [m for m in messages(caplog) if NO_BUTTONS_HINT in m]
    assert hints == ["the notification server plain does not offer action buttons; "
                     "answer nudges from a terminal with `attuned done|snooze|skip`"]


def test_no_server_falls_back_to_the_log_when_plyer_fails(
        session_bus: DBusDaemon, caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    plyer = FakePlyer(fail=True)

    def make() -> NotifierChain:
        return NotifierChain(DBusNotifier(session_bus.address), PlyerNotifier(plyer),
                             LogNotifier(stream))

    delivery = send_once(make)
    assert delivery == type(delivery)("log", None, None)
    assert stream.getvalue() == (
        "attuned nudge: Eye contact: When your partner comes into the room, look up and meet "
        "their eyes. (answer with: attuned done|snooze|skip)\n")
    assert [c["title"] for c in plyer.calls] == ["Eye contact"]
    log = messages(caplog)
    assert (
        'D-Bus could not deliver the nudge "Eye contact": No notification server is running '
        f"on the session bus ({session_bus.address}): The name org.freedesktop.Notifications "
        "was not provided by any .service files") in log
    assert ('plyer could not deliver the nudge "Eye contact": plyer could not show the '
            "nudge: RuntimeError: no notification backend on this platform") in log
    assert 'nudge "Eye contact" delivered via log' in log
    assert ("nudges are shown via log, without buttons; answer nudges from a terminal "
            "with `attuned done|snooze|skip`") in log


def test_no_server_uses_plyer_when_it_works(
        session_bus: DBusDaemon, caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    plyer = FakePlyer(fail=False)

    def make() -> NotifierChain:
        return NotifierChain(DBusNotifier(session_bus.address), PlyerNotifier(plyer),
                             LogNotifier(stream))

    delivery = send_once(make)
    assert delivery == type(delivery)("plyer", None, None)
    assert plyer.calls == [{"title": "Eye contact", "message": NUDGE.body,
                            "app_name": "attuned", "app_icon": "attuned", "timeout": 10}]
    assert stream.getvalue() == ""
    assert 'nudge "Eye contact" delivered via plyer' in messages(caplog)


def test_plyer_is_not_asked_to_keep_a_nudge_up_for_ever() -> None:
    """It cannot withdraw what it showed (no id), so a nudge that asks never to expire
    gets plyer's usual 10 s; notify-send would take 0 as "never"."""
    plyer = FakePlyer(fail=False)
    asyncio.run(PlyerNotifier(plyer).send(
        dataclasses.replace(NUDGE, timeout_ms=EXPIRES_NEVER, resident=True)))
    assert [c["timeout"] for c in plyer.calls] == [10]


def test_no_bus_at_all_falls_back_to_the_log(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()

    async def main() -> Any:
        chain = NotifierChain(DBusNotifier(environ={"XDG_RUNTIME_DIR": str(tmp_path)}),
                              LogNotifier(stream))
        try:
            return await chain.send(Notification("Breakfast", "Notice how they are.\nListen."))
        finally:
            await chain.aclose()

    assert run(main).backend == "log"
    assert stream.getvalue() == "attuned nudge: Breakfast: Notice how they are. / Listen.\n"
    assert any(m.startswith('D-Bus could not deliver the nudge "Breakfast": No D-Bus session '
                            "bus: DBUS_SESSION_BUS_ADDRESS is not set")
               for m in messages(caplog))


def test_a_server_appearing_gets_the_next_nudge(
        session_bus: DBusDaemon, caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()

    async def main() -> list[str]:
        chain = NotifierChain(DBusNotifier(session_bus.address), LogNotifier(stream))
        try:
            first = await chain.send(NUDGE)
            with NotificationServer(session_bus.address) as server:
                second = await chain.send(NUDGE)
                await asyncio.to_thread(server.wait_for_notify, 1, WAIT)
            return [first.backend, second.backend]
        finally:
            await chain.aclose()

    assert run(main) == ["log", "dbus"]
    assert stream.getvalue().count("attuned nudge: Eye contact") == 1
    assert "D-Bus notifications work again" in messages(caplog)


def test_server_restarted_mid_run_gets_the_next_nudge(
        session_bus: DBusDaemon, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> list[Any]:
        chain = NotifierChain(DBusNotifier(session_bus.address), LogNotifier(io.StringIO()))
        changes = Events()
        chain.on_server_change = changes
        try:
            with NotificationServer(session_bus.address, name="first"):
                first = await chain.send(NUDGE)
            await wait_for_server(changes, lambda i: i is None)
            with NotificationServer(session_bus.address, name="second") as server:
                await wait_for_server(changes, lambda i: i is not None and i.name == "second")
                second = await chain.send(NUDGE)
                await asyncio.to_thread(server.wait_for_notify, 1, WAIT)
            return [first.server, second.server]
        finally:
            await chain.aclose()

    assert run(main) == ["first", "second"]
    log = messages(caplog)
    assert any(m.startswith("the notification server left the session bus") for m in log)
    assert ("notification server: second 1.0 by attuned tests (capabilities: body, actions)"
            in log)


def test_bus_killed_falls_back_to_the_log_and_says_why(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bus = DBusDaemon(tmp_path / "bus").start()
    server = NotificationServer(bus.address).start()
    stream = io.StringIO()

    async def main() -> list[str]:
        chain = NotifierChain(DBusNotifier(bus.address), LogNotifier(stream))
        changes = Events()
        chain.on_server_change = changes
        try:
            first = await chain.send(NUDGE)
            bus.kill()
            await wait_for_server(changes, lambda i: i is None)
            second = await chain.send(NUDGE)
            return [first.backend, second.backend]
        finally:
            await chain.aclose()

    try:
        assert run(main) == ["dbus", "log"]
    finally:
        server.stop()
        bus.stop()
    assert stream.getvalue().count("attuned nudge: Eye contact") == 1
    log = messages(caplog)
    assert any(m.startswith(f"lost the D-Bus session bus connection at {bus.address} (")
               and m.endswith("); will reconnect at the next nudge") for m in log)
    assert any(m.startswith('D-Bus could not deliver the nudge "Eye contact": Cannot connect '
                            f"to the D-Bus session bus at {bus.address}: ") for m in log)


def test_bus_restarted_at_the_same_path_is_used_again_without_a_restart(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The systemd case: the user bus lives at $XDG_RUNTIME_DIR/bus and comes back at the
    same path after a re-login."""
    socket_path = Path(os.environ["XDG_RUNTIME_DIR"]) / "bus"
    stream = io.StringIO()
    buses = [DBusDaemon(tmp_path / "bus1", socket_path=socket_path).start()]
    servers = [NotificationServer(buses[0].address, name="before").start()]

    async def main() -> list[tuple[str, str | None]]:
        chain = NotifierChain(DBusNotifier(), LogNotifier(stream))  # address from environ
        changes = Events()
        chain.on_server_change = changes
        try:
            first = await chain.send(NUDGE)
            buses[0].kill()
            await wait_for_server(changes, lambda i: i is None)
            second = await chain.send(NUDGE)
            buses.append(DBusDaemon(tmp_path / "bus2", socket_path=socket_path).start())
            servers.append(NotificationServer(buses[1].address, name="after").start())
            third = await chain.send(NUDGE)
            return [(d.backend, d.server) for d in (first, second, third)]
        finally:
            await chain.aclose()

    try:
        assert run(main) == [("dbus", "before"), ("log", None), ("dbus", "after")]
    finally:
        for server in servers:
            server.stop()
        for bus in buses:
            bus.stop()
    assert "D-Bus notifications work again" in messages(caplog)


def test_every_backend_failing_raises_with_every_reason(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    closed = io.StringIO()
    closed.close()

    async def main() -> None:
        chain = NotifierChain(DBusNotifier(f"unix:path={tmp_path}/gone"),
                              PlyerNotifier(FakePlyer(fail=True)), LogNotifier(closed))
        try:
            await chain.send(NUDGE)
        finally:
            await chain.aclose()

    with pytest.raises(NotifyError) as excinfo:
        run(main)
    assert str(excinfo.value) == (
        'No notification backend could deliver the nudge "Eye contact":\n'
        f"  dbus: Cannot connect to the D-Bus session bus at unix:path={tmp_path}/gone: "
        "FileNotFoundError: [Errno 2] No such file or directory\n"
        "  plyer: plyer could not show the nudge: RuntimeError: no notification backend on "
        "this platform\n"
        "  log: Could not write the nudge to the log: I/O operation on closed file")
    assert 'the nudge "Eye contact" could not be delivered at all' in messages(caplog)


def test_default_chain_per_platform() -> None:
    linux = default_chain({}, platform="linux")
    assert isinstance(linux.primary, DBusNotifier)
    assert [type(b) for b in linux.fallbacks] == [PlyerNotifier, LogNotifier]
    assert [getattr(b, "confirms_delivery", True) for b in linux.fallbacks] == [False, True]
    mac = default_chain({}, platform="darwin")
    assert mac.primary is None
    assert [type(b) for b in mac.fallbacks] == [PlyerNotifier, LogNotifier]
    assert [getattr(b, "confirms_delivery", True) for b in mac.fallbacks] == [True, True]


def test_an_unconfirmed_plyer_delivery_goes_to_the_log_too(
        session_bus: DBusDaemon, caplog: pytest.LogCaptureFixture) -> None:
    # plyer on Linux shells out to notify-send and ignores its exit status: a return from
    # it proves nothing, so the nudge is written to the log as well.
    stream = io.StringIO()
    plyer = FakePlyer(fail=False)

    def make() -> NotifierChain:
        return NotifierChain(DBusNotifier(session_bus.address),
                             PlyerNotifier(plyer, confirms_delivery=False),
                             LogNotifier(stream))

    delivery = send_once(make)
    assert delivery == type(delivery)("plyer+log", None, None)
    assert [c["title"] for c in plyer.calls] == ["Eye contact"]
    assert stream.getvalue().startswith("attuned nudge: Eye contact: ")
    log = messages(caplog)
    assert ('nudge "Eye contact" handed to plyer, which cannot tell whether it was shown; '
            "writing it to the log too") in log
    assert 'nudge "Eye contact" delivered via plyer+log' in log


def test_an_unconfirmed_plyer_delivery_alone_is_not_an_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    closed = io.StringIO()
    closed.close()

    def make() -> NotifierChain:
        return NotifierChain(DBusNotifier(f"unix:path={tmp_path}/gone"),
                             PlyerNotifier(FakePlyer(fail=False), confirms_delivery=False),
                             LogNotifier(closed))

    delivery = send_once(make)
    assert delivery == type(delivery)("plyer", None, None)
    assert ('nudge "Eye contact" handed to plyer only; it may not have been shown'
            in messages(caplog))


def test_the_real_plyer_on_a_bus_without_a_server_then_the_log(
        session_bus: DBusDaemon, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # The real plyer (notify-send underneath, as the daemon's Linux chain has it) on the
    # test's own bus, where no notification server runs: the nudge still reaches the log.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus.address)
    stream = io.StringIO()

    def make() -> NotifierChain:
        return NotifierChain(DBusNotifier(session_bus.address),
                             PlyerNotifier(confirms_delivery=False), LogNotifier(stream))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        delivery = send_once(make)
    # notify-send comes with libnotify-bin, which scripts/test.sh installs.
    assert delivery.backend == "plyer+log"
    assert stream.getvalue().startswith("attuned nudge: Eye contact: ")
    # plyer's advice to install dbus-python would mislead: attuned needs no such package.
    assert not [w for w in caught if "dbus package" in str(w.message)]


def test_log_line_is_one_line() -> None:
    n = Notification("Meditation", "  Bring them to mind.\n\n  Feel life from their side. ")
    assert format_nudge(n) == (
        "attuned nudge: Meditation: Bring them to mind. / Feel life from their side.")

