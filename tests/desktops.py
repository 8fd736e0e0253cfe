"""Real notification servers for the desktop tests, each on its own screen and bus.

Every server the matrix covers (tests/test_desktop_servers.py) runs here the way it runs on
a desktop, started standalone: on its own virtual X screen (Xvfb, -displayfd so parallel
tests never collide) or, for mako, on a headless sway (`WLR_BACKENDS=headless`), with its
own private session bus (tests/buses.py) and its own home directory. Nothing here is a
fake; what differs per server is in its `ServerSpec`: the Debian packages, where the
program lives (often under /usr/lib, found through a glob), what it needs next to it
(xfconfd for xfce4-notifyd), and how a person answers it:

- "buttons": the bubble is an X window with one button per action (xfce4-notifyd,
  notification-daemon, mate-notification-daemon); clicked with xdotool where the
  screenshot shows the buttons.
- "combo": lxqt-notificationd draws up to 3 buttons, and for more actions a drop-down
  list and an OK button: the list is opened, the entry clicked, then OK.
- "menu": dunst and mako offer actions through a menu program (`dunstctl context`,
  `makoctl menu`); a tiny picker script stands in for dmenu and chooses the label.

What each server draws is read back from the screen: `xwd -root` gives the pixels, and
`find_buttons` finds the row of buttons at the bottom of the bubble (the widest gaps in
it separate the buttons: within a button there are none, or a space between words).

When something needed is missing, `need(...)` skips with the Debian packages to install;
with ATTUNED_REQUIRE_DESKTOP=1 (CI, .ci/run) the skip is a failure instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import pwd
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from buses import DBusDaemon
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from processes import read_line

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
START = 15.0  # every start-up wait (screen, bus, server)
REQUIRE_ENV = "ATTUNED_REQUIRE_DESKTOP"
# A nudge's four answers (key, label) as the matrix's daemon offers them (snooze "2s",
# snooze_long "4s"), and the labels a person picks from.
ACTIONS = ["done", "Done", "snooze", "Snooze 2s", "snooze-long", "Snooze 4s", "skip", "Skip"]
LABELS = ACTIONS[1::2]


# ---------------------------------------------------------------------------- skipping


def need(programs: Mapping[str, str], what: str = "this test") -> None:
    """Skip (or, with ATTUNED_REQUIRE_DESKTOP=1, fail) unless every program is there.

    `programs` maps a command name, or an absolute path or glob, to its Debian package.
    With ATTUNED_REQUIRE_DESKTOP=1 the packages must be there: CI installs them.
    """
    missing = sorted({pkg for prog, pkg in programs.items() if find_program(prog) is None})
    if not missing:
        return
    reason = f"needs the Debian packages {', '.join(missing)} (apt-get install -y ...)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {what} {reason}")
    pytest.skip(reason)


def find_program(prog: str) -> str | None:
    """A command on PATH, or the first file matching an absolute path glob (a program
    under /usr/lib, or a file a program needs, such as a schema)."""
    if prog.startswith("/"):
        hits = sorted(glob.glob(prog))
        return hits[0] if hits else None
    return shutil.which(prog)


def program(prog: str) -> str:
    found = find_program(prog)
    assert found is not None, f"{prog} is not installed"
    return found


# ---------------------------------------------------------------------------- processes


class Proc:
    """A process a test started, ended by its own pid only; its output goes to `log`."""

    def __init__(self, args: list[str], *, env: Mapping[str, str], log: Path,
                 pass_fds: tuple[int, ...] = (), stderr_pipe: bool = False) -> None:
        self.args = args
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                args, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.PIPE if stderr_pipe else out, pass_fds=pass_fds,
                cwd=str(log.parent))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def as_user(args: list[str], user: pwd.struct_passwd | None) -> list[str]:
    """`args` run as `user` (when the tests run as root), else as they are."""
    if user is None:
        return args
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
            *args]


def unprivileged_user() -> pwd.struct_passwd | None:
    """sway refuses to run as root ("Unable to drop root"): as root, use nobody."""
    return pwd.getpwnam("nobody") if os.geteuid() == 0 else None


# ---------------------------------------------------------------------------- the bus


async def _name_owned(address: str, name: str, want: bool, timeout: float) -> None:
    bus = await MessageBus(bus_address=address).connect()
    done = asyncio.Event()

    def on_message(msg: Message) -> None:
        if (msg.message_type is MessageType.SIGNAL and msg.member == "NameOwnerChanged"
                and msg.body[0] == name and bool(msg.body[2]) == want):
            done.set()

    bus.add_message_handler(on_message)
    try:
        for member, body in (
                ("AddMatch", [f"type='signal',member='NameOwnerChanged',arg0='{name}'"]),
                ("NameHasOwner", [name])):
            reply = await bus.call(Message(
                destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus", member=member, signature="s", body=body))
            if member == "NameHasOwner" and bool(reply.body[0]) == want:
                done.set()
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()


def wait_for_name(address: str, name: str, timeout: float, *, owned: bool = True) -> None:
    """Until `name` has an owner (or none): NameOwnerChanged awaited, no polling."""
    asyncio.run(_name_owned(address, name, owned, timeout))


def bus_call(address: str, dest: str, path: str, iface: str, member: str,
             signature: str = "", body: list[Any] | None = None,
             timeout: float = 5.0) -> list[Any]:
    """One D-Bus call from a fresh connection; raises AssertionError on an error reply."""
    async def main() -> list[Any]:
        bus = await MessageBus(bus_address=address).connect()
        try:
            reply = await asyncio.wait_for(bus.call(Message(
                destination=dest, path=path, interface=iface, member=member,
                signature=signature, body=body or [])), timeout)
        finally:
            bus.disconnect()
            await bus.wait_for_disconnect()
        assert reply is not None
        if reply.message_type is MessageType.ERROR:
            raise AssertionError(f"{member}: {reply.error_name}: {list(reply.body)}")
        return list(reply.body)

    return asyncio.run(main())


@dataclass(frozen=True)
class Heard:
    """One message the recorder overheard."""

    at: float  # time.monotonic()
    kind: str  # "signal" | "call"
    member: str
    body: tuple[Any, ...]
    sender: str
    destination: str


class BusRecorder:
    """Overhears the Notifications traffic on a bus: every Notify call (what the daemon
    asked for, actions included) and every ActionInvoked / NotificationClosed, also the
    ones the server addresses to the daemon alone. An eavesdropping match (the test
    buses allow it); it never answers what it overhears."""

    RULES = (
        f"type='signal',interface='{NAME}',eavesdrop='true'",
        f"type='method_call',interface='{NAME}',member='Notify',eavesdrop='true'",
    )

    def __init__(self, address: str) -> None:
        self.address = address
        self.items: list[Heard] = []
        self.sent: list[int] = []  # the ids of the notifications sent from here
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bus-recorder",
                                        daemon=True)
        self._bus: MessageBus | None = None

    def start(self) -> BusRecorder:
        self._thread.start()

        async def connect() -> MessageBus:
            bus = await MessageBus(bus_address=self.address).connect()
            bus.add_message_handler(self._on_message)
            for rule in self.RULES:
                await bus.call(Message(
                    destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                    body=[rule]))
            return bus

        self._bus = asyncio.run_coroutine_threadsafe(connect(), self._loop).result(START)
        return self

    def _on_message(self, msg: Message) -> bool | None:
        mine = self._bus is not None and msg.destination == self._bus.unique_name
        if msg.interface != NAME or (mine and msg.message_type is MessageType.METHOD_CALL):
            return None
        if msg.message_type in (MessageType.SIGNAL, MessageType.METHOD_CALL):
            kind = "signal" if msg.message_type is MessageType.SIGNAL else "call"
            with self._cond:
                self.items.append(Heard(time.monotonic(), kind, msg.member or "",
                                        tuple(msg.body), msg.sender or "",
                                        msg.destination or ""))
                self._cond.notify_all()
        # An overheard call is someone else's: handled, so dbus-fast does not answer it.
        return True if msg.message_type is MessageType.METHOD_CALL else None

    def signals(self, nid: int) -> list[tuple[str, Any]]:
        """(member, second argument) of every signal about notification `nid`."""
        with self._cond:
            return [(h.member, h.body[1]) for h in self.items
                    if h.kind == "signal" and h.body and h.body[0] == nid]

    def wait(self, want: Callable[[list[Heard]], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not want(self.items):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout} s; heard: "
                                         + "; ".join(f"{h.member}{h.body}" for h in self.items))
                self._cond.wait(left)

    def wait_signal(self, nid: int, member: str, timeout: float) -> Heard:
        def found(items: list[Heard]) -> bool:
            return any(h.kind == "signal" and h.member == member and h.body[0] == nid
                       for h in items)

        self.wait(found, timeout, f"{member} for notification {nid}")
        with self._cond:
            return next(h for h in self.items
                        if h.kind == "signal" and h.member == member and h.body[0] == nid)

    def notify(self, summary: str, body: str = "", actions: list[str] | None = None,
               timeout_ms: int = -1, *, resident: bool = False, replaces: int = 0) -> int:
        """A notification sent from this connection, which stays connected, so signals
        addressed to the sender arrive (and are recorded). `resident`: the hint attuned
        sends with a nudge (keep it after a button)."""
        hints = {"resident": Variant("b", True)} if resident else {}
        async def call() -> int:
            assert self._bus is not None
            reply = await self._bus.call(Message(
                destination=NAME, path=PATH, interface=NAME, member="Notify",
                signature="susssasa{sv}i",
                body=["attuned-test", replaces, "", summary, body, actions or [], hints,
                      timeout_ms]))
            assert reply is not None and reply.message_type is MessageType.METHOD_RETURN, reply
            return int(reply.body[0])

        nid = asyncio.run_coroutine_threadsafe(call(), self._loop).result(START)
        self.sent.append(nid)
        return nid

    def notifies(self) -> list[Heard]:
        with self._cond:
            return [h for h in self.items if h.kind == "call" and h.member == "Notify"]

    def stop(self) -> None:
        bus = self._bus
        if bus is not None:
            async def disconnect() -> None:
                bus.disconnect()
                await asyncio.wait_for(bus.wait_for_disconnect(), 5)

            with contextlib.suppress(Exception):  # already gone with the bus
                asyncio.run_coroutine_threadsafe(disconnect(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


# ---------------------------------------------------------------------------- X screens


class Xvfb:
    """A virtual X screen on a display number Xvfb picks itself (-displayfd)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.display = ""
        self.proc: Proc | None = None

    def start(self) -> Xvfb:
        read, write = os.pipe()
        try:
            self.proc = Proc(["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24",
                              "-nolisten", "tcp"], env=os.environ,
                             log=self.workdir / "xvfb.log", pass_fds=(write,))
            os.close(write)
            # The whole line: Xvfb writes the number and the newline separately, and
            # dies ("Cannot write display number") if the pipe is closed in between.
            number = read_line(read, START).strip()
        finally:
            os.close(read)
        if not number.isdigit():
            self.stop()
            raise AssertionError(f"Xvfb did not report its display within {START} s: "
                                 f"{self.proc.output()}")
        self.display = f":{number}"
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Window:
    wid: int
    rect: Rect


