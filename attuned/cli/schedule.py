"""The schedule commands: init, check, list, next, add, remove, enable, disable, edit.

Thin: parse, call attuned.config.read / edit and attuned.core.timing, format. The quick ones
(`list`, `next`, `check`) import nothing of the daemon, APScheduler or asyncio.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from attuned import paths
from attuned.cli.common import clock_times, load_schedule, one_of, refused_by_option
from attuned.cli.common import config_path as _config
from attuned.cli.common import now as _now
from attuned.cli.completion import practice_ids
from attuned.core.words import count
from attuned.errors import AttunedError, ScheduleError

if TYPE_CHECKING:
    from attuned.core.model import Practice, Schedule


def _zone_and_seed(sched: Schedule) -> tuple[Any, str]:
    from attuned.config import zones
    from attuned.state import seed

    return zones.schedule_zone(sched.settings), seed.load_seed(paths.seed_file())


def _ways(p: Practice) -> str:
    """How its nudges behave, where that is not the plain default: together only, discreet,
    asked again, missed after a while."""
    from attuned.core.durations import format_duration
    from attuned.core.model import When

    ways = []
    if p.when == When.TOGETHER:
        ways.append("only in together mode")
    if p.discreet:
        ways.append("discreet")
    if p.repeat is not None and p.repeat_max:
        ways.append(f"asks again after {format_duration(p.repeat)} "
                    f"(at most {count(p.repeat_max, 'time')})")
    if p.answer_within is not None:
        ways.append(f"missed if not answered within {format_duration(p.answer_within)}")
    return ", ".join(ways)


# What list and next say before the built-in example, when the schedule file is missing.
_EXAMPLE_NOTE = ("(no schedule at {path}: showing the built-in example; `attuned init` makes "
                 "it yours)\n")


def _fmt_moment(at: datetime) -> str:
    return at.strftime("%a %d %b %Y %H:%M")


def _period(p: Practice) -> str:
    if p.start and p.until:
        return f"{p.start:%d %b %Y} to {p.until:%d %b %Y}"
    if p.start:
        return f"from {p.start:%d %b %Y}"
    if p.until:
        return f"until {p.until:%d %b %Y}"
    return ""


@click.command()
@click.option("--force", is_flag=True, help="Replace an existing file (the old one is kept aside).")
@click.pass_context
def init(ctx: click.Context, force: bool) -> None:
    """Write a starter schedule from the built-in example.

    \b
    Example:
        attuned init            # then: attuned edit
    """
    from attuned.config import zones
    from attuned.config.edit import write_new
    from attuned.config.read import example_schedule, starter_text

    path = _config(ctx)
    today = _now().astimezone(zones.schedule_zone(example_schedule().settings)).date()
    moved = write_new(path, starter_text(today), force=force)
    if moved is not None:
        click.echo(f"Kept your old schedule as {moved}")
    click.echo(f"Wrote a starter schedule to {path}")
    click.echo("Edit it with `attuned edit`, or see what comes next with `attuned next`.")


@click.command()
# Not click.Path(dir_okay=False): its refusal is a usage error (exit 2); the reader's is
# one line with the reason and exit 1, as for every other unreadable schedule.
@click.argument("file", required=False, type=click.Path())
@click.option("--config", "config_file", metavar="FILE", type=click.Path(),
              help="The same as FILE (as `attuned --config FILE check` also says).")
@click.pass_context
def check(ctx: click.Context, file: str | None, config_file: str | None) -> None:
    """Check a schedule file and print every problem in it.

    \b
    Example:
        attuned check ~/.config/attuned/config.toml
    """
    from attuned.core.silence import why_silent

    if file is not None and config_file is not None:
        raise AttunedError("give the schedule file once: as FILE or with --config, not both")
    given = file or config_file
    path = Path(given) if given else _config(ctx)
    sched = load_schedule(path)
    enabled = sum(1 for p in sched.practices if p.enabled)
    if not sched.practices:
        click.echo(f"{path}: ok, but it has no practices, so nothing will nudge you; add one "
                   "with `attuned add`")
        return
    click.echo(f"{path}: ok, {count(len(sched.practices), 'practice')} ({enabled} enabled)")
    zone, seed = _zone_and_seed(sched)
    now = _now()
    for p in sched.practices:
        why = why_silent(p, now, zone, seed) if p.enabled else None
        if why is not None:
            line = f":{p.line}" if p.line else ""
            click.echo(f'{path}{line}: warning: practice "{p.id}" will never nudge: {why}')
    paused = [p.id for p in sched.practices if not p.enabled]
    if paused:
        click.echo(f"paused, so they do not nudge: {', '.join(paused)} "
                   "(`attuned enable ID` switches one on)")


def _rule_words(p: Practice) -> str:
    from attuned.core import timing

    return timing.describe_rule(p)


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List the practices in the schedule, with their next nudge.

    \b
    Example:
        attuned list --json | jq '.[].id'
    """
    from attuned.core import timing
    from attuned.core.silence import why_silent

    path = _config(ctx)
    sched = load_schedule(path, example_if_missing=True)
    zone, seed = _zone_and_seed(sched)
    now = _now()
    rows = []
    for p in sched.practices:
        nxt = timing.next_occurrence(p, now, zone, seed) if p.enabled else None
        rows.append({
            "id": p.id, "title": p.title, "rule": _rule_words(p), "enabled": p.enabled,
            "from": p.start.isoformat() if p.start else None,
            "until": p.until.isoformat() if p.until else None,
            "next": nxt.isoformat() if nxt else None,
            "_next": nxt,
        })
    if as_json:
        click.echo(json.dumps([{k: v for k, v in r.items() if k != "_next"} for r in rows],
                              indent=2))
        return
    if not path.exists():
        click.echo(_EXAMPLE_NOTE.format(path=path))
    if not rows:
        click.echo("No practices yet. Add one with `attuned add`.")
        return
    width = max(len(str(r["id"])) for r in rows)
    click.echo(f"Times in {getattr(zone, 'key', zone)}.")
    for r, p in zip(rows, sched.practices, strict=True):
        state = "" if p.enabled else "  (paused)"
        click.echo(f"{r['id']:<{width}}  {p.title}{state}")
        click.echo(f"{'':<{width}}  {r['rule']}")
        if _period(p):
            click.echo(f"{'':<{width}}  {_period(p)}")
        if _ways(p):
            click.echo(f"{'':<{width}}  {_ways(p)}")
        when = r["_next"]
        if isinstance(when, datetime):
            click.echo(f"{'':<{width}}  next: {_fmt_moment(when)}")
        elif p.enabled:
            why = why_silent(p, now, zone, seed)
            click.echo(f"{'':<{width}}  next: none ahead" + (f": {why}" if why else ""))


