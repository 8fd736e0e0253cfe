"""Parsing the moments people type on the command line ("tomorrow", "2026-03-29 01:00",
"+2h", "22:00"). Pure: `now` and the zone are passed in. Errors are BadValue (a ValueError)
with a message for people."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from attuned.core.durations import parse_clock, parse_duration
from attuned.core.timing import FIRST_DAY, LAST_DAY, resolve_wall
from attuned.errors import BadValue


def parse_moment(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """An aware datetime in `zone` for `text`.

    Accepts: "now", "today", "tomorrow" (midnight), "2026-03-29" (midnight),
    "2026-03-29 01:00" or "2026-03-29T01:00", "22:00" (today, or tomorrow if passed), "+2h".
    """
    s = text.strip().lower()
    local_now = now.astimezone(zone)
    if s == "now":
        return local_now
    if s in ("today", "tomorrow"):
        d = local_now.date() + timedelta(days=1 if s == "tomorrow" else 0)
        return _at(d, time(0), zone)
    if s.startswith("+"):
        return _elapsed(now, parse_duration(s[1:]), zone)
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[ t](\d{1,2}:\d{2})(?::(\d{2}))?)?", s, re.ASCII)
    if m:
        try:
            d = date.fromisoformat(m.group(1))
        except ValueError:
            raise BadValue(f'"{text}" is not a date; write it as YYYY-MM-DD') from None
        if not FIRST_DAY <= d <= LAST_DAY:
            # A day at either end of the calendar overflows the day arithmetic after it.
            raise BadValue(f'"{text}" is outside the years attuned counts in, '
                           f"{FIRST_DAY.year} to {LAST_DAY.year}")
        t = parse_clock(m.group(2)) if m.group(2) else time(0)
        if m.group(3):
            if int(m.group(3)) > 59:
                raise BadValue(f'"{text}" has seconds past 59')
            t = t.replace(second=int(m.group(3)))
        return _at(d, t, zone)
    if re.fullmatch(r"\d{1,2}:\d{2}", s, re.ASCII):
        t = parse_clock(s)
        candidate = _at(local_now.date(), t, zone)
        if candidate <= local_now:
            candidate = _at(local_now.date() + timedelta(days=1), t, zone)
        return candidate
    raise BadValue(
        f'"{text}" is not a moment; write "now", "tomorrow", "2026-03-29", '
        f'"2026-03-29 01:00", "22:00" or "+2h"'
    )


_SINCE_HINT = ('write "today", "yesterday", "7d" or "-2h" (that long ago), "2026-12-01", '
               '"2026-12-01 07:00" or "07:00"')


def parse_since(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """A moment in the past, for options that look back (`history --since`): "today",
    "yesterday" (midnight), "7d" or "-7d" (that long before now), a date, a date and time,
    or "07:00" (today, or yesterday when it is still ahead)."""
    s = text.strip().lower()
    local_now = now.astimezone(zone)
    if s in ("now", "today", "yesterday"):
        if s == "now":
            return local_now
        d = local_now.date() - timedelta(days=1 if s == "yesterday" else 0)
        return _at(d, time(0), zone)
    if re.fullmatch(r"-?\d.*[a-z]", s) and not re.fullmatch(r"\d{4}-.*", s):
        try:
            return _elapsed(now, -parse_duration(s.removeprefix("-")), zone)
        except ValueError:
            raise BadValue(f'"{text}" is not a moment; {_SINCE_HINT}') from None
    if re.fullmatch(r"\d{1,2}:\d{2}", s):
        candidate = _at(local_now.date(), parse_clock(s), zone)
        if candidate > local_now:
            candidate = _at(local_now.date() - timedelta(days=1), parse_clock(s), zone)
        return candidate
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[ t].*)?", s):
        return parse_moment(text, now=now, zone=zone)
    raise BadValue(f'"{text}" is not a moment; {_SINCE_HINT}')


def clock_words(at: datetime) -> str:
    """A time of day as people read it: "17:07", with its seconds when it has them."""
    return f"{at:%H:%M:%S}" if at.second or at.microsecond else f"{at:%H:%M}"


def parse_until(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The end of a range given as `text`: a day alone ("2026-03-30", "today", "tomorrow")
    includes that whole day, as a practice's `until` does; any other moment is itself."""
    s = text.strip().lower()
    if s in ("today", "tomorrow") or re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        start = parse_moment(text, now=now, zone=zone)
        return _at(start.date() + timedelta(days=1), time(0), zone)
    return parse_moment(text, now=now, zone=zone)


def _elapsed(now: datetime, length: timedelta, zone: ZoneInfo) -> datetime:
    # In UTC: arithmetic on an aware datetime in a zone is wall-clock arithmetic, an hour
    # off across a DST change ("+2h" at 01:30 on the spring night is 04:30, not 03:30).
    return (now.astimezone(UTC) + length).astimezone(zone)


def _at(d: date, t: time, zone: ZoneInfo) -> datetime:
    # The schedule's rule for a wall time skipped by a spring-forward gap: the first
    # moment after it; a doubled one is the first of the two.
    return resolve_wall(d, t, zone)
