"""Help about attuned itself: `attuned help [COMMAND...]` (the same text as --help),
`attuned completion SHELL` (click's completion script), and the manual page, made from the
same help by scripts/make-man.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from attuned.cli.completion import command_names

SHELLS = ("bash", "zsh", "fish")

# The man page's help is wrapped to this width: with man's indent of 7, 78 columns.
MAN_WIDTH = 71


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

    `man ./docs/attuned.1` in the source tree has all of it in one page.

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


# --------------------------------------------------------------------------- man page


def _commands(ctx: click.Context) -> Iterator[click.Context]:
    """Every command's context under `ctx`, in the order its help lists them."""
    group = ctx.command
    if not isinstance(group, click.Group):
        return
    names = [n for _, section in getattr(group, "sections", ()) for n in section]
    names += [n for n in group.list_commands(ctx) if n not in names]
    for name in names:
        sub = group.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
        yield sub_ctx
        yield from _commands(sub_ctx)


def _roff(text: str) -> str:
    """Plain text as roff: backslashes and hyphens literal (a `-` would print as a hyphen
    that cannot be pasted into a shell), other characters than ASCII by their code (troff
    reads Latin-1 unless told), no line read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(c if c.isascii() else f"\\[u{ord(c):04X}]" for c in text)
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line
                     for line in text.splitlines())


def _preformatted(text: str) -> str:
    return f".nf\n{_roff(text.rstrip())}\n.fi"


def man_page(command: click.Command, version: str) -> str:
    """The manual page: NAME, SYNOPSIS, DESCRIPTION (the top-level help) and COMMANDS (each
    command's help), all as `attuned ... --help` prints it at MAN_WIDTH columns."""
    root = command.make_context("attuned", [], resilient_parsing=True,
                                terminal_width=MAN_WIDTH, max_content_width=MAN_WIDTH)
    summary = (command.help or "").split("\n")[0].removeprefix("attuned: ").rstrip(".")
    parts = [
        f'.TH ATTUNED 1 "" "attuned {version}" "User Commands"',
        ".SH NAME",
        f"attuned \\- {_roff(summary)}",
        ".SH SYNOPSIS",
        ".B attuned",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        _preformatted(root.get_help()),
        ".SH COMMANDS",
    ]
    for ctx in _commands(root):
        parts += [f'.SS "{_roff(ctx.command_path)}"', _preformatted(ctx.get_help())]
    parts += [".SH SEE ALSO",
              "README.md in attuned's source: the schedule file, the daemon, the service."]
    return "\n".join(parts) + "\n"