@click.command(name="next")
@click.option("--count", "-n", type=click.IntRange(1, 10000), default=None,
              help="How many nudges to show (default 10; --until shows all up to it instead).")
@click.option("--until", "until", metavar="WHEN",
              help="Show every nudge up to this moment (a day: to its end, that day included).")
@click.option("--from", "from_", metavar="WHEN", help="Start here instead of now.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def next_(ctx: click.Context, count: int | None, until: str | None, from_: str | None,
          as_json: bool) -> None:
    """Show the upcoming nudges from the schedule (no daemon needed).

    WHEN is "now", "tomorrow", "2026-03-29", "2026-03-29 01:00", "22:00" or "+2h".

    \b
    Example:
        attuned next --from 2026-03-28 --until 2026-03-30   # the spring DST night
    """
    from attuned.core import timing
    from attuned.core.moments import parse_moment, parse_until

    one_of(count=count is not None, until=until is not None)
    path = _config(ctx)
    sched = load_schedule(path, example_if_missing=True)
    zone, seed = _zone_and_seed(sched)
    now = _now()
    start = parse_moment(from_, now=now, zone=zone) if from_ else now.astimezone(zone)
    if until is not None:
        end = parse_until(until, now=now, zone=zone)
        if end <= start:
            raise click.UsageError(f"--until ({until}) is not after the start")
        occ = timing.upcoming(sched, start, end, zone, seed)
    else:
        # `upcoming` is half-open at its start; step back a microsecond so a nudge due
        # exactly at --from is shown (in UTC: a step in wall time could land in a DST gap).
        occ = timing.next_n(sched, start.astimezone(UTC) - timedelta(microseconds=1),
                            count or 10, zone, seed)
    by_id = {p.id: p for p in sched.practices}
    if as_json:
        click.echo(json.dumps([
            {"at": o.at.isoformat(), "practice": o.practice_id,
             "title": by_id[o.practice_id].title}
            for o in occ
        ], indent=2))
        return
    if not path.exists():
        click.echo(_EXAMPLE_NOTE.format(path=path))
    if not occ:
        click.echo("No nudges in that range.")
        return
    last_day: date | None = None
    for o in occ:
        day = o.at.date()
        if day != last_day:
            click.echo(o.at.strftime("%a %d %b %Y"))
            last_day = day
        click.echo(f"  {o.at:%H:%M} {o.at.tzname():<5}  {o.practice_id:<18} "
                   f"{by_id[o.practice_id].title}")


