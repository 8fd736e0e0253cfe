"""Reading the schedule file: finding and decoding it, the TOML read (tomli: TOML 1.0,
the standard tomllib's own code, compiled), syntax errors in words, and validation into
the frozen model (attuned.config.validate), every problem of the file at once with its
line. ScheduleCache lets the daemon's reloads reuse the practices whose text did not
change.
"""

from __future__ import annotations

import dataclasses
import re
from importlib import resources
from pathlib import Path
from typing import Any

import tomli

from attuned.config.layout import Layout, Table, scan
from attuned.config.validate import Checker
from attuned.core.model import Practice, Schedule, Settings
from attuned.errors import AttunedError, ConfigNotFound, Problem, ScheduleError

__all__ = [
    "ConfigUnreadable",
    "ScheduleCache",
    "data_and_layout",
    "decode",
    "example_schedule",
    "example_text",
    "load",
    "load_or_example",
    "loads_or_none",
    "not_found",
    "parse_text",
    "read_bytes",
    "split_position",
]


class ConfigUnreadable(AttunedError):
    """The schedule file exists but cannot be read."""



def load_or_example(path: Path, cache: ScheduleCache | None = None) -> tuple[Schedule, bool]:
    """The schedule at `path`, or the built-in example when there is no file yet; the flag
    says which (the daemon runs the example on a fresh machine and says so)."""
    try:
        return load(path, cache), False
    except ConfigNotFound:
        return example_schedule(), True


def load(path: Path, cache: ScheduleCache | None = None) -> Schedule:
    """Read and validate the schedule at `path`; Schedule.source is the path. With a
    `cache` (the daemon keeps one), practices whose text did not change are reused."""
    text = decode(read_bytes(path), path)
    return parse_text(text, source=str(path), cache=cache)


class ScheduleCache:
    """The validated practices of the last read, by the text of their [[practice]] block
    and the settings they were read under, so that a reload after a save reads only the
    blocks that changed (issue 3: 10,000 practices took ~1.6 s to read on every save).
    The result is always what a full read would give; anything unusual reads it all."""

    def __init__(self) -> None:
        self._settings: Settings | None = None  # what the practices below were read under
        self._practices: dict[str, Practice] = {}


def parse_text(text: str, source: str = "config.toml",
               cache: ScheduleCache | None = None) -> Schedule:
    """Validate TOML `text` into a Schedule; ScheduleError lists every problem found.
    `cache`: see ScheduleCache; it changes only how fast, never what is returned."""
    # A valid file needs no scan() for key positions (0.4 s for 10,000 practices); only
    # problems need them, and those are reported by the full read below.
    cache = ScheduleCache() if cache is None else cache
    sched = (_parse_blocks(text, source, cache) if cache._practices
             else _parse_whole(text, source, cache))
    return sched if sched is not None else _parse_full(text, source)


def _parse_full(text: str, source: str) -> Schedule:
    """The whole file at once, with every key's line: what reports the problems."""
    data, layout = data_and_layout(text, source)
    checker = Checker(source, layout)
    sched = checker.schedule(data)
    if checker.problems:
        # Top to bottom, as people read the file; problems without a line come last.
        raise ScheduleError(sorted(checker.problems, key=lambda p: (p.line is None, p.line or 0)))
    return sched


