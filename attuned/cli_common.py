"""What the CLI's command modules share: the schedule file the root group chose, the
schedule or the built-in example, and the zone to show times in. Light: no heavy imports."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click

from attuned.errors import AttunedError
from attuned.model import Schedule


def config_path(ctx: click.Context) -> Path:
    """The schedule file: --config, ATTUNED_CONFIG or the default (set by the root group)."""
    from attuned import paths

    obj = ctx.find_root().obj
    return obj if isinstance(obj, Path) else paths.config_path()


def schedule_or_example(path: Path) -> Schedule:
    """The schedule at `path`, or the built-in example when there is no file yet."""
    from attuned import schedule

    return schedule.load_or_example(path)[0]


def display_zone(path: Path) -> ZoneInfo:
    """The schedule's zone for showing times; the system's when the file is unusable."""
    from attuned import zones

    try:
        sched = schedule_or_example(path)
    except AttunedError:
        return zones.system_zone()
    return zones.schedule_zone(sched.settings)