@click.command()
@click.argument("practice_id", metavar="ID")
@click.option("--title", required=True, help="A short title for the nudge.")
@click.option("--message", "messages", multiple=True, required=True,
              help="The nudge's text; repeat for variants (one is chosen per nudge).")
@click.option("--at", "at", multiple=True, help='Clock times, "07:30" (repeat or comma-separate).')
@click.option("--days", help='"daily", "weekdays", "weekends", "mon-fri", "mon,wed".')
@click.option("--every", help='An interval, "90m", inside --between.')
@click.option("--random", "random_", type=int, help="N unpredictable moments a day in --between.")
@click.option("--between", help='A window, "17:00-22:00".')
@click.option("--min-gap", help="Least time between random moments (default 30m).")
@click.option("--cron", help='A standard 5-field cron expression, "0 19 * * sun".')
@click.option("--once", help='A single moment, "2026-12-12 18:00".')
@click.option("--from", "from_", help="First day of the practice period, 2026-12-01.")
@click.option("--until", help="Last day of the practice period, 2026-12-07.")
@click.option("--quiet-hours", metavar="WINDOW",
              help='Its own quiet hours, "22:00-07:00", or "none" to let it through those '
                   "of [settings].")
@click.option("--when", metavar="WHEN",
              help='"together": only while together mode is on; "any" (the default).')
@click.option("--discreet/--not-discreet", default=None,
              help="A neutral title instead of its text (default: as in [settings]).")
@click.option("--repeat", metavar="DURATION",
              help='Ask again this long after an unanswered nudge, "10m" (with --repeat-max).')
@click.option("--repeat-max", type=int, help="At most this many repeats (default 0: never).")
@click.option("--answer-within", metavar="DURATION",
              help='After this an unanswered nudge counts as missed, "2h".')
@click.option("--blocked", metavar="WHAT",
              help='A nudge held back by quiet hours: "drop", "defer" or "digest".')
@click.option("--disabled", is_flag=True, help="Add it paused.")
@click.pass_context
def add(ctx: click.Context, practice_id: str, title: str, messages: tuple[str, ...],
        at: tuple[str, ...], days: str | None, every: str | None, random_: int | None,
        between: str | None, min_gap: str | None, cron: str | None, once: str | None,
        from_: str | None, until: str | None, quiet_hours: str | None, when: str | None,
        discreet: bool | None, repeat: str | None, repeat_max: int | None,
        answer_within: str | None, blocked: str | None, disabled: bool) -> None:
    """Add a practice to the schedule (comments in the file are kept).

    \b
    Example:
        attuned add breakfast --title "Breakfast presence" \\
            --message "Paper down. How is your partner this morning?" \\
            --at 07:30 --days weekdays --from 2026-12-01 --until 2026-12-07
        attuned add hug --title Hug --message "A long hug." --at 19:00 \\
            --when together --discreet --repeat 10m --repeat-max 2
    """
    from attuned.config.edit import add_practice

    fields: dict[str, object] = {"id": practice_id, "title": title}
    fields["message"] = messages[0] if len(messages) == 1 else list(messages)
    if at:
        fields["at"] = clock_times(at)
    if every is not None:
        fields["every"] = every
    if random_ is not None:
        fields["random"] = random_
    if between is not None:
        fields["between"] = between
    if min_gap is not None:
        fields["min_gap"] = min_gap
    if cron is not None:
        fields["cron"] = cron
    if once is not None:
        fields["once"] = _parse_local_datetime(once, "--once")
    if days is not None:
        fields["days"] = days
    if from_ is not None:
        fields["from"] = _parse_date(from_, "--from")
    if until is not None:
        fields["until"] = _parse_date(until, "--until")
    if quiet_hours is not None:
        fields["quiet_hours"] = quiet_hours
    for key, value in (("when", when), ("discreet", discreet), ("repeat", repeat),
                       ("repeat_max", repeat_max), ("answer_within", answer_within),
                       ("blocked", blocked)):
        if value is not None:
            fields[key] = value
    if disabled:
        fields["enabled"] = False
    path = _config(ctx)
    _refuse_the_past(path, fields)
    try:
        sched = add_practice(path, fields)
    except ScheduleError as e:
        raise refused_by_option(e, "add", practice_id, _ADD_OPTIONS) from None
    p = sched.get(practice_id)
    assert p is not None
    click.echo(f"Added {practice_id}: {_rule_words(p)} ({path})")
    note = _quiet_note(sched, p)
    if note is not None:
        click.echo(f"attuned: note: {note}", err=True)


