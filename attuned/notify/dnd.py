"""Each desktop's do-not-disturb switch: where it is read, and how its changes are heard.

The switch is chosen by the notification server's name (GetServerInformation); each one
is read before a nudge and heard through a signal on the session bus, so nothing polls:

- dunst: the property "paused" of org.dunstproject.cmd0 on the server's object; changes
  made through D-Bus (`dunstctl set-paused`) are announced with PropertiesChanged.
- xfce4-notifyd ("Xfce Notify Daemon"): the xfconf property /do-not-disturb of the
  channel xfce4-notifyd, read from xfconfd (org.xfce.Xfconf GetProperty; a property
  never set does not exist: off), heard by xfconfd's PropertyChanged / PropertyRemoved.
- mako: the mode "do-not-disturb" among ListModes of fr.emersion.Mako. mako 1.10 and
  later announce a change of their property "Modes" with PropertiesChanged; earlier
  ones (Debian 12 has 1.7) announce nothing, so the SetModes / SetMode calls that
  `makoctl mode` makes are heard instead, through an eavesdropping match (dbus-daemon's
  session bus allows it; where a bus refuses, the switch is still read before each nudge).
- GNOME Shell ("gnome-shell"): the gsettings key `org.gnome.desktop.notifications
  show-banners` (false: do-not-disturb), read with `gsettings get`; dconf announces
  every write with ca.desrt.dconf.Writer's Notify, after which the key is read again.
- MATE ("Notification Daemon" by "MATE"): the gsettings key
  `org.mate.NotificationDaemon do-not-disturb`, read and heard the same way.
- KDE Plasma ("Plasma"): the read-only property "Inhibited" of
  org.freedesktop.Notifications on the server's object, announced with PropertiesChanged.

Any other server is asked once for dunst's property (forks and look-alikes keep it);
one that does not have it says nothing, and nudges are sent as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dbus_fast import DBusError, Message, MessageType, Variant

log = logging.getLogger("attuned.notify")

NOTIFICATIONS_NAME = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"
PROPERTIES = "org.freedesktop.DBus.Properties"
DUNST_IFACE = "org.dunstproject.cmd0"
XFCONF_NAME = "org.xfce.Xfconf"
XFCONF_PATH = "/org/xfce/Xfconf"
XFCONF_CHANNEL = "xfce4-notifyd"
XFCONF_PROPERTY = "/do-not-disturb"
MAKO_PATH = "/fr/emersion/Mako"
MAKO_IFACE = "fr.emersion.Mako"
MAKO_MODE = "do-not-disturb"
DCONF_WRITER = "ca.desrt.dconf.Writer"

# A D-Bus call: (destination, path, interface, member, signature, body) -> reply body.
# Raises DBusError for an error reply and TimeoutError when no reply comes in time.
Caller = Callable[[str, str, str, str, str, list[Any]], Awaitable[list[Any]]]


class Heard(enum.Enum):
    """What a message on the bus says about the current server's switch."""

    NOTHING = "nothing"  # not about it
    ON = "on"
    OFF = "off"
    ASK = "ask"  # it may have changed: read it again


def _onoff(value: bool) -> Heard:
    return Heard.ON if value else Heard.OFF


def _properties_changed(msg: Message, path: str, iface: str) -> tuple[dict[str, Any],
                                                                        list[str]] | None:
    if (msg.message_type is MessageType.SIGNAL and msg.interface == PROPERTIES
            and msg.member == "PropertiesChanged" and msg.path == path
            and msg.signature == "sa{sv}as" and msg.body[0] == iface):
        return dict(msg.body[1]), list(msg.body[2])
    return None


@dataclass(frozen=True)
class Switch:
    """One desktop's switch. `desktop` names it in the log; `where` says where it is."""

    desktop: str
    where: str

    async def read(self, call: Caller) -> bool | None:
        """On (True), off (False), or None when this desktop cannot say."""
        raise NotImplementedError

    def heard(self, msg: Message) -> Heard:
        return Heard.NOTHING


