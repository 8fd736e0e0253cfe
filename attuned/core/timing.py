"""The timing core: when does each practice nudge? Pure functions over the model.

No I/O, no APScheduler, no clock: `now`, ranges, the zone and the per-user seed are passed
in, so `attuned next` and the daemon compute the same nudges.

Definitions used throughout:
- Wall times become instants with `resolve_wall`: a wall time that does not exist (the
  spring-forward gap) becomes the first valid moment after the gap; one that exists twice
  (the fall-back night) is taken once, the first time (fold=0).
- The "rule day" of an at/every/random nudge is the date its time or window belongs to
  (for a window crossing midnight: the window's start date). `days` and the practice's
  period (`from`/`until`, both inclusive) are checked against it. For cron and once the
  local date of the nudge is used.
- Quiet hours remove every nudge whose local wall time lies inside them (by default;
  with `quiet=False` they are kept, for practices whose blocked nudges are deferred or
  gathered into a digest: the daemon decides at fire time, see attuned.app.practising).
- A practice never yields two nudges at one instant.

Aware datetimes that share a tzinfo compare and subtract by WALL time in Python (fold is
ignored), so every comparison and every piece of arithmetic here goes through UTC.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
import math
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import overload
from zoneinfo import ZoneInfo

from attuned.core.durations import format_duration
from attuned.core.model import (
    ALL_DAYS,
    DAY_NAMES,
    DEFAULT_MIN_GAP,
    AtRule,
    CronRule,
    EveryRule,
    Occurrence,
    OnceRule,
    Practice,
    RandomRule,
    Schedule,
    Window,
)

ONE_DAY = timedelta(days=1)
# How far next_occurrence looks ahead: four years and a day, so a cron for 29 February is
# always found.
HORIZON = timedelta(days=4 * 365 + 2)
# The last day a `once` may name (validation refuses later ones). A nudge's own arithmetic
# runs past its moment by at most a year per duration (grace, snooze, answer_within) and
# up to 100 repeats of at most a year, so a century of room keeps every sum a date.
LAST_DAY = date(9899, 12, 31)
FIRST_DAY = date(1900, 1, 1)  # and the first: a day before it must still be a date
_LAST_MOMENT = datetime.combine(date.max - ONE_DAY, time(0), UTC)


def _horizon_end(a: datetime, horizon: timedelta) -> datetime:
    """`a + horizon`, or a day before the last date when that would run past it (the
    day loops step one past their last day)."""
    return a + horizon if _LAST_MOMENT - a > horizon else _LAST_MOMENT
_MINUTE = timedelta(minutes=1)
_ALL_MONTHS = frozenset(range(1, 13))
_ALL_DOM = frozenset(range(1, 32))


# --- wall time -> instant ------------------------------------------------------------------


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got {dt!r}")
    return dt.astimezone(UTC)


def resolve_wall(day: date, t: time, zone: ZoneInfo) -> datetime:
    """The aware instant (in `zone`) for wall time `t` on `day`.

    A wall time skipped by a spring-forward gap becomes the first valid moment after the
    gap (Europe/Berlin 2026-03-29 02:30 -> 03:00 CEST); one that occurs twice on a
    fall-back night is the first of the two (fold=0).
    """
    return _resolve_utc(_wall(day, t), zone)[0]


def _resolve_utc(wall: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, bool]:
    """resolve_wall for a naive wall datetime: the instant in the zone and in UTC, and
    whether it had to move (it fell into a gap). Uses the constructor, not replace(), and
    no second astimezone: this runs for every nudge."""
    first = datetime(wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second,
                     wall.microsecond, zone)
    # Round trip through UTC: the wall time exists iff it comes back unchanged, i.e. with
    # the offset it left with.
    u = first.astimezone(UTC)
    if u.astimezone(zone).utcoffset() == first.utcoffset():
        return first, u, False
    # Nonexistent: fold=0 and fold=1 use the offsets before and after the transition, so
    # the transition instant lies between the two readings. Find it to the second (zone
    # transitions fall on whole seconds): the first instant whose wall time is past `wall`.
    b = first.replace(fold=1).astimezone(UTC)
    lo, hi = min(u, b), max(u, b)
    k_lo, k_hi = 0, int((hi - lo).total_seconds())
    while k_lo < k_hi:
        mid = (k_lo + k_hi) // 2
        if (lo + timedelta(seconds=mid)).astimezone(zone).replace(tzinfo=None) > wall:
            k_hi = mid
        else:
            k_lo = mid + 1
    u = lo + timedelta(seconds=k_lo)
    return u.astimezone(zone), u, True


# --- small predicates ----------------------------------------------------------------------


def in_quiet_hours(window: Window | None, at_local: datetime) -> bool:
    """Is `at_local` (in the schedule's zone) inside the quiet hours? None: never."""
    return window is not None and _window_has(window, at_local)


def _window_has(w: Window, at: datetime) -> bool:
    """Window.contains(at's wall time), without the allocations (runs for every nudge)."""
    t = time(at.hour, at.minute, at.second, at.microsecond)
    if w.start == w.end:
        return True
    if w.start < w.end:
        return w.start <= t < w.end
    return t >= w.start or t < w.end


def _in_period(practice: Practice, day: date) -> bool:
    if practice.start is not None and day < practice.start:
        return False
    return practice.until is None or day <= practice.until


def cron_matches_day(rule: CronRule, day: date) -> bool:
    """Standard cron day matching: when both day-of-month and day-of-week are restricted,
    either may match; otherwise both must (the unrestricted one holds every value)."""
    if day.month not in rule.months:
        return False
    dom = day.day in rule.days_of_month
    dow = day.weekday() in rule.weekdays
    if rule.dom_restricted and rule.dow_restricted:
        return dom or dow
    return dom and dow


def _wall(day: date, t: time) -> datetime:
    return datetime(day.year, day.month, day.day, t.hour, t.minute, t.second, t.microsecond)


def _window_bounds(window: Window, day: date) -> tuple[datetime, datetime]:
    """Naive wall start and end of `window` on rule day `day` (end exclusive)."""
    end_day = day + ONE_DAY if window.crosses_midnight else day
    return _wall(day, window.start), _wall(end_day, window.end)


# --- one rule day --------------------------------------------------------------------------


class _CronWalls(Sequence[datetime]):
    """A cron day's wall times, made on demand: `* * * * *` has 1,440 a day, and
    next_occurrence usually needs one of them."""

    def __init__(self, rule: CronRule, day: date) -> None:
        self._ymd = (day.year, day.month, day.day)
        self._hours = sorted(rule.hours)
        self._minutes = sorted(rule.minutes)

    def __len__(self) -> int:
        return len(self._hours) * len(self._minutes)

    @overload
    def __getitem__(self, i: int) -> datetime: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[datetime]: ...
    def __getitem__(self, i: int | slice) -> datetime | Sequence[datetime]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        h, m = divmod(i, len(self._minutes))
        y, mo, d = self._ymd
        return datetime(y, mo, d, self._hours[h], self._minutes[m])


def _walls(practice: Practice, day: date) -> Sequence[datetime]:
    """Naive wall datetimes, sorted and unique, that an at/every/cron rule asks for on `day`.
    Days and (for at/every) the period are already applied."""
    rule = practice.rule
    if isinstance(rule, AtRule):
        if day.weekday() not in rule.days or not _in_period(practice, day):
            return []
        return [_wall(day, t) for t in sorted(set(rule.times))]
    if isinstance(rule, EveryRule):
        if day.weekday() not in rule.days or not _in_period(practice, day):
            return []
        if rule.interval <= timedelta(0):
            raise ValueError(f"practice {practice.id}: every-interval must be positive")
        w, end = _window_bounds(rule.window, day)
        out = []
        while w < end:
            out.append(w)
            w += rule.interval
        return out
    if isinstance(rule, CronRule):
        if not cron_matches_day(rule, day):
            return []
        return _CronWalls(rule, day)
    raise TypeError(f"no wall times for {type(rule).__name__}")


def _keep(practice: Practice, at: datetime, moved: bool, quiet: bool = True) -> bool:
    """The per-nudge filters, on the resolved instant `at` (in the zone); `moved`: its
    wall time fell into a DST gap and was moved to the gap's end."""
    rule = practice.rule
    if isinstance(rule, EveryRule) and moved and not _window_has(rule.window, at):
        return False  # moved out of a DST gap to beyond the window's end
    if isinstance(rule, RandomRule) and not _window_has(rule.window, at):
        return False  # only possible in the repeated hour of a fall-back night
    if isinstance(rule, CronRule | OnceRule) and not _in_period(practice, at.date()):
        return False
    return not (quiet and in_quiet_hours(practice.quiet_hours, at))


def seeded_rng(*parts: str) -> random.Random:
    """A generator reproducible from `parts` (the seed, the practice id, ...): the same
    nudge always draws the same times and words."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def random_instants(rule: RandomRule, practice_id: str, day: date, zone: ZoneInfo,
                    seed: str, after: datetime | None = None) -> list[datetime]:
    """The day's drawn moments (before quiet hours), sorted, in `zone`.

    Drawn on the real-time line between the window's resolved start and end, at minute
    resolution: on a DST night the window is an hour shorter or longer, the moments stay
    `min_gap` apart in real time, and none falls into a gap. Reproducible from
    (seed, practice id, date); uniformly spread: draw `count` points in the slack left
    after the gaps, sort them, and add i * gap to the i-th. With `after` (UTC), a day
    whose window is wholly past returns nothing (the draw is skipped, not changed).
    """
    if day.weekday() not in rule.days or rule.count <= 0:
        return []
    w_start, w_end = _window_bounds(rule.window, day)
    e = _resolve_utc(w_end, zone)[1]
    if after is not None and e <= after:
        return []  # the whole window is past: no need to draw
    s = _resolve_utc(w_start, zone)[1]
    length = int((e - s) // _MINUTE)  # usable minute slots: 0 .. length-1
    if length <= 0:
        return []
    gap = max(1, math.ceil(rule.min_gap / _MINUTE))
    # On a short (spring-forward) day the count may not fit at min_gap: fit what does.
    n = min(rule.count, (length - 1) // gap + 1)
    slack = (length - 1) - (n - 1) * gap
    rng = seeded_rng(seed, practice_id, day.isoformat())
    draws = sorted(rng.randrange(slack + 1) for _ in range(n))
    return [(s + (k + i * gap) * _MINUTE).astimezone(zone) for i, k in enumerate(draws)]


def _day_nudges(practice: Practice, day: date, zone: ZoneInfo, seed: str,
                after: datetime | None = None, quiet: bool = True
                ) -> Iterator[tuple[datetime, datetime]]:
    """Nudges of rule day `day` as (in the zone, in UTC), in order, unique, every filter
    applied; if `after` (UTC) is given, only those strictly after it. Lazy:
    next_occurrence stops at the first."""
    rule = practice.rule
    if isinstance(rule, RandomRule):
        if not _in_period(practice, day):
            return
        for at in random_instants(rule, practice.id, day, zone, seed, after):
            u = at.astimezone(UTC)
            if (after is None or u > after) and _keep(practice, at, False, quiet):
                yield at, u
        return
    if isinstance(rule, OnceRule):
        m = rule.moment
        if m.date() == day:
            at, u, moved = _resolve_utc(m.replace(tzinfo=None), zone)
            if (after is None or u > after) and _keep(practice, at, moved, quiet):
                yield at, u
        return
    walls = _walls(practice, day)
    first = 0
    if after is not None and walls:

        def instant(w: datetime) -> datetime:
            return _resolve_utc(w, zone)[1]

        # Resolution is monotone in wall time: skip a day that is wholly past with one
        # look at its last wall time, and bisect into the day that holds `after`.
        if instant(walls[-1]) <= after:
            return
        if instant(walls[0]) <= after:
            first = bisect.bisect_right(walls, after, key=instant)
    last: datetime | None = None
    for i in range(first, len(walls)):
        at, u, moved = _resolve_utc(walls[i], zone)
        if u == last or not _keep(practice, at, moved, quiet):
            continue  # two wall times moved onto one instant by a DST gap: once only
        last = u
        yield at, u


def _first_day(practice: Practice, day: date, last_day: date) -> date:
    """`day`, or a later one when the rule cannot match before it (cron months)."""
    rule = practice.rule
    if isinstance(rule, CronRule):
        # Jump over whole months the cron never matches: "0 0 29 2 *" scans 4 Februaries,
        # not 1,461 days.
        while day <= last_day and day.month not in rule.months:
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return day


def _clamp_days(practice: Practice, day: date, last_day: date) -> tuple[date, date]:
    """The rule days from `day` to `last_day` narrowed to those that can have nudges: the
    period's (a rule day's nudges may lie on the next date) or the once-moment's."""
    if practice.start is not None:
        day = max(day, practice.start - ONE_DAY)
    if practice.until is not None:
        last_day = min(last_day, practice.until + ONE_DAY)
    rule = practice.rule
    if isinstance(rule, OnceRule):
        day = max(day, rule.moment.date())
        last_day = min(last_day, rule.moment.date())
    return day, last_day


