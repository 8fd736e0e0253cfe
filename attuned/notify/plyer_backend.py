"""Notifications through plyer, for platforms without the freedesktop API (macOS,
Windows). No actions, no ids: answers come from the CLI.

plyer 2.1 facts: `notification.notify` blocks (so it runs in a thread); on Linux,
without the dbus-python package, it shells out to `notify-send` and ignores its exit
status, so a failure there is silent. So on Linux its deliveries are unconfirmed
(`confirms_delivery = False`), and the chain writes the nudge to the log as well."""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import Callable
from typing import Any

from attuned.errors import NotifyError
from attuned.notify.base import Delivery, Notification, OneWay

NotifyFunction = Callable[..., Any]


def _plyer_notify(**kwargs: Any) -> Any:
    # plyer on Linux asks for dbus-python when it falls back to notify-send; attuned
    # speaks D-Bus itself and needs no such package, so the advice would mislead.
    warnings.filterwarnings("ignore", message="The Python dbus package is not installed",
                            category=UserWarning)
    # Imported late: plyer picks its platform backend on first use.
    from plyer import notification

    return notification.notify(**kwargs)


def _icon(n: Notification) -> str:
    """The icon by its theme name on Linux (notify-send -i); elsewhere plyer wants a file
    (an .ico on Windows), which attuned does not ship: none."""
    return n.icon if sys.platform.startswith("linux") else ""


class PlyerNotifier(OneWay):
    backend = "plyer"

    def __init__(self, notify: NotifyFunction | None = None, *, timeout: float = 10.0,
                 confirms_delivery: bool = True) -> None:
        """`notify` replaces `plyer.notification.notify` (tests pass a fake).
        `confirms_delivery=False`: a return from plyer does not prove the nudge was shown."""
        self.confirms_delivery = confirms_delivery
        super().__init__()
        self._notify = notify or _plyer_notify
        self._timeout = timeout

    async def send(self, n: Notification) -> Delivery:
        # Never expiring (0) is not asked of plyer: it cannot withdraw what it showed.
        timeout_s = 10 if n.timeout_ms <= 0 else max(1, round(n.timeout_ms / 1000))
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._notify, title=n.title, message=n.body,
                                  app_name=n.app_name, app_icon=_icon(n), timeout=timeout_s),
                self._timeout)
        except Exception as exc:
            reason = "no answer in time" if isinstance(exc, TimeoutError) else (
                f"{type(exc).__name__}: {exc}")
            raise NotifyError(f"plyer could not show the nudge: {reason}") from exc
        return Delivery(self.backend, None, None)

    async def close_notification(self, notification_id: int) -> None:
        return None

    async def aclose(self) -> None:
        return None
