"""SleepWatcher against a real dbus-daemon started by the test, with a fake logind on it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from buses import DBusDaemon
from dbus_fast import Message, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, signal

from attuned.daemon.sleepwatch import LOGIND, LOGIND_PATH, MANAGER, SleepWatcher


# No <servicedir>: nothing can be bus-activated, so only what the test starts is on the bus.
@pytest.fixture
def bus(system_bus: DBusDaemon) -> DBusDaemon:
    """A private bus (tests/buses.py, no activation files) standing in for the system bus."""
    return system_bus


class FakeManager(ServiceInterface):
    """The one part of logind's Manager interface attuned listens to."""

    def __init__(self) -> None:
        super().__init__(MANAGER)

    # dbus-fast reads the D-Bus signature from the return annotation.
    @signal()
    def PrepareForSleep(self, start: bool) -> "b":  # type: ignore[name-defined]  # noqa: F821, UP037
        return start


class FakeLogind:
    """A fake logind: owns org.freedesktop.login1 and emits PrepareForSleep on request."""

    def __init__(self, address: str, *, own_name: bool = True) -> None:
        self.address = address
        self.own_name = own_name
        self.manager = FakeManager()
        self.bus: MessageBus | None = None

    async def __aenter__(self) -> FakeLogind:
        self.bus = await MessageBus(bus_address=self.address).connect()
        self.bus.export(LOGIND_PATH, self.manager)
        if self.own_name:
            reply = await self.bus.request_name(LOGIND)
            assert reply == RequestNameReply.PRIMARY_OWNER
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.bus is not None
        self.bus.disconnect()

    def prepare_for_sleep(self, start: bool) -> None:
        self.manager.PrepareForSleep(start)

    async def flush(self) -> None:
        """Round-trip to the bus, so every signal sent before has been routed."""
        assert self.bus is not None
        await asyncio.wait_for(
            self.bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                                  interface="org.freedesktop.DBus", member="GetId")), 2.0)


class Seen:
    def __init__(self) -> None:
        self.events: list[str] = []
        self._arrived = asyncio.Event()

    def resume(self) -> None:
        self._add("resume")

    def suspend(self) -> None:
        self._add("suspend")

    def _add(self, what: str) -> None:
        self.events.append(what)
        self._arrived.set()

    async def wait_for(self, n: int, timeout: float = 2.0) -> None:
        async def until() -> None:
            while len(self.events) < n:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(until(), timeout)


def test_suspend_then_resume_reach_the_callbacks_in_order(bus: DBusDaemon) -> None:
    async def main() -> None:
        seen = Seen()
        async with FakeLogind(bus.address) as logind:
            watcher = SleepWatcher(seen.resume, seen.suspend, address=bus.address)
            assert await watcher.start() is True
            assert watcher.active
            logind.prepare_for_sleep(True)
            await seen.wait_for(1)
            assert seen.events == ["suspend"]
            logind.prepare_for_sleep(False)
            await seen.wait_for(2)
            assert seen.events == ["suspend", "resume"]
            await watcher.stop()
            assert not watcher.active

    asyncio.run(main())


def test_resume_without_a_suspend_callback(bus: DBusDaemon) -> None:
    async def main() -> None:
        seen = Seen()
        async with FakeLogind(bus.address) as logind:
            watcher = SleepWatcher(seen.resume, address=bus.address)
            assert await watcher.start() is True
            logind.prepare_for_sleep(True)
            logind.prepare_for_sleep(False)
            await seen.wait_for(1)
            assert seen.events == ["resume"]
            await watcher.stop()

    asyncio.run(main())


def test_the_same_signal_from_another_sender_is_ignored(bus: DBusDaemon) -> None:
    # The match rule names logind as the sender: the bus itself filters out impostors.
    async def main() -> None:
        seen = Seen()
        async with FakeLogind(bus.address) as logind, \
                FakeLogind(bus.address, own_name=False) as impostor:
            watcher = SleepWatcher(seen.resume, seen.suspend, address=bus.address)
            assert await watcher.start() is True
            impostor.prepare_for_sleep(False)
            await impostor.flush()
            logind.prepare_for_sleep(True)  # sent after the impostor's, so arrives after it
            await seen.wait_for(1)
            assert seen.events == ["suspend"]
            await watcher.stop()

    asyncio.run(main())


def test_after_stop_no_more_callbacks(bus: DBusDaemon) -> None:
    async def main() -> None:
        seen = Seen()
        async with FakeLogind(bus.address) as logind:
            watcher = SleepWatcher(seen.resume, seen.suspend, address=bus.address)
            assert await watcher.start() is True
            await watcher.stop()
            logind.prepare_for_sleep(False)
            await logind.flush()
            with pytest.raises(TimeoutError):  # a deliberate wait for a non-event
                await seen.wait_for(1, timeout=0.3)
            assert seen.events == []

    asyncio.run(main())


def test_no_bus_start_returns_false_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="attuned.daemon.sleepwatch")
    address = f"unix:path={tmp_path / 'no-bus'}"

    async def main() -> None:
        watcher = SleepWatcher(lambda: None, address=address)
        assert await watcher.start() is False
        assert not watcher.active
        await watcher.stop()  # harmless when never started

    asyncio.run(main())
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert lines[0].startswith(f"suspend: cannot reach {address} (")
    assert lines[0].endswith("); resumes are noticed within a minute instead")


def test_default_is_the_system_bus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # dbus-fast finds the system bus through DBUS_SYSTEM_BUS_ADDRESS: point it nowhere.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'none'}")
    caplog.set_level(logging.INFO, logger="attuned.daemon.sleepwatch")

    async def main() -> None:
        assert await SleepWatcher(lambda: None).start() is False

    asyncio.run(main())
    assert "suspend: cannot reach the system bus (" in caplog.text


def test_a_bus_without_logind_returns_false(
    bus: DBusDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="attuned.daemon.sleepwatch")

    async def main() -> None:
        watcher = SleepWatcher(lambda: None, address=bus.address)
        assert await watcher.start() is False
        assert not watcher.active

    asyncio.run(main())
    assert [r.getMessage() for r in caplog.records] == [
        f"suspend: logind is not running on {bus.address}; "
        "resumes are noticed within a minute instead"
    ]


def test_losing_the_bus_is_logged_once(
    bus: DBusDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="attuned.daemon.sleepwatch")

    async def main() -> None:
        lost = asyncio.Event()
        async with FakeLogind(bus.address):
            watcher = SleepWatcher(lambda: None, address=bus.address, on_lost=lost.set)
            assert await watcher.start() is True
            bus.stop()
            await asyncio.wait_for(lost.wait(), 2.0)
            assert not watcher.active
            await watcher.stop()

    asyncio.run(main())
    assert caplog.text.count("suspend: lost the connection to logind's bus") == 1


def test_callback_errors_are_logged(bus: DBusDaemon, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        seen = Seen()

        def bad() -> None:
            seen.resume()
            raise RuntimeError("boom")

        async with FakeLogind(bus.address) as logind:
            watcher = SleepWatcher(bad, address=bus.address)
            assert await watcher.start() is True
            logind.prepare_for_sleep(False)
            logind.prepare_for_sleep(False)
            await seen.wait_for(2)
            await watcher.stop()

    asyncio.run(main())
    assert "handling PrepareForSleep(False) failed" in caplog.text
