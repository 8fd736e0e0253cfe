"""`attuned phone setup [SERVER]` and `attuned phone test`: an unguessable ntfy topic
written into [phone] with its subscribe link and QR code, and one message with buttons
whose answer is waited for (recorded nowhere)."""

from __future__ import annotations

import secrets
import sys
import urllib.parse
from typing import TextIO

import click

from attuned.cli.common import SummaryGroup, load_schedule
from attuned.cli.common import config_path as _config
from attuned.errors import AttunedError

DEFAULT_SERVER = "https://ntfy.sh"
TEST_WAIT = 60.0


class PhoneNotSet(AttunedError):
    pass


def new_topic() -> str:
    """"attuned-" and 128 random bits, in the letters a topic may hold ([-_A-Za-z0-9])."""
    return "attuned-" + secrets.token_urlsafe(16)


def draw_qr(text: str, out: TextIO) -> None:
    import segno  # only here: nothing else draws

    segno.make(text, error="m").terminal(out=out, compact=True, border=2)


@click.group(cls=SummaryGroup)
def phone() -> None:
    """Nudges on your phone, with answers, through the ntfy app.

    \b
    Example:
        attuned phone setup && attuned phone test
    """


@phone.command()
@click.argument("server", required=False, default=DEFAULT_SERVER)
@click.option("--new", "fresh", is_flag=True,
              help="Make a new topic even where one is set (the old one stops working).")
@click.pass_context
def setup(ctx: click.Context, server: str, fresh: bool) -> None:
    """Make an unguessable ntfy topic, write it into [phone], show its QR code.

    SERVER is the ntfy server (default https://ntfy.sh; your own works too). Scan the
    code with the ntfy app (Android, iOS), or subscribe to the link it prints.

    \b
    Example:
        attuned phone setup https://ntfy.example.org
    """
    from attuned.config.edit import set_phone_topic
    from attuned.config.phone import ntfy_topic_url

    path = _config(ctx)
    current = load_schedule(path).settings.phone.ntfy
    if current is not None and not fresh:
        url = current
        click.echo(f"Your phone's topic is already set in {path}; "
                   "`attuned phone setup --new` makes another.")
    else:
        parsed = urllib.parse.urlsplit(server if "://" in server else "https://" + server)
        try:
            url = ntfy_topic_url(f"{parsed.scheme}://{parsed.netloc}/{new_topic()}")
        except ValueError as e:
            raise AttunedError(f"{server!r} is not a server address: {e}") from None
        set_phone_topic(path, url)
        click.echo(f"Wrote [phone] ntfy = \"{url}\" into {path}.")
    click.echo(f"\nSubscribe to this topic in the ntfy app:\n  {url}\n")
    draw_qr(url, sys.stdout)
    click.echo("\nThen `attuned phone test` sends one. The daemon uses the topic from its "
               "next start (`attuned service install --now` restarts it).")


@phone.command()
@click.option("--wait", "wait", type=click.FloatRange(1, 3600), default=TEST_WAIT,
              show_default=True, help="Seconds to wait for a button on the phone.")
@click.pass_context
def test(ctx: click.Context, wait: float) -> None:
    """Send one message to the phone and wait for its Done / Snooze / Skip.

    Nothing is recorded: this only shows that the round trip works.

    \b
    Example:
        attuned phone test --wait 30
    """
    settings = load_schedule(_config(ctx)).settings.phone
    if settings.ntfy is None:
        raise PhoneNotSet("no ntfy topic in [phone]; `attuned phone setup` makes one")
    import asyncio  # here: the quick commands never load asyncio

    heard = asyncio.run(_round_trip(settings.ntfy, settings.token_file, wait))
    if heard is None:
        raise AttunedError(f"sent, but no answer came from the phone in {wait:g} s; is the "
                           "ntfy app subscribed to the topic (`attuned phone setup`)?")
    click.echo(f"The phone answered: {heard}. Nudges will reach it.")


async def _round_trip(url: str, token_file: str | None, wait: float) -> str | None:
    import asyncio

    from attuned.errors import NotifyError
    from attuned.notify.base import NUDGE_ACTIONS, Notification
    from attuned.notify.ntfy import LABELS, NtfyNotifier, read_token

    channel = NtfyNotifier(url, read_token(token_file) if token_file else None)
    heard: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def answered(_nudge_id: str, key: str) -> None:
        if not heard.done():
            heard.set_result(LABELS[key])

    channel.on_answer = answered
    await channel.start()
    try:
        try:
            await asyncio.wait_for(channel.connected.wait(), 15)
        except TimeoutError:
            raise AttunedError(f"cannot reach {channel.server} to hear the answer; check "
                               "the address and your network") from None
        try:
            await channel.send(Notification(
                title="attuned: a test", body="Press a button to see the answer arrive.",
                actions=NUDGE_ACTIONS, nudge_id="test"))
        except NotifyError as e:
            raise AttunedError(str(e)) from None
        click.echo(f"Sent to {url}; waiting up to {wait:g} s for a button ...")
        try:
            return await asyncio.wait_for(heard, wait)
        except TimeoutError:
            return None
    finally:
        await channel.aclose()