def xdotool(display: str, *args: str, check: bool = True) -> str:
    out = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display},
                         capture_output=True, text=True, timeout=10)
    if check and out.returncode != 0:
        raise AssertionError(f"xdotool {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def mapped_windows(display: str, wm_class: str) -> list[Window]:
    """The viewable top-level windows of `wm_class` (xdotool search --onlyvisible)."""
    out = xdotool(display, "search", "--onlyvisible", "--class", wm_class, check=False)
    found = []
    for wid in out.split():
        geo = dict(line.split("=", 1) for line in xdotool(
            display, "getwindowgeometry", "--shell", wid, check=False).split() if "=" in line)
        if {"X", "Y", "WIDTH", "HEIGHT"} <= geo.keys():
            rect = Rect(int(geo["X"]), int(geo["Y"]), int(geo["WIDTH"]), int(geo["HEIGHT"]))
            if rect.w > 20 and rect.h > 20:  # not the 1x1 and 10x10 helper windows
                found.append(Window(int(wid), rect))
    return found


def move_pointer(display: str, x: int, y: int) -> None:
    """The pointer to (x, y), once it is there. `mousemove --sync` waits for the pointer
    to move, forever when it already is at (x, y): then nothing is asked of it."""
    here = dict(line.split("=", 1) for line in xdotool(
        display, "getmouselocation", "--shell").split() if "=" in line)
    if (int(here.get("X", -1)), int(here.get("Y", -1))) != (x, y):
        xdotool(display, "mousemove", "--sync", str(x), str(y))


def click(display: str, x: int, y: int) -> None:
    move_pointer(display, x, y)
    xdotool(display, "click", "1")


def park_pointer(display: str) -> None:
    """The pointer off every bubble, so no button is drawn highlighted."""
    move_pointer(display, 0, 0)


@dataclass(frozen=True)
class Image:
    """A screenshot (xwd -root): raw pixels compared as bytes, never decoded to colours."""

    width: int
    height: int
    stride: int
    bpp: int  # bytes per pixel
    data: bytes

    def pixel(self, x: int, y: int) -> bytes:
        i = y * self.stride + x * self.bpp
        return self.data[i:i + min(self.bpp, 3)]


def screenshot(display: str) -> Image:
    raw = subprocess.run(["xwd", "-root", "-silent", "-display", display],
                         capture_output=True, timeout=10, check=True).stdout
    # XWDFileHeader: 25 big-endian CARD32 (header_size, ..., bits_per_pixel at 11,
    # bytes_per_line at 12, ncolors at 19), then ncolors 12-byte XWDColor entries.
    head = struct.unpack(">25I", raw[:100])
    width, height, bits, stride, ncolors = head[4], head[5], head[11], head[12], head[19]
    start = head[0] + 12 * ncolors
    return Image(width, height, stride, bits // 8, raw[start:start + stride * height])


def _differs(a: bytes, b: bytes, tol: int = 24) -> bool:
    return any(abs(x - y) > tol for x, y in zip(a, b, strict=True))


def drawn(img: Image, rect: Rect) -> int:
    """How many distinct pixel values the window shows (1: nothing drawn yet)."""
    values = {img.pixel(x, y) for y in range(rect.y, rect.y + rect.h, 2)
              for x in range(rect.x, rect.x + rect.w, 2)
              if 0 <= x < img.width and 0 <= y < img.height}
    return len(values)


@dataclass(frozen=True)
class Band:
    """Rows of a window holding something other than its background."""

    top: int
    bottom: int  # exclusive
    columns: tuple[tuple[int, int], ...]  # runs of columns with content, left to right


def bands(img: Image, rect: Rect, *, inset: int = 6, left: int = 0, right: int = 0
          ) -> list[Band]:
    """The bands of content in the window, top to bottom. Each row's background is what
    its inner edges show (some bubbles have a vertical gradient); `left` / `right` leave
    out decorations at the sides (MATE's colour bar and countdown)."""
    x0, x1 = rect.x + inset + left, rect.x + rect.w - inset - right
    y0, y1 = rect.y + inset, rect.y + rect.h - inset
    rows: list[tuple[int, set[int]]] = []
    for y in range(y0, y1):
        edge = [img.pixel(x, y) for x in (*range(x0, x0 + 3), *range(x1 - 3, x1))]
        bg = Counter(edge).most_common(1)[0][0]
        cols = {x for x in range(x0, x1) if _differs(img.pixel(x, y), bg)}
        rows.append((y, cols))
    out: list[Band] = []
    start: int | None = None
    cols_acc: set[int] = set()
    for y, cols in [*rows, (y1, set())]:
        if cols:
            if start is None:
                start, cols_acc = y, set()
            cols_acc |= cols
        elif start is not None:
            out.append(Band(start, y, _runs(sorted(cols_acc))))
            start = None
    return out


def _runs(xs: list[int]) -> tuple[tuple[int, int], ...]:
    runs: list[tuple[int, int]] = []
    for x in xs:
        if runs and x == runs[-1][1]:
            runs[-1] = (runs[-1][0], x + 1)
        else:
            runs.append((x, x + 1))
    return tuple(runs)


def split(band: Band, count: int) -> list[tuple[int, int]] | None:
    """The band's content split at its `count - 1` widest gaps, if those gaps stand out
    (each at least twice the next widest): the `count` buttons of a row, else None."""
    runs = band.columns
    if len(runs) < count:
        return None
    gaps = sorted(((runs[i + 1][0] - runs[i][1], i) for i in range(len(runs) - 1)),
                  reverse=True)
    cut, rest = gaps[:count - 1], gaps[count - 1:]
    if cut and rest and cut[-1][0] < 2 * rest[0][0]:
        return None
    edges = sorted(i for _, i in cut)
    parts, first = [], 0
    for i in edges:
        parts.append((runs[first][0], runs[i][1]))
        first = i + 1
    parts.append((runs[first][0], runs[-1][1]))
    return parts


def find_buttons(img: Image, rect: Rect, count: int, *, left: int = 0, right: int = 0
                 ) -> list[tuple[int, int]] | None:
    """The centres of the `count` buttons in the bubble's lowest band, or None."""
    found = [b for b in bands(img, rect, left=left, right=right) if b.bottom - b.top >= 8]
    if not found:
        return None
    row = found[-1]
    parts = split(row, count)
    if parts is None:
        return None
    y = (row.top + row.bottom) // 2
    return [((a + b) // 2, y) for a, b in parts]


def find_close_button(img: Image, rect: Rect, *, left: int = 0) -> tuple[int, int] | None:
    """The close button: the rightmost thing in the bubble's top band."""
    found = [b for b in bands(img, rect, left=left) if b.bottom - b.top >= 8]
    if not found:
        return None
    top = found[0]
    a, b = top.columns[-1]
    return (a + b) // 2, (top.top + top.bottom) // 2


def wait_until(check: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.05) -> Any:
    """Polls `check` until it returns something true. Only for what X offers no event
    for to a client without a toolkit (a window mapped and painted); bounded."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


# ---------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class ServerSpec:
    """One notification server, and what it does (measured on Debian 12)."""

    key: str  # the matrix's name for it
    program: str  # command or absolute path glob
    packages: Mapping[str, str]  # program -> Debian package, everything it needs
    server_name: str  # what GetServerInformation says
    answer_by: str  # "buttons" | "combo" | "menu"
    wm_class: str = ""  # the bubble's X class ("" for servers not on X)
    wayland: bool = False
    # After a button, the server takes the bubble down itself (NotificationClosed, reason
    # 2, right after ActionInvoked), even one that asked to stay (the "resident" hint).
    closes_after_action: bool = False
    # The reason the server gives when the person closes the bubble.
    close_reason: int = 2
    # Whether the server says so (NotificationClosed, reason 1) when a bubble's timeout
    # takes it down.
    says_expired: bool = True
    # CloseNotification is answered (NotificationClosed, reason 3) but the bubble stays on
    # screen until its own timeout (notification-daemon 3.20).
    close_leaves_bubble: bool = False
    crop: tuple[int, int] = (0, 0)  # decorations at the bubble's left / right
    env: Mapping[str, str] = field(default_factory=dict)


_GTK = {"NO_AT_BRIDGE": "1", "GSETTINGS_BACKEND": "memory"}
_X = {"Xvfb": "xvfb", "xdotool": "xdotool", "xwd": "x11-apps", "dbus-daemon": "dbus-daemon"}

XFCE = ServerSpec(
    "xfce4-notifyd", "/usr/lib/*/xfce4/notifyd/xfce4-notifyd",
    {**_X, "/usr/lib/*/xfce4/notifyd/xfce4-notifyd": "xfce4-notifyd",
     "/usr/lib/*/xfce4/xfconf/xfconfd": "xfconf", "xfconf-query": "xfconf"},
    "Xfce Notify Daemon", "buttons", wm_class="xfce4-notifyd", closes_after_action=True,
    env=_GTK)
NOTIFICATION_DAEMON = ServerSpec(
    "notification-daemon", "/usr/lib/notification-daemon/notification-daemon",
    {**_X, "/usr/lib/notification-daemon/notification-daemon": "notification-daemon"},
    "Notification Daemon", "buttons", wm_class="notification-daemon", says_expired=False,
    close_leaves_bubble=True, env=_GTK)
MATE = ServerSpec(
    "mate-notification-daemon", "/usr/lib/mate-notification-daemon/mate-notification-daemon",
    {**_X, "/usr/lib/mate-notification-daemon/mate-notification-daemon":
     "mate-notification-daemon"},
    "Notification Daemon", "buttons", wm_class="mate-notification-daemon",
    closes_after_action=True, close_reason=1, crop=(34, 44), env=_GTK)
LXQT = ServerSpec(
    "lxqt-notificationd", "lxqt-notificationd",
    {**_X, "lxqt-notificationd": "lxqt-notificationd"},
    "lxqt-notificationd", "combo", wm_class="lxqt-notificationd",
    env={"NO_AT_BRIDGE": "1", "QT_QPA_PLATFORM": "xcb"})
MAKO = ServerSpec(
    "mako", "mako",
    {"sway": "sway", "mako": "mako-notifier", "makoctl": "mako-notifier",
     "busctl": "systemd", "jq": "jq", "setpriv": "util-linux",
     "dbus-daemon": "dbus-daemon"},
    "mako", "menu", wayland=True)
DUNST = ServerSpec(
    "dunst", "dunst", {**_X, "dunst": "dunst", "dunstctl": "dunst"}, "dunst", "menu")

SERVERS = (XFCE, NOTIFICATION_DAEMON, MATE, LXQT, MAKO, DUNST)

# What GSettings needs to keep its keys in dconf, as on a GNOME or MATE desktop (the
# servers above otherwise use GSettings' memory backend: nothing of the machine's).
DCONF = {"/usr/libexec/dconf-service": "dconf-service", "gsettings": "libglib2.0-bin",
         "/usr/lib/*/gio/modules/libdconfsettings.so": "dconf-gsettings-backend",
         "/usr/share/glib-2.0/schemas/org.gnome.desktop.notifications.gschema.xml":
         "gsettings-desktop-schemas"}

# Stands in for dmenu: keeps the menu it was shown, answers with the line of the label
# the test wrote into the file "want": mako's lines are the labels, dunst's read
# "#Label (Title) [id,key]".
PICKER = """#!/bin/sh
menu=$(cat)
printf '%s\\n---\\n' "$menu" >> "{dir}/menus.log"
printf '%s\\n' "$menu" | awk -v w="$(cat "{dir}/want")" \\
    '$0 == w || index($0, "#" w " (") == 1 {{ print; exit }}'
"""

# dunst as installed, but for the menu program (and a font every machine has).
DUNSTRC = """[global]
    dmenu = {picker}
    font = Monospace 10
"""

# mako's do-not-disturb is a mode the person defines; this is the one its manual shows.
MAKO_CONFIG = """[mode=do-not-disturb]
invisible=1
"""


class Desktop:
    """A screen, a private session bus, whatever the server needs, and the server."""

    def __init__(self, spec: ServerSpec, workdir: Path, *, dconf: bool = False) -> None:
        self.spec = spec
        self.dconf = dconf  # GSettings in a real dconf-service on the bus
        # Short and under /tmp, readable by the unprivileged user sway runs as.
        self.dir = Path(tempfile.mkdtemp(prefix=f"att-{spec.key[:8]}-", dir="/tmp"))
        self.workdir = workdir
        self.user = unprivileged_user() if spec.wayland else None
        self.bus = DBusDaemon(self.dir / "bus", allow_all_users=self.user is not None)
        self.xvfb: Xvfb | None = None
        self.sway: Proc | None = None
        self.wayland_display = ""
        self.helpers: list[Proc] = []
        self.server: Proc | None = None
        self.recorder: BusRecorder | None = None
        self.starts = 0

    # -- life --------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        home = self.dir / "home"
        env = {k: v for k, v in os.environ.items()
               if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SWAYSOCK")}
        env.update({
            "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"), "XDG_DATA_HOME": str(home / ".local"),
            "XDG_RUNTIME_DIR": str(self.dir / "run"),
            "DBUS_SESSION_BUS_ADDRESS": self.bus.address, **self.spec.env})
        if self.dconf:
            env["GSETTINGS_BACKEND"] = "dconf"
        if self.xvfb is not None:
            env["DISPLAY"] = self.xvfb.display
        if self.wayland_display:
            env["WAYLAND_DISPLAY"] = self.wayland_display
        return env

    def session_env(self) -> dict[str, str]:
        """What another program of this desktop session shares with the server: where
        GSettings keeps its keys (MATE's do-not-disturb is one)."""
        if not self.dconf:
            return {}
        env = self.env()
        return {k: env[k] for k in ("GSETTINGS_BACKEND", "XDG_CONFIG_HOME")}

    def start(self) -> Desktop:
        try:
            return self._start()
        except BaseException:
            self.stop(keep=True)
            raise

    def _start(self) -> Desktop:
        for sub in ("home/.config", "home/.cache", "home/.local", "run"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "run").chmod(0o700)
        picker = self.dir / "picker"
        picker.write_text(PICKER.format(dir=self.dir))
        picker.chmod(0o755)
        (self.dir / "want").write_text("Done\n")
        if self.user is not None:
            for path in [self.dir, *self.dir.rglob("*")]:
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self.bus.start()
        if self.dconf:
            # A desktop starts it on demand (D-Bus activation); the test bus does not.
            self.helpers.append(Proc([program("/usr/libexec/dconf-service")],
                                     env=self.env(), log=self.dir / "dconf.log"))
            wait_for_name(self.bus.address, "ca.desrt.dconf", START)
        if self.spec.wayland:
            self._start_sway()
        else:
            self.xvfb = Xvfb(self.dir).start()
        if self.spec is XFCE:
            # xfce4-notifyd reads its settings (do-not-disturb too) from xfconfd, which a
            # desktop starts on demand (D-Bus activation); the test bus activates nothing.
            self.helpers.append(Proc([program("/usr/lib/*/xfce4/xfconf/xfconfd")],
                                     env=self.env(), log=self.dir / "xfconfd.log"))
            wait_for_name(self.bus.address, "org.xfce.Xfconf", START)
        self.start_server()
        self.recorder = BusRecorder(self.bus.address).start()
        return self

    def _start_sway(self) -> None:
        config = self.dir / "sway.conf"
        config.write_text("xwayland disable\n")
        if self.user is not None:
            os.chown(config, self.user.pw_uid, self.user.pw_gid)
        env = {**self.env(), "WLR_BACKENDS": "headless", "WLR_RENDERER": "pixman",
               "WLR_LIBINPUT_NO_DEVICES": "1"}
        self.sway = Proc(as_user(["sway", "-V", "-c", str(config)], self.user), env=env,
                         log=self.dir / "sway.log", stderr_pipe=True)
        # sway says which socket it made ("Running compositor on wayland display
        # 'wayland-1'"): read from its stderr, the rest copied to sway.log.
        found: list[str] = []
        ready = threading.Event()

        def read(stream: Any) -> None:
            with open(self.dir / "sway.log", "ab") as out:
                for line in stream:
                    out.write(line)
                    m = re.search(rb"Running compositor on wayland display '([^']+)'", line)
                    if m:
                        found.append(m.group(1).decode())
                        ready.set()
            ready.set()

        threading.Thread(target=read, args=(self.sway.proc.stderr,), daemon=True).start()
        if not ready.wait(START) or not found:
            raise AssertionError(f"sway did not start within {START} s: {self.sway.output()}")
        self.wayland_display = found[0]

    def server_args(self) -> list[str]:
        spec = self.spec
        if spec is DUNST:
            rc = self.dir / "dunstrc"
            rc.write_text(DUNSTRC.format(picker=self.dir / "picker"))
            return ["dunst", "-config", str(rc)]
        if spec is MAKO:
            config = self.dir / "mako.conf"
            config.write_text(MAKO_CONFIG)
            if self.user is not None:
                os.chown(config, self.user.pw_uid, self.user.pw_gid)
            return as_user(["mako", "-c", str(config)], self.user)
        return [program(spec.program)]

    def start_server(self) -> None:
        self.starts += 1
        self.server = Proc(self.server_args(), env=self.env(),
                           log=self.dir / f"{self.spec.key}.{self.starts}.log")
        try:
            wait_for_name(self.bus.address, NAME, START)
        except TimeoutError:
            raise AssertionError(f"{self.spec.key} did not take {NAME} within {START} s: "
                                 f"{self.server.output()}") from None

    def kill_server(self) -> None:
        """The server dies (SIGKILL): its name leaves the bus."""
        assert self.server is not None
        self.server.stop(signal.SIGKILL)
        wait_for_name(self.bus.address, NAME, START, owned=False)

    def stop(self, *, keep: bool = False) -> None:
        """Ends everything this desktop started; `keep` leaves its logs for a failure."""
        for part in (self.recorder, self.server, *reversed(self.helpers), self.sway,
                     self.xvfb, self.bus):
            if part is not None:
                part.stop()
        if keep:
            for log in self.dir.glob("*.log"):
                shutil.copy(log, self.workdir / log.name)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- talking to the server ----------------------------------------------------------

    def tool(self, *args: str, timeout: float = 10.0) -> str:
        """makoctl / dunstctl / xfconf-query with this desktop's environment."""
        out = subprocess.run(list(args), env=self.env(), capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode != 0:
            raise AssertionError(f"{' '.join(args)}: exit {out.returncode}: "
                                 f"{out.stderr.strip()}")
        return out.stdout

    def server_log(self) -> str:
        return self.server.output() if self.server is not None else ""

    @property
    def heard(self) -> BusRecorder:
        """What went over the bus between attuned and the server."""
        assert self.recorder is not None
        return self.recorder

    def on_screen(self) -> int:
        """How many bubbles the server shows now, by its own account (lxqt-notificationd
        shows all of them in one window, which it hides when there are none)."""
        if self.spec is MAKO:
            return len(json.loads(self.tool("makoctl", "list"))["data"][0])
        if self.spec is DUNST:
            return int(self.tool("dunstctl", "count", "displayed"))
        return len(self.bubbles())

    def close_notification(self, nid: int) -> None:
        bus_call(self.bus.address, NAME, PATH, NAME, "CloseNotification", "u", [nid])

    def withdraw(self, nid: int) -> None:
        """Take a bubble off the screen as attuned does: CloseNotification, after a
        replacement that expires at once where the server leaves a closed bubble up."""
        if self.spec.close_leaves_bubble:
            self.heard.notify("Withdrawn", timeout_ms=1, replaces=nid)
        self.close_notification(nid)

    @property
    def display(self) -> str:
        assert self.xvfb is not None
        return self.xvfb.display

    def bubbles(self) -> list[Window]:
        return mapped_windows(self.display, self.spec.wm_class)

    def wait_bubble(self, before: set[int], timeout: float = 10.0) -> Window:
        """A bubble window that was not there `before`, mapped and painted. Clicks sent
        before that land on the root window (or on a window still fading in), so a test
        always waits for this before it clicks."""
        park_pointer(self.display)

        def ready() -> Window | None:
            for w in self.bubbles():
                if (w.wid not in before or self.spec is LXQT) and drawn(
                        screenshot(self.display), w.rect) > 8:
                    return w
            return None

        return wait_until(ready, timeout, f"a {self.spec.key} bubble on screen")

    def buttons(self, window: Window, count: int, timeout: float = 5.0
                ) -> list[tuple[int, int]]:
        """Where the bubble's `count` buttons are drawn (waits until they are)."""
        left, right = self.spec.crop
        return wait_until(lambda: find_buttons(screenshot(self.display), window.rect, count,
                                               left=left, right=right),
                          timeout, f"{count} buttons drawn in the {self.spec.key} bubble")

    def pick(self, label: str) -> None:
        """The menu picker will choose the line with `label`."""
        (self.dir / "want").write_text(label + "\n")

    def menus(self) -> list[str]:
        """Every menu the picker was shown, oldest first."""
        path = self.dir / "menus.log"
        text = path.read_text() if path.exists() else ""
        return [m.strip("\n") for m in text.split("---\n")[:-1]]

    def wait_menu(self, count: int, timeout: float = 5.0) -> str:
        """The `count`th menu: dunstctl context returns before dunst has run the picker."""
        return str(wait_until(lambda: len(self.menus()) >= count and self.menus()[count - 1],
                              timeout, f"menu {count} shown by {self.spec.key}"))


    # -- a person at the screen ---------------------------------------------------------

    def show(self, summary: str, timeout_ms: int = 0, *, resident: bool = True) -> Bubble:
        """A notification with the nudge's four answers, sent from the recorder and shown
        (painted, on X); by default with what attuned asks of a nudge: never expire
        (timeout 0), and stay after a press (the "resident" hint)."""
        before = {w.wid for w in self.bubbles()} if self.spec.wm_class else set()
        nid = self.heard.notify(summary, "A body", ACTIONS, timeout_ms, resident=resident)
        return Bubble(nid, self.wait_bubble(before) if self.spec.wm_class else None)

    def displayed(self, b: Bubble) -> bool:
        """Does the server show this bubble now (its own account)?"""
        if self.spec is MAKO:
            listing = json.loads(self.tool("makoctl", "list"))
            return any(item["id"]["data"] == b.nid for item in listing["data"][0])
        if self.spec is DUNST:
            return int(self.tool("dunstctl", "count", "displayed")) >= 1
        return b.window is not None and any(w.wid == b.window.wid for w in self.bubbles())

    def wait_gone(self, b: Bubble, timeout: float = 5.0) -> None:
        wait_until(lambda: not self.displayed(b), timeout,
                   f"bubble {b.nid} off the {self.spec.key} screen", interval=0.1)

    def offered(self, b: Bubble) -> list[str]:
        """The answers the server offers for the bubble, as it shows them."""
        spec = self.spec
        if spec is MAKO:
            listing = json.loads(self.tool("makoctl", "list"))
            [item] = [i for i in listing["data"][0] if i["id"]["data"] == b.nid]
            return sorted(item["actions"]["data"].values())
        if spec is DUNST:
            self.pick("(no such line)")  # the picker answers nothing: only the menu is kept
            shown_before = len(self.menus())
            self.tool("dunstctl", "context")
            menu = self.wait_menu(shown_before + 1).splitlines()
            return sorted(line.split(" (")[0].lstrip("#") for line in menu)
        assert b.window is not None
        if spec is LXQT:
            return sorted(self.lxqt_list(b.window, pick=None))
        # One button per answer, drawn in a row: found in the screenshot.
        return [f"button {i + 1}" for i, _ in enumerate(self.buttons(b.window, 4))]

    def lxqt_list(self, window: Window, pick: int | None) -> list[str]:
        """lxqt-notificationd shows more than 3 actions as "Actions: [list] [OK]": open
        the list (a popup window of one row per action), then click row `pick` or leave
        it."""
        _label, combo, ok = self.buttons(window, 3)
        click(self.display, *combo)

        def popup() -> Window | None:
            return next((w for w in self.bubbles() if w.wid != window.wid), None)

        menu = wait_until(popup, 5, "the lxqt list of actions")
        rows = wait_until(lambda: [b for b in bands(screenshot(self.display), menu.rect,
                                                    inset=2)
                                   if b.bottom - b.top >= 8] or None, 5, "the list drawn")
        if pick is None:
            xdotool(self.display, "key", "Escape")  # closes the list, choosing nothing
        else:
            row = rows[pick]
            click(self.display, menu.rect.x + menu.rect.w // 2, (row.top + row.bottom) // 2)
        wait_until(lambda: popup() is None, 5, "the lxqt list closed")
        if pick is not None:
            click(self.display, *ok)
        return [f"entry {i + 1}" for i in range(len(rows))]

    def press(self, b: Bubble, label: str) -> None:
        """The person answers `label` on the server itself."""
        spec = self.spec
        index = LABELS.index(label)
        if spec is MAKO:
            self.pick(label)
            self.tool("makoctl", "menu", "-n", str(b.nid), str(self.dir / "picker"))
        elif spec is DUNST:
            self.pick(label)
            self.tool("dunstctl", "context")
        elif spec is LXQT:
            assert b.window is not None
            self.lxqt_list(b.window, pick=index)
        else:
            assert b.window is not None
            click(self.display, *self.buttons(b.window, 4)[index])
        if spec.wm_class:
            # Off the bubbles, before the next one comes: lxqt-notificationd counts a
            # pointer passing over a fresh bubble as its whole timeout
            # (test_desktop_facts.py).
            park_pointer(self.display)

    def close_by_hand(self, b: Bubble) -> None:
        """The person closes the bubble without answering."""
        if self.spec is MAKO:
            self.tool("makoctl", "dismiss", "-n", str(b.nid))
        elif self.spec is DUNST:
            self.tool("dunstctl", "close")
        else:
            # The close button (top right); xfce4-notifyd has none: a click on the bubble
            # (its title, the rightmost thing on top) closes it.
            assert b.window is not None
            spot = find_close_button(screenshot(self.display), b.window.rect,
                                     left=self.spec.crop[0])
            assert spot is not None, "no close button drawn"
            click(self.display, *spot)


@dataclass(frozen=True)
class Bubble:
    """A notification on a server: its id, and its window on X."""

    nid: int
    window: Window | None


@contextlib.contextmanager
def running(spec: ServerSpec, workdir: Path, *, dconf: bool = False) -> Iterator[Desktop]:
    """The server's desktop for a module's tests (skips unless it is installed)."""
    need({**spec.packages, **(DCONF if dconf else {})}, f"the {spec.key} test")
    desk = Desktop(spec, workdir, dconf=dconf).start()
    try:
        yield desk
    finally:
        desk.stop()
