"""DST nights in three zones on both hemispheres. Expected nudges are written by hand as
wall time + UTC offset, and compared as (instant, offset): Python compares two datetimes
of one zone by wall time alone (fold ignored), which would hide exactly the bugs sought.

2026 transitions (checked against zoneinfo in test_the_2026_transitions_are_where_we_think):
  Europe/Berlin     spring 29 Mar 02:00 -> 03:00   autumn 25 Oct 03:00 -> 02:00
  America/New_York  spring  8 Mar 02:00 -> 03:00   autumn  1 Nov 02:00 -> 01:00
  Australia/Sydney  spring  4 Oct 02:00 -> 03:00   autumn  5 Apr 03:00 -> 02:00
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from attuned.core import cron
from attuned.core.model import AtRule, CronRule, EveryRule, Practice, RandomRule, Rule, Window
from attuned.core.timing import next_occurrence, occurrences, resolve_wall


@dataclass(frozen=True)
class Night:
    zone: str
    day: date
    daily: time  # a wall time that is skipped (spring) or repeated (autumn) that night
    fires: str  # where the daily practice fires: "HH:MM+HH:MM"
    every_30m: str  # every nudge of an every-30m practice from 00:00 to 05:00


SPRING = [
    Night("Europe/Berlin", date(2026, 3, 29), time(2, 30), "03:00+02:00",
          "00:00+01:00 00:30+01:00 01:00+01:00 01:30+01:00 "
          "03:00+02:00 03:30+02:00 04:00+02:00 04:30+02:00"),
    Night("America/New_York", date(2026, 3, 8), time(2, 30), "03:00-04:00",
          "00:00-05:00 00:30-05:00 01:00-05:00 01:30-05:00 "
          "03:00-04:00 03:30-04:00 04:00-04:00 04:30-04:00"),
    Night("Australia/Sydney", date(2026, 10, 4), time(2, 30), "03:00+11:00",
          "00:00+10:00 00:30+10:00 01:00+10:00 01:30+10:00 "
          "03:00+11:00 03:30+11:00 04:00+11:00 04:30+11:00"),
]
AUTUMN = [
    Night("Europe/Berlin", date(2026, 10, 25), time(2, 30), "02:30+02:00",
          "00:00+02:00 00:30+02:00 01:00+02:00 01:30+02:00 02:00+02:00 02:30+02:00 "
          "03:00+01:00 03:30+01:00 04:00+01:00 04:30+01:00"),
    # New York repeats 01:00-02:00, not 02:00-03:00.
    Night("America/New_York", date(2026, 11, 1), time(1, 30), "01:30-04:00",
          "00:00-04:00 00:30-04:00 01:00-04:00 01:30-04:00 "
          "02:00-05:00 02:30-05:00 03:00-05:00 03:30-05:00 04:00-05:00 04:30-05:00"),
    Night("Australia/Sydney", date(2026, 4, 5), time(2, 30), "02:30+11:00",
          "00:00+11:00 00:30+11:00 01:00+11:00 01:30+11:00 02:00+11:00 02:30+11:00 "
          "03:00+10:00 03:30+10:00 04:00+10:00 04:30+10:00"),
]
NIGHTS = [pytest.param(n, id=f"{n.zone}-spring") for n in SPRING] + [
    pytest.param(n, id=f"{n.zone}-autumn") for n in AUTUMN]


def parse(day: date, text: str) -> list[datetime]:
    return [datetime.fromisoformat(f"{day.isoformat()}T{w}") for w in text.split()]


def key(ts: list[datetime]) -> list[tuple[datetime, timedelta | None]]:
    """Compare by instant AND offset (see the module docstring)."""
    return [(t.astimezone(UTC), t.utcoffset()) for t in ts]


def practice(rule: Rule, **kw: object) -> Practice:
    return Practice("p", "P", ("m",), rule, **kw)  # type: ignore[arg-type]


def every_minute_of(minutes: set[int], hours: set[int]) -> CronRule:
    return CronRule("cron", frozenset(minutes), frozenset(hours), frozenset(range(1, 32)),
                    frozenset(range(1, 13)), frozenset(range(7)), False, False)


def the_night(n: Night) -> tuple[datetime, datetime]:
    z = ZoneInfo(n.zone)
    return (datetime.combine(n.day, time(0), z), datetime.combine(n.day, time(5), z))


def test_the_2026_transitions_are_where_we_think() -> None:
    for n in SPRING:
        z = ZoneInfo(n.zone)
        wall = datetime.combine(n.day, n.daily, z)
        assert wall.astimezone(UTC).astimezone(z).time() != n.daily, n  # does not exist
    for n in AUTUMN:
        z = ZoneInfo(n.zone)
        wall = datetime.combine(n.day, n.daily, z)
        assert wall.utcoffset() != wall.replace(fold=1).utcoffset(), n  # exists twice


@pytest.mark.parametrize("night", NIGHTS)
def test_a_daily_practice_fires_once_on_the_dst_night(night: Night) -> None:
    z = ZoneInfo(night.zone)
    for rule in (AtRule((night.daily,)),
                 every_minute_of({night.daily.minute}, {night.daily.hour})):
        p = practice(rule)
        start = datetime.combine(night.day, time(0), z)
        got = occurrences(p, start, start + timedelta(days=1), z, "s")
        assert key(got) == key(parse(night.day, night.fires)), rule
        # The daemon's view agrees, and the next one is the following day's.
        eve = datetime.combine(night.day - timedelta(days=1), time(20), z)
        first = next_occurrence(p, eve, z, "s")
        assert first is not None and key([first]) == key(got)
        second = next_occurrence(p, first, z, "s")
        assert second == datetime.combine(night.day + timedelta(days=1), night.daily, z)


@pytest.mark.parametrize("night", NIGHTS)
def test_every_30m_neither_doubles_nor_drops_more_than_the_missing_times(night: Night) -> None:
    z = ZoneInfo(night.zone)
    expected = key(parse(night.day, night.every_30m))
    start, end = the_night(night)
    for rule in (EveryRule(timedelta(minutes=30)),
                 every_minute_of({0, 30}, set(range(24)))):
        p = practice(rule)
        assert key(occurrences(p, start, end, z, "s")) == expected, rule
        # Step through the night one nudge at a time, as the daemon does.
        walked: list[datetime] = []
        at: datetime | None = start - timedelta(microseconds=1)
        while at is not None and at < end and len(walked) < 20:
            at = next_occurrence(p, at, z, "s")
            if at is not None and at.astimezone(UTC) < end.astimezone(UTC):
                walked.append(at)
            else:
                break
        assert key(walked) == expected, rule


@pytest.mark.parametrize(("zone", "day", "wall", "instant"), [
    ("Europe/Berlin", date(2026, 3, 29), time(2, 0), "2026-03-29T03:00+02:00"),
    ("Europe/Berlin", date(2026, 3, 29), time(2, 59, 59), "2026-03-29T03:00+02:00"),
    ("Europe/Berlin", date(2026, 3, 29), time(1, 59), "2026-03-29T01:59+01:00"),
    ("Europe/Berlin", date(2026, 3, 29), time(3, 0), "2026-03-29T03:00+02:00"),
    ("Europe/Berlin", date(2026, 10, 25), time(2, 0), "2026-10-25T02:00+02:00"),
    ("Europe/Berlin", date(2026, 10, 25), time(3, 0), "2026-10-25T03:00+01:00"),
    # Lord Howe moves by 30 minutes; Santiago's gap is at midnight.
    ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), "2026-10-04T02:30+11:00"),
    ("America/Santiago", date(2026, 9, 6), time(0, 30), "2026-09-06T01:00-03:00"),
    ("America/Santiago", date(2026, 4, 4), time(23, 30), "2026-04-04T23:30-03:00"),
])
def test_resolve_wall(zone: str, day: date, wall: time, instant: str) -> None:
    got = resolve_wall(day, wall, ZoneInfo(zone))
    assert key([got]) == key([datetime.fromisoformat(instant)])
    assert got.fold == 0 and got.tzinfo == ZoneInfo(zone)


def test_an_every_window_ending_in_the_gap_does_not_spill_past_its_end() -> None:
    z = ZoneInfo("Europe/Berlin")
    night = date(2026, 3, 29)
    start = datetime.combine(night, time(0), z)
    p = practice(EveryRule(timedelta(minutes=30), Window(time(1), time(2, 30))))
    # 02:00 does not exist; its first valid moment, 03:00, is past the window's end.
    assert key(occurrences(p, start, start + timedelta(days=1), z, "s")) == key(
        parse(night, "01:00+01:00 01:30+01:00"))


def test_quiet_hours_apply_to_where_a_nudge_lands() -> None:
    z = ZoneInfo("Europe/Berlin")
    night = date(2026, 3, 29)
    start = datetime.combine(night, time(0), z)
    p = practice(AtRule((time(2, 30),)), quiet_hours=Window(time(2, 45), time(7)))
    # 02:30 becomes 03:00, which is quiet.
    assert occurrences(p, start, start + timedelta(days=1), z, "s") == []


@pytest.mark.parametrize(("night", "window", "real_length"), [
    (date(2026, 3, 29), Window(time(1), time(4)), timedelta(hours=2)),
    (date(2026, 10, 25), Window(time(1), time(4)), timedelta(hours=4)),
    (date(2026, 10, 25), Window(time(2, 30), time(4)), timedelta(hours=2, minutes=30)),
])
def test_random_on_a_dst_night_keeps_its_gap_in_real_time_and_its_window(
        night: date, window: Window, real_length: timedelta) -> None:
    z = ZoneInfo("Europe/Berlin")
    start = datetime.combine(night, time(0), z)
    w_start = resolve_wall(night, window.start, z)
    w_end = resolve_wall(night, window.end, z)
    assert w_end.astimezone(UTC) - w_start.astimezone(UTC) == real_length
    gap = timedelta(minutes=40)
    p = practice(RandomRule(3, window, gap))
    seen_counts = set()
    for seed in range(40):
        got = occurrences(p, start, start + timedelta(days=1), z, str(seed))
        seen_counts.add(len(got))
        for t in got:
            assert window.contains(t.time()), (seed, t)
            assert w_start.astimezone(UTC) <= t.astimezone(UTC) < w_end.astimezone(UTC)
        utc = [t.astimezone(UTC) for t in got]
        assert all(b - a >= gap for a, b in itertools.pairwise(utc)), (seed, got)
    # Every draw is kept, except those that land in the repeated 02:00-02:30 (they would
    # read as outside 02:30-04:00) on the last night.
    assert max(seen_counts) == 3


# Zones whose clocks change at midnight, so a day's first hour is skipped or repeated.
# next_occurrence does not look at the day before `after`'s own for rules whose nudges
# stay inside their day; these nights are where that would first go wrong.
MIDNIGHT_ZONES = ["America/Havana", "America/Santiago", "Asia/Beirut", "America/Asuncion"]


def _transitions(zone: ZoneInfo, year: int) -> list[datetime]:
    at, end, found = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC), []
    offset = at.astimezone(zone).utcoffset()
    while at < end:
        at += timedelta(minutes=30)
        if at.astimezone(zone).utcoffset() != offset:
            found.append(at)
            offset = at.astimezone(zone).utcoffset()
    return found


@pytest.mark.parametrize("zone_name", MIDNIGHT_ZONES)
def test_next_occurrence_around_a_midnight_clock_change(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    rules: list[Rule] = [
        AtRule((time(0, 0), time(0, 30), time(23, 30))),
        AtRule((time(23, 59),)),
        cron.parse("*/20 0 * * *"),
        cron.parse("30 23 * * *"),
        EveryRule(timedelta(minutes=20), Window(time(23, 0), time(1, 0))),
    ]
    transitions = _transitions(zone, 2024)
    assert transitions, f"{zone_name} changed its clocks in 2024"
    for rule in rules:
        p = Practice(id="p", title="P", messages=("m",), rule=rule)
        for change in transitions:
            for minutes in range(-150, 151, 10):
                after = change + timedelta(minutes=minutes)
                first = occurrences(p, after + timedelta(microseconds=1),
                                    after + timedelta(days=3), zone, "seed")[0]
                nxt = next_occurrence(p, after, zone, "seed")
                assert nxt is not None
                assert (nxt.astimezone(UTC), nxt.utcoffset()) == (
                    first.astimezone(UTC), first.utcoffset()), (rule, after)


@pytest.mark.parametrize(("day", "walls", "gaps"), [
    # Spring: 01:30 CET to 03:00 CEST is 30 minutes of elapsed time.
    (date(2026, 3, 29), "00:00+01:00 01:30+01:00 03:00+02:00 04:30+02:00", [90, 30, 90]),
    # Autumn: 01:30 CEST to 03:00 CET is two and a half hours; 02:xx's second pass
    # (CET) is not a step of its own.
    (date(2026, 10, 25), "00:00+02:00 01:30+02:00 03:00+01:00 04:30+01:00", [90, 150, 90]),
])
def test_every_steps_by_clock_time_not_elapsed_time(day: date, walls: str,
                                                     gaps: list[int]) -> None:
    """The README's rule: `every` counts wall-clock steps from the window's start each
    day, so the nudges come at the same clock times on a DST night as on any other,
    and the elapsed time between two of them is the interval plus or minus the hour."""
    zone = ZoneInfo("Europe/Berlin")
    p = practice(EveryRule(timedelta(minutes=90), Window(time(0), time(6))))
    start = datetime.combine(day, time(0), zone)
    got = occurrences(p, start, start + timedelta(hours=7), zone, "seed")
    assert key(got) == key(parse(day, walls))
    assert [int((b - a).total_seconds() // 60) for a, b in itertools.pairwise(
        [t.astimezone(UTC) for t in got])] == gaps
