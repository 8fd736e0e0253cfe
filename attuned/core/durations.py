"""Parsing and formatting of the small value types people type: durations, clock
times, windows. Pure; errors are BadValue (a ValueError) with a message for people."""

from __future__ import annotations

import re
import unicodedata
from datetime import time, timedelta

from attuned.core.model import Window
from attuned.errors import BadValue

# ASCII only: Python's \d also matches Arabic-Indic or full-width digits, which int()
# would read silently; such a value is refused by name instead (see plain_text).
_DURATION = re.compile(r"([0-9]+)\s*(d|h|m|s)", re.ASCII)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_WEEKS = re.compile(r"([0-9]+)w", re.ASCII)
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})", re.ASCII)
# The longest duration anything takes: a year. Longer ones (a grace of 999999999d) would
# pass the parse and overflow the date arithmetic of the daemon later.
LONGEST = timedelta(days=366)


def plain_text(text: str, example: str) -> None:
    """Refuse a value with a character other than plain ASCII (a full-width digit, a
    no-break space), naming it: read silently, it would mean something the file does
    not show."""
    for ch in text:
        if not ch.isascii():
            name = unicodedata.name(ch, "").lower()
            what = f"{'an' if name[:1] in tuple('aeiou') else 'a'} {name}" if name else (
                "an unnamed character")
            raise BadValue(f'"{text}" has {what} (U+{ord(ch):04X}); write it with plain '
                           f'digits and spaces, like "{example}"')


def parse_duration(text: str) -> timedelta:
    """"90m", "1h30m", "2h", "45s", "1d" -> timedelta. Must be > 0 and at most a year."""
    plain_text(text, "1h30m")
    s = text.strip().lower().replace(" ", "")
    if s in ("1w", "1week"):
        return timedelta(weeks=1)
    m = _WEEKS.fullmatch(s)
    if m:
        return _at_most_a_year(text, int(m.group(1)) * 7 * 86400)
    pos = 0
    total = 0
    for match in _DURATION.finditer(s):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not s or pos != len(s):
        raise BadValue(f'"{text}" is not a duration; write it like "10m", "1h30m" or "2h"')
    if total <= 0:
        raise BadValue(f'"{text}" is not a duration longer than zero')
    return _at_most_a_year(text, total)


def _at_most_a_year(text: str, seconds: int) -> timedelta:
    if seconds > LONGEST.total_seconds():
        raise BadValue(f'"{text}" is longer than attuned takes; a duration is at most '
                       f'{format_duration(LONGEST)} (a year)')
    return timedelta(seconds=seconds)


def format_duration(d: timedelta) -> str:
    secs = int(d.total_seconds())
    if secs and secs % (7 * 86400) == 0:
        return f"{secs // (7 * 86400)}w"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            out.append(f"{secs // size}{unit}")
            secs %= size
    return "".join(out) or "0m"


def parse_clock(text: str) -> time:
    """"07:30" -> time(7, 30). "24:00" is accepted only as a window end (see parse_window)."""
    plain_text(text, "07:30")
    m = _CLOCK.fullmatch(text.strip())
    if not m:
        raise BadValue(f'"{text}" is not a time of day; write it as HH:MM, like "07:30"')
    h, mi = int(m.group(1)), int(m.group(2))
    if h > 23 or mi > 59:
        raise BadValue(f'"{text}" is not a time of day; hours go 00-23 and minutes 00-59')
    return time(h, mi)


def parse_window(text: str) -> Window:
    """"17:00-22:00" -> Window; "22:30-07:00" crosses midnight; "09:00-24:00" ends at midnight."""
    plain_text(text, "17:00-22:00")
    parts = text.split("-")
    if len(parts) != 2:
        raise BadValue(
            f'"{text}" is not a time window; write it as "HH:MM-HH:MM", like "17:00-22:00"'
        )
    start = parse_clock(parts[0])
    end_text = parts[1].strip()
    end = time(0) if end_text == "24:00" else parse_clock(end_text)
    if start == end and end_text != "24:00" and start != time(0):
        raise BadValue(f'"{text}" is an empty window: it starts and ends at the same time')
    return Window(start, end)
