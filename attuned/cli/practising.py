"""CLI commands for practising: the practice library, `try`, the feelings and needs lists,
reflection and review, and together mode.

Registered on the root group by attuned/cli/root.py. Thin: parse, call the library modules,
format. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from attuned.cli.common import (
    DAEMON,
    SummaryGroup,
    clock_times,
    display_zone,
    known_practice,
    one_of,
    open_store,
    refused_by_option,
)
from attuned.cli.common import config_path as _config
from attuned.cli.common import now as _now
from attuned.cli.completion import library_names, practice_ids
from attuned.core.words import count
from attuned.errors import ScheduleError


def _warn_problems(problems: Any) -> None:
    for p in problems:
        click.echo(f"attuned: {p} (left out of the list)", err=True)


# --------------------------------------------------------------------------- library


@click.group(cls=SummaryGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def practices(ctx: click.Context, as_json: bool) -> None:
    """The library of small, specific practices to try for a while.

    Your own templates in $XDG_CONFIG_HOME/attuned/practices/*.toml join the list.

    \b
    Example:
        attuned practices && attuned try breakfast --for 1w
    """
    if ctx.invoked_subcommand is not None:
        return
    from attuned.config import library

    lib = library.load()
    if as_json:
        click.echo(json.dumps([library.to_json(t) for t in lib.templates], indent=2,
                              ensure_ascii=False))
        _warn_problems(lib.problems)
        return
    width = max(len(t.name) for t in lib.templates)
    for t in lib.templates:
        mine = "" if t.origin == library.BUILT_IN else "  (yours)"
        click.echo(f"{t.name:<{width}}  {t.title}{mine}")
        click.echo(f"{'':<{width}}  {library.describe(t)}")
        click.echo(f"{'':<{width}}  {t.why}")
    click.echo("\nMore about one: attuned practices show NAME. "
               "Try one: attuned try NAME --for 1w")
    _warn_problems(lib.problems)


@practices.command(name="show")
@click.argument("name", shell_complete=library_names)
def practices_show(name: str) -> None:
    """Everything about one practice in the library.

    \b
    Example:
        attuned practices show breakfast
    """
    from attuned.config import library

    lib = library.load()
    t = lib.get(name)
    click.echo(t.title)
    click.echo(f"  {t.why}")
    click.echo(f"Suggested: {library.describe(t)}")
    click.echo("It might say:")
    for m in t.messages:
        click.echo(f"  - {m}")
    if any("{" in m for m in t.messages):
        click.echo("  ({feeling} and {need} are filled in from `attuned feelings` and "
                   "`attuned needs`.)")
    from attuned.core.durations import format_duration

    click.echo(f"Try it: attuned try {t.name} --for {format_duration(t.period)}")
    if t.origin != library.BUILT_IN:
        click.echo(f"(your template: {t.origin})")


_NEW_FILE = """\
# attuned: your practices, and when to be nudged about them.
# `attuned practices` lists ready-made ones; `attuned try NAME` adds one here.
# `attuned check` checks this file; `attuned edit` opens it.
"""


@click.command(name="try")
@click.argument("name", shell_complete=library_names)
@click.option("--for", "period", metavar="DURATION",
              help='How long to keep it, in whole days: "3d", "1w", "2w" (default: the '
                   "practice's suggestion).")
@click.option("--at", "at", multiple=True, help='Clock times instead of the suggestion, "07:30".')
@click.option("--random", "random_", type=int, help="N unpredictable moments a day instead.")
@click.option("--between", help='The window for --random (or the suggestion\'s), "17:00-22:00".')
@click.option("--days", help='Which days, "weekdays", "mon,wed".')
@click.option("--as", "as_id", metavar="ID", help="Add it under another id (or give that "
              "practice of yours a new period).")
@click.pass_context
def try_(ctx: click.Context, name: str, period: str | None, at: tuple[str, ...],
         random_: int | None, between: str | None, days: str | None,
         as_id: str | None) -> None:
    """Try a practice from the library for a while, starting today.

    It is added to your schedule (comments kept) with a period from today; on its last
    day attuned asks how it went. A practice you already have gets a new period: it is
    switched on and keeps its times unless --at, --random, --between or --days change them.

    \b
    Example:
        attuned try breakfast --for 1w --at 07:15
    """
    from attuned.config import edit, library, zones
    from attuned.config.read import load
    from attuned.core import timing
    from attuned.core.durations import parse_duration

    one_of(at=bool(at), random=random_ is not None)
    lib = library.load()
    t = lib.get(name)
    length = parse_duration(period) if period else t.period
    library.whole_days(length)
    pid = as_id or t.name
    path = _config(ctx)
    created = False
    from attuned.config.read import exists

    if not exists(path):
        try:
            edit.write_new(path, _NEW_FILE, force=False)
            created = True
        except edit.ConfigExists:
            pass  # another command started it meanwhile: add to that one
    sched = load(path)
    overrides: dict[str, Any] = {}
    if at:
        overrides["at"] = clock_times(at)
    if random_ is not None:
        overrides["random"] = random_
    if between is not None:
        overrides["between"] = between
    if days is not None:
        overrides["days"] = days
    zone = zones.schedule_zone(sched.settings)
    today = _now().astimezone(zone).date()
    old = sched.get(pid)
    # Only the options given: a problem in a key the practice already had is the file's.
    given = {k: f"--{k}" for k in overrides}
    if old is not None:
        keys = t.renewal(old, today, length, overrides)
        try:
            p = edit.set_keys(path, pid, keys).get(pid)
        except ScheduleError as e:
            raise refused_by_option(e, "try", pid, given) from None
        assert p is not None
        again = " (switched on again)" if not old.enabled else ""
        click.echo(f"{pid} is already in your schedule: a new period on it{again}, "
                   f"{timing.describe_rule(p)}, {p.start:%a %d %b} to {p.until:%a %d %b %Y}.")
    else:
        fields = t.fields(pid, today, length, overrides)
        try:
            p = edit.add_practice(path, fields).get(pid)
        except ScheduleError as e:
            raise refused_by_option(e, "try", pid, given) from None
        assert p is not None
        if created:
            click.echo(f"Started your schedule at {path}")
        click.echo(f'Trying "{t.title}" as {pid}: {timing.describe_rule(p)}, '
                   f"{p.start:%a %d %b} to {p.until:%a %d %b %Y}.")
    click.echo("On the last day attuned asks how it went; `attuned review` helps you choose "
               "what next.")
    click.echo("A running daemon picks the change up by itself; `attuned next` shows what "
               "comes.")


# --------------------------------------------------------------------------- words


def _print_list(kind: str) -> None:
    from attuned.config import feelings

    wl = feelings.word_list(kind)
    click.echo(wl.about)
    for heading, words in wl.groups:
        click.echo(f"\n{heading}:" if heading else "")
        click.echo("  " + ", ".join(words))


@click.command()
def feelings() -> None:
    """Words for feelings, to guess what may be alive in your partner.

    A message with {feeling} in it gets one of these, a different one each time.

    \b
    Example:
        attuned feelings
    """
    _print_list("feeling")


@click.command()
def needs() -> None:
    """Words for needs, for guessing what a feeling may point to.

    A message with {need} in it gets one of these, a different one each time.

    \b
    Example:
        attuned needs
    """
    _print_list("need")


# --------------------------------------------------------------------------- reflect


@click.command()
@click.argument("practice_id", required=False, metavar="[PRACTICE]",
                shell_complete=practice_ids)
@click.option("--landed", is_flag=True, help="It landed.")
@click.option("--partly", is_flag=True, help="Partly.")
@click.option("--not-yet", is_flag=True, help="Not yet.")
@click.option("--text", default="", help="Anything you noticed, in a line or two.")
@click.pass_context
def reflect(ctx: click.Context, practice_id: str | None, landed: bool, partly: bool,
            not_yet: bool, text: str) -> None:
    """Say how a practice's period went (default: the one just asked).

    \b
    Example:
        attuned reflect breakfast --partly --text "easier on slow mornings"
    """
    from attuned.app import frontdoor

    one_of(landed=landed, partly=partly, not_yet=not_yet)
    verdict = "landed" if landed else "partly" if partly else "not-yet" if not_yet else None
    if verdict is None:
        raise click.UsageError("say how it went: --landed, --partly or --not-yet")
    if practice_id is not None:
        practice_id = known_practice(ctx, practice_id)
    pid = frontdoor.reflect(DAEMON, open_store, practice_id, verdict, text,
                            now=_now()).practice_id
    words = {"landed": "it landed", "partly": "partly", "not-yet": "not yet"}[verdict]
    quoted = f' "{text}"' if text else ""
    click.echo(f"Kept your reflection on {pid}: {words}.{quoted}")
    click.echo("`attuned review` puts it together with the week's answers.")


@click.command(name="review")
@click.option("--week", is_flag=True, help="The last 7 days (default).")
@click.option("--month", is_flag=True, help="The last 30 days.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def review_(ctx: click.Context, week: bool, month: bool, as_json: bool) -> None:
    """Your week of practice, and what to keep, extend or try next.

    For each practice: its answers, done-rate and reflections, and a suggestion that
    says which rule it comes from.

    \b
    Example:
        attuned review
    """
    from attuned.app import review
    from attuned.config import library
    from attuned.config.read import exists, load

    one_of(week=week, month=month)
    days = 30 if month else 7
    path = _config(ctx)
    practices_ = load(path).practices if exists(path) else ()
    zone = display_zone(ctx)
    today = _now().astimezone(zone).date()
    store = open_store(read_only=True)
    try:
        events = store.history()
        refls = store.reflections()
    finally:
        store.close()
    order = library.names(library.load().templates)
    rows = review.review(events, refls, practices_, today=today, zone=zone, days=days,
                         library_order=order)
    if as_json:
        click.echo(json.dumps([_review_json(r) for r in rows], indent=2, ensure_ascii=False))
        return
    first = today - timedelta(days=days - 1)
    click.echo(f"{first:%a %d %b} to {today:%a %d %b %Y}")
    if not rows:
        click.echo("No practices in these days yet. `attuned practices` lists some to try.")
        return
    for r in rows:
        click.echo("")
        click.echo(_review_text(r))
    click.echo("\nA missed nudge is data, not failure: choose what helps.")


def _review_text(r: Any) -> str:
    st = r.stats
    lines = [f"{r.practice_id}  {r.title}"
             + (f"  (period ends {r.until:%a %d %b})" if r.until else "")]
    parts = [f"{st.done} done"]
    for n, word in ((st.skipped, "skipped"), (st.snoozed, "snoozed"), (st.missed, "missed"),
                    (st.expired, "unanswered"), (st.dismissed, "dismissed")):
        if n:
            parts.append(f"{n} {word}")
    lines.append(f"  {count(st.nudges, 'nudge')}: {', '.join(parts)}; done-rate {st.done_percent}  "
                 f"{st.sparkline}")
    hows = [f"{n} {'missed the moment' if h == 'missed' else h}" for h, n in r.hows if n]
    if hows:
        lines.append(f"  how it went: {', '.join(hows)}")
    for note in r.notes:
        lines.append(f'  note: "{note}"')
    for refl in r.reflections:
        text = f', "{refl.text}"' if refl.text else ""
        lines.append(f"  reflection ({refl.at:%a %d %b}): {refl.verdict}{text}")
    lines.append(f"  -> {r.suggestion.text}")
    lines.append(f"     ({r.suggestion.rule})")
    return "\n".join(lines)


def _review_json(r: Any) -> dict[str, Any]:
    st = r.stats
    return {"practice": r.practice_id, "title": r.title, "nudges": st.nudges,
            "done": st.done, "skipped": st.skipped, "snoozed": st.snoozed,
            "missed": st.missed, "expired": st.expired, "done_rate": st.done_rate,
            "how": dict(r.hows), "notes": list(r.notes),
            "reflections": [{"at": x.at.isoformat(), "verdict": x.verdict, "text": x.text}
                            for x in r.reflections],
            "until": r.until.isoformat() if r.until else None,
            "suggestion": {"action": r.suggestion.action, "text": r.suggestion.text,
                           "rule": r.suggestion.rule}}


# --------------------------------------------------------------------------- together


@click.command()
@click.argument("switch", required=False, type=click.Choice(["on", "off", "until"]))
@click.argument("until", required=False, metavar="[WHEN]")
@click.pass_context
def together(ctx: click.Context, switch: str | None, until: str | None) -> None:
    """Say that you two are together (no argument: whether you are).

    Practices with when = "together" nudge only then. WHEN is a moment ahead: "22:00"
    (the next time it is that o'clock), "+2h", "tomorrow" or "2026-12-01 22:00".

    \b
    Example:
        attuned together until 22:00      # a keyboard shortcut can run this
    """
    from attuned.app import frontdoor

    zone = display_zone(ctx)
    now = _now()
    if switch is None:
        with open_store(read_only=True) as store:
            click.echo(store.together().describe(now, zone))
        return
    if switch != "until" and until is not None:
        raise click.UsageError(f"together {switch} takes no time; did you mean: "
                               f"attuned together until {until}")
    switched, by_daemon = frontdoor.together(DAEMON, open_store, switch, until, now=now,
                                             zone=zone)
    if not by_daemon:
        click.echo(switched.text + " (the daemon is not running; it reads this when it "
                   "starts)")
        return
    click.echo(switched.text)
    if switched.released:
        click.echo(f"Released {count(len(switched.released), 'nudge')} that waited for you: "
                   + ", ".join(switched.released))
