"""Where things are in a schedule file: each table's header line and each key's first
and last line, found by scanning the text (tomllib gives no positions). Problems name
these lines; the editor changes a practice's own lines by them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Layout", "Table", "scan"]


@dataclass
class Table:
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
class Layout:
    root: Table = field(default_factory=lambda: Table(header=None))
    tables: dict[str, Table] = field(default_factory=dict)  # first [name] of each table
    practices: list[Table] = field(default_factory=list)  # each [[practice]], in order
    first_header: dict[str, int] = field(default_factory=dict)  # top-level name -> its line


_KEY = r'(?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)'
_KEY_LINE = re.compile(rf"\s*({_KEY})(?:\s*\.\s*{_KEY})*\s*=")


def scan(text: str) -> Layout:
    """Find tables and key lines. tomllib gives no positions, so this follows strings,
    multi-line strings and multi-line arrays well enough to skip their insides."""
    layout = Layout()
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
            current = Table(header=n)
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
