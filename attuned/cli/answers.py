"""Answering nudges from the command line: show (a discreet nudge's full text), done,
snooze, skip.

An answer goes to the running daemon over the control socket; with no daemon, done and
skip go straight into the history.
"""

from __future__ import annotations

import click

from attuned.cli.common import DAEMON, display_zone, load_schedule, one_of, open_store
from attuned.cli.common import config_path as _config
from attuned.cli.common import now as _now
from attuned.cli.completion import nudge_ids, targets
from attuned.errors import AttunedError


@click.command()
@click.argument("nudge_id", required=False, metavar="[ID]", shell_complete=nudge_ids)
@click.pass_context
def show(ctx: click.Context, nudge_id: str | None) -> None:
    """Show a nudge's full text (the newest open one by default).

    A discreet nudge's bubble shows only a glyph and its id; this shows the rest.

    \b
    Example:
        attuned show k3f2
    """
    store = open_store(read_only=True)
    try:
        rec = store.get(nudge_id) if nudge_id else store.newest_open()
    finally:
        store.close()
    if rec is None:
        raise AttunedError("there is no open nudge to show; give its id, like: attuned show "
                           "k3f2 (`attuned history` lists them)")
    zone = display_zone(ctx)
    when = rec.shown_at or rec.due
    state = "open" if rec.is_open else rec.state.value
    click.echo(f"{rec.id}  {rec.title}  ({when.astimezone(zone):%a %d %b %H:%M}, {state})")
    click.echo(rec.message)


def _answer(ctx: click.Context, action: str, target: str | None, note: str | None = None,
            how: str | None = None, length: str | None = None) -> None:
    from attuned.app import frontdoor
    from attuned.core.model import Action

    if length is not None:
        from attuned.core.durations import parse_duration

        parse_duration(length)  # a bad value is the user's error, before any socket
    sched = None
    path = _config(ctx)
    try:
        from attuned.config.read import exists

        if exists(path):
            sched = load_schedule(path)
    except AttunedError:
        sched = None  # the daemon's last good one answers; the history takes it anyway
    done = frontdoor.answer(DAEMON, open_store, target, Action(action), now=_now(),
                            schedule=sched, note=note, how=how, length=length)
    click.echo(done.text)


@click.command()
@click.argument("target", required=False, metavar="[ID|PRACTICE]", shell_complete=targets)
@click.option("--note", help="A line about how it went.")
@click.option("--noticed", is_flag=True, help="You noticed the moment.")
@click.option("--partly", is_flag=True, help="It went partly.")
@click.option("--missed-it", is_flag=True, help="You did it, but missed the moment.")
@click.pass_context
def done(ctx: click.Context, target: str | None, note: str | None, noticed: bool,
         partly: bool, missed_it: bool) -> None:
    """Mark a nudge done (default: the newest open one).

    Say how it went too, if you like: --noticed, --partly or --missed-it, and a --note.

    \b
    Example:
        attuned done breakfast --partly --note "she was tired; I made tea"
    """
    one_of(noticed=noticed, partly=partly, missed_it=missed_it)
    how = "noticed" if noticed else "partly" if partly else "missed" if missed_it else None
    _answer(ctx, "done", target, note=note, how=how)


@click.command()
@click.argument("target", required=False, metavar="[ID|PRACTICE]", shell_complete=targets)
@click.option("--for", "length", metavar="DURATION", help="How long (default: the setting).")
@click.pass_context
def snooze(ctx: click.Context, target: str | None, length: str | None) -> None:
    """Bring a nudge back later (needs the daemon).

    \b
    Example:
        attuned snooze --for 20m
    """
    _answer(ctx, "snooze", target, length=length)


@click.command()
@click.argument("target", required=False, metavar="[ID|PRACTICE]", shell_complete=targets)
@click.option("--note", help="Why, if you like.")
@click.pass_context
def skip(ctx: click.Context, target: str | None, note: str | None) -> None:
    """Skip a nudge this time (default: the newest open one).

    \b
    Example:
        attuned skip look-up
    """
    _answer(ctx, "skip", target, note=note)
