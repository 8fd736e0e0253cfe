"""The command line: thin Click commands over the library. Parse, call, format.

Heavy modules (APScheduler, dbus-fast, the daemon) are imported inside the commands that
need them, so quick commands like `list` and `next` start fast.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from attuned import __version__, paths
from attuned.cli.common import clock_times, display_zone, schedule_or_example
from attuned.cli.common import config_path as _config
from attuned.cli.service import doctor, service
from attuned.core.model import Practice, Schedule
from attuned.errors import AttunedError, ScheduleError


class _Group(click.Group):
    """Catches AttunedError once: one clear message, a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AttunedError as e:
            # Schedule problems start with the file and line, like a compiler's.
            click.echo(str(e) if isinstance(e, ScheduleError) else f"attuned: {e}", err=True)
            ctx.exit(e.exit_code)
        except ValueError as e:  # people-facing parse errors from durations/moments
            click.echo(f"attuned: {e}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="attuned")
@click.option("--config", "config", envvar="ATTUNED_CONFIG", type=click.Path(dir_okay=False),
              help="The schedule file (default: $XDG_CONFIG_HOME/attuned/config.toml).")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """attuned: gentle nudges for practising attunement with your partner.

    \b
    Example:
        attuned init && attuned next --count 5
    """
    ctx.obj = paths.config_path(config)


def _load(path: Path, *, example_if_missing: bool = False) -> Schedule:
    from attuned.config import schedule

    return schedule_or_example(path) if example_if_missing else schedule.load(path)


def _zone_and_seed(sched: Schedule) -> tuple[Any, str]:
    from attuned.config import zones
    from attuned.state import seed

    return zones.schedule_zone(sched.settings), seed.load_seed(paths.seed_file())


def _now() -> datetime:
    from attuned.daemon.clock import now

    return now()


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


# --------------------------------------------------------------------------- schedule


@cli.command()
@click.option("--force", is_flag=True, help="Replace an existing file (the old one is kept aside).")
@click.pass_context
def init(ctx: click.Context, force: bool) -> None:
    """Write a starter schedule from the built-in example.

    \b
    Example:
        attuned init            # then: attuned edit
    """
    from attuned.config import schedule

    path = _config(ctx)
    moved = schedule.write_new(path, schedule.example_text(), force=force)
    if moved is not None:
        click.echo(f"Kept your old schedule as {moved}")
    click.echo(f"Wrote a starter schedule to {path}")
    click.echo("Edit it with `attuned edit`, or see what comes next with `attuned next`.")


@cli.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.pass_context
def check(ctx: click.Context, file: str | None) -> None:
    """Check a schedule file and print every problem in it.

    \b
    Example:
        attuned check ~/.config/attuned/config.toml
    """
    path = Path(file) if file else _config(ctx)
    sched = _load(path)
    enabled = sum(1 for p in sched.practices if p.enabled)
    click.echo(f"{path}: ok, {len(sched.practices)} practices ({enabled} enabled)")


def _rule_words(p: Practice) -> str:
    from attuned.core import timing

    return timing.describe_rule(p)


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List the practices in the schedule, with their next nudge.

    \b
    Example:
        attuned list --json | jq '.[].id'
    """
    from attuned.core import timing

    path = _config(ctx)
    sched = _load(path, example_if_missing=True)
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
        click.echo(f"(no schedule at {path}: showing the built-in example; `attuned init` "
                   "makes it yours)\n")
    if not rows:
        click.echo("No practices yet. Add one with `attuned add`.")
        return
    width = max(len(str(r["id"])) for r in rows)
    for r, p in zip(rows, sched.practices, strict=True):
        state = "" if p.enabled else "  (paused)"
        click.echo(f"{r['id']:<{width}}  {p.title}{state}")
        click.echo(f"{'':<{width}}  {r['rule']}")
        if _period(p):
            click.echo(f"{'':<{width}}  {_period(p)}")
        when = r["_next"]
        if isinstance(when, datetime):
            click.echo(f"{'':<{width}}  next: {_fmt_moment(when)}")
        elif p.enabled:
            click.echo(f"{'':<{width}}  next: none ahead")


@cli.command(name="next")
@click.option("--count", "-n", type=click.IntRange(1, 10000), default=None,
              help="How many nudges to show (default 10).")
@click.option("--until", "until", metavar="WHEN", help="Show nudges up to this moment.")
@click.option("--from", "from_", metavar="WHEN", help="Start here instead of now.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def next_(ctx: click.Context, count: int | None, until: str | None, from_: str | None,
          as_json: bool) -> None:
    """Show the upcoming nudges, computed from the schedule (no daemon needed).

    WHEN is "now", "tomorrow", "2026-03-29", "2026-03-29 01:00", "22:00" or "+2h".

    \b
    Example:
        attuned next --from 2026-03-28 --until 2026-03-30   # the spring DST night
    """
    from attuned.core import timing
    from attuned.core.moments import parse_moment

    if count is not None and until is not None:
        raise click.UsageError("give --count or --until, not both")
    sched = _load(_config(ctx), example_if_missing=True)
    zone, seed = _zone_and_seed(sched)
    now = _now()
    start = parse_moment(from_, now=now, zone=zone) if from_ else now.astimezone(zone)
    if until is not None:
        end = parse_moment(until, now=now, zone=zone)
        if end <= start:
            raise click.UsageError(f"--until ({until}) is not after the start")
        occ = timing.upcoming(sched, start, end, zone, seed)
    else:
        # `upcoming` is half-open at its start; step back a microsecond so a nudge due
        # exactly at --from is shown.
        occ = timing.next_n(sched, start - timedelta(microseconds=1), count or 10, zone, seed)
    by_id = {p.id: p for p in sched.practices}
    if as_json:
        click.echo(json.dumps([
            {"at": o.at.isoformat(), "practice": o.practice_id,
             "title": by_id[o.practice_id].title}
            for o in occ
        ], indent=2))
        return
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


@cli.command()
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
@click.option("--disabled", is_flag=True, help="Add it paused.")
@click.pass_context
def add(ctx: click.Context, practice_id: str, title: str, messages: tuple[str, ...],
        at: tuple[str, ...], days: str | None, every: str | None, random_: int | None,
        between: str | None, min_gap: str | None, cron: str | None, once: str | None,
        from_: str | None, until: str | None, quiet_hours: str | None,
        disabled: bool) -> None:
    """Add a practice to the schedule (comments in the file are kept).

    \b
    Example:
        attuned add breakfast --title "Breakfast presence" \\
            --message "Paper down. How is your partner this morning?" \\
            --at 07:30 --days weekdays --from 2026-12-01 --until 2026-12-07
    """
    from attuned.config import schedule

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
    if disabled:
        fields["enabled"] = False
    path = _config(ctx)
    sched = schedule.add_practice(path, fields)
    p = sched.get(practice_id)
    assert p is not None
    click.echo(f"Added {practice_id}: {_rule_words(p)} ({path})")
    note = _quiet_note(sched, p)
    if note is not None:
        click.echo(f"attuned: note: {note}", err=True)


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
    which = (f"all {len(every)} of its nudges" if not shown
             else f"{len(every) - len(shown)} of its {len(every)} nudges")
    fate = {"defer": 'wait until they end (blocked = "defer")',
            "digest": 'go into the digest (blocked = "digest")'}.get(
                p.blocked, "will not be shown")
    return (f"{which} in the next two weeks fall inside the quiet hours ({p.quiet_hours}) "
            f"and {fate}; choose another time, or add it with --quiet-hours none")


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


@cli.command()
@click.argument("practice_id", metavar="ID")
@click.pass_context
def remove(ctx: click.Context, practice_id: str) -> None:
    """Remove a practice from the schedule (its history is kept).

    \b
    Example:
        attuned remove date-night
    """
    from attuned.config import schedule

    schedule.remove_practice(_config(ctx), practice_id)
    click.echo(f"Removed {practice_id}. Its history stays; `attuned history` still shows it.")


@cli.command()
@click.argument("practice_id", metavar="ID")
@click.pass_context
def enable(ctx: click.Context, practice_id: str) -> None:
    """Switch a paused practice on.

    \b
    Example:
        attuned enable look-up
    """
    from attuned.config import schedule

    schedule.set_enabled(_config(ctx), practice_id, True)
    click.echo(f"Enabled {practice_id}.")


@cli.command()
@click.argument("practice_id", metavar="ID")
@click.pass_context
def disable(ctx: click.Context, practice_id: str) -> None:
    """Pause a practice without deleting it.

    \b
    Example:
        attuned disable look-up
    """
    from attuned.config import schedule

    schedule.set_enabled(_config(ctx), practice_id, False)
    click.echo(f"Paused {practice_id}. `attuned enable {practice_id}` switches it back on.")


@cli.command()
@click.pass_context
def edit(ctx: click.Context) -> None:
    """Open the schedule in $VISUAL or $EDITOR; it is checked before it is saved.

    You edit a draft next to the file; the file is replaced only when the draft is valid,
    so the daemon never sees a half-finished edit.

    \b
    Example:
        EDITOR=vim attuned edit
    """
    import subprocess  # here, not at the top: the quick commands never pay for it

    from attuned.config import draft as editing

    path = _config(ctx)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"

    def run_editor(draft: Path) -> None:
        cmd = [*shlex.split(editor), str(draft)]
        try:
            subprocess.run(cmd, check=False)
        except FileNotFoundError:
            raise AttunedError(f'could not start the editor "{editor}"; set $VISUAL or '
                               "$EDITOR to one that is installed") from None

    def ask_reopen(error: ScheduleError) -> bool:
        click.echo(str(error), err=True)
        if not _interactive():
            return False
        return click.confirm("Reopen the editor to fix it?", default=True)

    result = editing.edit_interactively(path, run_editor, ask_reopen)
    click.echo(result.message)
    if not result.saved and result.draft is not None:
        ctx.exit(1)


# Practising (issue 6): the library, try, feelings/needs, reflect, review, show, together.
from attuned.cli import practising as cli_practice  # noqa: E402

for _command in cli_practice.COMMANDS:
    cli.add_command(_command)


def _interactive() -> bool:
    return sys.stdin.isatty()


cli.add_command(service)
cli.add_command(doctor)


def main() -> None:
    cli(prog_name="attuned")


# --------------------------------------------------------------------------- daemon


@cli.command()
@click.option("-v", "--verbose", count=True, help="More detail in the log (-vv: libraries too).")
@click.pass_context
def run(ctx: click.Context, verbose: int) -> None:
    """Run the daemon in the foreground (what the user service runs).

    With no schedule file yet, it runs the built-in example and says so.

    \b
    Example:
        attuned run -v
    """
    from attuned.daemon import lifecycle as daemon

    ctx.exit(daemon.run(_config(ctx), verbose))


@cli.command(name="notify-test")
def notify_test() -> None:
    """Send one test nudge now and say which way it went.

    \b
    Example:
        attuned notify-test
    """
    import asyncio

    from attuned.notify.base import NUDGE_ACTIONS, Notification
    from attuned.notify.chain import default_chain, describe_server

    async def go() -> None:
        from attuned.errors import NotifyError

        chain = default_chain()
        try:
            if chain.primary is not None:
                try:
                    await chain.primary.connect()
                except NotifyError as e:
                    click.echo(f"D-Bus: {e}")
            d = await chain.send(Notification(
                title="attuned: test nudge",
                body="If you can read this, nudges reach you. Nothing to do.",
                actions=NUDGE_ACTIONS))
            click.echo(f"delivered by: {d.backend}")
            info = chain.server_info
            if info is not None and d.backend == "dbus":
                click.echo(f"server: {describe_server(info)}")
                if not info.supports_actions:
                    click.echo("this server shows no buttons: answer nudges with "
                               "`attuned done`, `attuned snooze` or `attuned skip`")
        finally:
            await chain.aclose()

    asyncio.run(go())


def _call(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    from attuned.daemon import control

    return control.call(method, params)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Is the daemon running, what is open or snoozed, and what comes next.

    \b
    Example:
        attuned status
    """
    from attuned.errors import DaemonNotRunning

    try:
        st = _call("status")
    except DaemonNotRunning as e:
        if as_json:
            click.echo(json.dumps({"running": False, "reason": str(e)}))
            return
        raise
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    click.echo(f"running, schedule {st['schedule']}"
               + (" (built-in example)" if st.get("using_example") else ""))
    click.echo(f"last reload: {_short(st['last_reload'])}")
    if st.get("schedule_error"):
        click.echo("the file has a problem; the last good schedule keeps running:")
        click.echo(_indent(str(st["schedule_error"])))
    for n in st["open"]:
        click.echo(f"open: {n['nudge']}  {n['title']}  (since {_short(n['shown_at'])})")
    for n in st["snoozed"]:
        click.echo(f"snoozed: {n['nudge']}  {n['title']}  (back at {_short(n['until'])})")
    if not st["next"]:
        click.echo("next: nothing planned")
    for n in st["next"]:
        click.echo(f"next: {_short(n['at'])}  {n['practice']}  {n['title']}")


def _short(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone().strftime("%a %d %b %H:%M")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _answer(ctx: click.Context, action: str, target: str | None, note: str | None = None,
            how: str | None = None, length: str | None = None) -> None:
    from attuned.app import service
    from attuned.core.model import Action
    from attuned.daemon.clock import now
    from attuned.errors import DaemonNotRunning
    from attuned.state.store import Store

    params: dict[str, Any] = {"target": target, "note": note, "how": how}
    if length is not None:
        from attuned.core.durations import parse_duration

        parse_duration(length)  # a bad value is the user's error, before any socket
        params["for"] = length
    try:
        result = _call(action, params)
        click.echo(result["text"])
        return
    except DaemonNotRunning:
        if action == "snooze":
            raise DaemonNotRunning(
                "snooze needs the daemon to bring the nudge back, and it is not running; "
                "start it with `attuned run` (or `systemctl --user start attuned`), or "
                "answer with `attuned done` / `attuned skip`") from None
    # No daemon: the answer goes straight into the history.
    sched = None
    path = _config(ctx)
    if path.exists():
        try:
            sched = _load(path)
        except AttunedError:
            sched = None
    store = Store.open(paths.history_db())
    try:
        _, res = service.answer(store, target, Action(action), at=now(), source="cli",
                                schedule=sched, note=note, how=how)
    finally:
        store.close()
    click.echo(res.describe())


@cli.command()
@click.argument("target", required=False, metavar="[ID|PRACTICE]")
@click.option("--note", help="A line about how it went.")
@click.option("--noticed", "how", flag_value="noticed", help="You noticed the moment.")
@click.option("--partly", "how", flag_value="partly", help="It went partly.")
@click.option("--missed-it", "how", flag_value="missed", help="You did it, but missed the moment.")
@click.pass_context
def done(ctx: click.Context, target: str | None, note: str | None, how: str | None) -> None:
    """Mark a nudge done (default: the newest open one), and how it went if you like.

    \b
    Example:
        attuned done breakfast --partly --note "she was tired; I made tea"
    """
    _answer(ctx, "done", target, note=note, how=how)


@cli.command()
@click.argument("target", required=False, metavar="[ID|PRACTICE]")
@click.option("--for", "length", metavar="DURATION", help="How long (default: the setting).")
@click.pass_context
def snooze(ctx: click.Context, target: str | None, length: str | None) -> None:
    """Bring a nudge back later (needs the daemon).

    \b
    Example:
        attuned snooze --for 20m
    """
    _answer(ctx, "snooze", target, length=length)


@cli.command()
@click.argument("target", required=False, metavar="[ID|PRACTICE]")
@click.option("--note", help="Why, if you like.")
@click.pass_context
def skip(ctx: click.Context, target: str | None, note: str | None) -> None:
    """Skip a nudge this time (default: the newest open one).

    \b
    Example:
        attuned skip look-up
    """
    _answer(ctx, "skip", target, note=note)


@cli.command()
def reload() -> None:
    """Ask the running daemon to re-read the schedule now.

    \b
    Example:
        attuned reload
    """
    res = _call("reload")
    if res.get("reloaded"):
        click.echo("Reloaded.")
    else:
        click.echo(str(res.get("error")), err=True)
        click.echo("The last good schedule keeps running.", err=True)
        raise SystemExit(1)


# --------------------------------------------------------------------------- history


def _open_store() -> Any:
    from attuned.state.store import Store

    store = Store.open(paths.history_db())
    if store.moved_aside is not None:
        click.echo(f"attuned: the history database could not be read; it was moved aside to "
                   f"{store.moved_aside} (nothing was deleted) and a fresh one started.",
                   err=True)
    return store


@cli.command()
@click.option("--practice", "practice_id", metavar="ID", help="Only this practice.")
@click.option("--since", metavar="WHEN",
              help='From this moment: "today", "2026-12-01" or "2026-12-01 07:00".')
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@click.pass_context
def history(ctx: click.Context, practice_id: str | None, since: str | None, as_json: bool,
            as_csv: bool) -> None:
    """What happened to your nudges: shown, done, snoozed, skipped, missed.

    \b
    Example:
        attuned history --practice breakfast --since 2026-12-01 --csv > breakfast.csv
    """
    import csv

    from attuned.app import service
    from attuned.core.moments import parse_moment

    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    zone = display_zone(ctx)
    start = parse_moment(since, now=_now(), zone=zone) if since else None
    store = _open_store()
    try:
        events = service.history(store, practice_id=practice_id, since=start)
    finally:
        store.close()
    rows = [{
        "at": e.at.astimezone(zone).isoformat(), "event": str(e.kind), "nudge": e.nudge_id,
        "practice": e.practice_id, "title": e.title, "source": e.source or "",
        "note": e.note or "", "how": e.how or "",
        "snoozed_until": e.snoozed_until.astimezone(zone).isoformat() if e.snoozed_until
        else "",
        "due": e.due.astimezone(zone).isoformat(),
    } for e in events]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if as_csv:
        # sys.stdout, not click.get_text_stream: click 8.5.1's stub makes mypy reject it.
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else
                                ["at", "event", "nudge", "practice", "title", "source", "note",
                                 "how", "snoozed_until", "due"])
        writer.writeheader()
        writer.writerows(rows)
        return
    if not events:
        click.echo("Nothing in the history yet." if not (practice_id or since)
                   else "Nothing in the history for that.")
        return
    last_day: date | None = None
    for e in events:
        local = e.at.astimezone(zone)
        if local.date() != last_day:
            click.echo(local.strftime("%a %d %b %Y"))
            last_day = local.date()
        extra = []
        if e.source and e.source != "daemon":
            extra.append(f"from the {e.source}")
        if e.snoozed_until:
            extra.append(f"until {e.snoozed_until.astimezone(zone):%H:%M}")
        if e.how:
            extra.append(e.how)
        if e.note:
            extra.append(f'"{e.note}"')
        tail = f"  ({', '.join(extra)})" if extra else ""
        click.echo(f"  {local:%H:%M}  {e.kind!s:<9}  {e.nudge_id:<6} {e.practice_id:<18} "
                   f"{e.title}{tail}")


@cli.command()
@click.option("--week", "period", flag_value=7, default=True, help="The last 7 days (default).")
@click.option("--month", "period", flag_value=30, help="The last 30 days.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stats(ctx: click.Context, period: int, as_json: bool) -> None:
    """How each practice is going: answers, done-rate, streaks of days done.

    A missed nudge is data, not failure: the figures are there to help you choose.

    \b
    Example:
        attuned stats --month
    """
    from attuned.app import service

    zone = display_zone(ctx)
    today = _now().astimezone(zone).date()
    store = _open_store()
    try:
        rows = service.stats(store, today=today, zone=zone, days=period)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([{
            "practice": r.practice_id, "nudges": r.nudges, "done": r.done,
            "snoozed": r.snoozed, "skipped": r.skipped, "dismissed": r.dismissed,
            "missed": r.missed, "expired": r.expired, "done_rate": r.done_rate,
            "current_streak": r.current_streak, "best_streak": r.best_streak,
            "daily": [{"day": d.day.isoformat(), "nudges": d.nudges, "done": d.done}
                      for d in r.daily],
        } for r in rows], indent=2))
        return
    first = today - timedelta(days=period - 1)
    click.echo(f"{first:%a %d %b} to {today:%a %d %b %Y}")
    if not rows:
        click.echo("No nudges in this period yet.")
        return
    width = max(len("practice"), *(len(r.practice_id) for r in rows))
    click.echo(f"{'practice':<{width}}  {'days':<{period}}  nudges done snoozed skipped "
               "missed  rate  streak (best)")
    for r in rows:
        click.echo(f"{r.practice_id:<{width}}  {r.sparkline:<{period}}  {r.nudges:>6} "
                   f"{r.done:>4} {r.snoozed:>7} {r.skipped:>7} {r.missed:>6}  "
                   f"{r.done_percent:>4}  {r.current_streak:>3}d ({r.best_streak}d)")
    click.echo("· no nudge that day   ▁ none done   █ all done")
