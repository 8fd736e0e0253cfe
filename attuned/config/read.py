"""Reading the schedule file: finding and decoding it, the TOML read (the standard
library's tomllib: TOML 1.0), syntax errors in words, and validation into the frozen
model (attuned.config.validate), every problem of the file at once with its line.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from attuned.config.layout import Layout, scan
from attuned.config.validate import Checker
from attuned.core.model import Schedule
from attuned.errors import AttunedError, ConfigNotFound, Problem, ScheduleError
from attuned.fsutil import NotRegularFile, TooLarge, read_regular

__all__ = [
    "ConfigUnreadable",
    "data_and_layout",
    "decode",
    "example_schedule",
    "example_text",
    "exists",
    "load",
    "load_or_example",
    "not_found",
    "parse_text",
    "parse_toml",
    "read_bytes",
    "split_position",
    "starter_text",
]


class ConfigUnreadable(AttunedError):
    """The schedule file exists but cannot be read."""


def load_or_example(path: Path, today: date | None = None) -> tuple[Schedule, bool]:
    """The schedule at `path`, or the built-in example when there is no file yet (its
    dates from `today`, as `attuned init` would write them); the flag says which (the
    daemon runs the example on a fresh machine and says so)."""
    try:
        return load(path), False
    except ConfigNotFound:
        return example_schedule(today), True


def load(path: Path) -> Schedule:
    """Read and validate the schedule at `path`; Schedule.source is the path."""
    text = decode(read_bytes(path), path)
    return parse_text(text, source=str(path))


def parse_text(text: str, source: str = "config.toml") -> Schedule:
    """Validate TOML `text` into a Schedule; ScheduleError lists every problem found, each
    with its line."""
    data, layout = data_and_layout(text, source)
    checker = Checker(source, layout)
    sched = checker.schedule(data)
    if checker.problems:
        # Top to bottom, as people read the file; problems without a line come last.
        raise ScheduleError(sorted(checker.problems, key=lambda p: (p.line is None, p.line or 0)))
    return sched


def example_text() -> str:
    """The commented starter schedule shipped with attuned."""
    # Imported here: importlib.resources brings tempfile, shutil, bz2 and lzma, which a
    # schedule file on disk never needs.
    from importlib import resources

    return resources.files("attuned").joinpath("config.example.toml").read_text("utf-8")


# The day the shipped example's dates are written from (its first practice period starts
# then): `starter_text` moves them all by the same number of days.
EXAMPLE_DAY = date(2026, 12, 1)
_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def starter_text(today: date) -> str:
    """The starter schedule as `attuned init` writes it: the example, with every date in it
    (values and the comments' examples) moved so that its days start on `today`."""
    shift = today - EXAMPLE_DAY

    def moved(m: re.Match[str]) -> str:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3))) + shift
        return day.isoformat()

    return _DATE.sub(moved, example_text())


def example_schedule(today: date | None = None) -> Schedule:
    """The shipped example; with `today`, its dates moved to start then (starter_text)."""
    text = example_text() if today is None else starter_text(today)
    return parse_text(text, source="<built-in example>")


# A schedule is a few kilobytes; the cap keeps a link to /dev/zero or a huge file from
# growing memory without limit.
MAX_SCHEDULE_BYTES = 1024 * 1024


def read_bytes(path: Path) -> bytes:
    """The file's bytes: only a regular file, and at most MAX_SCHEDULE_BYTES of it."""
    try:
        return read_regular(path, MAX_SCHEDULE_BYTES)
    except NotRegularFile as e:
        raise ConfigUnreadable(f"{path} is not a regular file ({e.kind}); a schedule is a "
                               "plain text file: point --config at one") from None
    except TooLarge:
        raise ConfigUnreadable(f"{path} is larger than 1 MiB, the most a schedule file may "
                               "be; is it the right file?") from None
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


def exists(path: Path) -> bool:
    """Whether the schedule file is there; a path that cannot even be looked at (a name
    too long, a loop of links) is ConfigUnreadable saying so, not an OSError."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False  # a file where a folder should be: making the folder says so
    except OSError:  # not Path.exists(), which calls a loop of links "not there"
        read_bytes(path)  # raises, with the reason in words
        raise
    return True


def not_found(path: Path) -> ConfigNotFound:
    return ConfigNotFound(f"no schedule file at {path}; create one with: attuned init")


def decode(data: bytes, path: Path) -> str:
    """The file's text; a UTF-8 byte order mark (some Windows editors write one) is
    dropped, as TOML does not allow it and it says nothing."""
    try:
        return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ScheduleError([Problem(
            str(path), "this line is not UTF-8 text; save the file as UTF-8", line=line,
        )]) from None


_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def split_position(error: tomllib.TOMLDecodeError) -> tuple[str, int | None, int | None]:
    """tomllib's message without its "(at line N, column M)" ending, and N and M (None
    when the message has no such ending, as at the end of the document)."""
    msg = str(error)
    m = _POSITION.search(msg)
    if m is None:
        return msg, None, None
    return msg[: m.start()], int(m.group(1)), int(m.group(2))


def _syntax_problem(source: str, text: str, error: tomllib.TOMLDecodeError) -> Problem:
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


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """The file's TOML data; a syntax error is raised as a ScheduleError saying where."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScheduleError([_syntax_problem(source, text, e)]) from None
    except RecursionError:
        # tomllib recurses once per nested array or inline table.
        raise ScheduleError([Problem(
            source, "TOML nested too deeply (arrays or tables inside one another, thousands "
            "of levels); a schedule needs at most two levels")]) from None


def data_and_layout(text: str, source: str) -> tuple[dict[str, Any], Layout]:
    """The file's data and where its keys are; a syntax error is raised as a Problem."""
    return parse_toml(text, source), scan(text)
