"""`attuned --help` as a person reads it: the commands in sections, each summary whole.

Click's own listing is one alphabetical list that cuts each summary at the width left over
("...", about 45 characters); attuned's groups print the summary whole, under headings.
"""

from __future__ import annotations

import click
from click.testing import CliRunner

from attuned.cli.common import SummaryGroup
from attuned.cli.root import cli

TOP_LEVEL_HELP = """\
Usage: attuned [OPTIONS] COMMAND [ARGS]...

  attuned: gentle nudges for practising attunement with your partner.

  Example:
      attuned init && attuned next --count 5

Options:
  --version      Show the version and exit.
  --config FILE  The schedule file (default:
                 $XDG_CONFIG_HOME/attuned/config.toml).
  -h, --help     Show this message and exit.

Your schedule:
  init         Write a starter schedule from the built-in example.
  edit         Edit the schedule in your editor; it is checked before saving.
  check        Check a schedule file and print every problem in it.
  list         List the practices in the schedule, with their next nudge.
  next         Show the upcoming nudges from the schedule (no daemon needed).
  add          Add a practice to the schedule (comments in the file are kept).
  remove       Remove a practice from the schedule (its history is kept).
  enable       Switch a paused practice on.
  disable      Pause a practice without deleting it.

Answering a nudge:
  show         Show a nudge's full text (the newest open one by default).
  done         Mark a nudge done (default: the newest open one).
  snooze       Bring a nudge back later (needs the daemon).
  skip         Skip a nudge this time (default: the newest open one).

Looking back:
  history      What became of each nudge: done, snoozed, skipped, missed.
  stats        How each practice is going: answers, done-rate, streaks.

Practising:
  practices    The library of small, specific practices to try for a while.
  try          Try a practice from the library for a while, starting today.
  feelings     Words for feelings, to guess what may be alive in your partner.
  needs        Words for needs, for guessing what a feeling may point to.
  together     Say that you two are together (no argument: whether you are).
  reflect      Say how a practice's period went (default: the one just asked).
  review       Your week of practice, and what to keep, extend or try next.

The daemon:
  run          Run the daemon in the foreground (what the user service runs).
  status       Is the daemon running; what is open, snoozed, and coming next.
  reload       Ask the running daemon to re-read the schedule now.
  notify-test  Send one test nudge now and say which way it went.

The phone:
  phone        Nudges on your phone, with answers, through the ntfy app.

Running as a service:
  service      Run attuned as a user service that starts at every login.
  doctor       Check everything attuned needs; say how to fix what is wrong.

About attuned:
  help         Show the help of attuned or of a command, as --help does.
  completion   Print the completion script for bash, zsh or fish.
"""


def help_of(*args: str) -> str:
    # 80 columns, whatever the terminal running the tests: click wraps help to it.
    r = CliRunner().invoke(cli, [*args, "--help"], prog_name="attuned", terminal_width=80)
    assert r.exit_code == 0, r.output
    return r.output


def test_the_top_level_help_lists_every_command_in_its_section_whole() -> None:
    assert help_of() == TOP_LEVEL_HELP


def test_every_command_is_in_a_section_and_every_summary_fits_one_line() -> None:
    listed = [line.split()[0] for line in TOP_LEVEL_HELP.split("Your schedule:")[1].splitlines()
              if line.startswith("  ")]
    assert sorted(listed) == sorted(cli.list_commands(click.Context(cli)))
    assert max(len(line) for line in TOP_LEVEL_HELP.splitlines()) <= 80


def test_the_service_group_lists_its_commands_whole() -> None:
    assert help_of("service").split("Commands:\n")[1] == (
        "  install    Write the service for this attuned and enable it at login.\n"
        "  logs       Show the daemon's log (journalctl; the log file on macOS).\n"
        "  status     Is the service installed, enabled, running, and this attuned?\n"
        "  uninstall  Stop the service and remove it.\n")


def test_a_command_in_no_section_is_still_listed_last() -> None:
    @click.group(cls=SummaryGroup)
    def group() -> None:
        """A group."""

    @group.command()
    def first() -> None:
        """The first, with a summary longer than click would show in its listing, whole."""

    @group.command()
    def stray() -> None:
        """In no section."""

    group.sections = (("Mine", ("first",)),)
    r = CliRunner().invoke(group, ["--help"], prog_name="g", terminal_width=80)
    assert r.output.split("Options:\n  --help  Show this message and exit.\n\n")[1] == (
        "Mine:\n"
        "  first  The first, with a summary longer than click would show in its listing,\n"
        "         whole.\n"
        "\n"
        "Other commands:\n"
        "  stray  In no section.\n")


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # list_commands and get_command, as click asks: the root group loads lazily.
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((*path, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*path, name)))
    return found


def test_every_command_and_sub_command_has_help_with_an_example() -> None:
    every = _commands(cli)
    assert ("service", "install") in every and ("practices", "show") in every
    for path in every:
        assert "Example:" in help_of(*path), f"`attuned {' '.join(path)} --help` has no example"


def test_the_root_groups_summaries_are_the_commands_own() -> None:
    # The root group lists commands without importing their modules, from its own table of
    # names and summaries: each must be what the command itself says, whole and cut short
    # as shell completion shows it; and no command of a module left out.
    import importlib
    import sys

    from attuned.cli.root import COMMANDS

    for _title, module_name, commands in COMMANDS:
        module = importlib.import_module(module_name)
        # Every top-level command the module defines is in its row (a sub-command is
        # its group's).
        defined = [v for v in vars(module).values() if isinstance(v, click.Command)
                   and getattr(v.callback, "__module__", None) == module_name]
        nested = {id(c) for g in defined if isinstance(g, click.Group)
                  for c in g.commands.values()}
        assert (sorted(c.name or "" for c in defined if id(c) not in nested)
                == sorted(name for name, _, _ in commands))  # the order: the help's tests
        for name, attr, summary in commands:
            command = getattr(module, attr)
            assert command.name == name
            assert summary == command.get_short_help_str(sys.maxsize)
            assert (click.Command(name, help=summary).get_short_help_str(45)
                    == command.get_short_help_str(45))
