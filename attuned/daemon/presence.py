"""Where the person is, read from the desktop: the screensaver on the session bus
(`org.freedesktop.ScreenSaver`, and GNOME's `org.gnome.ScreenSaver`: `GetActive` and the
`ActiveChanged` signal) and logind's session on the system bus (`LockedHint`, `IdleHint`,
`IdleSinceHint`, with `PropertiesChanged`). The belief is read at start and kept from the
change signals: nothing polls while the person is away.

Which session: the user's display session, as logind names it (`User.Display`); a daemon
run as a systemd user service is in no session itself. No screensaver on the session bus,
no graphical logind session and neither $DISPLAY nor $WAYLAND_DISPLAY: no desktop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from attuned.core.clock import Clock
from attuned.core.presence import Presence, PresenceState, Subscribers, Unsubscribe

if TYPE_CHECKING:
    from attuned.daemon.x11idle import X11Idle

log = logging.getLogger(__name__)

# (bus name, object path, interface): the freedesktop one first.
SCREENSAVERS = (
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver",
     "org.freedesktop.ScreenSaver"),
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
)
SAVER_NAMES = frozenset(name for name, _, _ in SCREENSAVERS)
LOGIND = "org.freedesktop.login1"
LOGIND_PATH = "/org/freedesktop/login1"
MANAGER = "org.freedesktop.login1.Manager"
USER = "org.freedesktop.login1.User"
SESSION = "org.freedesktop.login1.Session"
PROPERTIES = "org.freedesktop.DBus.Properties"
GRAPHICAL = {"x11", "wayland", "mir"}
CALL_TIMEOUT = 5.0


class PresenceWatcher:
    """A PresenceSource (attuned.core.presence) fed by the desktop's buses.

    `session_address`: the session bus's address (None: there is none); `system_address`:
    the system bus's (None: the real one; tests give a private bus).
    """

    def __init__(self, clock: Clock, *, session_address: str | None,
                 system_address: str | None, environ: Mapping[str, str] | None = None,
                 uid: int | None = None, idle_after: timedelta | None = None) -> None:
        self._clock = clock
        self._session_address = session_address
        self._system_address = system_address
        env = os.environ if environ is None else environ
        self._display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
        # X11's own idle time, read when asked; logind's IdleHint is set by the desktop
        # with its own threshold, this one uses ours (e.g. [phone] idle).
        self._idle_after = idle_after
        self._x11: X11Idle | None = None
        if env.get("DISPLAY") and idle_after is not None:
            from attuned.daemon.x11idle import X11Idle

            self._x11 = X11Idle(env["DISPLAY"])
        self._uid = os.getuid() if uid is None else uid
        self._session_bus: MessageBus | None = None
        self._system_bus: MessageBus | None = None
        self._saver: tuple[str, str, str] | None = None  # the screensaver answering
        self._saver_active = False
        self._saver_since: datetime | None = None
        self._user_path: str | None = None  # logind's object of this user
        self._login_path: str | None = None  # the logind session watched
        self._tasks: set[asyncio.Task[None]] = set()
        self._login_graphical = False
        self._locked_hint = False
        self._locked_since: datetime | None = None
        self._idle_hint = False
        self._idle_since: datetime | None = None
        self._presence = Presence(PresenceState.NO_DESKTOP)
        self._subscribers = Subscribers()

    # ------------------------------------------------------------------ PresenceSource

    def current(self) -> Presence:
        """The belief kept from the signals; at the screen by them, X11's idle time
        (read now, when there is a display) can still say idle."""
        if self._presence.state is PresenceState.AT_SCREEN and self._x11 is not None:
            idle = self._x11.seconds()
            assert self._idle_after is not None
            if idle is not None and idle >= self._idle_after.total_seconds():
                return Presence(PresenceState.IDLE,
                                self._clock.now() - timedelta(seconds=idle))
        return self._presence

    def subscribe(self, callback: Callable[[Presence], None]) -> Unsubscribe:
        return self._subscribers.add(callback)

    @property
    def sources(self) -> tuple[str, ...]:
        """What the belief is read from, in words (for doctor and the log)."""
        found: list[str] = []
        if self._saver is not None:
            found.append(self._saver[0])
        if self._login_path is not None:
            found.append(f"logind session {self._login_path.rsplit('/', 1)[-1]}")
        if self._x11 is not None and self._x11.usable:
            found.append(f"X11 idle time on {self._x11.display}")
        return tuple(found)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Read what can be read and subscribe to its changes; a bus or service that is
        not there is logged once and left out."""
        if self._session_address is not None:
            self._session_bus = await self._connect(self._session_address, "session")
            if self._session_bus is not None:
                await self._start_screensaver(self._session_bus)
        self._system_bus = await self._connect(self._system_address, "system")
        if self._system_bus is not None:
            await self._start_logind(self._system_bus)
        for bus in (self._session_bus, self._system_bus):
            if bus is not None:
                self._spawn(self._watch_disconnect(bus))
        self._update(announce=False)
        log.info("presence: %s (from %s)", self._presence.state.value,
                 ", ".join(self.sources) or "no screensaver and no logind session")

    async def stop(self) -> None:
        buses = (self._session_bus, self._system_bus)
        self._session_bus = self._system_bus = None
        for bus in buses:
            if bus is not None:
                bus.remove_message_handler(self._handle)
                bus.disconnect()
        # The disconnect watchers end with the buses: waited for, never cancelled
        # (cancelling one cancels dbus-fast's shared disconnect future).
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=CALL_TIMEOUT)
        if self._x11 is not None:
            self._x11.close()

    async def _connect(self, address: str | None, which: str) -> MessageBus | None:
        try:
            if address is None:
                bus = MessageBus(bus_type=BusType.SYSTEM)
            else:
                bus = MessageBus(bus_address=address)
            await asyncio.wait_for(bus.connect(), CALL_TIMEOUT)
        except Exception as e:  # no socket, refused, auth: all mean "not there"
            log.info("presence: cannot reach the %s bus (%s)", which, e or type(e).__name__)
            return None
        bus.add_message_handler(self._handle)
        return bus

    async def _start_screensaver(self, bus: MessageBus) -> None:
        try:
            for name, path, iface in SCREENSAVERS:
                await _add_match(bus, name, path, iface, "ActiveChanged")
                # A locker that starts after the daemon (or ends) is heard of.
                await _add_match(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "NameOwnerChanged", arg0=name)
        except _NoAnswer as e:
            log.info("presence: the session bus took no subscription (%s)", e)
            return
        await self._read_screensaver(bus)

    async def _read_screensaver(self, bus: MessageBus) -> None:
        self._saver, self._saver_active, self._saver_since = None, False, None
        for name, path, iface in SCREENSAVERS:
            try:
                reply = await _call(bus, name, path, iface, "GetActive")
            except _NoAnswer as e:
                log.debug("presence: %s does not answer (%s)", name, e)
                continue
            self._saver = (name, path, iface)
            self._saver_active = bool(reply.body and reply.body[0])
            self._saver_since = self._clock.now() if self._saver_active else None
            return

    async def _follow_screensaver(self, bus: MessageBus) -> None:
        """A screensaver came onto the session bus or left it: read which answers now."""
        await self._read_screensaver(bus)
        log.info("presence: now watching %s", ", ".join(self.sources) or "nothing")
        self._update()

    async def _start_logind(self, bus: MessageBus) -> None:
        try:
            user = await _call(bus, LOGIND, LOGIND_PATH, MANAGER, "GetUser", "u", [self._uid])
            self._user_path = str(user.body[0])
            # A new login makes another session the display one: followed (`_handle`).
            await _add_match(bus, LOGIND, self._user_path, PROPERTIES, "PropertiesChanged")
        except _NoAnswer as e:
            log.info("presence: logind does not say which session is the desktop (%s)", e)
            return
        await self._watch_display(bus)

    async def _watch_display(self, bus: MessageBus) -> None:
        assert self._user_path is not None
        try:
            display = await _call(bus, LOGIND, self._user_path, PROPERTIES, "Get", "ss",
                                  [USER, "Display"])
        except _NoAnswer as e:
            log.info("presence: logind does not say which session is the desktop (%s)", e)
            return
        _sid, path = display.body[0].value
        if not path or path == "/":
            log.info("presence: logind knows no display session of this user")
            return
        try:
            await _add_match(bus, LOGIND, path, PROPERTIES, "PropertiesChanged")
            props = await _call(bus, LOGIND, path, PROPERTIES, "GetAll", "s", [SESSION])
        except _NoAnswer as e:
            log.info("presence: cannot read logind's session %s (%s)", path, e)
            return
        self._login_path = path
        self._take_session(props.body[0], first=True)

    async def _follow_display(self, bus: MessageBus) -> None:
        """The user's display session changed (a new login): watch that one instead."""
        self._login_path = None
        self._login_graphical = self._locked_hint = self._idle_hint = False
        self._locked_since = self._idle_since = None
        await self._watch_display(bus)
        log.info("presence: now watching %s", ", ".join(self.sources) or "nothing")
        self._update()

    # ------------------------------------------------------------------ signals

    def _handle(self, msg: Message) -> None:
        if msg.message_type != MessageType.SIGNAL:
            return
        try:
            if (msg.member == "ActiveChanged" and self._saver is not None
                    and msg.path == self._saver[1] and msg.interface == self._saver[2]):
                active = bool(msg.body[0])
                if active != self._saver_active:
                    self._saver_active = active
                    self._saver_since = self._clock.now() if active else None
                self._update()
            elif (msg.member == "PropertiesChanged" and msg.path == self._login_path
                  and msg.body and msg.body[0] == SESSION):
                self._take_session(msg.body[1], first=False)
                self._update()
            elif (msg.member == "NameOwnerChanged" and msg.interface == "org.freedesktop.DBus"
                  and msg.body and msg.body[0] in SAVER_NAMES
                  and self._session_bus is not None):
                self._spawn(self._follow_screensaver(self._session_bus))
            elif (msg.member == "PropertiesChanged" and msg.path == self._user_path
                  and msg.body and msg.body[0] == USER and self._system_bus is not None
                  and ("Display" in msg.body[1] or "Display" in msg.body[2])):
                self._spawn(self._follow_display(self._system_bus))
        except Exception:  # a malformed signal is a bug elsewhere: logged, not fatal
            log.exception("presence: could not read the signal %s", msg.member)

    async def _watch_disconnect(self, bus: MessageBus) -> None:
        """A bus lost (its daemon gone): what it told is no longer believed."""
        with contextlib.suppress(Exception):
            await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        if bus is self._session_bus:
            self._session_bus = None
            self._saver, self._saver_active, self._saver_since = None, False, None
        elif bus is self._system_bus:
            self._system_bus = None
            self._user_path = self._login_path = None
            self._login_graphical = self._locked_hint = self._idle_hint = False
            self._locked_since = self._idle_since = None
        else:
            return  # our own stop()
        log.info("presence: lost a bus connection; now watching %s",
                 ", ".join(self.sources) or "nothing")
        self._update()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _take_session(self, props: dict[str, Variant], *, first: bool) -> None:
        now = self._clock.now()
        if "Type" in props:
            self._login_graphical = str(props["Type"].value) in GRAPHICAL
        if "LockedHint" in props:
            locked = bool(props["LockedHint"].value)
            if locked != self._locked_hint or first:
                self._locked_since = now if locked else None
            self._locked_hint = locked
        if "IdleHint" in props:
            self._idle_hint = bool(props["IdleHint"].value)
        if "IdleSinceHint" in props:
            usec = int(props["IdleSinceHint"].value)
            self._idle_since = (datetime.fromtimestamp(usec / 1e6, UTC) if usec else None)
        if self._idle_hint and self._idle_since is None:
            self._idle_since = now

    def _update(self, *, announce: bool = True) -> None:
        new = self._belief()
        if new == self._presence:
            return
        self._presence = new
        if not announce:
            return
        log.info("presence: %s", new.state.value)
        for callback in self._subscribers:
            try:
                callback(new)
            except Exception:
                log.exception("presence: a subscriber failed")

    def _belief(self) -> Presence:
        if self._saver_active:
            since = self._saver_since
            if self._locked_hint and self._locked_since is not None and since is not None:
                since = min(since, self._locked_since)
            return Presence(PresenceState.LOCKED, since)
        if self._locked_hint:
            return Presence(PresenceState.LOCKED, self._locked_since)
        if self._idle_hint:
            return Presence(PresenceState.IDLE, self._idle_since)
        if self._saver is not None or self._login_graphical or self._display:
            # At the screen as the signals tell; `current()` asks X11 for idle time.
            return Presence(PresenceState.AT_SCREEN)
        return Presence(PresenceState.NO_DESKTOP)


class _NoAnswer(Exception):
    pass


async def _add_match(bus: MessageBus, sender: str, path: str, iface: str,
                     member: str, *, arg0: str | None = None) -> None:
    rule = (f"type='signal',sender='{sender}',path='{path}',interface='{iface}',"
            f"member='{member}'" + ("" if arg0 is None else f",arg0='{arg0}'"))
    await _call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "AddMatch", "s", [rule])


async def _call(bus: MessageBus, dest: str, path: str, iface: str, member: str,
                signature: str = "", body: list[object] | None = None) -> Message:
    try:
        reply = await asyncio.wait_for(bus.call(Message(
            destination=dest, path=path, interface=iface, member=member,
            signature=signature, body=body or [])), CALL_TIMEOUT)
    except (TimeoutError, OSError) as e:
        raise _NoAnswer(str(e) or type(e).__name__) from None
    if reply is None:
        raise _NoAnswer("no reply")
    if reply.message_type == MessageType.ERROR:
        raise _NoAnswer(reply.error_name or "an error")
    return reply