@dataclass(frozen=True)
class _PropertySwitch(Switch):
    """A boolean D-Bus property of the notification server (dunst, KDE Plasma)."""

    iface: str = ""
    prop: str = ""

    async def read(self, call: Caller) -> bool | None:
        (value,) = await call(NOTIFICATIONS_NAME, NOTIFICATIONS_PATH, PROPERTIES, "Get", "ss",
                              [self.iface, self.prop])
        return bool(value.value) if isinstance(value, Variant) else None

    def heard(self, msg: Message) -> Heard:
        change = _properties_changed(msg, NOTIFICATIONS_PATH, self.iface)
        if change is None:
            return Heard.NOTHING
        changed, invalidated = change
        value = changed.get(self.prop)
        if isinstance(value, Variant):
            return _onoff(bool(value.value))
        return Heard.ASK if self.prop in invalidated else Heard.NOTHING


@dataclass(frozen=True)
class _XfceSwitch(Switch):
    async def read(self, call: Caller) -> bool | None:
        try:
            (value,) = await call(XFCONF_NAME, XFCONF_PATH, XFCONF_NAME, "GetProperty", "ss",
                                  [XFCONF_CHANNEL, XFCONF_PROPERTY])
        except DBusError as exc:
            if exc.type == "org.xfce.Xfconf.Error.PropertyNotFound":
                return False  # never switched on: xfce4-notifyd's default
            raise
        return bool(value.value) if isinstance(value, Variant) else None

    def heard(self, msg: Message) -> Heard:
        if (msg.message_type is not MessageType.SIGNAL or msg.interface != XFCONF_NAME
                or msg.path != XFCONF_PATH or list(msg.body[:2]) != [XFCONF_CHANNEL,
                                                                     XFCONF_PROPERTY]):
            return Heard.NOTHING
        if msg.member == "PropertyChanged" and msg.signature == "ssv":
            return _onoff(bool(msg.body[2].value))
        if msg.member == "PropertyRemoved":
            return Heard.OFF
        return Heard.NOTHING


@dataclass(frozen=True)
class _MakoSwitch(Switch):
    async def read(self, call: Caller) -> bool | None:
        (modes,) = await call(NOTIFICATIONS_NAME, MAKO_PATH, MAKO_IFACE, "ListModes", "", [])
        return MAKO_MODE in modes

    def heard(self, msg: Message) -> Heard:
        change = _properties_changed(msg, MAKO_PATH, MAKO_IFACE)
        if change is not None:  # mako >= 1.10: "Modes" is invalidated, not sent
            changed, invalidated = change
            return Heard.ASK if "Modes" in changed or "Modes" in invalidated else Heard.NOTHING
        if (msg.message_type is MessageType.METHOD_CALL and msg.path == MAKO_PATH
                and msg.interface == MAKO_IFACE):
            # Someone else's call, overheard: the value it sets, once mako has taken it.
            if msg.member == "SetModes" and msg.signature == "as":
                return _onoff(MAKO_MODE in msg.body[0])
            if msg.member == "SetMode" and msg.signature == "s":
                return _onoff(msg.body[0] == MAKO_MODE)
        return Heard.NOTHING


