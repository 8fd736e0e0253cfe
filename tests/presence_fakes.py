"""FAKES of the desktop's presence services, for tests (no real screen locker or logind
runs here), each on a real private bus and driven synchronously from a thread:

- FakeScreenSaver: owns org.freedesktop.ScreenSaver (or org.gnome.ScreenSaver) on a test
  session bus: GetActive, and ActiveChanged when `.set_active()` is called;
- FakeLogindSession: owns org.freedesktop.login1 on a private bus standing in for the
  system bus: Manager.GetUser, the user's Display session, and that session's LockedHint,
  IdleHint, IdleSinceHint and Type, with PropertiesChanged when `.set()` is called.
"""

# No `from __future__ import annotations`: dbus-fast reads the D-Bus signatures from the
# methods' annotations at class creation.

import asyncio
import os
import threading
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from dbus_fast import PropertyAccess, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, dbus_property, method, signal


class _Threaded:
    name = ""

    def __init__(self, address: str) -> None:
        self.address = address
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"fake-{self.name}")
        self._bus: Any = None

    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _export(self, bus: MessageBus) -> None:
        raise NotImplementedError

    def start(self) -> "_Threaded":
        self._thread.start()

        async def connect() -> MessageBus:
            bus = await MessageBus(bus_address=self.address).connect()
            self._export(bus)
            reply = await bus.request_name(self.name)
            assert reply == RequestNameReply.PRIMARY_OWNER
            return bus

        self._bus = self._run(connect())
        return self

    def stop(self) -> None:
        if self._bus is not None:
            self._loop.call_soon_threadsafe(self._bus.disconnect)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _SaverInterface(ServiceInterface):
    def __init__(self, iface: str) -> None:
        super().__init__(iface)
        self.active = False

    @method()
    def GetActive(self) -> "b":  # type: ignore[name-defined]  # noqa: F821
        return self.active

    @signal()
    def ActiveChanged(self, active: bool) -> "b":  # type: ignore[name-defined]  # noqa: F821
        return active


class FakeScreenSaver(_Threaded):
    """FAKE screensaver: `set_active(True)` is the screen locking."""

    def __init__(self, address: str, *, gnome: bool = False) -> None:
        self.name = "org.gnome.ScreenSaver" if gnome else "org.freedesktop.ScreenSaver"
        self.path = "/org/gnome/ScreenSaver" if gnome else "/org/freedesktop/ScreenSaver"
        super().__init__(address)
        self._iface = _SaverInterface(self.name)

    def _export(self, bus: MessageBus) -> None:
        bus.export(self.path, self._iface)

    def __enter__(self) -> "FakeScreenSaver":
        self.start()
        return self

    def set_active(self, active: bool) -> None:
        async def change() -> None:
            self._iface.active = active
            self._iface.ActiveChanged(active)

        self._run(change())


SESSION_PATH = "/org/freedesktop/login1/session/_3"


class _Manager(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.freedesktop.login1.Manager")

    @method()
    def GetUser(self, uid: "u") -> "o":  # type: ignore[name-defined]  # noqa: F821
        return f"/org/freedesktop/login1/user/_{uid}"


class _User(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.freedesktop.login1.User")
        self.display = ("3", SESSION_PATH)

    @dbus_property(access=PropertyAccess.READ)
    def Display(self) -> "(so)":  # type: ignore[name-defined]  # noqa: F821
        return list(self.display)


class _Session(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.freedesktop.login1.Session")
        self.type = "x11"
        self.locked = False
        self.idle = False
        self.idle_since = 0

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":  # type: ignore[name-defined]  # noqa: F821
        return self.type

    @dbus_property(access=PropertyAccess.READ)
    def LockedHint(self) -> "b":  # type: ignore[name-defined]  # noqa: F821
        return self.locked

    @dbus_property(access=PropertyAccess.READ)
    def IdleHint(self) -> "b":  # type: ignore[name-defined]  # noqa: F821
        return self.idle

    @dbus_property(access=PropertyAccess.READ)
    def IdleSinceHint(self) -> "t":  # type: ignore[name-defined]  # noqa: F821
        return self.idle_since


class FakeLogindSession(_Threaded):
    """FAKE logind with one graphical session for every user: `.set(locked=True)`,
    `.set(idle_since=datetime)` (idle from then), `.set(idle_since=None)` (input again)."""

    name = "org.freedesktop.login1"

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self._session = _Session()
        self._user = _User()

    def _export(self, bus: MessageBus) -> None:
        bus.export("/org/freedesktop/login1", _Manager())
        bus.export(f"/org/freedesktop/login1/user/_{os.getuid()}", self._user)
        bus.export(SESSION_PATH, self._session)

    def __enter__(self) -> "FakeLogindSession":
        self.start()
        return self

    def new_login(self, path: str = "/org/freedesktop/login1/session/_7") -> None:
        """A new graphical login: the user's display session is now `path`, not locked."""
        async def change() -> None:
            fresh = _Session()
            self._bus.export(path, fresh)
            self._session = fresh
            self._user.display = (path.rsplit("_", 1)[-1], path)
            self._user.emit_properties_changed({"Display": list(self._user.display)})

        self._run(change())

    def set(self, *, locked: bool | None = None, idle_since: datetime | bool | None = False
            ) -> None:
        async def change() -> None:
            changed: dict[str, Any] = {}
            if locked is not None:
                self._session.locked = changed["LockedHint"] = locked
            if idle_since is not False:
                assert not isinstance(idle_since, bool)
                self._session.idle = changed["IdleHint"] = idle_since is not None
                usec = 0 if idle_since is None else int(idle_since.timestamp() * 1e6)
                self._session.idle_since = changed["IdleSinceHint"] = usec
            self._session.emit_properties_changed(changed)

        self._run(change())