# --- ranges --------------------------------------------------------------------------------


def occurrences(practice: Practice, start: datetime, end: datetime, zone: ZoneInfo,
                seed: str, *, quiet: bool = True) -> list[datetime]:
    """The practice's nudges with start <= t < end: aware (in `zone`), sorted, unique.
    `quiet=False` keeps the nudges that fall inside its quiet hours."""
    if not practice.enabled:
        return []
    s, e = _utc(start), _utc(end)
    if e <= s:
        return []
    # A rule day's nudges lie on its date or the next (windows crossing midnight).
    day, last_day = _clamp_days(practice, s.astimezone(zone).date() - ONE_DAY,
                                e.astimezone(zone).date())
    seen: dict[datetime, datetime] = {}
    while day <= last_day:
        for at, u in _day_nudges(practice, day, zone, seed, quiet=quiet):
            if s <= u < e:
                seen.setdefault(u, at)
        day += ONE_DAY
    return [seen[u] for u in sorted(seen)]


def upcoming(schedule: Schedule, start: datetime, end: datetime, zone: ZoneInfo,
             seed: str) -> list[Occurrence]:
    """Every nudge of the schedule with start <= at < end, sorted by (at, practice_id)."""
    found = [
        (at.astimezone(UTC), p.id, at)
        for p in schedule.practices
        for at in occurrences(p, start, end, zone, seed)
    ]
    found.sort(key=lambda x: (x[0], x[1]))
    return [Occurrence(at, pid) for _, pid, at in found]