@dataclass(frozen=True)
class _GsettingsSwitch(Switch):
    """A boolean gsettings key (dconf), `on_when` its value meaning do-not-disturb."""

    schema: str = ""
    key: str = ""
    dconf_path: str = ""  # where dconf keeps the key
    on_when: bool = True
    program: str = "gsettings"

    async def read(self, call: Caller) -> bool | None:
        try:
            proc = await asyncio.create_subprocess_exec(
                self.program, "get", self.schema, self.key, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            log.debug("cannot run %s: %s", self.program, exc)
            return None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        text = out.decode(errors="replace").strip()
        if proc.returncode != 0 or text not in ("true", "false"):
            log.debug("gsettings get %s %s: %s", self.schema, self.key,
                      err.decode(errors="replace").strip() or text)
            return None
        return (text == "true") == self.on_when

    def heard(self, msg: Message) -> Heard:
        if (msg.message_type is not MessageType.SIGNAL or msg.interface != DCONF_WRITER
                or msg.member != "Notify" or msg.signature != "sass"):
            return Heard.NOTHING
        prefix, changes = str(msg.body[0]), [str(c) for c in msg.body[1]] or [""]
        for change in changes:
            path = prefix + change
            if path == self.dconf_path or (path.endswith("/")
                                           and self.dconf_path.startswith(path)):
                return Heard.ASK
        return Heard.NOTHING


DUNST = _PropertySwitch("dunst", "dunst's property paused", DUNST_IFACE, "paused")
XFCE = _XfceSwitch("xfce4-notifyd", f"xfconf {XFCONF_CHANNEL} {XFCONF_PROPERTY}")
MAKO = _MakoSwitch("mako", f"mako's mode {MAKO_MODE}")
GNOME = _GsettingsSwitch(
    "GNOME", "gsettings org.gnome.desktop.notifications show-banners",
    "org.gnome.desktop.notifications", "show-banners",
    "/org/gnome/desktop/notifications/show-banners", on_when=False)
MATE = _GsettingsSwitch(
    "MATE", "gsettings org.mate.NotificationDaemon do-not-disturb",
    "org.mate.NotificationDaemon", "do-not-disturb",
    "/org/mate/notification-daemon/do-not-disturb", on_when=True)
PLASMA = _PropertySwitch("KDE Plasma", "the server's property Inhibited", NOTIFICATIONS_NAME,
                         "Inhibited")

# By (name, vendor) as GetServerInformation gives them; a vendor of None: any.
_BY_SERVER: dict[tuple[str, str | None], Switch] = {
    ("dunst", None): DUNST, ("Xfce Notify Daemon", None): XFCE, ("mako", None): MAKO,
    ("gnome-shell", None): GNOME, ("Plasma", None): PLASMA,
    ("Notification Daemon", "MATE"): MATE,
}


def _lookup(name: str, vendor: str) -> Switch | None:
    return _BY_SERVER.get((name, vendor)) or _BY_SERVER.get((name, None))


def switch_for(name: str, vendor: str) -> Switch:
    """The switch of the server that calls itself `name` by `vendor` (dunst's for any
    other: forks and look-alikes keep its property)."""
    return _lookup(name, vendor) or DUNST


def known(name: str, vendor: str) -> bool:
    return _lookup(name, vendor) is not None


# Match rules for every switch's announcements (cheap: a few signals a day).
MATCH_RULES = (
    f"type='signal',interface='{PROPERTIES}',member='PropertiesChanged',"
    f"path='{NOTIFICATIONS_PATH}',arg0='{DUNST_IFACE}'",
    f"type='signal',interface='{PROPERTIES}',member='PropertiesChanged',"
    f"path='{NOTIFICATIONS_PATH}',arg0='{NOTIFICATIONS_NAME}'",
    f"type='signal',interface='{PROPERTIES}',member='PropertiesChanged',"
    f"path='{MAKO_PATH}',arg0='{MAKO_IFACE}'",
    f"type='signal',interface='{XFCONF_NAME}',path='{XFCONF_PATH}',arg0='{XFCONF_CHANNEL}',"
    f"arg1='{XFCONF_PROPERTY}'",
    *(f"type='signal',interface='{DCONF_WRITER}',member='Notify',arg0path='{path}'"
      for path in ("/org/gnome/desktop/notifications/", "/org/mate/notification-daemon/")),
)
# Rules a bus may refuse without harm (eavesdropping on mako's mode calls).
OPTIONAL_MATCH_RULES = tuple(
    f"type='method_call',path='{MAKO_PATH}',interface='{MAKO_IFACE}',member='{member}',"
    "eavesdrop='true'" for member in ("SetModes", "SetMode"))
