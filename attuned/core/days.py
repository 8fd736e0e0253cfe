"""Day-of-week sets as people write them: "daily", "weekdays", "mon-fri", "fri-mon",
["mon", "wed-fri"], "Monday". Pure; errors are BadValue (a ValueError) with a message
for people.

Days are Python's `date.weekday()` numbers: 0 = Monday ... 6 = Sunday.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from attuned.core.model import ALL_DAYS, DAY_NAMES
from attuned.errors import BadValue

_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WORDS = {
    "daily": ALL_DAYS,
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
    "weekend": frozenset({5, 6}),
}
_HOW = (
    'write mon, tue, wed, thu, fri, sat or sun, a range like "mon-fri", '
    'or "daily", "weekdays", "weekends"'
)


def parse_days(value: str | Sequence[str]) -> frozenset[int]:
    """Parse a day text or a list of them into a set of weekday numbers."""
    items = [value] if isinstance(value, str) else list(value)
    days: set[int] = set()
    for item in items:
        for part in item.split(","):
            days.update(_parse_part(part.strip()))
    if not days:
        shown = f'"{value}"' if isinstance(value, str) else "[]"
        raise BadValue(f"{shown} names no days; {_HOW}")
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    """The shortest usual way to write `days`: "daily", "weekdays", "mon,wed-fri"."""
    for word in ("daily", "weekdays", "weekends"):
        if days == _WORDS[word]:
            return word
    runs: list[str] = []
    ordered = sorted(days)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        a, b = DAY_NAMES[ordered[i]], DAY_NAMES[ordered[j]]
        runs.append(a if i == j else f"{a},{b}" if j == i + 1 else f"{a}-{b}")
        i = j + 1
    return ",".join(runs)


def _parse_part(part: str) -> frozenset[int]:
    if not part:
        return frozenset()
    if part.lower() in _WORDS:
        return _WORDS[part.lower()]
    if "-" in part:
        a, _, b = part.partition("-")
        start, end = _day(a.strip()), _day(b.strip())
        # Ranges may wrap past Sunday: "fri-mon" is fri, sat, sun, mon.
        n = (end - start) % 7 + 1
        return frozenset((start + k) % 7 for k in range(n))
    return frozenset({_day(part)})


def _day(text: str) -> int:
    word = text.lower()
    # Any prefix of a day's full name from three letters on: "mon", "tues", "thurs", "monday".
    if len(word) >= 3:
        for i, full in enumerate(_FULL):
            if full.startswith(word):
                return i
    # The words too, so that "wekdays" points at "weekdays" rather than at "wed".
    words = ("daily", "weekdays", "weekends")
    guess = difflib.get_close_matches(word, [*words, *_FULL, *DAY_NAMES], n=1, cutoff=0.6)
    if guess:
        said = guess[0] if guess[0] in words else guess[0][:3]
        raise BadValue(f'"{text}" is not a day; did you mean "{said}"?')
    raise BadValue(f'"{text}" is not a day; {_HOW}')
