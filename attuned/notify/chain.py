"""Deliver each nudge by the best way available now: D-Bus, then the fallbacks in order
(plyer, then the log). Every delivery and every failure is logged, with its reason, on
the "attuned.notify" logger: a nudge is never lost silently. A fallback that cannot
confirm its delivery (plyer on Linux) is followed by the next one as well."""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, overload

from attuned.errors import NotifyError
from attuned.notify.base import (
    CLI_ANSWER_HINT,
    ActionCallback,
    ClosedCallback,
    Delivery,
    Notification,
    Notifier,
    PausedCallback,
    ReplyCallback,
    ServerInfo,
)
from attuned.notify.dbus import DBusNotifier, ServerChangeCallback
from attuned.notify.log import LogNotifier
from attuned.notify.plyer_backend import PlyerNotifier

log = logging.getLogger("attuned.notify")

C = TypeVar("C", bound=Callable[..., Any])


def describe_server(info: ServerInfo) -> str:
    caps = ", ".join(info.capabilities) or "none"
    return f"{info.name} {info.version} by {info.vendor} (capabilities: {caps})"


class _ToPrimary(Generic[C]):
    """A callback attribute of the chain that is also set on its primary backend."""

    def __set_name__(self, owner: type[NotifierChain], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, chain: None, owner: type[NotifierChain]) -> _ToPrimary[C]: ...
    @overload
    def __get__(self, chain: NotifierChain, owner: type[NotifierChain]) -> C | None: ...
    def __get__(self, chain: NotifierChain | None,
                owner: type[NotifierChain]) -> _ToPrimary[C] | C | None:
        if chain is None:
            return self
        value: C | None = chain.__dict__.get(self.name)
        return value

    def __set__(self, chain: NotifierChain, callback: C | None) -> None:
        chain.__dict__[self.name] = callback
        if chain.primary is not None:
            setattr(chain.primary, self.name, callback)


class NotifierChain:
    """A `Notifier` that tries `primary` (D-Bus) and then each fallback in order."""

    backend = "chain"

    def __init__(self, primary: DBusNotifier | None, *fallbacks: Notifier) -> None:
        self.primary = primary
        self.fallbacks = fallbacks
        self.last_delivery: Delivery | None = None
        self.on_server_change: ServerChangeCallback | None = None
        self._told_no_buttons = False
        self._dbus_failing = False
        if primary is not None:
            primary.on_server_change = self._server_changed

    # The core's callbacks, handed on to the backend that can call them (only D-Bus can).
    on_action: _ToPrimary[ActionCallback] = _ToPrimary()
    on_closed: _ToPrimary[ClosedCallback] = _ToPrimary()
    on_reply: _ToPrimary[ReplyCallback] = _ToPrimary()
    on_dnd_change: _ToPrimary[PausedCallback] = _ToPrimary()

    async def do_not_disturb(self) -> bool | None:
        """The desktop's do-not-disturb, as D-Bus can tell (None without it)."""
        if self.primary is None:
            return None
        return await self.primary.do_not_disturb()

    @property
    def server_info(self) -> ServerInfo | None:
        """The notification server in use now, if any (for `attuned notify-test`)."""
        return self.primary.server_info if self.primary is not None else None

    @property
    def supports_actions(self) -> bool:
        return self.primary is not None and self.primary.supports_actions

    def _server_changed(self, info: ServerInfo | None) -> None:
        if info is not None:
            log.info("notification server: %s", describe_server(info))
        if self.on_server_change is not None:
            self.on_server_change(info)

    async def send(self, n: Notification) -> Delivery:
        """Deliver `n`; raises NotifyError (listing every reason) only if all backends fail."""
        reasons: list[str] = []
        if self.primary is not None:
            try:
                delivery = await self.primary.send(n)
            except NotifyError as exc:
                self._dbus_failing = True
                reasons.append(f"dbus: {exc}")
                log.warning('D-Bus could not deliver the nudge "%s": %s', n.title, exc)
            else:
                if self._dbus_failing:
                    self._dbus_failing = False
                    log.info("D-Bus notifications work again")
                log.info('nudge "%s" delivered via dbus to %s (id %s)',
                         n.title, delivery.server, delivery.notification_id)
                if n.actions and not self.primary.supports_actions:
                    self._tell_no_buttons(
                        f"the notification server {delivery.server} does not offer action "
                        "buttons")
                self.last_delivery = delivery
                return delivery
        unconfirmed: list[str] = []
        for backend in self.fallbacks:
            name = getattr(backend, "backend", type(backend).__name__)
            try:
                delivery = await backend.send(n)
            except NotifyError as exc:
                reasons.append(f"{name}: {exc}")
                log.warning('%s could not deliver the nudge "%s": %s', name, n.title, exc)
                continue
            if not getattr(backend, "confirms_delivery", True):
                unconfirmed.append(delivery.backend)
                log.info('nudge "%s" handed to %s, which cannot tell whether it was shown; '
                         "writing it to the log too", n.title, delivery.backend)
                continue
            if unconfirmed:
                delivery = dataclasses.replace(
                    delivery, backend="+".join([*unconfirmed, delivery.backend]))
            log.info('nudge "%s" delivered via %s', n.title, delivery.backend)
            if n.actions:
                self._tell_no_buttons(f"nudges are shown via {delivery.backend}, without buttons")
            self.last_delivery = delivery
            return delivery
        if unconfirmed:
            # Nothing confirmed it, but it may have been shown: not an error, just unsure.
            delivery = Delivery("+".join(unconfirmed), None, None)
            log.warning('nudge "%s" handed to %s only; it may not have been shown',
                        n.title, delivery.backend)
            self.last_delivery = delivery
            return delivery
        log.error('the nudge "%s" could not be delivered at all', n.title)
        raise NotifyError(
            f'No notification backend could deliver the nudge "{n.title}":\n  '
            + "\n  ".join(reasons or ["no backend configured"]))

    def _tell_no_buttons(self, why: str) -> None:
        if self._told_no_buttons:
            return
        self._told_no_buttons = True
        log.warning("%s; answer nudges from a terminal with `%s`", why, CLI_ANSWER_HINT)

    async def close_notification(self, notification_id: int) -> None:
        if self.primary is None or not self.primary.connected:
            return
        try:
            await self.primary.close_notification(notification_id)
        except NotifyError as exc:
            log.warning("could not withdraw notification %d: %s", notification_id, exc)

    async def aclose(self) -> None:
        for backend in (self.primary, *self.fallbacks):
            if backend is not None:
                await backend.aclose()


def default_chain(environ: Mapping[str, str] | None = None,
                  platform: str = sys.platform) -> NotifierChain:
    """D-Bus, then plyer, then the log on Linux and the BSDs; plyer then the log elsewhere.

    Where D-Bus is the native API, plyer shells out to notify-send (which may still get
    through where dbus-fast could not, say on a bus address it does not speak) but ignores
    notify-send's exit status, so its deliveries there are unconfirmed and the log gets
    every such nudge too."""
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return NotifierChain(DBusNotifier(environ=environ),
                             PlyerNotifier(confirms_delivery=False), LogNotifier())
    return NotifierChain(None, PlyerNotifier(), LogNotifier())
