"""The command line's root: the `attuned` group and the one place errors are shown.

The commands live one module per group: schedule, daemon, answers, history, practising,
service. Each is thin (parse, call the library, format), and heavy modules (APScheduler,
dbus-fast, the daemon) are imported inside the commands that need them, so quick commands
like `list` and `next` start fast.
"""

from __future__ import annotations

from typing import Any

import click

from attuned import __version__, paths
from attuned.cli import answers, daemon, history, manual, phone, practising, schedule, service
from attuned.cli.common import SummaryGroup
from attuned.errors import AttunedError, RefusedOptions, ScheduleError


class _Group(SummaryGroup):
    """Catches AttunedError once: one clear message, a non-zero exit, never a traceback.

    Only AttunedError: its messages are written for people (the parsers of what people
    type raise BadValue, one). Anything else is a bug in attuned and shows as one.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AttunedError as e:
            # Schedule problems start with the file and line, like a compiler's; refused
            # options already say "attuned:" on each of their lines.
            whole = isinstance(e, (ScheduleError, RefusedOptions))
            click.echo(str(e) if whole else f"attuned: {e}", err=True)
            ctx.exit(e.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="attuned")
@click.option("--config", "config", envvar="ATTUNED_CONFIG", type=click.Path(), metavar="FILE",
              help="The schedule file (default: $XDG_CONFIG_HOME/attuned/config.toml).")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """attuned: gentle nudges for practising attunement with your partner.

    \b
    Example:
        attuned init && attuned next --count 5
    """
    ctx.obj = paths.config_path(config)


# In this order in `attuned --help`, each module's commands under its heading.
_MODULES = (schedule, answers, history, practising, daemon, phone, service, manual)
for _module in _MODULES:
    for _command in _module.COMMANDS:
        cli.add_command(_command)
cli.sections = tuple((m.SECTION, tuple(str(c.name) for c in m.COMMANDS)) for m in _MODULES)


def main() -> None:
    cli(prog_name="attuned")
