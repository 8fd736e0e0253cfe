"""[phone] apprise: nudges sent one way through the Apprise library, here as e-mail to a
real SMTP server (aiosmtpd) the test starts; the message says how to answer."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from daemon_harness import Daemons, due_in, practice, settings

WAIT = 10.0


class Inbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.mails.append(msg)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    # aiosmtpd's Controller cannot take port 0: it connects to the port it was given to
    # see the server up ("Connection refused" on 0). A free port is found first.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_a_nudge_arrives_by_email_with_how_to_answer(daemons: Daemons,
                                                     smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    url = f"mailto://127.0.0.1:{port}?from=attuned@example.org&to=me@example.org"
    d = daemons(config_text=settings() + f'[phone]\napprise = ["{url}"]\nwhen = "always"\n'
                + practice("look-up", once=due_in(2), message="Meet their eyes."))
    d.start()
    [m] = d.wait_for_log(r"INFO attuned: nudged look-up \((\w+)\)", WAIT)
    d.wait_for_log('nudge "Look-Up" sent through Apprise', WAIT)
    [mail] = inbox.mails
    assert mail["Subject"] == "Look-Up"
    assert mail["To"] == "me@example.org"
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    text = part.get_content()
    assert text.startswith("Meet their eyes.")
    assert f"Answer with `attuned done {m.group(1)}` (or snooze, skip) on your computer." in text


def test_a_practice_that_says_never_stays_off_the_phone(daemons: Daemons,
                                                        smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    url = f"mailto://127.0.0.1:{port}?from=attuned@example.org&to=me@example.org"
    d = daemons(config_text=settings() + f'[phone]\napprise = ["{url}"]\nwhen = "always"\n'
                + practice("quiet", once=due_in(2), extra='phone = "never"')
                + practice("loud", once=due_in(3)))
    d.start()
    d.wait_for_log('nudge "Loud" sent through Apprise', WAIT)
    assert [mail["Subject"] for mail in inbox.mails] == ["Loud"]
    assert "attuned nudge: Quiet" in d.log_text()