class InThePast(AttunedError):
    pass


def _refuse_the_past(path: Path, fields: dict[str, object]) -> None:
    """A practice added with its moment or its period already past would never nudge."""
    from attuned.config import zones
    from attuned.core.silence import moment_is_past

    once, until = fields.get("once"), fields.get("until")
    if not isinstance(once, datetime) and not isinstance(until, date):
        return
    sched = load_schedule(path, example_if_missing=True)
    zone = zones.schedule_zone(sched.settings)
    now = _now()
    if isinstance(once, datetime) and moment_is_past(once, now, zone):
        ahead = (now.astimezone(zone) + timedelta(days=1)).replace(tzinfo=None)
        raise InThePast(f"--once: {once:%a %d %b %Y %H:%M} is in the past, so it would never "
                        f'nudge; give a moment ahead, like --once "{ahead:%Y-%m-%d %H:%M}"')
    today = now.astimezone(zone).date()
    if isinstance(until, date) and until < today:
        raise InThePast(f"--until: {until:%a %d %b %Y} is in the past, so it would never "
                        f"nudge; give a day from today ({today:%Y-%m-%d}) on")


# The file's keys `add` writes, and the options they come from.
_ADD_OPTIONS = {"title": "--title", "message": "--message", "at": "--at", "every": "--every",
                "random": "--random", "between": "--between", "min_gap": "--min-gap",
                "cron": "--cron", "once": "--once", "days": "--days", "from": "--from",
                "until": "--until", "quiet_hours": "--quiet-hours", "enabled": "--disabled",
                "when": "--when", "discreet": "--discreet", "repeat": "--repeat",
                "repeat_max": "--repeat-max", "answer_within": "--answer-within",
                "blocked": "--blocked"}


def _quiet_note(sched: Schedule, p: Practice) -> str | None:
    """Said when quiet hours hide nudges of a practice just added: an easy surprise
    (23:00 under the starter file's 22:30-07:00), and silent otherwise."""
    from attuned.core import timing

    if p.quiet_hours is None or not p.enabled:
        return None
    zone, seed = _zone_and_seed(sched)
    start = _now()
    end = start + timedelta(days=14)
    every = timing.occurrences(p, start, end, zone, seed, quiet=False)
    shown = timing.occurrences(p, start, end, zone, seed)
    if len(shown) == len(every):
        return None
    which = (("its one nudge" if len(every) == 1 else f"all {len(every)} of its nudges")
             if not shown else f"{len(every) - len(shown)} of its {len(every)} nudges")
    one = len(every) - len(shown) == 1
    fate = {"defer": f'wait{"s" if one else ""} until they end (blocked = "defer")',
            "digest": f'go{"es" if one else ""} into the digest (blocked = "digest")'}.get(
                p.blocked, "will not be shown")
    return (f"{which} in the next two weeks fall{'s' if one else ''} inside the quiet hours "
            f"({p.quiet_hours}) and {fate}; choose another time, or add it with "
            "--quiet-hours none")


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f'"{text}" is not a date; write it as YYYY-MM-DD',
                                 param_hint=option) from None