def iter_after(practice: Practice, after: datetime, zone: ZoneInfo, seed: str,
               horizon: timedelta = HORIZON, *, quiet: bool = True) -> Iterator[datetime]:
    """The practice's nudges strictly after `after`, in order, computed a day at a time,
    up to `horizon` past `after` (or the end of its period)."""
    if not practice.enabled:
        return
    a = _utc(after)
    rule = practice.rule
    day = a.astimezone(zone).date()
    if isinstance(rule, EveryRule | RandomRule) and rule.window.crosses_midnight:
        # This window's nudges may lie on the day after their rule day. Any other rule
        # day's nudges have wall times before the next midnight, and resolving keeps
        # that order (a gap moves a time only up to the first instant of a later wall
        # time), so the day before `after`'s own has nothing strictly after it.
        day -= ONE_DAY
    day, last_day = _clamp_days(practice, day,
                                 _horizon_end(a, horizon).astimezone(zone).date())
    if isinstance(rule, AtRule | EveryRule | RandomRule) and not rule.days:
        return
    last: datetime | None = None
    while True:
        day = _first_day(practice, day, last_day)
        if day > last_day:
            return
        for at, u in _day_nudges(practice, day, zone, seed, a, quiet):
            if last is not None and u <= last:
                continue
            last = u
            yield at
        day += ONE_DAY