# A [[practice]] header alone on its line (perhaps with a comment). Such a line inside a
# multi-line string or array would leave the piece before it unfinished, which tomllib
# then refuses, so a wrong split is noticed and the whole file is read instead.
_PRACTICE_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*practice[ \t]*\]\][ \t]*(?:#.*)?\r?$", re.M)


def loads_or_none(text: str) -> dict[str, Any] | None:
    """The fast reads give up on a syntax error: the full read then reports it."""
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError:
        return None


def _parse_blocks(text: str, source: str, cache: ScheduleCache) -> Schedule | None:
    """The schedule read block by block, reusing cached practices; None when the file
    has a problem or an unusual shape (the full read then gives its exact messages)."""
    starts = [m.start() for m in _PRACTICE_HEADER.finditer(text)]
    if not starts:
        return None
    preamble = text[: starts[0]]
    data = loads_or_none(preamble)
    if data is None or "practice" in data:
        return None
    checker = Checker(source, Layout())  # lines only matter for problems: none here
    settings = checker.schedule(data).settings
    if checker.problems:
        return None
    if cache._settings != settings:
        return _parse_whole(text, source, cache)  # every practice is read again anyway
    old = cache._practices
    new: dict[str, Practice] = {}
    practices: list[Practice] = []
    ids: set[str] = set()
    line = preamble.count("\n") + 1
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        block = text[start:end]
        p = old.get(block)
        if p is None:
            p = _parse_block(block, source, settings)
            if p is None:
                return None
        if p.line != line:
            p = dataclasses.replace(p, line=line)
        if p.id in ids:
            return None
        ids.add(p.id)
        new[block] = p
        practices.append(p)
        line += block.count("\n")
    # Only this file's blocks are kept: the cache does not grow with each edit.
    cache._settings, cache._practices = settings, new
    return Schedule(settings=settings, practices=tuple(practices), source=source)


_OTHER_HEADER = re.compile(r"^[ \t]*\[", re.M)


def _parse_whole(text: str, source: str, cache: ScheduleCache) -> Schedule | None:
    """The file read at once with only its [[practice]] header lines found, and the cache
    filled; None when it has a problem or an unusual shape. Without multi-line strings a
    header-like line is a header, so the n-th one is the n-th practice's."""
    if '"""' in text or "'''" in text:
        return None
    data = loads_or_none(text)
    if data is None:
        return None
    starts = [m.start() for m in _PRACTICE_HEADER.finditer(text)]
    items = data.get("practice")
    if not starts or not isinstance(items, list) or len(items) != len(starts):
        return None
    ends = [*starts[1:], len(text)]
    tables, line, at = [], 1, 0
    for start in starts:
        line += text.count("\n", at, start)
        at = start
        tables.append(Table(header=line))
    checker = Checker(source, Layout(practices=tables))
    sched = checker.schedule(data)
    if checker.problems:
        return None
    new: dict[str, Practice] = {}
    for start, end, p in zip(starts, ends, sched.practices, strict=True):
        block = text[start:end]
        # A block holding another table (even [settings]) is read on its own next time.
        if _OTHER_HEADER.search(block, block.find("\n") + 1 or len(block)) is None:
            new[block] = p
    cache._settings, cache._practices = sched.settings, new
    return sched


def _parse_block(block: str, source: str, settings: Settings) -> Practice | None:
    data = loads_or_none(block)
    if data is None:
        return None
    items = data.get("practice")
    if len(data) != 1 or not isinstance(items, list) or len(items) != 1:
        return None  # another table inside the block: read the whole file
    table = Table(header=1)
    checker = Checker(source, Layout(practices=[table]))
    p = checker.practice(items[0], table, settings)
    return None if checker.problems else p


def example_text() -> str:
    """The commented starter schedule shipped with attuned."""
    return resources.files("attuned").joinpath("config.example.toml").read_text("utf-8")


def example_schedule() -> Schedule:
    return parse_text(example_text(), source="<built-in example>")


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise not_found(path) from None
    except IsADirectoryError:
        raise ConfigUnreadable(
            f"{path} is a directory, not a schedule file; point --config at a file"
        ) from None
    except PermissionError:
        raise ConfigUnreadable(
            f"cannot read {path}: permission denied; check who owns it (ls -l {path})"
        ) from None
    except OSError as e:
        raise ConfigUnreadable(f"cannot read {path}: {e.strerror or e}") from None


def not_found(path: Path) -> ConfigNotFound:
    return ConfigNotFound(f"no schedule file at {path}; create one with: attuned init")


def decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ScheduleError([Problem(
            str(path), "this line is not UTF-8 text; save the file as UTF-8", line=line,
        )]) from None


_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def split_position(error: tomli.TOMLDecodeError) -> tuple[str, int | None, int | None]:
    """tomli's message without its "(at line N, column M)" ending, and N and M (None
    when the message has no such ending, as at the end of the document)."""
    msg = str(error)
    m = _POSITION.search(msg)
    if m is None:
        return msg, None, None
    return msg[: m.start()], int(m.group(1)), int(m.group(2))


def _syntax_problem(source: str, text: str, error: tomli.TOMLDecodeError) -> Problem:
    msg, line, column = split_position(error)
    where = "" if column is None else f" at column {column}"
    if line is None and msg.endswith("(at end of document)"):
        line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
        where = " at the end of the file"
        msg = msg.removesuffix("(at end of document)").rstrip()
    detail = msg[:1].lower() + msg[1:]
    if msg.startswith("Cannot overwrite a value"):
        detail = "this key is already set earlier in the same table; keep only one"
    elif msg.startswith("Cannot declare") and msg.endswith("twice"):
        detail = "this table is declared twice; keep one and move the other's keys into it"
    if line is not None:
        hint = _toml11_hint(text.split("\n")[line - 1] if line <= text.count("\n") + 1 else "")
        detail = hint or detail
    return Problem(source, f"TOML syntax error{where}: {detail}; fix the line and save again",
                   line=line)


def _toml11_hint(line: str) -> str | None:
    """Say what is wrong with values some editors and TOML 1.1 accept but TOML 1.0 does not."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', '""', line.split("#", 1)[0])
    if re.search(r"[=\[,]\s*\d{4}-\d{2}-\d{2}[Tt ]\d{1,2}:\d{2}(?!:\d)", bare):
        return ("a date and time needs seconds, like 2026-12-12T18:00:00, "
                'or quotes, like "2026-12-12 18:00"')
    if re.search(r"[=\[,]\s*\d{1,2}:\d{2}(?!:\d)", bare):
        return 'a time of day goes in quotes, like "09:30"'
    return None


def data_and_layout(text: str, source: str) -> tuple[dict[str, Any], Layout]:
    """The file's data and where its keys are; a syntax error is raised as a Problem."""
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as e:
        raise ScheduleError([_syntax_problem(source, text, e)]) from None
    return data, scan(text)
