"""The phone and the other channels together, as one `PhoneChannel`: ntfy (with
answers) and Apprise (one way), built from [phone]. A channel that fails is logged and
told once until it works again; the desktop and the log have the nudge anyway."""

from __future__ import annotations

import logging
from collections.abc import Callable

from attuned.core.model import Phone
from attuned.core.words import count
from attuned.errors import NotifyError
from attuned.notify.apprise_backend import AppriseNotifier
from attuned.notify.base import Delivery, Notification, PhoneAnswerCallback
from attuned.notify.ntfy import NtfyNotifier, read_token

log = logging.getLogger("attuned.notify")

TellCallback = Callable[[str, str], None]  # (title, body): said once per failure


class Phones:
    """ntfy and Apprise, where configured."""

    backend = "phone"

    def __init__(self, ntfy: NtfyNotifier | None, apprise: AppriseNotifier | None) -> None:
        self.ntfy = ntfy
        self.apprise = apprise
        self.tell: TellCallback | None = None
        self._failing: dict[str, str] = {}  # channel -> why it failed last
        self.failures = 0

    @property
    def on_answer(self) -> PhoneAnswerCallback | None:
        return self.ntfy.on_answer if self.ntfy is not None else None

    @on_answer.setter
    def on_answer(self, callback: PhoneAnswerCallback | None) -> None:
        if self.ntfy is not None:
            self.ntfy.on_answer = callback

    async def start(self) -> None:
        if self.ntfy is not None:
            await self.ntfy.start()
            log.info("phone: nudges go to %s/%s; answers come from its reply topic",
                     self.ntfy.server, self.ntfy.topic)
        if self.apprise is not None:
            log.info("phone: nudges go to %d Apprise address(es)", self.apprise.count)

    async def send(self, n: Notification) -> Delivery:
        """To every channel; NotifyError only when none took it."""
        done: list[str] = []
        reasons: list[str] = []
        if self.ntfy is not None:
            try:
                d = await self.ntfy.send(n)
                done.append(d.backend)
                self._works("ntfy")
                log.info('nudge "%s" published to the phone via %s', n.title, d.server)
            except NotifyError as e:
                reasons.append(str(e))
                self._fails("ntfy", n, str(e))
        if self.apprise is not None:
            try:
                await self.apprise.send(n, with_buttons=self.ntfy is not None)
                done.append("apprise")
                self._works("apprise")
                log.info('nudge "%s" sent through Apprise', n.title)
            except NotifyError as e:
                reasons.append(str(e))
                self._fails("apprise", n, str(e))
        if not done:
            raise NotifyError("; ".join(reasons) or "no phone channel configured")
        return Delivery("+".join(done), None, None)

    def _works(self, name: str) -> None:
        if self._failing.pop(name, None) is not None:
            log.info("the phone (%s) works again", name)

    def _fails(self, name: str, n: Notification, why: str) -> None:
        self.failures += 1
        log.warning('the phone (%s) did not get the nudge "%s": %s; it is on the desktop '
                    "and in this log", name, n.title, why)
        told = name in self._failing
        self._failing[name] = why
        if told:
            return
        if self.tell is not None:
            self.tell("attuned cannot reach your phone",
                      f"{why}. Nudges come here meanwhile; you are told again only "
                      "after it has worked once more.")

    def describe(self) -> str:
        """For `attuned status`: each channel, and whether it works."""
        parts = []
        if self.ntfy is not None:
            parts.append(f"ntfy {self.ntfy.server}/{self.ntfy.topic}")
        if self.apprise is not None:
            parts.append(f"Apprise ({count(self.apprise.count, 'address', 'addresses')})")
        text = "; ".join(parts)
        for name, why in self._failing.items():
            text += f"; {name} failing: {why}"
        if self.failures:
            text += f"; {count(self.failures, 'nudge')} did not reach a channel"
        return text

    def forget(self, nudge_id: str) -> None:
        if self.ntfy is not None:
            self.ntfy.forget(nudge_id)

    def remember(self, nudge_id: str, shown_at: float) -> None:
        if self.ntfy is not None:
            self.ntfy.remember(nudge_id, shown_at)

    async def aclose(self) -> None:
        if self.ntfy is not None:
            await self.ntfy.aclose()


def build(phone: Phone, secret: bytes | None = None) -> Phones | None:
    """The channels [phone] asks for; None without any. `secret` (kept across restarts)
    lets a later run take the answers to what an earlier one published. Raises
    AttunedError (a token file others can read, Apprise missing) saying what to do."""
    if not phone.configured:
        return None
    ntfy = None
    if phone.ntfy is not None:
        token = read_token(phone.token_file) if phone.token_file else None
        ntfy = NtfyNotifier(phone.ntfy, token, secret=secret)
    apprise = AppriseNotifier(phone.apprise) if phone.apprise else None
    return Phones(ntfy, apprise)
