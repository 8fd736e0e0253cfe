"""Desktop notifications over the freedesktop Notifications API (D-Bus).

One long-lived dbus-fast connection both sends and listens: servers send ActionInvoked
and NotificationClosed only to the connection that called Notify.

Reconnection costs nothing while idle: a dropped connection is noticed by awaiting the
bus's disconnect future, and re-opened lazily by the next `send`; a restarted
notification server is noticed through NameOwnerChanged. No timers run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from dbus_fast import DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from attuned.errors import NotifyError
from attuned.notify import dnd
from attuned.notify.base import (
    ActionCallback,
    ClosedCallback,
    Delivery,
    Notification,
    PausedCallback,
    ReplyCallback,
    ServerInfo,
)
from attuned.notify.busaddr import session_bus_address

log = logging.getLogger("attuned.notify")

NOTIFICATIONS_NAME = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"
NOTIFICATIONS_IFACE = "org.freedesktop.Notifications"
_BUS_NAME = "org.freedesktop.DBus"
_BUS_PATH = "/org/freedesktop/DBus"
_PROPERTIES = "org.freedesktop.DBus.Properties"
# dunst (1.9) says whether notifications are paused (do-not-disturb) in the read-write
# property "paused" of this interface, on the server's object, and announces changes
# with PropertiesChanged (its introspection: EmitsChangedSignal = true), but only those
# made through D-Bus (`dunstctl set-paused`): a pause by SIGUSR1/SIGUSR2 (`killall
# -SIGUSR1 dunst`) changes "paused" silently, so do_not_disturb asks each time. The
# other desktops' switches are in attuned/notify/dnd.py.
DUNST_IFACE = dnd.DUNST_IFACE
# The freedesktop spec's inline reply: the client adds an action with this key (its label
# is the placeholder text); the server answers with NotificationReplied(id, text).
INLINE_REPLY = "inline-reply"
REPLY_LABEL = "How did it go? (a note)"

# Match rules: the server's signals (servers usually address them to us, which needs
# no rule, but some broadcast them: xfce4-notifyd does), ownership changes of the
# server's name, and the do-not-disturb switches' announcements.
_MATCH_RULES = (
    f"type='signal',interface='{NOTIFICATIONS_IFACE}',path='{NOTIFICATIONS_PATH}'",
    f"type='signal',sender='{_BUS_NAME}',interface='{_BUS_NAME}',"
    f"member='NameOwnerChanged',arg0='{NOTIFICATIONS_NAME}'",
    *dnd.MATCH_RULES,
)

# Ids we sent and that are not closed yet (with the Notify call that showed each);
# bounded because some servers never report closes for notifications that stay in their
# history.
_MAX_TRACKED_IDS = 256

# Servers, by GetServerInformation's (name, vendor), that answer CloseNotification
# (NotificationClosed, reason 3) but leave the bubble on screen until its own timeout:
# never, for a nudge that asked not to expire, and notification-daemon 3.20 shows one
# bubble at a time, so every later nudge would wait behind it unseen. There a bubble is
# withdrawn by first replacing it with itself under a timeout of 1 ms (which takes it
# down at once; a queued one is never shown), then closing it as everywhere. Not a finite
# timeout for this server: an answered bubble would still stay, and hide the next
# nudges, until it ran out. Not dropping the "resident" hint here: a nudge answered from
# the CLI, or expired, would stay up forever all the same. (MATE's fork, also "Notification
# Daemon", takes a closed bubble down.)
_CLOSE_LEAVES_BUBBLE = frozenset({("Notification Daemon", "GNOME")})
_GONE_AT_ONCE_MS = 1
_NOTIFY_SIGNATURE = "susssasa{sv}i"

AddressSource = str | Callable[[], str | None] | None
ServerChangeCallback = Callable[[ServerInfo | None], None]

_NO_BUS = (
    "No D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus "
    "does not exist. Run attuned inside your desktop session, or pass the variable to "
    "the service manager (systemctl --user import-environment DBUS_SESSION_BUS_ADDRESS)."
)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DBusError):
        return f"{exc.type}: {exc.text}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class DBusNotifier:
    """The freedesktop notifier. Not thread-safe: use it from one event loop.

    `address`: a bus address, a callable returning one (asked at each connect), or
    None to resolve the session bus from `environ` (default `os.environ`) each time.
    """

    backend = "dbus"

    def __init__(
        self,
        address: AddressSource = None,
        *,
        environ: Mapping[str, str] | None = None,
        call_timeout: float = 5.0,
    ) -> None:
        self.on_action: ActionCallback | None = None
        self.on_closed: ClosedCallback | None = None
        # Told when the server appears, changes or disappears (None); for the chain's
        # logging and for tests that need to await the change.
        self.on_server_change: ServerChangeCallback | None = None
        # Inline replies (servers with "inline-reply") and do-not-disturb changes (dunst).
        self.on_reply: ReplyCallback | None = None
        self.on_dnd_change: PausedCallback | None = None
        self._address = address
        self._environ = environ
        self._call_timeout = call_timeout
        self._bus: MessageBus | None = None
        self._bus_address: str | None = None
        self._server: ServerInfo | None = None
        # Bumped whenever the server's owner changes, so a query that was in flight
        # for the previous server cannot install stale information.
        self._generation = 0
        self._ids: OrderedDict[int, list[Any]] = OrderedDict()
        # Notify calls awaiting their reply: signals about an id not known yet may be about
        # one of them (they can come in the same read as the reply), so they are passed on.
        self._notifying = 0
        # The do-not-disturb switch of the current server, and what it last said.
        self._switch: dnd.Switch | None = None
        self._dnd_known: bool | None = None
        self._no_pause_switch = -1  # the generation of a server whose switch cannot be read
        self._connect_lock = asyncio.Lock()
        self._refresh_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._watchers: set[asyncio.Task[None]] = set()

    # -- state -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._bus is not None and self._bus.connected

    @property
    def address(self) -> str | None:
        """The address of the current (or last) bus connection."""
        return self._bus_address

    @property
    def server_info(self) -> ServerInfo | None:
        """The current server as last queried; None when there is none (or not known)."""
        return self._server if self.connected else None

    @property
    def supports_actions(self) -> bool:
        info = self.server_info
        return info is not None and info.supports_actions

    # -- connection ------------------------------------------------------------

    def _resolve_address(self) -> str:
        source = self._address
        address = source() if callable(source) else source
        if address is None:
            address = session_bus_address(os.environ if self._environ is None else self._environ)
        if not address:
            raise NotifyError(_NO_BUS)
        return address

    async def connect(self) -> ServerInfo | None:
        """Connect to the session bus if not connected; return the server, or None when
        no notification server is running yet. Raises NotifyError when the bus cannot be
        reached, saying where and why."""
        async with self._connect_lock:
            if self.connected:
                return self._server
            address = self._resolve_address()
            bus = MessageBus(bus_address=address)
            try:
                await asyncio.wait_for(bus.connect(), self._call_timeout)
                bus.add_message_handler(self._on_message)
                for rule in _MATCH_RULES:
                    await self._call_on(bus, _BUS_NAME, _BUS_PATH, _BUS_NAME, "AddMatch",
                                        "s", [rule])
                for rule in dnd.OPTIONAL_MATCH_RULES:
                    try:
                        await self._call_on(bus, _BUS_NAME, _BUS_PATH, _BUS_NAME, "AddMatch",
                                            "s", [rule])
                    except DBusError as exc:
                        log.debug("the bus refused the match %s: %s", rule, _reason(exc))
            except Exception as exc:
                bus.disconnect()
                raise NotifyError(
                    f"Cannot connect to the D-Bus session bus at {address}: {_reason(exc)}"
                ) from exc
            self._bus, self._bus_address, self._server = bus, address, None
            self._generation += 1
            self._ids.clear()
            # Never cancelled: cancelling a task that awaits bus.wait_for_disconnect()
            # cancels the bus's own disconnect future (dbus-fast 5.2), breaking every
            # later wait on it. It ends by itself when the connection ends.
            self._spawn(self._watch_disconnect(bus), cancellable=False)
            log.debug("connected to the session bus at %s", address)
        # The server may legitimately be absent (it can be started on demand).
        with contextlib.suppress(NotifyError):
            if await self._name_has_owner():
                await self._refresh()
        return self._server

    async def server_activatable(self) -> bool:
        """Would the bus start a notification server at the first call to it (an
        activation file, as dunst installs)? Then none running yet is no problem. Asking
        starts nothing. False also when the bus cannot say."""
        try:
            await self.connect()
            (names,) = await self._call(_BUS_NAME, _BUS_PATH, _BUS_NAME,
                                        "ListActivatableNames", "", [])
        except NotifyError:
            return False
        return NOTIFICATIONS_NAME in names

    async def server_identity(self) -> str | None:
        """Who the notification server running now is: the bus's id, the server's unique
        name on it, and its pid ("" where the bus cannot say). Notification ids are only
        that one server's. None when there is none, or the bus cannot say."""
        try:
            await self.connect()
            (bus_id,) = await self._call(_BUS_NAME, _BUS_PATH, _BUS_NAME, "GetId", "", [])
            (owner,) = await self._call(_BUS_NAME, _BUS_PATH, _BUS_NAME, "GetNameOwner",
                                        "s", [NOTIFICATIONS_NAME])
        except NotifyError:
            return None
        try:
            (pid,) = await self._call(_BUS_NAME, _BUS_PATH, _BUS_NAME,
                                      "GetConnectionUnixProcessID", "s", [owner])
        except NotifyError:
            pid = ""
        return f"{bus_id} {owner} {pid}"

    async def _name_has_owner(self) -> bool:
        reply = await self._call(_BUS_NAME, _BUS_PATH, _BUS_NAME, "NameHasOwner", "s",
                                 [NOTIFICATIONS_NAME])
        return bool(reply[0])

    async def _watch_disconnect(self, bus: MessageBus) -> None:
        # Awaits a future: no wakeups until the connection actually ends.
        reason = "closed"
        try:
            await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        except Exception as exc:
            reason = _reason(exc)
        if self._bus is bus:
            self._bus = None
            self._ids.clear()
            log.warning(
                "lost the D-Bus session bus connection at %s (%s); "
                "will reconnect at the next nudge", self._bus_address, reason)
            self._set_server(None)

    def _spawn(self, coro: Any, *, cancellable: bool = True) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        tasks = self._tasks if cancellable else self._watchers
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    # -- calls -----------------------------------------------------------------

    async def _call_on(self, bus: MessageBus, dest: str, path: str, iface: str, member: str,
                       signature: str, body: list[Any]) -> list[Any]:
        msg = Message(destination=dest, path=path, interface=iface, member=member,
                      signature=signature, body=body)
        reply = await asyncio.wait_for(bus.call(msg), self._call_timeout)
        if reply.message_type is MessageType.ERROR:
            raise DBusError._from_message(reply)
        return list(reply.body)

    async def _call(self, dest: str, path: str, iface: str, member: str,
                    signature: str, body: list[Any]) -> list[Any]:
        bus = self._bus
        if bus is None or not bus.connected:
            raise NotifyError("Not connected to the D-Bus session bus.")
        try:
            return await self._call_on(bus, dest, path, iface, member, signature, body)
        except DBusError as exc:
            if exc.type in ("org.freedesktop.DBus.Error.ServiceUnknown",
                            "org.freedesktop.DBus.Error.NameHasNoOwner"):
                raise NotifyError(
                    f"No notification server is running on the session bus "
                    f"({self._bus_address}): {exc.text}") from exc
            raise NotifyError(
                f"The notification server refused {member}: {_reason(exc)}") from exc
        except Exception as exc:
            raise NotifyError(
                f"D-Bus call {member} failed on {self._bus_address}: {_reason(exc)}") from exc

    async def _notifications(self, member: str, signature: str, body: list[Any]) -> list[Any]:
        return await self._call(NOTIFICATIONS_NAME, NOTIFICATIONS_PATH, NOTIFICATIONS_IFACE,
                                member, signature, body)

    async def _refresh(self) -> ServerInfo:
        """Ask the server who it is and what it can do (cached until it changes)."""
        async with self._refresh_lock:
            if self._server is not None:
                return self._server
            generation = self._generation
            name, vendor, version, spec = await self._notifications(
                "GetServerInformation", "", [])
            (caps,) = await self._notifications("GetCapabilities", "", [])
            info = ServerInfo(str(name), str(vendor), str(version), str(spec),
                              tuple(str(c) for c in caps))
            if generation == self._generation:
                self._set_server(info)
            return info

    async def refresh_server_info(self) -> ServerInfo:
        """Connect if needed and return the current server (raises NotifyError if none)."""
        await self.connect()
        return await self._refresh()

    def _set_server(self, info: ServerInfo | None) -> None:
        changed = info != self._server
        self._server = info
        if changed:
            switch = self._switch = (None if info is None
                                     else dnd.switch_for(info.name, info.vendor))
            self._dnd_known = None
            if info is not None and switch is not None and dnd.known(info.name, info.vendor):
                log.info("do-not-disturb is read from %s (%s)", switch.desktop, switch.where)
        if changed and self.on_server_change is not None:
            try:
                self.on_server_change(info)
            except Exception:
                log.exception("on_server_change callback failed")

    # -- the Notifier API ----------------------------------------------------------

    async def send(self, n: Notification) -> Delivery:
        await self.connect()
        info = await self._refresh()
        actions = [part for pair in n.actions for part in pair]
        if INLINE_REPLY in info.capabilities and any(k == "done" for k, _ in n.actions):
            # An answerable nudge: where the server can, a typed note answers "done".
            actions += [INLINE_REPLY, REPLY_LABEL]
        hints = {
            "desktop-entry": Variant("s", n.desktop_entry),
            "category": Variant("s", n.category),
            "urgency": Variant("y", n.urgency),
        }
        if n.resident:
            hints["resident"] = Variant("b", True)
        body = [n.app_name, n.replaces_id, n.icon, n.title, n.body, actions, hints,
                n.timeout_ms]
        self._notifying += 1
        try:
            (nid,) = await self._notifications("Notify", _NOTIFY_SIGNATURE, body)
        finally:
            self._notifying -= 1
        nid = int(nid)
        self._ids[nid] = body
        self._ids.move_to_end(nid)
        while len(self._ids) > _MAX_TRACKED_IDS:
            self._ids.popitem(last=False)
        return Delivery(self.backend, nid, info.name)

    async def do_not_disturb(self) -> bool | None:
        """Has the person switched on do-not-disturb on the desktop? True or False where
        the server's desktop says (attuned/notify/dnd.py); None where it cannot (a
        server without a switch, or no server, or no bus). A switch found off that was
        last known on is reported as a change (on_dnd_change), so a change nothing
        announced is noticed at the next nudge."""
        switch = self._switch
        if (not self.connected or self.server_info is None or switch is None
                or self._no_pause_switch == self._generation):
            return None
        generation = self._generation
        bus = self._bus
        assert bus is not None

        async def call(dest: str, path: str, iface: str, member: str, signature: str,
                       body: list[Any]) -> list[Any]:
            return await self._call_on(bus, dest, path, iface, member, signature, body)

        try:
            value = await switch.read(call)
        except Exception as exc:
            # Asked once per server: one that has no such switch will not grow one.
            if generation == self._generation:
                self._no_pause_switch = generation
            log.debug("the notification server does not say whether it is paused "
                      "(%s): %s", switch.where, _reason(exc))
            return None
        if value is not None and generation == self._generation:
            self._note_dnd(value)
        return value

    def _note_dnd(self, paused: bool, *, announced: bool = False) -> None:
        """Remember what the switch says; tell on_dnd_change when that is a change (an
        announcement is one unless it repeats what was known)."""
        before, self._dnd_known = self._dnd_known, paused
        news = before != paused if announced else before is not None and before != paused
        if news and self.on_dnd_change is not None:
            self.on_dnd_change(paused)

    def _on_switch_message(self, msg: Message, switch: dnd.Switch) -> bool:
        heard = switch.heard(msg)
        if heard is dnd.Heard.NOTHING:
            return False
        if heard is dnd.Heard.ASK:
            self._spawn(self._reread_dnd(self._generation))
        else:
            self._note_dnd(heard is dnd.Heard.ON, announced=True)
        return True

    async def _reread_dnd(self, generation: int) -> None:
        if generation != self._generation or not self.connected:
            return
        before = self._dnd_known
        value = await self.do_not_disturb()  # notes a change from a known value itself
        if value is not None and before is None and self.on_dnd_change is not None:
            self.on_dnd_change(value)  # announced, with nothing known before: news

    async def close_notification(self, notification_id: int) -> None:
        """Withdraw a nudge from the screen (the server answers with NotificationClosed)."""
        info = self.server_info
        shown = self._ids.get(notification_id)
        if (shown is not None and info is not None
                and (info.name, info.vendor) in _CLOSE_LEAVES_BUBBLE):
            body = [*shown[:1], notification_id, *shown[2:7], _GONE_AT_ONCE_MS]
            try:
                await self._notifications("Notify", _NOTIFY_SIGNATURE, body)
            except NotifyError as exc:  # then at least the server forgets it
                log.debug("could not take notification %d down: %s", notification_id, exc)
        await self._notifications("CloseNotification", "u", [notification_id])

    async def aclose(self) -> None:
        bus, self._bus = self._bus, None
        for task in list(self._tasks):
            task.cancel()
        if bus is not None:
            bus.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(  # shielded for the same reason as the watcher
                    asyncio.shield(bus.wait_for_disconnect()),  # type: ignore[no-untyped-call]
                    self._call_timeout)
        self._server = None
        self._ids.clear()

    # -- signals -------------------------------------------------------------------

    def _on_message(self, msg: Message) -> bool | None:
        if msg.message_type is MessageType.METHOD_CALL:
            # A call we overheard (the eavesdropping match on mako's modes) is someone
            # else's: True tells dbus-fast it is handled, or it would answer it with an
            # error of its own.
            bus = self._bus
            if bus is None or msg.destination == bus.unique_name:
                return None
            try:
                if self._switch is not None:
                    self._on_switch_message(msg, self._switch)
            except Exception:
                log.exception("error while handling the overheard D-Bus call %s", msg.member)
            return True
        if msg.message_type is not MessageType.SIGNAL:
            return None
        try:
            if msg.interface == NOTIFICATIONS_IFACE and msg.path == NOTIFICATIONS_PATH:
                self._on_notification_signal(msg)
            elif self._switch is not None and self._on_switch_message(msg, self._switch):
                pass
            elif (msg.interface == _BUS_NAME and msg.member == "NameOwnerChanged"
                  and msg.signature == "sss" and msg.body[0] == NOTIFICATIONS_NAME):
                self._on_owner_changed(str(msg.body[1]), str(msg.body[2]))
        except Exception:
            log.exception("error while handling the D-Bus signal %s", msg.member)
        return None

    def _ours(self, nid: int) -> bool:
        """Is this signal perhaps about a notification we sent? Yes for the ids we know,
        and for any id while a Notify awaits its reply (the owner keeps those until it
        knows the id). Each is passed on at once, in the order it came."""
        return nid in self._ids or self._notifying > 0

    def _on_notification_signal(self, msg: Message) -> None:
        if msg.member == "ActionInvoked" and msg.signature == "us":
            nid, key = int(msg.body[0]), str(msg.body[1])
            if self._ours(nid) and self.on_action is not None:
                self.on_action(nid, key)
        elif msg.member == "NotificationReplied" and msg.signature == "us":
            nid, text = int(msg.body[0]), str(msg.body[1])
            if self._ours(nid) and self.on_reply is not None:
                self.on_reply(nid, text)
        elif msg.member == "NotificationClosed" and msg.signature == "uu":
            nid, reason = int(msg.body[0]), int(msg.body[1])
            if self._ours(nid):
                self._ids.pop(nid, None)
                if self.on_closed is not None:
                    self.on_closed(nid, reason)

    def _on_owner_changed(self, old: str, new: str) -> None:
        # Notification ids belong to one server instance; a new server starts afresh.
        self._generation += 1
        self._ids.clear()
        self._set_server(None)
        if new:
            log.info("a notification server appeared on the session bus (%s)", new)
            self._spawn(self._refresh_quietly())
        else:
            log.warning("the notification server left the session bus (%s)", old)

    async def _refresh_quietly(self) -> None:
        try:
            await self._refresh()
        except NotifyError as exc:
            log.debug("could not query the new notification server: %s", exc)
