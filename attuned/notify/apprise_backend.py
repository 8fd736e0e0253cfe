"""Other channels, one way, through the Apprise library (e-mail, Telegram, Signal,
Matrix, Pushover, Gotify, ...). Apprise is an optional extra (`attuned[apprise]`) and
imported only here, only when [phone] apprise is set."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from attuned.errors import NotifyError
from attuned.notify.base import Delivery, Notification

log = logging.getLogger("attuned.notify")


def how_to_answer(n: Notification, with_buttons: bool) -> str:
    """The line that says how to answer a nudge seen where no button reaches attuned."""
    if n.nudge_id is None:
        return ""
    where = "the buttons in the ntfy app, or " if with_buttons else ""
    return (f"\n\nAnswer with {where}`attuned done {n.nudge_id}` "
            f"(or snooze, skip) on your computer.")


class AppriseNotifier:
    """Sends each nudge to every Apprise URL; hears nothing back."""

    backend = "apprise"

    def __init__(self, urls: tuple[str, ...]) -> None:
        try:
            import apprise  # the optional extra, only when configured
        except ImportError:
            raise NotifyError("[phone] apprise is set but the Apprise library is not "
                              "installed; install attuned[apprise] "
                              "(pipx inject attuned apprise)") from None
        self._apprise: Any = apprise.Apprise()
        bad = [url for url in urls if not self._apprise.add(url)]
        if bad:
            raise NotifyError(f"Apprise does not know the address {bad[0]!r}; see "
                              "https://github.com/caronc/apprise/wiki for the forms")
        self.count = len(urls)

    async def send(self, n: Notification, *, with_buttons: bool = False) -> Delivery:
        body = n.body + how_to_answer(n, with_buttons)
        ok = await asyncio.to_thread(self._apprise.notify, title=n.title, body=body)
        if not ok:
            raise NotifyError("Apprise could not deliver to "
                              + ("its address" if self.count == 1 else
                                 f"every one of its {self.count} addresses")
                              + "; its log says why")
        return Delivery(self.backend, None, None)