def next_occurrence(practice: Practice, after: datetime, zone: ZoneInfo,
                    seed: str, *, quiet: bool = True) -> datetime | None:
    """The practice's first nudge strictly after `after`, or None (disabled, past its
    period or its once-moment, or nothing within four years). `quiet=False` also
    finds nudges inside its quiet hours."""
    return next(iter_after(practice, after, zone, seed, quiet=quiet), None)


def quiet_end(window: Window, at: datetime, zone: ZoneInfo) -> datetime | None:
    """When the quiet hours that hold `at` (aware) end: the window's end wall time,
    resolved in `zone` (a DST gap moves it to the gap's end). `at` itself when it is not
    inside the window; None for a window covering the whole day (it never ends)."""
    local = _utc(at).astimezone(zone)
    if not _window_has(window, local):
        return local
    if window.start == window.end:
        return None
    day = local.date()
    t = time(local.hour, local.minute, local.second, local.microsecond)
    if window.crosses_midnight and t >= window.start:
        day += ONE_DAY  # inside the evening part: it ends tomorrow morning
    return resolve_wall(day, window.end, zone)


def next_wall(t: time, after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant strictly after `after` whose wall time in `zone` is `t` (or,
    for a wall time a DST gap skips, the gap's end)."""
    a = _utc(after)
    day = a.astimezone(zone).date()
    while True:
        at = resolve_wall(day, t, zone)
        if at.astimezone(UTC) > a:
            return at
        day += ONE_DAY


def next_n(schedule: Schedule, after: datetime, n: int, zone: ZoneInfo,
           seed: str) -> list[Occurrence]:
    """The `n` next nudges across the schedule, strictly after `after`, sorted by
    (at, practice_id)."""
    if n <= 0:
        return []

    def stream(p: Practice) -> Iterator[tuple[datetime, str, datetime]]:
        for at in iter_after(p, after, zone, seed):
            yield at.astimezone(UTC), p.id, at

    streams = [stream(p) for p in schedule.practices if p.enabled]
    merged = heapq.merge(*streams, key=lambda x: (x[0], x[1]))
    return [Occurrence(at, pid) for _, pid, at in itertools.islice(merged, n)]


# --- messages ------------------------------------------------------------------------------


def pick_message(practice: Practice, at: datetime, seed: str) -> str:
    """The message variant for the nudge at `at` (as planned, in the schedule's zone).

    Deterministic, so a re-shown nudge keeps its words. The variants are put in a fixed
    shuffled order per practice, and consecutive days step through it: a nudge at the same
    time every day shows every variant before repeating one. Different times of day start
    at different points of the order.
    """
    msgs = practice.messages
    if not msgs:
        return practice.title
    if len(msgs) == 1:
        return msgs[0]
    n = len(msgs)
    order = list(range(n))
    seeded_rng(seed, practice.id, "messages").shuffle(order)
    offset = seeded_rng(seed, practice.id, f"{at:%H:%M}").randrange(n)
    return msgs[order[(at.date().toordinal() + offset) % n]]


# --- plain words ---------------------------------------------------------------------------

_PLURAL = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def describe_days(days: frozenset[int]) -> str:
    """"every day", "weekdays", "weekends", "Sundays", "Mon, Wed-Fri"."""
    if days == ALL_DAYS:
        return "every day"
    if days == frozenset(range(5)):
        return "weekdays"
    if days == frozenset({5, 6}):
        return "weekends"
    if not days:
        return "no day"
    if len(days) == 1:
        return _PLURAL[next(iter(days))]
    parts: list[str] = []
    ordered = sorted(days)
    run = [ordered[0]]
    for d in [*ordered[1:], None]:
        if d is not None and d == run[-1] + 1:
            run.append(d)
            continue
        names = [DAY_NAMES[x].capitalize() for x in run]
        parts.append(f"{names[0]}-{names[-1]}" if len(run) >= 3 else ", ".join(names))
        if d is not None:
            run = [d]
    return ", ".join(parts)


def _clock(t: time) -> str:
    return f"{t:%H:%M}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _between(w: Window) -> str:
    end = "midnight" if w.end == time(0) else _clock(w.end)
    return f"between {_clock(w.start)} and {end}"


def _on_days(days: frozenset[int]) -> str:
    return "" if days == ALL_DAYS else f" on {describe_days(days)}"


def describe_rule(practice: Practice) -> str:
    """The practice's rule in plain words, for `attuned list`."""
    rule = practice.rule
    if isinstance(rule, AtRule):
        times = _and([_clock(t) for t in sorted(set(rule.times))])
        return f"{describe_days(rule.days)} at {times}"
    if isinstance(rule, EveryRule):
        text = f"every {format_duration(rule.interval)}"
        w = rule.window
        if w.start != w.end:
            text += " " + _between(w)
        elif w.start != time(0):
            text += f", counting from {_clock(w.start)}"
        else:
            # Without `between` the window is the whole day, night included: said, as
            # someone who left it out may not expect a nudge at 03:00.
            text += " all day"
        return text + _on_days(rule.days)
    if isinstance(rule, RandomRule):
        # "at a random moment", not "once": that word belongs to the once rule.
        text = "at a random moment" if rule.count == 1 else f"{rule.count} times"
        w = rule.window
        text += " a day" if w.start == w.end else " " + _between(w)
        text += _on_days(rule.days)
        if rule.min_gap != DEFAULT_MIN_GAP and rule.count > 1:
            text += f", at least {format_duration(rule.min_gap)} apart"
        return text
    if isinstance(rule, CronRule):
        simple = (
            rule.months == _ALL_MONTHS
            and not rule.dom_restricted
            and rule.days_of_month == _ALL_DOM
            and 0 < len(rule.hours) * len(rule.minutes) <= 4
        )
        if not simple:
            return f"cron {rule.expr}"
        days = describe_days(rule.weekdays) if rule.dow_restricted else "every day"
        times = _and(
            [_clock(time(h, m)) for h in sorted(rule.hours) for m in sorted(rule.minutes)]
        )
        return f"cron {rule.expr} ({days} at {times})"
    m = rule.moment
    weekday = DAY_NAMES[m.weekday()].capitalize()
    return f"once on {weekday} {m.day} {_MONTHS[m.month - 1]} {m.year} at {m:%H:%M}"
