"""What the shell offers at a Tab: practice ids from the schedule, names from the library,
the ids of open nudges, command names for `attuned help`.

Each runs in a fresh `attuned` at every Tab (click's completion: the shell sets
_ATTUNED_COMPLETE and the words so far). So each is quick, reads only (the schedule file,
the library's files, the history through attuned.state.peek), imports nothing heavy, and
offers nothing rather than print an error into the person's command line.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

Complete = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def _quiet(complete: Complete) -> Complete:
    @functools.wraps(complete)
    def quietly(ctx: click.Context, param: click.Parameter, incomplete: str
                ) -> list[CompletionItem]:
        try:
            return complete(ctx, param, incomplete)
        except Exception:  # a Tab must never print a traceback into the command line
            return []
    return quietly


def _items(pairs: Iterable[tuple[str, str]], incomplete: str) -> list[CompletionItem]:
    seen: set[str] = set()
    items = []
    for value, words in pairs:
        if value.startswith(incomplete) and value not in seen:
            seen.add(value)
            items.append(CompletionItem(value, help=words or None))
    return items


def _schedule_path(ctx: click.Context) -> Path:
    # The root group's callback, which sets ctx.obj, does not run while completing; its
    # parsed --config (or ATTUNED_CONFIG) is there all the same.
    from attuned import paths

    config = ctx.find_root().params.get("config")
    return paths.config_path(config if isinstance(config, str) and config else None)


def _titled(entries: Any, key: str) -> list[tuple[str, str]]:
    found = []
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get(key), str):
                title = entry.get("title")
                found.append((entry[key], title if isinstance(title, str) else ""))
    return found


def schedule_practices(ctx: click.Context) -> list[tuple[str, str]]:
    """(id, title) of each practice in the schedule, or in the built-in example when there
    is no file (what `attuned list` shows). Read as plain TOML: a file with a mistake
    elsewhere still offers its ids."""
    path = _schedule_path(ctx)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        # Imported here: it brings tempfile and shutil, milliseconds in every command that
        # names a completion function.
        from importlib import resources

        text = resources.files("attuned").joinpath("config.example.toml").read_text("utf-8")
    return _titled(tomllib.loads(text).get("practice"), "id")


@_quiet
def practice_ids(ctx: click.Context, param: click.Parameter, incomplete: str
                 ) -> list[CompletionItem]:
    return _items(schedule_practices(ctx), incomplete)


@_quiet
def library_names(ctx: click.Context, param: click.Parameter, incomplete: str
                  ) -> list[CompletionItem]:
    """The library's practices: the built-in templates and the person's own (a file's name
    is its practice's name), each with its title."""
    from importlib import resources

    from attuned import paths

    found: dict[str, str] = {}
    folders = [resources.files("attuned").joinpath("data", "practices"),
               paths.user_practices_dir()]
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            name = entry.name.removesuffix(".toml")
            if entry.name.endswith(".toml") and name.startswith(incomplete):
                try:
                    title = tomllib.loads(entry.read_text("utf-8")).get("title")
                except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                    title = None
                found[name] = title if isinstance(title, str) else ""
    return _items(found.items(), incomplete)


def _open_nudges() -> list[tuple[str, str]]:
    from attuned import paths
    from attuned.state import peek

    return [(n.id, f"{n.practice_id}: {n.title}" if n.title else n.practice_id)
            for n in peek.open_nudges(paths.history_db())]


@_quiet
def nudge_ids(ctx: click.Context, param: click.Parameter, incomplete: str
              ) -> list[CompletionItem]:
    return _items(_open_nudges(), incomplete)


@_quiet
def targets(ctx: click.Context, param: click.Parameter, incomplete: str
            ) -> list[CompletionItem]:
    """What done, snooze and skip take: an open nudge's id, newest first, or a practice."""
    return _items([*_open_nudges(), *schedule_practices(ctx)], incomplete)


@_quiet
def command_names(ctx: click.Context, param: click.Parameter, incomplete: str
                  ) -> list[CompletionItem]:
    """For `attuned help COMMAND...`: the commands of the group the words so far name."""
    group: click.Command | None = ctx.find_root().command
    for name in ctx.params.get(param.name or "", None) or ():
        group = group.get_command(ctx, name) if isinstance(group, click.Group) else None
    if not isinstance(group, click.Group):
        return []
    pairs = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            pairs.append((name, command.get_short_help_str(limit=60)))
    return _items(pairs, incomplete)
