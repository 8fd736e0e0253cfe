"""A freedesktop notification server for tests, written with dbus-fast.

It owns org.freedesktop.Notifications at /org/freedesktop/Notifications and implements
Notify (ids 1, 2, 3...; a known `replaces_id` is reused), GetCapabilities ("body" plus
"actions" unless told otherwise), GetServerInformation and CloseNotification (answered
with NotificationClosed reason 3). Like real servers it sends ActionInvoked and
NotificationClosed only to the connection that called Notify for that id. It records
every call as a JSON-friendly dict:

  {"method": "Notify", "sender": ":1.4", "id": 1, "app_name": "attuned", "replaces_id": 0,
   "app_icon": "", "summary": "...", "body": "...", "actions": ["done", "Done", ...],
   "hints": {"urgency": 1, ...}, "hint_signatures": {"urgency": "y", ...},
   "expire_timeout": -1}
  {"method": "GetCapabilities" | "GetServerInformation", "sender": ...}
  {"method": "CloseNotification", "sender": ..., "id": 1}

In a thread, for tests in the same process (the `notification_server` fixture in
tests/buses.py gives one on a private bus):

    server = NotificationServer(bus.address, actions=True).start()   # waits for the name
    [rec] = server.wait_for_notify(count=1, timeout=5)               # blocks, with timeout
    server.invoke_action(rec["id"], "snooze")     # ActionInvoked to the Notify caller
    server.close(rec["id"], reason=2)             # NotificationClosed (2 = dismissed)
    server.click(rec["id"], "done")               # both, in one write (as xfce4-notifyd,
                                                  # notification-daemon and MATE send them)
    server.reply_and_close(rec["id"], "text")     # NotificationReplied and the close, too
    server.click_on_arrival("done")               # the next Notify: both signals, then
                                                  # its reply, in one write
    server.reply(rec["id"], "text")               # NotificationReplied (inline_reply=True)
    server.set_paused(True)                       # do-not-disturb (dunst=, plasma=, mako=True)
    server.hold_replies(True)                     # Notify recorded, its reply kept back
                                                  # (a server that hangs) until False
    server.records                                # every call so far
    server.stop()                                 # releases the name (a "restart" is
                                                  # stop() then a new server)

As a separate process, for daemon tests:

    python tests/notification_server.py --address ADDR [--no-actions] [--record F.jsonl]
                                        [--name NAME] [--inline-reply] [--dunst]

(without --address when a bus starts it by D-Bus activation: it serves that bus).

With inline_reply it also advertises "inline-reply"; `vendor` is what
GetServerInformation names (with `name`, a real server's pair: "Notification Daemon",
"GNOME"). With dunst it also serves dunst's
do-not-disturb: the property "paused" of org.dunstproject.cmd0 (Get/Set/GetAll through
org.freedesktop.DBus.Properties), announced by a broadcast PropertiesChanged, as dunst
1.9 does.

FAKE desktops' do-not-disturb switches, in the thread version, from their published
interfaces (there is no KDE Plasma or mako >= 1.10 here): with plasma=True (pass
name="Plasma") the read-only property "Inhibited" of org.freedesktop.Notifications,
announced with PropertiesChanged, as plasma-workspace's notification server does; with
mako=True (pass name="mako") ListModes on /fr/emersion/Mako (fr.emersion.Mako), a
change announced as mako 1.10 does: PropertiesChanged with "Modes" invalidated, no value.

prints `READY <unique-name>` on stdout once it owns the name, appends each record as a
JSON line to F.jsonl (flushed at once), and runs until SIGTERM/SIGINT. It is controlled
over D-Bus through a test-only interface on the same object path,
org.attuned.TestControl: InvokeAction(u id, s key), Close(u id, u reason),
Click(u id, s key, u reason), ReplyAndClose(u id, s text, u reason),
ClickOnArrival(s key, u reason),
Records() -> s (JSON list), WaitForNotify(u count, u timeout_ms) -> s (JSON list of
Notify records; error org.attuned.TestControl.Timeout), Reply(u id, s text) (the
inline reply: NotificationReplied to the Notify caller), SetPaused(b paused).
`NotificationServerProcess`
wraps all of that for synchronous tests with the same methods as the thread version:

    server = NotificationServerProcess(bus.address, actions=False,
                                       record=tmp_path / "calls.jsonl").start()
    server.wait_for_notify(1, timeout=5); server.invoke_action(1, "done")
    server.stop()      # SIGTERM;  server.kill() for an abrupt death
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO

from dbus_fast import DBusError, Message, MessageType, NameFlag, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from processes import end_process

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
IFACE = "org.freedesktop.Notifications"
CONTROL_IFACE = "org.attuned.TestControl"
PROPERTIES = "org.freedesktop.DBus.Properties"
DUNST_IFACE = "org.dunstproject.cmd0"
MAKO_PATH = "/fr/emersion/Mako"
MAKO_IFACE = "fr.emersion.Mako"
TIMEOUT_ERROR = "org.attuned.TestControl.Timeout"

Record = dict[str, Any]


def _plain(value: Any) -> Any:
    """A D-Bus value as something json can write."""
    if hasattr(value, "signature") and hasattr(value, "value"):  # a Variant
        return _plain(value.value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class ServerCore:
    """The server itself, living on one asyncio loop and one bus connection."""

    def __init__(self, bus: MessageBus, *, actions: bool, server_name: str,
                 on_record: Callable[[Record], None], inline_reply: bool = False,
                 dunst: bool = False, plasma: bool = False, mako: bool = False,
                 vendor: str = "") -> None:
        self.bus = bus
        self.vendor = vendor or ("KDE" if plasma else "attuned tests")
        self.capabilities = ["body", "actions"] if actions else ["body"]
        if inline_reply:
            self.capabilities.append("inline-reply")
        self.dunst = dunst
        self.plasma = plasma
        self.mako = mako
        self.paused = False
        self.server_name = server_name
        self.on_record = on_record
        self.records: list[Record] = []
        self.next_id = 1
        self.owners: dict[int, str] = {}  # open notification id -> connection that sent it
        # Clicks for the next Notify calls, one each: (key, close reason), written in
        # one write with the reply (click_on_arrival).
        self.arrival_clicks: list[tuple[str, int]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.holding = False  # Notify's replies kept back (hold_replies)
        self.held_replies: list[Message] = []

    def _record(self, rec: Record) -> None:
        # Synchronous, before the reply goes out: a client that has its answer can
        # already see the record.
        self.records.append(rec)
        self.on_record(rec)
        n = len(self.notifies())
        for count, fut in self._waiters:
            if n >= count and not fut.done():
                fut.set_result(None)

    def _later(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def handle(self, msg: Message) -> Message | bool | None:
        if msg.message_type is not MessageType.METHOD_CALL:
            return None
        if (self.mako and msg.path == MAKO_PATH and msg.interface == MAKO_IFACE
                and msg.member == "ListModes"):
            modes = ["default", "do-not-disturb"] if self.paused else ["default"]
            return Message.new_method_return(msg, "as", [modes])
        if msg.path != PATH:
            return None
        if msg.interface == IFACE:
            return self._notifications_call(msg)
        if msg.interface == CONTROL_IFACE:
            return self._control_call(msg)
        if msg.interface == PROPERTIES and self.dunst:
            return self._properties_call(msg)
        if (msg.interface == PROPERTIES and self.plasma and msg.member == "Get"
                and list(msg.body) == [IFACE, "Inhibited"]):
            return Message.new_method_return(msg, "v", [Variant("b", self.paused)])
        return None

    def _properties_call(self, msg: Message) -> Message | None:
        if msg.member == "Get" and list(msg.body) == [DUNST_IFACE, "paused"]:
            return Message.new_method_return(msg, "v", [Variant("b", self.paused)])
        if msg.member == "GetAll" and list(msg.body) == [DUNST_IFACE]:
            return Message.new_method_return(msg, "a{sv}",
                                             [{"paused": Variant("b", self.paused)}])
        if msg.member == "Set" and list(msg.body)[:2] == [DUNST_IFACE, "paused"]:
            self.set_paused(bool(msg.body[2].value))
            return Message.new_method_return(msg)
        return None

    def set_paused(self, paused: bool, announce: bool = True) -> None:
        """The desktop's do-not-disturb (dunst's "paused", Plasma's "Inhibited", mako's
        mode); a change is broadcast with PropertiesChanged, as each of them does,
        unless not `announce` (dunst paused or resumed by SIGUSR1 / SIGUSR2)."""
        changed = paused != self.paused
        self.paused = paused
        self._record({"method": "SetPaused", "paused": paused})
        if not changed or not announce:
            return
        if self.mako:
            path, body = MAKO_PATH, [MAKO_IFACE, {}, ["Modes"]]
        elif self.plasma:
            path, body = PATH, [IFACE, {"Inhibited": Variant("b", paused)}, []]
        else:
            path, body = PATH, [DUNST_IFACE, {"paused": Variant("b", paused)}, []]
        sent = self.bus.send(Message(
            message_type=MessageType.SIGNAL, path=path, interface=PROPERTIES,
            member="PropertiesChanged", signature="sa{sv}as", body=body))
        sent.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _notifications_call(self, msg: Message) -> Message | None:
        sender = msg.sender or ""
        member = msg.member
        if member == "GetCapabilities":
            self._record({"method": member, "sender": sender})
            return Message.new_method_return(msg, "as", [list(self.capabilities)])
        if member == "GetServerInformation":
            self._record({"method": member, "sender": sender})
            return Message.new_method_return(
                msg, "ssss", [self.server_name, self.vendor, "1.0", "1.2"])
        if member == "Notify" and msg.signature == "susssasa{sv}i":
            app, replaces, icon, summary, body, actions, hints, expire = msg.body
            if replaces and replaces in self.owners:
                nid = int(replaces)
            else:
                nid, self.next_id = self.next_id, self.next_id + 1
            self.owners[nid] = sender
            self._record({
                "method": member, "sender": sender, "id": nid, "app_name": app,
                "replaces_id": replaces, "app_icon": icon, "summary": summary, "body": body,
                "actions": list(actions), "hints": _plain(dict(hints)),
                "hint_signatures": {k: v.signature for k, v in hints.items()},
                "expire_timeout": expire})
            reply = Message.new_method_return(msg, "u", [nid])
            if self.holding:
                self.held_replies.append(reply)
                return True  # answered later, or never (the caller died meanwhile)
            if not self.arrival_clicks:
                return reply
            key, reason = self.arrival_clicks.pop(0)
            self._write_together([
                self._signal_message(sender, "ActionInvoked", "us", [nid, key]),
                self._signal_message(sender, "NotificationClosed", "uu", [nid, reason]),
                reply])
            del self.owners[nid]
            return True  # answered, in that one write
        if member == "CloseNotification" and msg.signature == "u":
            nid = int(msg.body[0])
            self._record({"method": member, "sender": sender, "id": nid})
            if nid in self.owners:
                self.emit_closed(nid, 3)
            return Message.new_method_return(msg)
        return None

    def _control_call(self, msg: Message) -> Message | bool | None:
        member = msg.member
        try:
            if member == "InvokeAction" and msg.signature == "us":
                self.invoke_action(int(msg.body[0]), str(msg.body[1]))
                return Message.new_method_return(msg)
            if member == "Click" and msg.signature == "usu":
                self.click(int(msg.body[0]), str(msg.body[1]), int(msg.body[2]))
                return Message.new_method_return(msg)
            if member == "ReplyAndClose" and msg.signature == "usu":
                self.reply_and_close(int(msg.body[0]), str(msg.body[1]), int(msg.body[2]))
                return Message.new_method_return(msg)
            if member == "ClickOnArrival" and msg.signature == "su":
                self.click_on_arrival(str(msg.body[0]), int(msg.body[1]))
                return Message.new_method_return(msg)
            if member == "Close" and msg.signature == "uu":
                self.emit_closed(int(msg.body[0]), int(msg.body[1]))
                return Message.new_method_return(msg)
            if member == "Reply" and msg.signature == "us":
                self.reply(int(msg.body[0]), str(msg.body[1]))
                return Message.new_method_return(msg)
            if member == "SetPaused" and msg.signature == "b":
                self.set_paused(bool(msg.body[0]))
                return Message.new_method_return(msg)
            if member == "Records":
                return Message.new_method_return(msg, "s", [json.dumps(self.records)])
        except KeyError as exc:
            return Message.new_error(msg, "org.attuned.TestControl.UnknownId", str(exc))
        if member == "WaitForNotify" and msg.signature == "uu":
            count, timeout_ms = int(msg.body[0]), int(msg.body[1])
            self._later(self._reply_when_notified(msg, count, timeout_ms / 1000))
            return True  # answered later
        return None

    async def _reply_when_notified(self, msg: Message, count: int, timeout: float) -> None:
        try:
            recs = await self.wait_for_notify(count, timeout)
        except TimeoutError:
            n = len(self.notifies())
            await self.bus.send(Message.new_error(
                msg, TIMEOUT_ERROR, f"{n} Notify calls after {timeout} s, wanted {count}"))
        else:
            await self.bus.send(Message.new_method_return(msg, "s", [json.dumps(recs)]))

    def notifies(self) -> list[Record]:
        return [r for r in self.records if r["method"] == "Notify"]

    async def wait_for_notify(self, count: int, timeout: float) -> list[Record]:
        if len(self.notifies()) < count:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (count, fut)
            self._waiters.append(entry)
            try:
                await asyncio.wait_for(fut, timeout)
            finally:
                self._waiters.remove(entry)
        return self.notifies()

    def _signal(self, nid: int, member: str, signature: str, body: list[Any]) -> None:
        owner = self.owners[nid]  # KeyError: unknown or closed id
        sent = self.bus.send(Message(
            message_type=MessageType.SIGNAL, destination=owner, path=PATH, interface=IFACE,
            member=member, signature=signature, body=body))
        sent.add_done_callback(lambda f: f.cancelled() or f.exception())

    def invoke_action(self, nid: int, key: str) -> None:
        self._signal(nid, "ActionInvoked", "us", [nid, key])

    def click(self, nid: int, key: str, reason: int = 2) -> None:
        """What xfce4-notifyd, notification-daemon and MATE do on a button: ActionInvoked
        and at once NotificationClosed(reason), here in one write on the socket."""
        owner = self.owners[nid]  # KeyError: unknown or closed id
        self._write_together([self._signal_message(owner, "ActionInvoked", "us", [nid, key]),
                              self._signal_message(owner, "NotificationClosed", "uu",
                                                   [nid, reason])])
        del self.owners[nid]

    def reply_and_close(self, nid: int, text: str, reason: int = 2) -> None:
        """An inline reply and at once NotificationClosed(reason), in one write."""
        owner = self.owners[nid]
        self._write_together([
            self._signal_message(owner, "NotificationReplied", "us", [nid, text]),
            self._signal_message(owner, "NotificationClosed", "uu", [nid, reason])])
        del self.owners[nid]

    def click_on_arrival(self, key: str, reason: int = 2) -> None:
        """The next Notify is answered by ActionInvoked(key) and NotificationClosed
        (reason) and then its reply, in one write: a press that overtakes the reply, so
        the client certainly hears of it before it knows the id. (A reply and signals in
        one read look the same to the client: the awaiting code resumes loop turns after
        both were dispatched.)"""
        self.arrival_clicks.append((key, reason))

    def _signal_message(self, owner: str, member: str, signature: str,
                        body: list[Any]) -> Message:
        return Message(message_type=MessageType.SIGNAL, destination=owner, path=PATH,
                       interface=IFACE, member=member, signature=signature, body=body)

    def _write_together(self, messages: list[Message]) -> None:
        """Send `messages` in one write on the socket. dbus-fast 5.2 has no public way:
        `bus.send` gives each message its own `sock.send` (at once when its queue is
        empty). So each message gets a serial (`bus.next_serial()`), is marshalled
        (`Message._marshall(False)`: no unix fds), and the bytes of all of them go into
        the connection's write queue (`bus._writer.messages`) as ONE entry, which its
        writer hands to one `sock.send`. The queue keeps dbus-fast's own order, so
        nothing it had queued is split."""
        buf = bytearray()
        for msg in messages:
            msg.serial = self.bus.next_serial()
            buf += msg._marshall(False)
        writer = self.bus._writer  # type: ignore[attr-defined]
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        sent.add_done_callback(lambda f: f.cancelled() or f.exception())
        writer.messages.append((buf, None, sent))
        writer.schedule_write()

    def emit_closed(self, nid: int, reason: int) -> None:
        self._signal(nid, "NotificationClosed", "uu", [nid, reason])
        del self.owners[nid]

    def hold_replies(self, hold: bool) -> None:
        self.holding = hold
        if not hold:
            for reply in self.held_replies:
                sent = self.bus.send(reply)
                sent.add_done_callback(lambda f: f.cancelled() or f.exception())
            self.held_replies.clear()

    def reply(self, nid: int, text: str) -> None:
        """The person typed `text` into the notification's reply field."""
        self._signal(nid, "NotificationReplied", "us", [nid, text])


