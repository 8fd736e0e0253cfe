"""The daemon's reloads: what it keeps between two reads of the schedule, so that a
reload after a save validates only the [[practice]] blocks whose text changed.

A whole read of 1,000 practices takes about 0.1 s, and a reload first waits 0.15 s for
a burst of saves to end; read whole, a reload came out at 0.29-0.32 s, against the 0.3 s
it may take (bench/README.md). What ReloadCache returns is always what read.parse_text
returns for the same text: a file with a problem, or of a shape it is unsure of, is read
whole, which also gives the exact messages.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from attuned.config.layout import Layout, Table
from attuned.config.read import decode, example_schedule, parse_text, read_bytes
from attuned.config.validate import Checker
from attuned.core.model import Practice, Schedule, Settings
from attuned.errors import ConfigNotFound

__all__ = ["ReloadCache"]

# A [[practice]] header alone on its line (perhaps with a comment). Such a line inside a
# multi-line string would leave the piece before it unfinished, which tomllib then
# refuses, so a wrong split is noticed and the file is read whole.
_PRACTICE_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*practice[ \t]*\]\][ \t]*(?:#.*)?\r?$", re.M)
_OTHER_HEADER = re.compile(r"^[ \t]*\[", re.M)


class _ReadWhole(Exception):
    """The blocks cannot be trusted to give what the whole read gives: read it whole."""


class ReloadCache:
    """The validated practices of the last good read, by the text of their [[practice]]
    block, and the settings they were validated under. Only the last file's blocks are
    kept, so it does not grow with each edit; a read that fails leaves it as it was."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._practices: dict[str, Practice] = {}

    def load_or_example(self, path: Path, today: date | None = None
                        ) -> tuple[Schedule, bool]:
        """As read.load_or_example."""
        try:
            return self.load(path), False
        except ConfigNotFound:
            return example_schedule(today), True

    def load(self, path: Path) -> Schedule:
        """As read.load."""
        return self.parse_text(decode(read_bytes(path), path), source=str(path))

    def parse_text(self, text: str, source: str = "config.toml") -> Schedule:
        """As read.parse_text, reusing the practices whose block did not change."""
        if self._practices:
            try:
                return self._from_blocks(text, source)
            except _ReadWhole:
                pass
        sched = parse_text(text, source)
        self._remember(text, sched)
        return sched

    def _from_blocks(self, text: str, source: str) -> Schedule:
        starts = [m.start() for m in _PRACTICE_HEADER.finditer(text)]
        if not starts:
            raise _ReadWhole
        preamble = text[: starts[0]]
        data = _loads(preamble)
        if "practice" in data:
            raise _ReadWhole
        checker = Checker(source, Layout())  # lines only matter for problems: none here
        settings = checker.schedule(data).settings
        if checker.problems or settings != self._settings:
            raise _ReadWhole  # with other settings every practice is validated again
        new: dict[str, Practice] = {}
        practices: list[Practice] = []
        ids: set[str] = set()
        line = preamble.count("\n") + 1
        for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
            block = text[start:end]
            p = self._practices.get(block)
            if p is None:
                p = _read_block(block, source, settings)
            if p.line != line:
                p = dataclasses.replace(p, line=line)
            if p.id in ids:
                raise _ReadWhole  # the whole read says on which lines
            ids.add(p.id)
            new[block] = p
            practices.append(p)
            line += block.count("\n")
        self._practices = new
        return Schedule(settings=settings, practices=tuple(practices), source=source)

    def _remember(self, text: str, sched: Schedule) -> None:
        """Each practice of a good whole read by its block, when the header lines found
        are exactly the practices' lines (else none: the next read is whole too)."""
        self._settings, self._practices = sched.settings, {}
        starts = [m.start() for m in _PRACTICE_HEADER.finditer(text)]
        lines, line, at = [], 1, 0
        for start in starts:
            line += text.count("\n", at, start)
            at = start
            lines.append(line)
        if not lines or lines != [p.line for p in sched.practices]:
            return
        for start, end, p in zip(starts, [*starts[1:], len(text)], sched.practices, strict=True):
            block = text[start:end]
            # A block holding another table (even [settings]) is read whole next time.
            if _OTHER_HEADER.search(block, block.find("\n") + 1 or len(block)) is None:
                self._practices[block] = p


def _loads(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise _ReadWhole from None  # the whole read says where


def _read_block(block: str, source: str, settings: Settings) -> Practice:
    data = _loads(block)
    items = data.get("practice")
    if len(data) != 1 or not isinstance(items, list) or len(items) != 1:
        raise _ReadWhole  # another table inside the block
    table = Table(header=1)
    checker = Checker(source, Layout(practices=[table]))
    p = checker.practice(items[0], table, settings)
    if p is None or checker.problems:
        raise _ReadWhole
    return p
