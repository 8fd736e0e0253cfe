"""Help about attuned itself: `attuned help [COMMAND...]` (the same text as --help) and
`attuned completion SHELL` (click's completion script).
"""

from __future__ import annotations

import click

from attuned.cli.completion import command_names

SHELLS = ("bash", "zsh", "fish")


def _resolve(ctx: click.Context, words: tuple[str, ...]) -> click.Context:
    """The context `attuned WORDS... --help` would print the help of."""
    current = ctx.find_root()
    for n, word in enumerate(words):
        group = current.command
        sub = group.get_command(current, word) if isinstance(group, click.Group) else None
        if sub is None:
            named = " ".join(("attuned", *words[:n]))
            raise click.UsageError(
                f'`{named}` has no command "{word}"; `{named} --help` lists its commands'
                if isinstance(group, click.Group) else
                f"`{named}` has no commands of its own; `{named} --help` shows its help",
                ctx=ctx)
        # resilient_parsing: no error for the arguments a command needs to run.
        current = sub.make_context(word, [], parent=current, resilient_parsing=True)
    return current


@click.command(name="help")
@click.argument("words", nargs=-1, metavar="[COMMAND]...", shell_complete=command_names)
@click.pass_context
def help_(ctx: click.Context, words: tuple[str, ...]) -> None:
    """Show the help of attuned or of a command, as --help does.

    \b
    Example:
        attuned help service install
    """
    click.echo(_resolve(ctx, words).get_help())


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for bash, zsh or fish.

    Tab then completes commands, options, practice ids and the ids of open nudges.

    \b
    Example:
        attuned completion fish > ~/.config/fish/completions/attuned.fish
    """
    from click.shell_completion import get_completion_class

    root = ctx.find_root()
    complete = get_completion_class(shell)
    assert complete is not None  # every name in SHELLS is one of click's
    name = root.info_name or "attuned"
    var = f"_{name}_COMPLETE".replace("-", "_").upper()
    click.echo(complete(root.command, {}, name, var).source(), nl=False)  # as click prints it


SECTION = "About attuned"
COMMANDS: tuple[click.Command, ...] = (help_, completion)
