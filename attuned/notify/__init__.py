"""How nudges reach the person: freedesktop D-Bus, plyer, or the log, in that order.

Import the backends from their modules (attuned.notify.dbus imports dbus-fast);
this package module keeps only the light, shared types."""

from attuned.notify.base import Delivery, Notification, Notifier, ServerInfo

__all__ = ["Delivery", "Notification", "Notifier", "ServerInfo"]
