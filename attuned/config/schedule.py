"""The schedule file: the only module that knows TOML.

Reading uses tomli (TOML 1.0: the standard tomllib's own code, compiled), the reader
the daemon uses, and validates into the frozen model, reporting every problem of the
file at once with its line. Editing keeps the person's comments, blank lines and order:
small edits are made on the text itself, any edit is validated with the same reader
before it is written, and written atomically under a lock that edits take turns on, so
that two made at once both land.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import os
import re
import stat
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import tomli

from attuned import fsutil
from attuned.core import cron
from attuned.core.days import parse_days
from attuned.core.durations import format_duration, parse_clock, parse_duration, parse_window
from attuned.core.model import (
    ALL_DAYS,
    DEFAULT_MIN_GAP,
    AtRule,
    EveryRule,
    OnceRule,
    Practice,
    RandomRule,
    Rule,
    Schedule,
    Settings,
    Window,
)
from attuned.errors import (
    AttunedError,
    ConfigNotFound,
    EditConflict,
    PracticeNotFound,
    Problem,
    ScheduleError,
)

if TYPE_CHECKING:
    from tomlkit import TOMLDocument

__all__ = [
    "PRACTICE_KEYS",
    "RULE_KEYS",
    "SETTINGS_KEYS",
    "ConfigExists",
    "ConfigUnreadable",
    "ConfigWriteError",
    "ScheduleBusy",
    "ScheduleCache",
    "add_practice",
    "edit",
    "edit_text",
    "example_schedule",
    "example_text",
    "load",
    "lock_path",
    "parse_text",
    "remove_practice",
    "set_enabled",
    "split_position",
    "update",
    "write_new",
]


class ConfigUnreadable(AttunedError):
    """The schedule file exists but cannot be read."""


class ConfigExists(AttunedError):
    """`attuned init` would overwrite an existing schedule."""


class ConfigWriteError(AttunedError):
    """Writing the schedule failed; the old file is intact."""


class ScheduleBusy(AttunedError):
    """Another edit held the schedule's lock for too long; nothing was written."""


RULE_KEYS = ("at", "every", "random", "cron", "once")
PRACTICE_KEYS = (
    "id", "title", "message", "enabled",
    *RULE_KEYS, "between", "min_gap", "days", "from", "until",
    "quiet_hours", "grace", "snooze", "answer_within", "repeat", "repeat_max",
    "when", "outside", "discreet", "blocked",
)  # fmt: skip
SETTINGS_KEYS = ("timezone", "quiet_hours", "grace", "snooze", "snooze_long", "discreet",
                 "blocked", "digest_at")
WHEN_CHOICES = ("any", "together")
OUTSIDE_CHOICES = ("drop", "defer")
BLOCKED_CHOICES = ("drop", "defer", "digest")
_TOP_KEYS = ("settings", "practice")
_PRACTICE_KEY_SET = frozenset(PRACTICE_KEYS)
# Keys that only some rules use, and which.
_RULE_ONLY_KEYS = {"between": ("every", "random"), "min_gap": ("random",),
                   "days": ("at", "every", "random")}
_RULES_TEXT = "at, every, random, cron, once"

# Words people reach for, mapped to the key that means it.
_KEY_ALIASES = {
    "start": "from", "begin": "from", "end": "until", "to": "until", "time": "at",
    "times": "at", "window": "between", "name": "title", "text": "message",
    "interval": "every", "weekdays": "days", "day": "days", "count": "random",
    "gap": "min_gap", "tz": "timezone", "zone": "timezone", "quiet": "quiet_hours",
}  # fmt: skip

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_SHORTEST_EVERY = timedelta(minutes=1)


# --------------------------------------------------------------------------- reading


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
    text = _decode(_read_bytes(path), path)
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
    # A valid file needs no _scan for key positions (0.4 s for 10,000 practices); only
    # problems need them, and those are reported by the full read below.
    cache = ScheduleCache() if cache is None else cache
    sched = (_parse_blocks(text, source, cache) if cache._practices
             else _parse_whole(text, source, cache))
    return sched if sched is not None else _parse_full(text, source)


def _parse_full(text: str, source: str) -> Schedule:
    """The whole file at once, with every key's line: what reports the problems."""
    data, layout = _data_and_layout(text, source)
    checker = _Checker(source, layout)
    sched = checker.schedule(data)
    if checker.problems:
        # Top to bottom, as people read the file; problems without a line come last.
        raise ScheduleError(sorted(checker.problems, key=lambda p: (p.line is None, p.line or 0)))
    return sched


