"""Hear logind announce suspend and resume, so nudges due during a sleep come within 2 s of
waking instead of at the clock watcher's next check (up to a minute later).

logind broadcasts `org.freedesktop.login1.Manager.PrepareForSleep(b)` on the system bus:
true just before the machine sleeps, false right after it woke. No inhibitor lock is taken:
attuned has nothing to save before a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

log = logging.getLogger(__name__)

LOGIND = "org.freedesktop.login1"
LOGIND_PATH = "/org/freedesktop/login1"
MANAGER = "org.freedesktop.login1.Manager"
SIGNAL = "PrepareForSleep"
MATCH_RULE = (
    f"type='signal',sender='{LOGIND}',path='{LOGIND_PATH}',interface='{MANAGER}',member='{SIGNAL}'"
)

CONNECT_TIMEOUT = 5.0


class SleepWatcher:
    """Calls `on_suspend()` on PrepareForSleep(true) and `on_resume()` on (false).

    `address` is a D-Bus address (tests use a private bus); None means the system bus.
    `on_lost()` is called if the bus connection drops later (the daemon may `start()` again).
    Callbacks run on the event loop; their exceptions are logged.
    """

    def __init__(
        self,
        on_resume: Callable[[], None],
        on_suspend: Callable[[], None] | None = None,
        address: str | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self._on_lost = on_lost
        self._on_resume = on_resume
        self._on_suspend = on_suspend
        self._address = address
        self._bus: MessageBus | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return self._bus is not None and self._bus.connected

    async def start(self) -> bool:
        """Subscribe; False (after one log line) if there is no system bus or no logind,
        in which case the clock watcher notices resumes within its interval instead."""
        where = self._address or "the system bus"
        try:
            if self._address is not None:
                bus = MessageBus(bus_address=self._address)
            else:
                bus = MessageBus(bus_type=BusType.SYSTEM)
            await asyncio.wait_for(bus.connect(), CONNECT_TIMEOUT)
        except Exception as error:  # no socket, refused, bad address, auth: all mean "no"
            log.info(
                "suspend: cannot reach %s (%s); resumes are noticed within a minute instead",
                where, error or type(error).__name__,
            )
            return False
        try:
            bus.add_message_handler(self._handle)
            await asyncio.wait_for(
                self._call_bus(bus, "AddMatch", "s", [MATCH_RULE]), CONNECT_TIMEOUT)
            owned = await asyncio.wait_for(
                self._call_bus(bus, "NameHasOwner", "s", [LOGIND]), CONNECT_TIMEOUT)
        except Exception as error:
            bus.disconnect()
            log.info("suspend: %s did not accept the subscription (%s); "
                     "resumes are noticed within a minute instead", where, error)
            return False
        if not owned.body or not owned.body[0]:
            bus.disconnect()
            log.info("suspend: logind is not running on %s; "
                     "resumes are noticed within a minute instead", where)
            return False
        self._bus = bus
        self._watch = asyncio.create_task(self._watch_disconnect(bus), name="attuned-sleepwatch")
        log.debug("suspend: listening for logind's PrepareForSleep on %s", where)
        return True

    async def stop(self) -> None:
        bus, self._bus = self._bus, None
        watch, self._watch = self._watch, None
        if bus is None:
            return
        bus.remove_message_handler(self._handle)
        bus.disconnect()
        # Wait for the watch task to see the disconnect, never cancel it: cancelling a task
        # that awaits wait_for_disconnect() cancels dbus-fast's shared disconnect future.
        if watch is not None:
            await asyncio.wait({watch}, timeout=CONNECT_TIMEOUT)

    async def _watch_disconnect(self, bus: MessageBus) -> None:
        with contextlib.suppress(Exception):
            await _disconnected(bus)
        if self._bus is bus:  # not our own stop()
            self._bus = None
            log.info("suspend: lost the connection to logind's bus; "
                     "resumes are noticed within a minute instead")
            if self._on_lost is not None:
                self._safely(self._on_lost, "losing the bus")

    @staticmethod
    async def _call_bus(bus: MessageBus, member: str, signature: str, body: list[str]) -> Message:
        reply = await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member=member,
                signature=signature,
                body=body,
            )
        )
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"{reply.error_name}: {reply.body[0] if reply.body else ''}")
        return reply

    def _handle(self, message: Message) -> None:
        if (
            message.message_type != MessageType.SIGNAL
            or message.member != SIGNAL
            or message.interface != MANAGER
            or message.path != LOGIND_PATH
            or message.signature != "b"
        ):
            return
        sleeping = bool(message.body[0])
        log.info("suspend: %s", "the machine is going to sleep" if sleeping else "resumed")
        callback = self._on_suspend if sleeping else self._on_resume
        if callback is not None:
            self._safely(callback, f"{SIGNAL}({sleeping})")

    @staticmethod
    def _safely(callback: Callable[[], None], what: str) -> None:
        try:
            callback()
        except Exception:
            log.exception("handling %s failed", what)


async def _disconnected(bus: MessageBus) -> None:
    await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
