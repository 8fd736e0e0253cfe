"""The command line's root: the `attuned` group and the one place errors are shown.

The commands live one module per group: schedule, daemon, answers, history, practising,
service. Each is thin (parse, call the library, format), and heavy modules (APScheduler,
dbus-fast, the daemon) are imported inside the commands that need them, so quick commands
like `list` and `next` start fast. The root group itself imports none of them: it knows
each command's name, section and summary from COMMANDS below (click's lazy group), and
imports a command's module only when that command runs, is completed or shows its help.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click
from click.shell_completion import CompletionItem

from attuned import __version__, paths
from attuned.cli.common import SummaryGroup
from attuned.errors import AttunedError, RefusedOptions, ScheduleError

# In this order in `attuned --help`: each section, its module, and its commands as
# (name, attribute in the module, summary). tests/test_cli_help.py checks the summaries
# against the commands' own help, so they cannot drift apart.
COMMANDS: tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...] = (
    ("Your schedule", "attuned.cli.schedule", (
        ("init", "init",
         "Write a starter schedule from the built-in example."),
        ("edit", "edit",
         "Edit the schedule in your editor; it is checked before saving."),
        ("check", "check",
         "Check a schedule file and print every problem in it."),
        ("list", "list_",
         "List the practices in the schedule, with their next nudge."),
        ("next", "next_",
         "Show the upcoming nudges from the schedule (no daemon needed)."),
        ("add", "add",
         "Add a practice to the schedule (comments in the file are kept)."),
        ("remove", "remove",
         "Remove a practice from the schedule (its history is kept)."),
        ("enable", "enable",
         "Switch a paused practice on."),
        ("disable", "disable",
         "Pause a practice without deleting it."),
    )),
    ("Answering a nudge", "attuned.cli.answers", (
        ("show", "show",
         "Show a nudge's full text (the newest open one by default)."),
        ("done", "done",
         "Mark a nudge done (default: the newest open one)."),
        ("snooze", "snooze",
         "Bring a nudge back later (needs the daemon)."),
        ("skip", "skip",
         "Skip a nudge this time (default: the newest open one)."),
    )),
    ("Looking back", "attuned.cli.history", (
        ("history", "history",
         "What became of each nudge: done, snoozed, skipped, missed."),
        ("stats", "stats",
         "How each practice is going: answers, done-rate, streaks."),
    )),
    ("Practising", "attuned.cli.practising", (
        ("practices", "practices",
         "The library of small, specific practices to try for a while."),
        ("try", "try_",
         "Try a practice from the library for a while, starting today."),
        ("feelings", "feelings",
         "Words for feelings, to guess what may be alive in your partner."),
        ("needs", "needs",
         "Words for needs, for guessing what a feeling may point to."),
        ("together", "together",
         "Say that you two are together (no argument: whether you are)."),
        ("reflect", "reflect",
         "Say how a practice's period went (default: the one just asked)."),
        ("review", "review_",
         "Your week of practice, and what to keep, extend or try next."),
    )),
    ("The daemon", "attuned.cli.daemon", (
        ("run", "run",
         "Run the daemon in the foreground (what the user service runs)."),
        ("status", "status",
         "Is the daemon running; what is open, snoozed, and coming next."),
        ("reload", "reload",
         "Ask the running daemon to re-read the schedule now."),
        ("notify-test", "notify_test",
         "Send one test nudge now and say which way it went."),
    )),
    ("The phone", "attuned.cli.phone", (
        ("phone", "phone",
         "Nudges on your phone, with answers, through the ntfy app."),
    )),
    ("Running as a service", "attuned.cli.service", (
        ("service", "service",
         "Run attuned as a user service that starts at every login."),
        ("doctor", "doctor",
         "Check everything attuned needs; say how to fix what is wrong."),
    )),
    ("About attuned", "attuned.cli.manual", (
        ("help", "help_",
         "Show the help of attuned or of a command, as --help does."),
        ("completion", "completion",
         "Print the completion script for bash, zsh or fish."),
    )),
)


class _LazyGroup(SummaryGroup):
    """Imports a command's module only when the command is asked for by name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # name -> (module, attribute, summary)
        self.lazy: dict[str, tuple[str, str, str]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(n for n in super().list_commands(ctx) if n not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attr, _ = self.lazy[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command), (module, attr)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def summary(self, ctx: click.Context, name: str, limit: int) -> str | None:
        """A command's summary cut to `limit`, its module left unimported when it can be."""
        if name in self.lazy and name not in self.commands:
            # Cut as click cuts a command's own help (first sentence, then "...").
            return click.Command(name, help=self.lazy[name][2]).get_short_help_str(limit)
        command = self.get_command(ctx, name)
        return None if command is None or command.hidden else command.get_short_help_str(limit)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.format_summaries(formatter, {n: s for n in self.list_commands(ctx)
                                          if (s := self.summary(ctx, n, sys.maxsize)) is not None})

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        # What click's Group does, without importing every command's module at each Tab.
        items = [CompletionItem(n, help=s) for n in self.list_commands(ctx)
                 if n.startswith(incomplete) and (s := self.summary(ctx, n, 45)) is not None]
        items.extend(click.Command.shell_complete(self, ctx, incomplete))
        return items


class _Group(_LazyGroup):
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


cli.lazy = {name: (module, attr, summary)
            for _, module, commands in COMMANDS for name, attr, summary in commands}
cli.sections = tuple((title, tuple(n for n, _, _ in commands)) for title, _, commands in COMMANDS)


def main() -> None:
    cli(prog_name="attuned")