# A [[practice]] header alone on its line (perhaps with a comment). Such a line inside a
# multi-line string or array would leave the piece before it unfinished, which tomllib
# then refuses, so a wrong split is noticed and the whole file is read instead.
_PRACTICE_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*practice[ \t]*\]\][ \t]*(?:#.*)?\r?$", re.M)


def _loads_or_none(text: str) -> dict[str, Any] | None:
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
    data = _loads_or_none(preamble)
    if data is None or "practice" in data:
        return None
    checker = _Checker(source, _Layout())  # lines only matter for problems: none here
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
    data = _loads_or_none(text)
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
        tables.append(_Table(header=line))
    checker = _Checker(source, _Layout(practices=tables))
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
    data = _loads_or_none(block)
    if data is None:
        return None
    items = data.get("practice")
    if len(data) != 1 or not isinstance(items, list) or len(items) != 1:
        return None  # another table inside the block: read the whole file
    table = _Table(header=1)
    checker = _Checker(source, _Layout(practices=[table]))
    p = checker.practice(items[0], table, settings)
    return None if checker.problems else p


def example_text() -> str:
    """The commented starter schedule shipped with attuned."""
    return resources.files("attuned").joinpath("config.example.toml").read_text("utf-8")


def example_schedule() -> Schedule:
    return parse_text(example_text(), source="<built-in example>")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _not_found(path) from None
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


def _not_found(path: Path) -> ConfigNotFound:
    return ConfigNotFound(f"no schedule file at {path}; create one with: attuned init")


def _decode(data: bytes, path: Path) -> str:
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


# --------------------------------------------------------------------------- layout


@dataclass
class _Table:
    """Where a table sits in the file: header line and each key's first and last line."""

    header: int | None
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)

    def line_of(self, key: str | None) -> int | None:
        if key is not None and key in self.keys:
            return self.keys[key][0]
        return self.header

    @property
    def last_content(self) -> int | None:
        ends = [last for _, last in self.keys.values()]
        return max(ends) if ends else self.header


@dataclass
class _Layout:
    root: _Table = field(default_factory=lambda: _Table(header=None))
    tables: dict[str, _Table] = field(default_factory=dict)  # first [name] of each table
    practices: list[_Table] = field(default_factory=list)  # each [[practice]], in order
    first_header: dict[str, int] = field(default_factory=dict)  # top-level name -> its line


_KEY = r'(?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)'
_KEY_LINE = re.compile(rf"\s*({_KEY})(?:\s*\.\s*{_KEY})*\s*=")


def _scan(text: str) -> _Layout:
    """Find tables and key lines. tomllib gives no positions, so this follows strings,
    multi-line strings and multi-line arrays well enough to skip their insides."""
    layout = _Layout()
    current = layout.root
    key: str | None = None
    state: str | None = None
    depth = 0
    for n, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if state is not None or depth > 0:
            state, depth = _advance(line, 0, state, depth)
            if key is not None:
                current.keys[key] = (current.keys[key][0], n)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            key = None
            aot = re.match(r"\[\[\s*([^\]]+?)\s*\]\]", stripped)
            header = aot or re.match(r"\[\s*([^\]]+?)\s*\]", stripped)
            parts = header.group(1).split(".") if header else []
            name = ".".join(part.strip().strip("\"'") for part in parts)
            current = _Table(header=n)
            top = name.split(".", 1)[0]
            layout.first_header.setdefault(top, n)
            if aot and name == "practice":
                layout.practices.append(current)
            elif not aot:
                layout.tables.setdefault(name, current)
            continue
        m = _KEY_LINE.match(line)
        if m is None:
            continue
        key = m.group(1).strip("\"'")
        if key not in current.keys:
            current.keys[key] = (n, n)
        else:
            key = None  # a repeated dotted key: keep the first position
        state, depth = _advance(line, m.end(), state, depth)
    return layout


def _advance(line: str, i: int, state: str | None, depth: int) -> tuple[str | None, int]:
    """Scan `line` from `i`, tracking multi-line strings and bracket depth."""
    n = len(line)
    while i < n:
        if state == '"""':
            if line[i] == "\\":
                i += 2
            elif line.startswith('"""', i):
                state, i = None, _after_quotes(line, i, '"')
            else:
                i += 1
            continue
        if state == "'''":
            k = line.find("'''", i)
            if k < 0:
                break
            state, i = None, _after_quotes(line, k, "'")
            continue
        c = line[i]
        if c == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            state, i = c * 3, i + 3
        elif c == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
        elif c == "'":
            k = line.find("'", i + 1)
            i = n if k < 0 else k + 1
        else:
            depth += 1 if c in "[{" else -1 if c in "]}" else 0
            i += 1
    return state, depth


def _after_quotes(line: str, i: int, q: str) -> int:
    # A multi-line string may end with up to two extra quotes inside it: """a"""""
    j = i + 3
    while j < len(line) and line[j] == q and j - i < 5:
        j += 1
    return j


# --------------------------------------------------------------------------- validating