async def serve(address: str, *, actions: bool, server_name: str,
                on_record: Callable[[Record], None],
                on_ready: Callable[[ServerCore], None], stop: asyncio.Event,
                inline_reply: bool = False, dunst: bool = False, plasma: bool = False,
                mako: bool = False, vendor: str = "") -> None:
    """Run a server until `stop` is set or the bus goes away."""
    bus = await MessageBus(bus_address=address).connect()
    core = ServerCore(bus, actions=actions, server_name=server_name, on_record=on_record,
                      inline_reply=inline_reply, dunst=dunst, plasma=plasma, mako=mako,
                      vendor=vendor)
    bus.add_message_handler(core.handle)
    reply = await bus.request_name(NAME, NameFlag.DO_NOT_QUEUE)
    if reply is not RequestNameReply.PRIMARY_OWNER:
        bus.disconnect()
        raise RuntimeError(f"could not own {NAME} on {address}: {reply}")
    on_ready(core)
    stopping = asyncio.ensure_future(stop.wait())
    gone = asyncio.ensure_future(bus.wait_for_disconnect())
    await asyncio.wait({stopping, gone}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not gone.done():
        bus.disconnect()
    with contextlib.suppress(Exception):  # the bus died under us: that ends it too
        await asyncio.wait_for(gone, 5)


class NotificationServer:
    """The server on its own thread and event loop, with blocking, thread-safe methods."""

    def __init__(self, address: str, *, actions: bool = True,
                 name: str = "attuned-test-server", record_path: Path | None = None,
                 inline_reply: bool = False, dunst: bool = False, plasma: bool = False,
                 mako: bool = False, vendor: str = "") -> None:
        self.address = address
        self.vendor = vendor
        self.actions = actions
        self.inline_reply = inline_reply
        self.dunst = dunst
        self.plasma = plasma
        self.mako = mako
        self.name = name
        self.record_path = record_path
        self.unique_name = ""
        self._records: list[Record] = []
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._core: ServerCore | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> NotificationServer:
        self._thread = threading.Thread(target=self._run, name="notification-server",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"notification server not ready within {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"notification server failed: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()

        def ready(core: ServerCore) -> None:
            self._core = core
            self.unique_name = core.bus.unique_name or ""
            self._ready.set()

        await serve(self.address, actions=self.actions, server_name=self.name,
                    on_record=self._add_record, on_ready=ready, stop=self._stop,
                    inline_reply=self.inline_reply, dunst=self.dunst, plasma=self.plasma,
                    mako=self.mako, vendor=self.vendor)

    def _add_record(self, rec: Record) -> None:
        if self.record_path is not None:
            with open(self.record_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
        with self._cond:
            self._records.append(rec)
            self._cond.notify_all()

    @property
    def records(self) -> list[Record]:
        with self._cond:
            return list(self._records)

    @property
    def notifies(self) -> list[Record]:
        return [r for r in self.records if r["method"] == "Notify"]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Record]:
        """All records of `method` once there are at least `count`; TimeoutError after
        `timeout` seconds."""
        def matching() -> list[Record]:
            return [r for r in self._records if r["method"] == method]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                raise TimeoutError(
                    f"{len(matching())} {method} calls after {timeout} s, wanted {count}")
            return matching()

    def wait_for_notify(self, count: int = 1, timeout: float = 5.0) -> list[Record]:
        return self.wait_for("Notify", count, timeout)

    def _in_loop(self, fn: Callable[[ServerCore], None], timeout: float) -> None:
        loop, core = self._loop, self._core
        if loop is None or core is None:
            raise RuntimeError("the notification server is not running")

        async def call() -> None:
            fn(core)

        asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)

    def invoke_action(self, notification_id: int, key: str, timeout: float = 5.0) -> None:
        """Emit ActionInvoked(id, key) to the connection that sent that notification."""
        self._in_loop(lambda core: core.invoke_action(notification_id, key), timeout)

    def close(self, notification_id: int, reason: int = 2, timeout: float = 5.0) -> None:
        """Emit NotificationClosed(id, reason): 1 expired, 2 dismissed, 3 closed by call."""
        self._in_loop(lambda core: core.emit_closed(notification_id, reason), timeout)

    def click(self, notification_id: int, key: str, reason: int = 2,
              timeout: float = 5.0) -> None:
        """ActionInvoked(id, key) then NotificationClosed(id, reason), in one write."""
        self._in_loop(lambda core: core.click(notification_id, key, reason), timeout)

    def reply_and_close(self, notification_id: int, text: str, reason: int = 2,
                        timeout: float = 5.0) -> None:
        """NotificationReplied(id, text) then NotificationClosed(id, reason), in one write."""
        self._in_loop(lambda core: core.reply_and_close(notification_id, text, reason),
                      timeout)

    def click_on_arrival(self, key: str, reason: int = 2, timeout: float = 5.0) -> None:
        """Answer the next Notify with ActionInvoked(key), NotificationClosed(reason) and
        then its reply, all in one write (a press before the client knows the id)."""
        self._in_loop(lambda core: core.click_on_arrival(key, reason), timeout)

    def reply(self, notification_id: int, text: str, timeout: float = 5.0) -> None:
        """Emit NotificationReplied(id, text) to the connection that sent it."""
        self._in_loop(lambda core: core.reply(notification_id, text), timeout)

    def set_paused(self, paused: bool, timeout: float = 5.0, *, announce: bool = True
                   ) -> None:
        """Switch do-not-disturb (needs dunst, plasma or mako); emits PropertiesChanged
        (unless not `announce`)."""
        self._in_loop(lambda core: core.set_paused(paused, announce), timeout)

    def hold_replies(self, hold: bool, timeout: float = 5.0) -> None:
        """Record each Notify but keep its reply back (a hung server); False sends the
        kept ones (to callers that may have gone) and answers again."""
        self._in_loop(lambda core: core.hold_replies(hold), timeout)

    def stop(self, timeout: float = 5.0) -> None:
        loop, stop = self._loop, self._stop
        if self._thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"notification server did not stop within {timeout} s")
        self._thread = None

    def __enter__(self) -> NotificationServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NotificationServerProcess:
    """This module run as a subprocess, driven through org.attuned.TestControl."""

    def __init__(self, address: str, *, actions: bool = True,
                 name: str = "attuned-test-server", record: Path | None = None,
                 inline_reply: bool = False, dunst: bool = False) -> None:
        self.address = address
        self.actions = actions
        self.inline_reply = inline_reply
        self.dunst = dunst
        self.name = name
        self.record = record
        self.unique_name = ""
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 10.0) -> NotificationServerProcess:
        cmd = [sys.executable, os.path.abspath(__file__), "--address", self.address,
               "--name", self.name]
        if not self.actions:
            cmd.append("--no-actions")
        if self.inline_reply:
            cmd.append("--inline-reply")
        if self.dunst:
            cmd.append("--dunst")
        if self.record is not None:
            cmd += ["--record", str(self.record)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                        text=True)
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            self.kill()
            raise TimeoutError(f"notification server process not ready within {timeout} s")
        line = self.process.stdout.readline().split()
        if line[:1] != ["READY"]:
            self.kill()
            raise RuntimeError(f"notification server process failed to start: {line}")
        self.unique_name = line[1]
        return self

    def _control(self, member: str, signature: str, body: list[Any], timeout: float) -> Any:
        async def call() -> Any:
            bus = await MessageBus(bus_address=self.address).connect()
            try:
                reply = await asyncio.wait_for(bus.call(Message(
                    destination=self.unique_name, path=PATH, interface=CONTROL_IFACE,
                    member=member, signature=signature, body=body)), timeout)
            finally:
                bus.disconnect()
            if reply.message_type is MessageType.ERROR:
                err = DBusError._from_message(reply)
                if err.type == TIMEOUT_ERROR:
                    raise TimeoutError(err.text)
                raise err
            return reply.body[0] if reply.body else None

        # A thread of its own, so this also works when called from inside an event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, call()).result(timeout + 5)

    @property
    def records(self) -> list[Record]:
        return list(json.loads(self._control("Records", "", [], 5.0)))

    @property
    def notifies(self) -> list[Record]:
        return [r for r in self.records if r["method"] == "Notify"]

    def wait_for_notify(self, count: int = 1, timeout: float = 5.0) -> list[Record]:
        text = self._control("WaitForNotify", "uu", [count, int(timeout * 1000)], timeout + 5)
        return list(json.loads(text))

    def invoke_action(self, notification_id: int, key: str, timeout: float = 5.0) -> None:
        self._control("InvokeAction", "us", [notification_id, key], timeout)

    def close(self, notification_id: int, reason: int = 2, timeout: float = 5.0) -> None:
        self._control("Close", "uu", [notification_id, reason], timeout)

    def click(self, notification_id: int, key: str, reason: int = 2,
              timeout: float = 5.0) -> None:
        self._control("Click", "usu", [notification_id, key, reason], timeout)

    def reply_and_close(self, notification_id: int, text: str, reason: int = 2,
                        timeout: float = 5.0) -> None:
        self._control("ReplyAndClose", "usu", [notification_id, text, reason], timeout)

    def click_on_arrival(self, key: str, reason: int = 2, timeout: float = 5.0) -> None:
        self._control("ClickOnArrival", "su", [key, reason], timeout)

    def reply(self, notification_id: int, text: str, timeout: float = 5.0) -> None:
        self._control("Reply", "us", [notification_id, text], timeout)

    def set_paused(self, paused: bool, timeout: float = 5.0) -> None:
        self._control("SetPaused", "b", [paused], timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._end(signal.SIGTERM, timeout)

    def kill(self, timeout: float = 5.0) -> None:
        self._end(signal.SIGKILL, timeout)

    def _end(self, sig: int, timeout: float) -> None:
        end_process(self.process, sig, timeout)

    def __enter__(self) -> NotificationServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A notification server for attuned's tests.")
    # Started by D-Bus activation, the bus that started it is in DBUS_STARTER_ADDRESS.
    starter = os.environ.get("DBUS_STARTER_ADDRESS")
    parser.add_argument("--address", required=starter is None, default=starter,
                        help="D-Bus address of the bus to serve (default: "
                             "$DBUS_STARTER_ADDRESS, under D-Bus activation)")
    parser.add_argument("--no-actions", action="store_true",
                        help='do not advertise the "actions" capability')
    parser.add_argument("--record", type=Path, help="append every call here as JSON lines")
    parser.add_argument("--name", default="attuned-test-server",
                        help="server name for GetServerInformation")
    parser.add_argument("--inline-reply", action="store_true",
                        help='also advertise "inline-reply"')
    parser.add_argument("--dunst", action="store_true",
                        help="also serve dunst's do-not-disturb property")
    args = parser.parse_args(argv)
    record_file: TextIO | None = open(args.record, "a") if args.record else None  # noqa: SIM115

    def record(rec: Record) -> None:
        if record_file is not None:
            record_file.write(json.dumps(rec) + "\n")
            record_file.flush()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def ready(core: ServerCore) -> None:
            print(f"READY {core.bus.unique_name}", flush=True)

        await serve(args.address, actions=not args.no_actions, server_name=args.name,
                    on_record=record, on_ready=ready, stop=stop,
                    inline_reply=args.inline_reply, dunst=args.dunst)

    try:
        asyncio.run(run())
    finally:
        if record_file is not None:
            record_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
