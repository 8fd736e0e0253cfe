"""What the CLI's command modules share: the group class that lists commands in help, the
schedule file the root group chose, the schedule or the built-in example, the zone to show
times in, the clock, the daemon's control socket, and --at clock times. Light: no heavy
imports."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from attuned.errors import AttunedError, RefusedOptions, ScheduleError

if TYPE_CHECKING:
    # Only named in annotations: importing them would slow every Tab of shell completion.
    from zoneinfo import ZoneInfo

    from attuned.core.model import Schedule
    from attuned.state.store import Store


class SummaryGroup(click.Group):
    """A group whose help gives each command's summary whole (click cuts it at the width
    left over), under the headings of `sections`; commands in no section come last."""

    sections: Sequence[tuple[str, Sequence[str]]] = ()

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        commands: dict[str, click.Command] = {}
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                commands[name] = cmd
        self.format_summaries(formatter, {n: c.get_short_help_str(sys.maxsize)
                                          for n, c in commands.items()})

    def format_summaries(self, formatter: click.HelpFormatter, summaries: dict[str, str]
                         ) -> None:
        """The sectioned listing of `summaries` (command name -> its summary, whole)."""
        commands = summaries
        if not commands:
            return
        placed: list[tuple[str, list[str]]] = []
        for title, names in self.sections:
            present = [n for n in names if n in commands]
            if present:
                placed.append((title, present))
        seen = {n for _, names in placed for n in names}
        rest = [n for n in commands if n not in seen]
        if rest:
            placed.append(("Other commands" if placed else "Commands", rest))
        # One name column for every section, so the summaries line up down the screen.
        width = max(len(n) for n in commands)
        for title, names in placed:
            with formatter.section(title):
                formatter.write_dl([(n.ljust(width), commands[n])
                                    for n in names])


def config_path(ctx: click.Context) -> Path:
    """The schedule file: --config, ATTUNED_CONFIG or the default (set by the root group)."""
    from attuned import paths

    obj = ctx.find_root().obj
    return obj if isinstance(obj, Path) else paths.config_path()


def schedule_or_example(path: Path) -> Schedule:
    """The schedule at `path`, or the built-in example when there is no file yet (its
    dates from today, as the daemon runs it)."""
    from attuned.config.read import load_or_example

    return load_or_example(path, now().astimezone().date())[0]


def load_schedule(path: Path, *, example_if_missing: bool = False) -> Schedule:
    from attuned.config.read import load

    return schedule_or_example(path) if example_if_missing else load(path)


def now() -> datetime:
    """The CLI's clock (command modules import it as `_now`, which tests pin)."""
    from attuned.daemon.clock import now

    return now()


def call_daemon(method: str, params: Mapping[str, object] | None = None) -> dict[str, Any]:
    """One request to the running daemon (DaemonNotRunning when none answers). Absent
    values are left out: the daemon refuses a null where it expects text."""
    from attuned.daemon import control

    return control.call(method, {k: v for k, v in (params or {}).items() if v is not None})


class _Daemon:
    """The running daemon, as attuned.app.frontdoor reaches it."""

    def call(self, method: str, params: Mapping[str, object]) -> dict[str, Any]:
        return call_daemon(method, params)


DAEMON = _Daemon()


def display_zone(ctx: click.Context) -> ZoneInfo:
    """The schedule's zone for showing times; the system's when the file is unusable."""
    from attuned.config import zones

    try:
        sched = schedule_or_example(config_path(ctx))
    except AttunedError:
        return zones.system_zone()
    return zones.schedule_zone(sched.settings)


def clock_times(values: Sequence[str]) -> str | list[str]:
    """--at values, repeated or comma-separated, in the schedule file's shape: one time
    as a string, several as a list."""
    times = [x.strip() for v in values for x in v.split(",") if x.strip()]
    return times[0] if len(times) == 1 else times


def open_store(*, read_only: bool = False) -> Store:
    """The history store, having said on stderr what its open found: a damaged database
    moved aside, old state files imported with damaged entries (`Store.notes`, said once
    whichever command or daemon opens the store first). `read_only`: for a command that
    only reads, which then works on a history it may not write too."""
    from attuned import paths
    from attuned.state.store import Store, empty_words

    store = Store.open(paths.history_db(), read_only=read_only)
    store.on_unreadable = lambda text: click.echo(f"attuned: {text}", err=True)
    if store.moved_aside is not None:
        click.echo(f"attuned: the history database could not be read; it was moved aside to "
                   f"{store.moved_aside} (nothing was deleted) and a fresh one started.",
                   err=True)
    if store.was_empty:
        click.echo(f"attuned: {empty_words(store.path)}", err=True)
    for note in store.notes:
        click.echo(f"attuned: {note}", err=True)
    with contextlib.suppress(AttunedError):  # not marked told: said again next time
        store.notes_told()
    return store


def known_practice(ctx: click.Context, practice_id: str) -> str:
    """`practice_id` when the schedule or the history knows it; else the one error every
    command gives for an unknown practice ("did you mean ...?")."""
    from attuned.core.names import resolve_practice

    known: set[str] = set()
    path = config_path(ctx)
    # A schedule being edited may not load, or not be there: the history's ids still count.
    with contextlib.suppress(AttunedError):
        known |= {p.id for p in load_schedule(path).practices}
    if practice_id in known:
        return practice_id
    store = open_store(read_only=True)
    try:
        known |= store.practice_ids()
    finally:
        store.close()
    return resolve_practice(practice_id, known)


def one_of(**given: bool) -> None:
    """Refuse flags that exclude each other given together: "choose one of ..."."""
    chosen = [name for name, on in given.items() if on]
    if len(chosen) > 1:
        flags = [f"--{n.replace('_', '-')}" for n in given]
        gave = " and ".join(f"--{n.replace('_', '-')}" for n in chosen)
        raise ExclusiveFlags(f"choose one of {', '.join(flags[:-1])} or {flags[-1]} "
                             f"(you gave {gave})")


class ExclusiveFlags(AttunedError):
    pass


def refused_by_option(error: ScheduleError, command: str, practice_id: str,
                      options: Mapping[str, str]) -> AttunedError:
    """The schedule's refusal of a change made with options, told by option: the new text
    was never written, so a line of the file would point at nothing. `options` maps the
    file's keys to the options that set them ("at" -> "--at"). Problems elsewhere in the
    file (or with a key no option set, like a duplicate id) keep their file and line."""
    mine = [p for p in error.problems
            if p.practice == practice_id and (p.key is None or p.key in options)]
    if not mine or len(mine) != len(error.problems):
        return error
    lines = []
    for p in mine:
        where = f"{command} {practice_id}"
        if p.key is not None:
            where += f": {options[p.key]}"
        lines.append(f"{where}: {p.message}")
    return RefusedOptions(lines)