def _show(value: object) -> str:
    """A value as it would look in the file."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return str(value)


def _suggest(word: str, choices: tuple[str, ...]) -> str | None:
    lowered = word.lower()
    if lowered in choices:
        return lowered
    if lowered in _KEY_ALIASES and _KEY_ALIASES[lowered] in choices:
        return _KEY_ALIASES[lowered]
    guess = difflib.get_close_matches(lowered, choices, n=1, cutoff=0.6)
    return guess[0] if guess else None


@dataclass
class _Where:
    table: _Table | None
    practice: str | None = None
    misspelt: set[str] = field(default_factory=set)  # keys an unknown key suggested


class _Invalid(Exception):
    """One value is wrong; the message is already written for people."""


class _Checker:
    def __init__(self, source: str, layout: _Layout) -> None:
        self.source = source
        self.layout = layout
        self.problems: list[Problem] = []

    def add(self, where: _Where, key: str | None, message: str, line: int | None = None) -> None:
        if line is None and where.table is not None:
            line = where.table.line_of(key)
        self.problems.append(Problem(self.source, message, line=line,
                                     practice=where.practice, key=key))

    def schedule(self, data: dict[str, Any]) -> Schedule:
        root = _Where(self.layout.root)
        for key in data:
            if key not in _TOP_KEYS:
                line = self.layout.root.keys.get(key, (None, None))[0]
                line = line or self.layout.first_header.get(key)
                self.add(root, key, self._unknown(key, _TOP_KEYS, "at the top of the file"),
                         line=line)
        settings = self.settings(data.get("settings"))
        practices: list[Practice] = []
        raw = data.get("practice", [])
        if not isinstance(raw, list):
            self.add(root, "practice", f"expected [[practice]] tables, got {_show(raw)}",
                     line=self.layout.first_header.get("practice"))
            raw = []
        seen: dict[str, int | None] = {}
        for i, item in enumerate(raw):
            table = self.layout.practices[i] if i < len(self.layout.practices) else None
            p = self.practice(item, table, settings)
            pid = item.get("id") if isinstance(item, dict) else None
            if isinstance(pid, str) and pid:
                line = table.line_of("id") if table else None
                if pid in seen:
                    first = seen[pid]
                    lines = f"lines {first} and {line}" if first and line else "two practices"
                    self.add(_Where(table, pid), "id",
                             f'"{pid}" is used twice, on {lines}; each practice needs its own id')
                else:
                    seen[pid] = line
            if p is not None:
                practices.append(p)
        return Schedule(settings=settings, practices=tuple(practices), source=self.source)

    def _unknown(self, key: str, allowed: tuple[str, ...], place: str) -> str:
        head = f"unknown key {place}" if place else "unknown key"
        guess = _suggest(key, allowed)
        if guess is not None:
            return f'{head}; did you mean "{guess}"?'
        return f"{head}; the keys there are: {', '.join(allowed)}"

    # -- settings

    def settings(self, raw: object) -> Settings:
        table = self.layout.tables.get("settings")
        where = _Where(table)
        if raw is None:
            return Settings()
        if not isinstance(raw, dict):
            self.add(_Where(self.layout.root), "settings",
                     f"expected a [settings] table, got {_show(raw)}")
            return Settings()
        for key in raw:
            if key not in SETTINGS_KEYS:
                self.add(where, key, self._unknown(key, SETTINGS_KEYS, "in [settings]"))
        base = Settings()
        timezone = self.value(where, raw, "timezone", None, _timezone)
        quiet = self.value(where, raw, "quiet_hours", None, _quiet_hours)
        grace = self.value(where, raw, "grace", base.grace, _duration)
        snooze = self.value(where, raw, "snooze", base.snooze, _duration)
        snooze_long = self.value(where, raw, "snooze_long", base.snooze_long, _duration)
        discreet = self.value(where, raw, "discreet", base.discreet, _bool)
        blocked = self.value(where, raw, "blocked", base.blocked, _blocked)
        digest_at = self.value(where, raw, "digest_at", base.digest_at, _clock)
        return Settings(timezone=timezone, quiet_hours=quiet, grace=grace or base.grace,
                        snooze=snooze or base.snooze,
                        snooze_long=snooze_long or base.snooze_long,
                        discreet=base.discreet if discreet is None else discreet,
                        blocked=blocked or base.blocked, digest_at=digest_at or base.digest_at)

    def value(self, where: _Where, raw: Mapping[str, Any], key: str, default: Any,
              convert: Callable[[Any], Any]) -> Any:
        """`convert(raw[key])`, or `default` when absent; a problem (and None) when bad."""
        if key not in raw:
            return default
        try:
            return convert(raw[key])
        except (_Invalid, ValueError) as e:
            self.add(where, key, str(e))
            return None

    # -- practices

    def practice(self, raw: object, table: _Table | None, settings: Settings) -> Practice | None:
        if not isinstance(raw, dict):
            self.add(_Where(table), "practice", f"expected a [[practice]] table, got {_show(raw)}")
            return None
        pid = raw.get("id")
        where = _Where(table, pid if isinstance(pid, str) and pid else None)
        before = len(self.problems)
        for key in raw:
            if key in _PRACTICE_KEY_SET:
                continue
            if key in SETTINGS_KEYS:
                self.add(where, key, "belongs in [settings], not in a practice; move it there")
            else:
                self.add(where, key, self._unknown(key, PRACTICE_KEYS, ""))
                guess = _suggest(key, PRACTICE_KEYS)
                if guess is not None:
                    where.misspelt.add(guess)  # "tiitle" already says title is missing
        self.required(where, raw, "id", _practice_id,
                      'missing; every practice needs a short unique id, like id = "breakfast"')
        title = self.required(where, raw, "title", _title,
                              'missing; give the practice a short title, like '
                              'title = "Breakfast presence"')
        messages = self.required(where, raw, "message", _messages,
                                 "missing; write what the nudge should say, like "
                                 'message = "Paper down. How is your partner this morning?"')
        enabled = self.value(where, raw, "enabled", True, _bool)
        rule = self.rule(where, raw)
        start = self.value(where, raw, "from", None, _date)
        until = self.value(where, raw, "until", None, _date)
        if start is not None and until is not None and until < start:
            self.add(where, "until",
                     f"{until.isoformat()} is before from ({start.isoformat()}); "
                     "the period would have no days")
        quiet = self.value(where, raw, "quiet_hours", settings.quiet_hours, _quiet_hours)
        grace = self.value(where, raw, "grace", settings.grace, _duration)
        snooze = self.value(where, raw, "snooze", settings.snooze, _duration)
        answer_within = self.value(where, raw, "answer_within", None, _duration)
        repeat = self.value(where, raw, "repeat", None, _duration)
        repeat_max = self.value(where, raw, "repeat_max", 0, _repeat_max)
        if "repeat_max" in raw and "repeat" not in raw:
            self.add(where, "repeat_max",
                     'needs "repeat", how long to wait before asking again, like repeat = "10m"')
        when = self.value(where, raw, "when", "any", _when)
        outside = self.value(where, raw, "outside", None, _outside)
        if "outside" in raw and when != "together":
            self.add(where, "outside",
                     'goes with when = "together"; it says what happens to this practice\'s '
                     "nudges while you are not together")
        discreet = self.value(where, raw, "discreet", settings.discreet, _bool)
        blocked = self.value(where, raw, "blocked", settings.blocked, _blocked)
        if len(self.problems) > before or rule is None or not isinstance(pid, str):
            return None
        return Practice(
            id=pid, title=title, messages=messages, rule=rule, enabled=enabled,
            start=start, until=until, quiet_hours=quiet, grace=grace, snooze=snooze,
            answer_within=answer_within, repeat=repeat, repeat_max=repeat_max,
            line=table.header if table else None, when=when, outside=outside,
            discreet=discreet, blocked=blocked,
        )  # fmt: skip

    def required(self, where: _Where, raw: Mapping[str, Any], key: str,
                 convert: Callable[[Any], Any], missing: str) -> Any:
        if key not in raw:
            if key not in where.misspelt:
                self.add(where, key, missing)
            return None
        return self.value(where, raw, key, None, convert)

    def rule(self, where: _Where, raw: Mapping[str, Any]) -> Rule | None:
        given = [k for k in RULE_KEYS if k in raw]
        if not given:
            if where.misspelt & set(RULE_KEYS):
                return None  # the misspelt rule key is already reported
            self.add(where, None,
                     f"no rule saying when to nudge; give exactly one of {_RULES_TEXT}")
            return None
        if len(given) > 1:
            names = [f'"{k}"' for k in given]
            both = (f"both {names[0]} and {names[1]}" if len(names) == 2
                    else ", ".join(names[:-1]) + f" and {names[-1]}")
            self.add(where, None, f"has {both}; give exactly one of {_RULES_TEXT}",
                     line=where.table.line_of(given[1]) if where.table else None)
            return None
        kind = given[0]
        for key, kinds in _RULE_ONLY_KEYS.items():
            if key in raw and kind not in kinds:
                self.add(where, key, _not_used(key, kind))
        days = self.value(where, raw, "days", ALL_DAYS, _days_value)
        if kind == "at":
            times = self.value(where, raw, "at", None, _times)
            return AtRule(times, days) if times is not None and days is not None else None
        if kind == "every":
            interval = self.value(where, raw, "every", None, _every)
            window = self.value(where, raw, "between", Window(time(0), time(0)), _window)
            if interval is None or window is None or days is None:
                return None
            return EveryRule(interval, window, days)
        if kind == "random":
            count = self.value(where, raw, "random", None, _count)
            gap = self.value(where, raw, "min_gap", DEFAULT_MIN_GAP, _duration)
            if "between" not in raw:
                self.add(where, "between", '"random" needs a window to choose times in, '
                         'like between = "17:00-22:00"',
                         line=where.table.line_of("random") if where.table else None)
                return None
            window = self.value(where, raw, "between", None, _window)
            if count is None or gap is None or window is None or days is None:
                return None
            fits = -(-window.length // gap)  # ceil: the most n with (n - 1) * gap < length
            if count > fits:
                self.add(where, "random",
                         f"{count} times at least {format_duration(gap)} apart do not fit in "
                         f"{window}; at most {fits} fit{'s' if fits == 1 else ''}, "
                         "or make min_gap shorter")
                return None
            return RandomRule(count, window, gap, days)
        if kind == "cron":
            rule: Rule | None = self.value(where, raw, "cron", None, _cron)
            return rule
        moment = self.value(where, raw, "once", None, _once)
        return OnceRule(moment) if moment is not None else None


def _not_used(key: str, kind: str) -> str:
    if key == "days" and kind == "cron":
        return 'is not used with "cron"; put the days in the cron expression\'s last field'
    if key == "days":
        return f'is not used with "{kind}"; remove it'
    if key == "between":
        return f'is not used with "{kind}"; it goes with "every" or "random"'
    return f'is not used with "{kind}"; it goes with "random"'


# Converters: each takes the raw TOML value and returns the model value or raises
# _Invalid/ValueError with the message after "key: ".


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected {what} in quotes, got {_show(value)}")
    return value


def _practice_id(value: object) -> str:
    pid = _text(value, 'a short name like "breakfast"')
    if not _SLUG.fullmatch(pid):
        slug = re.sub(r"[^a-z0-9]+", "-", pid.lower()).strip("-") or "breakfast"
        raise _Invalid(f"{_show(pid)} is not a usable id; use lowercase letters, digits "
                       f'and hyphens, like "{slug}"')
    return pid


def _title(value: object) -> str:
    title = _text(value, "a short title")
    if not title.strip():
        raise _Invalid('is empty; give the practice a short title, like "Breakfast presence"')
    return title


def _messages(value: object) -> tuple[str, ...]:
    expected = "expected text in quotes, or a list of texts (one is chosen per nudge)"
    if isinstance(value, str):
        value = [value]
    elif not isinstance(value, list):
        raise _Invalid(f"{expected}, got {_show(value)}")
    elif not value:
        raise _Invalid("is an empty list; give at least one text for the nudge")
    for item in value:
        if not isinstance(item, str):
            raise _Invalid(f"{expected}, got {_show(item)}")
        if not item.strip():
            raise _Invalid("is empty; write what the nudge should say")
        _placeholders(item)
    return tuple(value)


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _placeholders(message: str) -> None:
    if "{" not in message:
        return  # most messages: no import, no regex (10,000 practices: ~0.07 s)
    from attuned.config.feelings import PLACEHOLDERS

    for name in _PLACEHOLDER.findall(message):
        if name not in PLACEHOLDERS:
            known = " and ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise _Invalid(f'{_show(message)} has an unknown placeholder "{{{name}}}"; '
                           f"the ones attuned fills in are {known}")


def _choice(value: object, choices: tuple[str, ...]) -> str:
    words = ", ".join(f'"{c}"' for c in choices)
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise _Invalid(f"expected one of {words}, got {_show(value)}")
    return value.strip().lower()


def _when(value: object) -> str:
    return _choice(value, WHEN_CHOICES)


def _outside(value: object) -> str:
    return _choice(value, OUTSIDE_CHOICES)


def _blocked(value: object) -> str:
    return _choice(value, BLOCKED_CHOICES)


def _clock(value: object) -> time:
    return parse_clock(_text(value, 'a time of day like "21:00"'))


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_show(value)}")
    return value


def _duration(value: object, what: str = 'a duration like "10m" or "1h30m"') -> timedelta:
    text = _text(value, what)
    try:
        return parse_duration(text)
    except OverflowError:
        raise _Invalid(f"{_show(text)} is far longer than attuned can count; "
                       'write something like "1h" or "2d"') from None


def _every(value: object) -> timedelta:
    interval = _duration(value, 'a duration like "90m"')
    if interval < _SHORTEST_EVERY:
        raise _Invalid(f"{_show(value)} is too often; nudges come at most once a minute")
    if interval > timedelta(days=1):
        raise _Invalid(f"{_show(value)} is longer than a day; for nudges every few days "
                       'use "cron" or "at" with "days"')
    return interval


def _window(value: object) -> Window:
    return parse_window(_text(value, 'a time window like "17:00-22:00"'))


def _quiet_hours(value: object) -> Window | None:
    # "none" or false switches quiet hours off, e.g. for one practice under [settings] ones.
    if value is False or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    if value is True:
        raise _Invalid('expected a time window like "22:30-07:00", or "none", got true')
    return parse_window(_text(value, 'a time window like "22:30-07:00", or "none",'))


def _timezone(value: object) -> str:
    name = _text(value, 'a time zone name like "Europe/Berlin"')
    try:
        zoneinfo.ZoneInfo(name)
        return name
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    zones = {z.lower(): z for z in zoneinfo.available_timezones()}
    guess = zones.get(name.lower())
    if guess is None:
        close = difflib.get_close_matches(name.lower(), list(zones), n=1, cutoff=0.6)
        guess = zones[close[0]] if close else None
    if guess is not None:
        raise _Invalid(f'{_show(name)} is not a time zone; did you mean "{guess}"?')
    raise _Invalid(f'{_show(name)} is not a time zone; use a name like "Europe/Berlin", '
                   "or leave timezone out to use the system's zone")


def _times(value: object) -> tuple[time, ...]:
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        raise _Invalid('is an empty list; give at least one time, like at = ["07:30"]')
    out: set[time] = set()
    for item in items:
        if isinstance(item, time):
            raise _Invalid(f'expected "HH:MM" or a list of them, got {_show(item)}; '
                           f'write times in quotes, like "{item:%H:%M}"')
        if not isinstance(item, str):
            raise _Invalid(f'expected "HH:MM" or a list of them, got {_show(value)}')
        out.add(parse_clock(item))
    return tuple(sorted(out))


def _days_value(value: object) -> frozenset[int]:
    if isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        return parse_days(value)
    raise _Invalid('expected days like "mon-fri", or a list like ["mon", "wed-fri"], '
                   f"got {_show(value)}")


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Invalid(f"expected how many times a day, a whole number like 3, got {_show(value)}")
    return value


def _repeat_max(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(f"expected a whole number, 0 or more, got {_show(value)}")
    return value


def _cron(value: object) -> Rule:
    return cron.parse(_text(value, 'a cron expression like "0 19 * * sun"'))


def _date(value: object) -> date:
    if isinstance(value, datetime):
        raise _Invalid(f"expected a date without a time, like {value.date().isoformat()}, "
                       f"got {_show(value)}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid(f"expected a date like 2026-12-01, got {_show(value)}")


def _once(value: object) -> datetime:
    example = 'like 2026-12-12T18:00:00 or "2026-12-12 18:00"'
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{1,2}:\d{2}(:\d{2})?", text):
            try:
                moment = datetime.fromisoformat(text.replace("t", "T"))
            except ValueError:
                moment = None
        if moment is None:
            raise _Invalid(f"{_show(value)} is not a date and time; write it {example}")
    else:
        raise _Invalid(f"expected a date and time, {example}, got {_show(value)}")
    if moment.tzinfo is not None:
        raise _Invalid(f"{_show(value)} has a time zone offset; write the local time without "
                       "one, like 2026-12-12T18:00:00 (the schedule's timezone applies)")
    return moment


# --------------------------------------------------------------------------- editing


# How long an edit waits for another one to finish before it gives up and says so.
EDIT_LOCK_WAIT = 5.0
# How many times an edit is redone when a writer that takes no lock (an editor saving by
# hand) changed the file between our read and our write, before it is refused.
_EDIT_TRIES = 5

_T = TypeVar("_T")


def lock_path(path: Path) -> Path:
    """The lock file that edits of `path` take turns on: beside the file itself (a
    symlink's target, so that the link and the target share one). The daemon's watcher
    matches the schedule's exact name, so this name never looks like a save."""
    target = Path(os.path.realpath(path))
    return target.with_name(f".{target.name}.lock")


def update(path: Path, change: Callable[[bytes | None], tuple[bytes | None, _T]], *,
           mode: int | None = None) -> _T:
    """Replace the schedule at `path`: the one way attuned writes it, so that edits made
    at the same time wait for each other instead of losing each other.

    Under an flock on `lock_path(path)`, held across all of it: read the file (None when
    there is none), call `change` with it for (the new bytes or None to leave it as it
    is, a result to return), check that the file still has the bytes read, and write the
    new bytes atomically (a temp file renamed over it: a reader sees the old file or the
    new one, never half). `change` may raise to refuse; it is called again on the new
    bytes when a writer that takes no lock changed the file meanwhile, EditConflict when
    that keeps happening. `mode`: see fsutil.atomic_write. ScheduleBusy when another edit
    holds the lock for EDIT_LOCK_WAIT seconds; ConfigWriteError when the lock file cannot
    be made or the write fails; the file is then left as it was.
    """
    lock = lock_path(path)
    try:
        with fsutil.held_lock(lock, EDIT_LOCK_WAIT):
            for _ in range(_EDIT_TRIES):
                old = _read_or_none(path)
                new, result = change(old)
                if new is None or new == old:
                    return result
                if _read_or_none(path) != old:
                    continue  # saved meanwhile by something that takes no lock: redo on it
                try:
                    fsutil.atomic_write(path, new, mode=mode)
                except OSError as e:
                    raise ConfigWriteError(f"could not write {path}: {e.strerror or e}; the "
                                           "file was left as it was") from None
                return result
    except fsutil.LockBusy:
        raise ScheduleBusy(_busy_message(path, lock)) from None
    except fsutil.CannotLock as e:
        raise ConfigWriteError(
            f"cannot edit {path}: attuned cannot create its lock file {lock} there "
            f"({e.strerror or e}); edit a schedule in a directory you can write to, so "
            "the file was left as it was") from None
    raise EditConflict(f"{path} changed on disk while attuned was editing it; nothing "
                       "was written. Run the command again.")


def _read_or_none(path: Path) -> bytes | None:
    try:
        return _read_bytes(path)
    except ConfigNotFound:
        return None


def _busy_message(path: Path, lock: Path) -> str:
    from attuned.daemon.lock import read_holder

    pid = read_holder(lock)
    who = "another attuned command" if pid is None else f"another attuned command (pid {pid})"
    return (f"{who} is still changing {path}: it has held the lock file {lock} for more "
            f"than {EDIT_LOCK_WAIT:g} seconds, so nothing was written; run the command "
            "again once it has finished")


def edit_text(path: Path, transform: Callable[[str], str]) -> Schedule:
    """Apply `transform` to the file's text and write the result, if it is valid.

    The new text is validated with `parse_text` (the daemon's reader) first; on any
    problem ScheduleError is raised and the file is untouched. It is written by `update`:
    an edit made meanwhile by another attuned command is waited for, and the transform
    applied to the text that edit left.
    """
    if not path.exists():
        _read_bytes(path)  # the reason, in words (and no lock file where there is nothing)

    def change(old: bytes | None) -> tuple[bytes, Schedule]:
        if old is None:
            raise _not_found(path)  # removed while we waited
        new_text = transform(_decode(old, path))
        return new_text.encode("utf-8"), parse_text(new_text, source=str(path))

    return update(path, change)


def edit(path: Path, change: Callable[[TOMLDocument], None]) -> Schedule:
    """Edit the file as a tomlkit document (comments and layout kept), then validate and
    write it as `edit_text` does."""
    import tomlkit  # only edits need it; keeps `list` and `next` quick
    from tomlkit.exceptions import ParseError

    def transform(text: str) -> str:
        try:
            doc = tomlkit.parse(text)
        except ParseError as e:
            parse_text(text, source=str(path))  # the daemon reader's message, if it has one
            raise ScheduleError([Problem(str(path), f"TOML syntax error: {e}; fix the "
                                         "file and save again")]) from None
        change(doc)
        return tomlkit.dumps(doc)

    return edit_text(path, transform)


def add_practice(path: Path, fields: Mapping[str, object]) -> Schedule:
    """Append a [[practice]] table with `fields` (file keys: "id", "title", "at", "from",
    ...). Strings for "once", "from" and "until" are written as TOML date-times / dates."""
    values = _typed(fields)
    pid = values.get("id")

    def transform(text: str) -> str:
        # Key positions (_scan) only for the message: this runs under the edit lock.
        data = _loads_or_none(text)
        if data is None:
            data, _ = _data_and_layout(text, str(path))  # raises, saying where
        for i, p in enumerate(data.get("practice", [])):
            if isinstance(p, dict) and p.get("id") == pid:
                layout = _scan(text)
                table = layout.practices[i] if i < len(layout.practices) else None
                raise ScheduleError([Problem(
                    str(path),
                    "a practice with this id is already in the file; choose another id, "
                    f"or remove the old one first with: attuned remove {pid}",
                    line=table.line_of("id") if table else None, practice=str(pid), key="id",
                )])
        nl = "\r\n" if "\r\n" in text else "\n"
        if not text.strip():
            sep = ""
        elif not text.endswith("\n"):
            sep = nl + nl
        elif text.endswith(nl + nl):
            sep = ""
        else:
            sep = nl
        return text + sep + _render_practice(values, nl)

    return edit_text(path, transform)


def remove_practice(path: Path, practice_id: str) -> Schedule:
    """Remove a practice's table, with the comment lines directly above its header (no
    blank line between). Comments elsewhere, even just after it, are kept."""

    def transform(text: str) -> str:
        table = _practice_table(text, path, practice_id)
        lines = text.split("\n")
        assert table.header is not None and table.last_content is not None
        start, end = table.header - 1, table.last_content  # 0-based, end exclusive
        while start > 0 and lines[start - 1].strip().startswith("#"):
            start -= 1
        # One blank line separated it from its neighbours: keep one, not two.
        last_real = len(lines) - 1 if lines[-1] == "" else len(lines)
        if end < last_real and not lines[end].strip() and (
            start == 0 or not lines[start - 1].strip()
        ):
            end += 1
        elif end >= last_real and start > 0 and not lines[start - 1].strip():
            start -= 1  # it ended the file: drop the blank line that led to it
        kept = lines[:start] + lines[end:]
        return "\n".join(kept)

    return edit_text(path, transform)


def set_enabled(path: Path, practice_id: str, enabled: bool) -> Schedule:
    """Switch a practice on or off by writing `enabled = true|false` in its table."""
    word = "true" if enabled else "false"

    def transform(text: str) -> str:
        table = _practice_table(text, path, practice_id)
        lines = text.split("\n")
        if "enabled" in table.keys:
            i = table.keys["enabled"][0] - 1
            m = re.match(r"(\s*[\"']?enabled[\"']?\s*=\s*)([^\s#]+)(.*)", lines[i], re.S)
            if m is None:  # pragma: no cover - the scan found this key on this line
                raise AttunedError(f"could not find enabled = ... on line {i + 1} of {path}")
            lines[i] = m.group(1) + word + m.group(3)
        elif enabled:
            return text  # absent means enabled
        else:
            after = table.keys["id"][1] if "id" in table.keys else table.header
            assert after is not None
            anchor = lines[after - 1]
            indent = anchor[: len(anchor) - len(anchor.lstrip())]
            cr = "\r" if anchor.endswith("\r") else ""
            lines.insert(after, f"{indent}enabled = false{cr}")
        return "\n".join(lines)

    return edit_text(path, transform)


def write_new(path: Path, text: str, *, force: bool, now: datetime | None = None) -> Path | None:
    """Write a new schedule file (for `attuned init`). An existing file is refused unless
    `force`; then it is first copied aside to `<name>.bak-YYYYmmdd-HHMMSS`, whose path is
    returned (None when there was no old file)."""
    parse_text(text, source=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigWriteError(f"could not write {path}: {e.strerror or e}") from None

    def replace(old: bytes | None) -> tuple[bytes, Path | None]:
        if old is None:
            return text.encode("utf-8"), None
        if not force:
            raise ConfigExists(f"{path} already exists, so attuned left it alone; to start "
                               "over from the example, run: attuned init --force "
                               "(your old file is kept as a backup)")
        old_mode = stat.S_IMODE(path.stat().st_mode)
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        backup = _free_name(path.with_name(f"{path.name}.bak-{stamp}"))
        try:
            fsutil.atomic_write(backup, old, mode=old_mode)
        except OSError as e:
            raise ConfigWriteError(f"could not keep a backup at {backup}: {e.strerror or e}; "
                                   f"{path} was left as it was") from None
        return text.encode("utf-8"), backup

    return update(path, replace)


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _data_and_layout(text: str, source: str) -> tuple[dict[str, Any], _Layout]:
    """The file's data and where its keys are; a syntax error is raised as a Problem."""
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as e:
        raise ScheduleError([_syntax_problem(source, text, e)]) from None
    return data, _scan(text)


def _practice_table(text: str, path: Path, practice_id: str) -> _Table:
    data, layout = _data_and_layout(text, str(path))
    raw = data.get("practice", [])
    items = raw if isinstance(raw, list) else []
    ids = [p.get("id") for p in items if isinstance(p, dict)]
    for i, p in enumerate(items):
        if isinstance(p, dict) and p.get("id") == practice_id:
            if len(layout.practices) != len(items) or layout.practices[i].header is None:
                raise AttunedError(f"{path} writes its practices in a form attuned cannot "
                                   "edit safely; edit it by hand with: attuned edit")
            return layout.practices[i]
    names = [str(i) for i in ids if isinstance(i, str)]
    if not names:
        raise PracticeNotFound(f'no practice "{practice_id}" in {path}; it has no practices '
                               "yet (add one with: attuned add)")
    guess = difflib.get_close_matches(practice_id, names, n=1, cutoff=0.6)
    hint = f' Did you mean "{guess[0]}"?' if guess else ""
    raise PracticeNotFound(f'no practice "{practice_id}" in {path}.{hint} The practices '
                           f"there are: {', '.join(names)}")


def _typed(fields: Mapping[str, object]) -> dict[str, object]:
    """TOML-typed values: dates as dates and `once` as a date-time when given as text."""
    out: dict[str, object] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key in ("from", "until") and isinstance(value, str):
            # Left as text when it is no date: validation then says what is wrong with it.
            with contextlib.suppress(ValueError):
                value = date.fromisoformat(value.strip())
        elif key == "once" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value.strip().replace(" ", "T"))
        if isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def _render_practice(values: Mapping[str, object], nl: str) -> str:
    import tomlkit

    order = {k: i for i, k in enumerate(PRACTICE_KEYS)}
    lines = ["[[practice]]"]
    for key in sorted(values, key=lambda k: order.get(k, len(order))):
        value = values[key]
        name = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
        if isinstance(value, list) and len(value) > 1 and key == "message":
            items = "".join(f"    {tomlkit.item(v).as_string()},{nl}" for v in value)
            lines.append(f"{name} = [{nl}{items}]")
        else:
            lines.append(f"{name} = {tomlkit.item(value).as_string()}")
    return nl.join(lines) + nl
