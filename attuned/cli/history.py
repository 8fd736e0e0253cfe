"""Looking back: history (every nudge and answer, as text, JSON or CSV) and stats.

Both read the SQLite history through attuned.app.service; neither needs the daemon or an
event loop.
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta

import click

from attuned.cli.common import display_zone, known_practice, one_of, open_store
from attuned.cli.common import now as _now
from attuned.cli.completion import practice_ids


@click.command()
@click.option("--practice", "practice_id", metavar="ID", help="Only this practice.",
              shell_complete=practice_ids)
@click.option("--since", metavar="WHEN",
              help='From this moment: "today", "yesterday", "7d" (that long ago), '
                   '"2026-12-01" or "2026-12-01 07:00".')
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@click.pass_context
def history(ctx: click.Context, practice_id: str | None, since: str | None, as_json: bool,
            as_csv: bool) -> None:
    """What became of each nudge: done, snoozed, skipped, missed.

    \b
    Example:
        attuned history --practice breakfast --since 2026-12-01 --csv > breakfast.csv
    """
    import csv

    from attuned.app import service
    from attuned.core.history import EventKind, EventReason, reason_words
    from attuned.core.moments import clock_words, parse_since

    one_of(json=as_json, csv=as_csv)
    if practice_id is not None:
        practice_id = known_practice(ctx, practice_id)
    zone = display_zone(ctx)
    start = parse_since(since, now=_now(), zone=zone) if since else None
    store = open_store(read_only=True)
    try:
        events = service.history(store, practice_id=practice_id, since=start)
    finally:
        store.close()
    rows = [{
        "at": e.at.astimezone(zone).isoformat(), "event": e.words, "nudge": e.nudge_id,
        "practice": e.practice_id, "title": e.title, "source": e.source or "",
        "note": e.note or "", "how": e.how or "",
        "snoozed_until": e.snoozed_until.astimezone(zone).isoformat() if e.snoozed_until
        else "",
        "due": e.due.astimezone(zone).isoformat(),
        "reason": str(e.reason) if e.reason else "",
        "snoozed_from": e.snoozed_from or "",  # a snooze's return: the nudge it brings back
    } for e in events]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if as_csv:
        # sys.stdout, not click.get_text_stream: click 8.5.1's stub makes mypy reject it.
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else
                                ["at", "event", "nudge", "practice", "title", "source", "note",
                                 "how", "snoozed_until", "due", "reason", "snoozed_from"])
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
            extra.append(f"until {clock_words(e.snoozed_until.astimezone(zone))}")
        if e.snoozed_from and e.kind in (EventKind.SHOWN, EventKind.MISSED):
            extra.append(f"back from the snoozed {e.snoozed_from}")
        if e.how:
            extra.append(e.how)
        if e.reason is not None:  # held or dropped: why (a replaced one names the other)
            extra.append(reason_words(e.reason, e.note))
        if e.note and e.reason is not EventReason.REPLACED:
            extra.append(f'"{e.note}"')
        tail = f"  ({', '.join(extra)})" if extra else ""
        click.echo(f"  {local:%H:%M}  {e.words:<9}  {e.nudge_id:<6} {e.practice_id:<18} "
                   f"{e.title}{tail}")


@click.command()
@click.option("--week", is_flag=True, help="The last 7 days (default).")
@click.option("--month", is_flag=True, help="The last 30 days.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stats(ctx: click.Context, week: bool, month: bool, as_json: bool) -> None:
    """How each practice is going: answers, done-rate, streaks.

    A streak is a run of days with a nudge done (days with no nudge do not break
    it). A missed nudge is data, not failure: the figures are there to help you choose.

    \b
    Example:
        attuned stats --month
    """
    from attuned.app import service

    one_of(week=week, month=month)
    period = 30 if month else 7
    zone = display_zone(ctx)
    today = _now().astimezone(zone).date()
    store = open_store(read_only=True)
    try:
        rows = service.stats(store, today=today, zone=zone, days=period)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([{
            "practice": r.practice_id, "nudges": r.nudges, "done": r.done,
            "snoozed": r.snoozed, "skipped": r.skipped, "dismissed": r.dismissed,
            "missed": r.missed, "expired": r.expired, "held": r.held, "done_rate": r.done_rate,
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
    held = [f"{r.practice_id} {r.held}" for r in rows if r.held]
    if held:
        # Not failures: held back at their moment (quiet hours, together mode, paused
        # notifications) and never shown, so counted in no column above.
        click.echo("held back and not shown (neither done nor missed): " + ", ".join(held))