def _parse_local_datetime(text: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise click.BadParameter(f'"{text}" is not a moment; write it as "2026-12-12 18:00"',
                                 param_hint=option) from None


@click.command()
@click.argument("practice_id", metavar="ID", shell_complete=practice_ids)
@click.pass_context
def remove(ctx: click.Context, practice_id: str) -> None:
    """Remove a practice from the schedule (its history is kept).

    \b
    Example:
        attuned remove date-night
    """
    from attuned.config.edit import remove_practice

    remove_practice(_config(ctx), practice_id)
    click.echo(f"Removed {practice_id}. Its history stays; `attuned history` still shows it.")


@click.command()
@click.argument("practice_id", metavar="ID", shell_complete=practice_ids)
@click.pass_context
def enable(ctx: click.Context, practice_id: str) -> None:
    """Switch a paused practice on.

    \b
    Example:
        attuned enable look-up
    """
    from attuned.config.edit import switch

    if switch(_config(ctx), practice_id, True)[1]:
        click.echo(f"{practice_id} was already enabled; nothing changed.")
    else:
        click.echo(f"Enabled {practice_id}.")


@click.command()
@click.argument("practice_id", metavar="ID", shell_complete=practice_ids)
@click.pass_context
def disable(ctx: click.Context, practice_id: str) -> None:
    """Pause a practice without deleting it.

    \b
    Example:
        attuned disable look-up
    """
    from attuned.config.edit import switch

    if switch(_config(ctx), practice_id, False)[1]:
        click.echo(f"{practice_id} was already paused; `attuned enable {practice_id}` "
                   "switches it back on.")
    else:
        click.echo(f"Paused {practice_id}. `attuned enable {practice_id}` switches it back "
                   "on.")


@click.command()
@click.pass_context
def edit(ctx: click.Context) -> None:
    """Edit the schedule in your editor; it is checked before saving.

    The editor is $VISUAL, else $EDITOR, else vi. You edit a draft next to the file;
    the file is replaced only when the draft is valid, so the daemon never sees a
    half-finished edit.

    \b
    Example:
        EDITOR=vim attuned edit
    """
    import subprocess  # here, not at the top: the quick commands never pay for it

    from attuned.config import draft as editing

    path = _config(ctx)
    editor, argv = _editor_command()

    def run_editor(draft: Path) -> None:
        try:
            subprocess.run([*argv, str(draft)], check=False)
        except FileNotFoundError:
            raise EditorError(f'could not start the editor "{editor}"; set $VISUAL or '
                              "$EDITOR to one that is installed") from None
        except OSError as e:  # not executable, say
            raise EditorError(f'could not start the editor "{editor}": {e.strerror}; set '
                              "$VISUAL or $EDITOR to one that is installed") from None

    def ask_reopen(error: ScheduleError) -> bool:
        click.echo(str(error), err=True)
        if not _interactive():
            return False
        return click.confirm("Reopen the editor to fix it?", default=True)

    result = editing.edit_interactively(path, run_editor, ask_reopen,
                                        say=lambda text: click.echo(text, err=True))
    click.echo(result.message)
    if not result.saved and result.draft is not None:
        ctx.exit(1)


class EditorError(AttunedError):
    """$VISUAL or $EDITOR names no editor that can be started."""


def _editor_command() -> tuple[str, list[str]]:
    """The editor as the person set it, and as words to run: $VISUAL, else $EDITOR, else vi."""
    for name in ("VISUAL", "EDITOR"):
        value = os.environ.get(name)
        if value:
            break
    else:
        return "vi", ["vi"]
    try:
        words = shlex.split(value)
    except ValueError as e:  # shlex's own words: "No closing quotation", "No escaped character"
        raise EditorError(f'${name} is {value!r}: {e}; set {name} to a command like "vim"'
                          ) from None
    if not words:
        raise EditorError(f'${name} is {value!r}, which names no command; set {name} to a '
                          'command like "vim"')
    return value, words


def _interactive() -> bool:
    return sys.stdin.isatty()
