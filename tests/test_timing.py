"""The timing core on ordinary days (DST nights: test_timing_dst.py), plus the two tiny
I/O edges it needs: the schedule's zone and the per-user seed.

Schedules are built from model objects directly, so these tests do not depend on the
TOML reader. Expected nudges are written out by hand.
"""

from __future__ import annotations

import itertools
import os
import stat
import time as systime
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from attuned.config import zones
from attuned.core.model import (
    ALL_DAYS,
    AtRule,
    CronRule,
    EveryRule,
    Occurrence,
    OnceRule,
    Practice,
    RandomRule,
    Rule,
    Schedule,
    Settings,
    Window,
)
from attuned.core.timing import (
    describe_days,
    describe_rule,
    in_quiet_hours,
    next_n,
    next_occurrence,
    occurrences,
    pick_message,
    upcoming,
)
from attuned.state import seed as seed_mod

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = frozenset(range(5))
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def cron(expr: str, minutes: set[int], hours: set[int], dom: set[int] | None = None,
         months: set[int] | None = None, weekdays: set[int] | None = None) -> CronRule:
    """A CronRule built by hand (weekdays in Python numbering); a field left None is `*`."""
    return CronRule(
        expr=expr,
        minutes=frozenset(minutes),
        hours=frozenset(hours),
        days_of_month=frozenset(dom if dom is not None else range(1, 32)),
        months=frozenset(months if months is not None else range(1, 13)),
        weekdays=frozenset(weekdays if weekdays is not None else range(7)),
        dom_restricted=dom is not None,
        dow_restricted=weekdays is not None,
    )


def practice(pid: str, rule: Rule, **kw: Any) -> Practice:
    return Practice(id=pid, title=pid.title(), messages=(f"{pid} message",), rule=rule, **kw)


def b(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A Berlin wall time (only used for times that exist once)."""
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


def window(a: str, z: str) -> Window:
    return Window(time.fromisoformat(a), time.fromisoformat(z))


# --- a week, pinned by hand -------------------------------------------------------------

WEEK_SCHEDULE = Schedule(
    practices=(
        practice("breakfast", AtRule((time(7, 30),), WEEKDAYS),
                 start=date(2026, 12, 1), until=date(2026, 12, 10)),
        practice("full-attention", EveryRule(timedelta(hours=4), window("09:00", "21:00"),
                                             frozenset({SAT, SUN}))),
        practice("look-up", RandomRule(2, window("17:00", "22:00"), timedelta(minutes=60),
                                       frozenset({FRI}))),
        practice("requests-list", cron("0 19 * * sun", {0}, {19}, weekdays={SUN})),
        # Both day fields restricted: standard cron fires on the 1st/10th OR on Mondays.
        practice("month-check", cron("30 8 1,10 * mon", {30}, {8}, dom={1, 10},
                                     weekdays={MON})),
        practice("date-night", OnceRule(datetime(2026, 12, 12, 18, 0))),
        # A window crossing midnight belongs to Saturday; quiet hours take 01:00 away.
        practice("night-owl", EveryRule(timedelta(hours=1), window("22:00", "02:00"),
                                        frozenset({SAT})),
                 quiet_hours=window("00:30", "07:00")),
        # Quiet hours across midnight remove 00:00, 03:00 and 06:00.
        practice("hydrate", EveryRule(timedelta(hours=3), days=frozenset({WED})),
                 quiet_hours=window("22:30", "07:00")),
        practice("paused", AtRule((time(12, 0),)), enabled=False),
    )
)


def test_a_week_of_a_mixed_schedule_gives_exactly_the_nudges_written_by_hand() -> None:
    got = upcoming(WEEK_SCHEDULE, b(2026, 12, 7), b(2026, 12, 14), BERLIN, "week-seed")
    expected = [
        Occurrence(b(2026, 12, 7, 7, 30), "breakfast"),     # Mon
        Occurrence(b(2026, 12, 7, 8, 30), "month-check"),   # Mon: a Monday
        Occurrence(b(2026, 12, 8, 7, 30), "breakfast"),     # Tue
        Occurrence(b(2026, 12, 9, 7, 30), "breakfast"),     # Wed
        Occurrence(b(2026, 12, 9, 9, 0), "hydrate"),
        Occurrence(b(2026, 12, 9, 12, 0), "hydrate"),
        Occurrence(b(2026, 12, 9, 15, 0), "hydrate"),
        Occurrence(b(2026, 12, 9, 18, 0), "hydrate"),
        Occurrence(b(2026, 12, 9, 21, 0), "hydrate"),
        Occurrence(b(2026, 12, 10, 7, 30), "breakfast"),    # Thu: last day of its period
        Occurrence(b(2026, 12, 10, 8, 30), "month-check"),  # Thu: the 10th
        # Fri: the seed's two draws for look-up, pinned (inside 17:00-22:00, 98 min
        # apart >= 60): a change here would move every user's random nudges.
        Occurrence(b(2026, 12, 11, 18, 58), "look-up"),
        Occurrence(b(2026, 12, 11, 20, 36), "look-up"),
        Occurrence(b(2026, 12, 12, 9, 0), "full-attention"),  # Sat
        Occurrence(b(2026, 12, 12, 13, 0), "full-attention"),
        Occurrence(b(2026, 12, 12, 17, 0), "full-attention"),
        Occurrence(b(2026, 12, 12, 18, 0), "date-night"),
        Occurrence(b(2026, 12, 12, 22, 0), "night-owl"),
        Occurrence(b(2026, 12, 12, 23, 0), "night-owl"),
        Occurrence(b(2026, 12, 13, 0, 0), "night-owl"),     # Sun, still Saturday's window
        Occurrence(b(2026, 12, 13, 9, 0), "full-attention"),
        Occurrence(b(2026, 12, 13, 13, 0), "full-attention"),
        Occurrence(b(2026, 12, 13, 17, 0), "full-attention"),
        Occurrence(b(2026, 12, 13, 19, 0), "requests-list"),
    ]
    assert got == expected
    assert all(o.at.tzinfo is BERLIN for o in got)


def test_next_n_walks_the_same_week_in_order() -> None:
    got = next_n(WEEK_SCHEDULE, b(2026, 12, 10, 7, 30), 4, BERLIN, "week-seed")
    assert got == [
        Occurrence(b(2026, 12, 10, 8, 30), "month-check"),
        Occurrence(b(2026, 12, 11, 18, 58), "look-up"),
        Occurrence(b(2026, 12, 11, 20, 36), "look-up"),
        Occurrence(b(2026, 12, 12, 9, 0), "full-attention"),
    ]


def test_ties_are_ordered_by_practice_id() -> None:
    sched = Schedule(practices=(practice("zz", AtRule((time(9),))),
                                practice("aa", AtRule((time(9),)))))
    assert [o.practice_id for o in upcoming(sched, b(2026, 5, 1), b(2026, 5, 2), BERLIN,
                                            "s")] == ["aa", "zz"]
    assert [o.practice_id for o in next_n(sched, b(2026, 5, 1), 3, BERLIN, "s")] == [
        "aa", "zz", "aa"]


def test_the_range_holds_its_start_but_not_its_end() -> None:
    p = practice("p", AtRule((time(9),)))
    assert occurrences(p, b(2026, 5, 1, 9), b(2026, 5, 2, 9), BERLIN, "s") == [b(2026, 5, 1, 9)]
    # Ranges may be given in any zone: the instants count, not the wall clock.
    start_utc = b(2026, 5, 1, 9).astimezone(UTC)
    assert occurrences(p, start_utc, start_utc + timedelta(days=1), BERLIN, "s") == [
        b(2026, 5, 1, 9)]


def test_naive_datetimes_are_refused() -> None:
    p = practice("p", AtRule((time(9),)))
    with pytest.raises(ValueError, match="expected an aware datetime"):
        occurrences(p, datetime(2026, 5, 1), b(2026, 5, 2), BERLIN, "s")


def test_a_disabled_practice_never_nudges() -> None:
    p = practice("p", AtRule((time(9),)), enabled=False)
    assert occurrences(p, b(2026, 5, 1), b(2026, 6, 1), BERLIN, "s") == []
    assert next_occurrence(p, b(2026, 5, 1), BERLIN, "s") is None


def test_at_with_several_times_nudges_at_each_once() -> None:
    p = practice("p", AtRule((time(12), time(7, 30), time(12))))
    assert occurrences(p, b(2026, 5, 1), b(2026, 5, 2), BERLIN, "s") == [
        b(2026, 5, 1, 7, 30), b(2026, 5, 1, 12)]


# --- quiet hours ------------------------------------------------------------------------


@pytest.mark.parametrize(("hhmm", "quiet"), [
    ("22:29", False), ("22:30", True), ("23:59", True), ("00:00", True), ("06:59", True),
    ("07:00", False), ("12:00", False),
])
def test_quiet_hours_cross_midnight_and_end_before_their_end(hhmm: str, quiet: bool) -> None:
    at = datetime.combine(date(2026, 5, 1), time.fromisoformat(hhmm), BERLIN)
    assert in_quiet_hours(window("22:30", "07:00"), at) is quiet


def test_no_quiet_hours_means_never_quiet() -> None:
    assert in_quiet_hours(None, b(2026, 5, 1, 3)) is False


def test_quiet_hours_remove_the_nudges_inside_them_and_keep_the_rest() -> None:
    p = practice("p", EveryRule(timedelta(minutes=30)), quiet_hours=window("22:30", "07:00"))
    got = occurrences(p, b(2026, 5, 1), b(2026, 5, 2), BERLIN, "s")
    assert got[0] == b(2026, 5, 1, 7, 0)
    assert got[-1] == b(2026, 5, 1, 22, 0)
    assert len(got) == 31  # 07:00 .. 22:00 every half hour


# --- periods and days -------------------------------------------------------------------


def test_a_period_includes_both_its_first_and_last_day() -> None:
    p = practice("p", AtRule((time(9),)), start=date(2026, 5, 3), until=date(2026, 5, 5))
    assert occurrences(p, b(2026, 5, 1), b(2026, 5, 9), BERLIN, "s") == [
        b(2026, 5, 3, 9), b(2026, 5, 4, 9), b(2026, 5, 5, 9)]
    assert next_occurrence(p, b(2026, 5, 5, 9), BERLIN, "s") is None
    assert next_occurrence(p, b(2026, 4, 1), BERLIN, "s") == b(2026, 5, 3, 9)


def test_a_window_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    # Friday-only, until Friday 2026-05-08: the nudges after midnight are Friday's too.
    p = practice("p", EveryRule(timedelta(hours=1), window("23:00", "01:00"), frozenset({FRI})),
                 until=date(2026, 5, 8))
    assert occurrences(p, b(2026, 5, 1), b(2026, 5, 20), BERLIN, "s") == [
        b(2026, 5, 1, 23), b(2026, 5, 2, 0), b(2026, 5, 8, 23), b(2026, 5, 9, 0)]


def test_cron_and_once_use_the_local_date_of_the_nudge_for_the_period() -> None:
    c = practice("c", cron("0 9 * * *", {0}, {9}), start=date(2026, 5, 2),
                 until=date(2026, 5, 3))
    assert occurrences(c, b(2026, 5, 1), b(2026, 5, 9), BERLIN, "s") == [
        b(2026, 5, 2, 9), b(2026, 5, 3, 9)]
    inside = practice("o", OnceRule(datetime(2026, 5, 3, 20)), until=date(2026, 5, 3))
    outside = practice("o", OnceRule(datetime(2026, 5, 4, 20)), until=date(2026, 5, 3))
    assert occurrences(inside, b(2026, 5, 1), b(2026, 6, 1), BERLIN, "s") == [b(2026, 5, 3, 20)]
    assert occurrences(outside, b(2026, 5, 1), b(2026, 6, 1), BERLIN, "s") == []


def test_a_cron_with_both_day_fields_fires_when_either_matches() -> None:
    # "0 9 1 * mon", June-July 2026: the 1st of each month and every Monday (as cron
    # does; APScheduler would want a Monday that is also the 1st).
    p = practice("p", cron("0 9 1 * mon", {0}, {9}, dom={1}, weekdays={MON}))
    days = [t.date() for t in occurrences(p, b(2026, 6, 1), b(2026, 7, 8), BERLIN, "s")]
    assert days == [date(2026, 6, d) for d in (1, 8, 15, 22, 29)] + [
        date(2026, 7, 1), date(2026, 7, 6)]


def test_a_cron_with_one_day_field_restricted_needs_both_to_match() -> None:
    only_dom = practice("p", cron("0 9 1 * *", {0}, {9}, dom={1}))
    assert [t.date() for t in occurrences(only_dom, b(2026, 6, 1), b(2026, 8, 2), BERLIN,
                                          "s")] == [date(2026, 6, 1), date(2026, 7, 1),
                                                    date(2026, 8, 1)]
    # A day-of-month field not flagged as restricted (vixie cron's "*/2") ANDs with dow.
    odd_mondays = CronRule("0 9 */2 * mon", frozenset({0}), frozenset({9}),
                           frozenset(range(1, 32, 2)), frozenset(range(1, 13)),
                           frozenset({MON}), dom_restricted=False, dow_restricted=True)
    days = [t.date() for t in occurrences(practice("p", odd_mondays), b(2026, 6, 1),
                                          b(2026, 7, 1), BERLIN, "s")]
    assert days == [date(2026, 6, 1), date(2026, 6, 15), date(2026, 6, 29)]


def test_every_counts_from_the_window_start_and_stops_before_its_end() -> None:
    p = practice("p", EveryRule(timedelta(minutes=90), window("09:00", "21:00")))
    got = occurrences(p, b(2026, 5, 1), b(2026, 5, 2), BERLIN, "s")
    assert [f"{t:%H:%M}" for t in got] == ["09:00", "10:30", "12:00", "13:30", "15:00",
                                            "16:30", "18:00", "19:30"]


def test_once_nudges_at_its_moment_and_then_never_again() -> None:
    p = practice("p", OnceRule(datetime(2026, 12, 12, 18, 0)))
    assert occurrences(p, b(2026, 1, 1), b(2027, 1, 1), BERLIN, "s") == [b(2026, 12, 12, 18)]
    assert next_occurrence(p, b(2026, 12, 12, 17, 59), BERLIN, "s") == b(2026, 12, 12, 18)
    assert next_occurrence(p, b(2026, 12, 12, 18), BERLIN, "s") is None
    quiet = practice("p", OnceRule(datetime(2026, 12, 12, 23, 0)),
                     quiet_hours=window("22:30", "07:00"))
    assert occurrences(quiet, b(2026, 1, 1), b(2027, 1, 1), BERLIN, "s") == []


# --- next_occurrence --------------------------------------------------------------------


def test_next_occurrence_is_strictly_after() -> None:
    p = practice("p", AtRule((time(7, 30),)))
    assert next_occurrence(p, b(2026, 5, 1, 7, 29), BERLIN, "s") == b(2026, 5, 1, 7, 30)
    assert next_occurrence(p, b(2026, 5, 1, 7, 30), BERLIN, "s") == b(2026, 5, 2, 7, 30)


def test_next_occurrence_finds_a_29_february_cron_two_years_ahead() -> None:
    p = practice("p", cron("0 12 29 2 *", {0}, {12}, dom={29}, months={2}))
    assert next_occurrence(p, b(2026, 3, 1), BERLIN, "s") == b(2028, 2, 29, 12)


def test_next_occurrence_finds_a_29_february_four_years_ahead() -> None:
    p = practice("p", cron("0 12 29 2 *", {0}, {12}, dom={29}, months={2}))
    assert next_occurrence(p, b(2028, 2, 29, 12), BERLIN, "s") == b(2032, 2, 29, 12)


def test_next_occurrence_gives_up_on_a_cron_that_never_matches() -> None:
    p = practice("p", cron("0 12 31 2 *", {0}, {12}, dom={31}, months={2}))
    assert next_occurrence(p, b(2026, 3, 1), BERLIN, "s") is None


def test_next_occurrence_for_ten_thousand_practices_fits_the_start_up_budget() -> None:
    rules: list[Rule] = [
        AtRule((time(7, 30),), WEEKDAYS),
        EveryRule(timedelta(minutes=90), window("09:00", "21:00")),
        RandomRule(3, window("17:00", "22:00")),
        cron("0 19 * * sun", {0}, {19}, weekdays={SUN}),
        cron("*/15 9-17 * * mon-fri", set(range(0, 60, 15)), set(range(9, 18)),
             weekdays=set(WEEKDAYS)),
        OnceRule(datetime(2027, 1, 1, 12)),
    ]
    ps = [practice(f"p{i}", rules[i % len(rules)], quiet_hours=window("22:30", "07:00"))
          for i in range(10_000)]
    now = b(2026, 3, 28, 23, 59)  # the eve of a DST night, for good measure
    # CPU time of this process, so a busy machine (pytest -n auto) does not fail it.
    t0 = systime.process_time()
    found = [next_occurrence(p, now, BERLIN, "seed") for p in ps]
    elapsed = systime.process_time() - t0
    assert all(f is not None for f in found)
    assert elapsed < 2.0, f"10,000 next_occurrence calls took {elapsed:.2f} s of CPU"


# --- random -----------------------------------------------------------------------------

LOOK_UP = practice("look-up", RandomRule(3, window("17:00", "22:00"), timedelta(minutes=45)))
MONTH = (b(2026, 5, 1), b(2026, 7, 1))


def _by_day(ts: list[datetime]) -> dict[date, list[datetime]]:
    out: dict[date, list[datetime]] = {}
    for t in ts:
        out.setdefault(t.date(), []).append(t)
    return out


def test_random_is_reproducible_from_the_seed() -> None:
    a = occurrences(LOOK_UP, *MONTH, BERLIN, "seed-a")
    assert a == occurrences(LOOK_UP, *MONTH, BERLIN, "seed-a")
    assert a != occurrences(LOOK_UP, *MONTH, BERLIN, "seed-b")
    # A day's draw does not depend on the range asked for (CLI and daemon agree).
    day = occurrences(LOOK_UP, b(2026, 5, 17, 20), b(2026, 5, 18), BERLIN, "seed-a")
    assert day == [t for t in a if b(2026, 5, 17, 20) <= t < b(2026, 5, 18)]


def test_random_keeps_its_count_window_and_gap_and_spreads_over_the_window() -> None:
    got = occurrences(LOOK_UP, *MONTH, BERLIN, "seed-a")
    days = _by_day(got)
    assert len(days) == 61
    for ts in days.values():
        assert len(ts) == 3
        assert all(time(17) <= t.time() < time(22) for t in ts)
        assert all(t.second == 0 and t.microsecond == 0 for t in ts)
        assert all(y - x >= timedelta(minutes=45) for x, y in itertools.pairwise(ts))
    firsts = {ts[0].time() for ts in days.values()}
    lasts = {ts[-1].time() for ts in days.values()}
    assert len(firsts) > 20  # not always the window's start
    assert min(firsts) < time(17, 30) and max(lasts) > time(21, 30)
    # Times differ from day to day.
    assert len({tuple(t.time() for t in ts) for ts in days.values()}) == 61


def test_random_in_a_window_crossing_midnight_stays_inside_it() -> None:
    p = practice("p", RandomRule(2, window("23:00", "01:00"), timedelta(minutes=60)))
    # From noon to noon: the windows of 1 May ... 30 June, whole.
    got = occurrences(p, b(2026, 5, 1, 12), b(2026, 7, 1, 12), BERLIN, "s")
    assert len(got) == 2 * 61
    for t in got:
        assert t.time() >= time(23) or t.time() < time(1)
    assert sum(t.time() < time(1) for t in got) > 5  # some fall after midnight


def test_random_fills_a_window_that_fits_exactly() -> None:
    # 3 moments 30 min apart in 17:00-18:01 leave no choice.
    p = practice("p", RandomRule(3, window("17:00", "18:01"), timedelta(minutes=30)))
    got = occurrences(p, b(2026, 5, 1), b(2026, 5, 2), BERLIN, "s")
    assert got == [b(2026, 5, 1, 17), b(2026, 5, 1, 17, 30), b(2026, 5, 1, 18)]


# --- messages ---------------------------------------------------------------------------


def test_a_daily_nudge_shows_every_variant_before_repeating_one() -> None:
    p = Practice("p", "P", ("one", "two", "three"), AtRule((time(7, 30),)))
    picks = [pick_message(p, b(2026, 5, d, 7, 30), "s") for d in range(1, 10)]
    for i in range(0, 9, 3):
        assert sorted(picks[i:i + 3]) == ["one", "three", "two"]
    assert all(x != y for x, y in itertools.pairwise(picks))
    assert picks == [pick_message(p, b(2026, 5, d, 7, 30), "s") for d in range(1, 10)]


def test_a_single_message_is_always_that_message() -> None:
    p = Practice("p", "P", ("only",), AtRule((time(7, 30),)))
    assert {pick_message(p, b(2026, 5, d, 7, 30), "s") for d in range(1, 8)} == {"only"}


# --- plain words ------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "words"), [
    (AtRule((time(7, 30),), WEEKDAYS), "weekdays at 07:30"),
    (AtRule((time(12), time(7, 30))), "every day at 07:30 and 12:00"),
    (AtRule((time(9), time(13), time(18)), frozenset({SAT, SUN})),
     "weekends at 09:00, 13:00 and 18:00"),
    (AtRule((time(19),), frozenset({SUN})), "Sundays at 19:00"),
    (RandomRule(3, window("17:00", "22:00")), "3 times between 17:00 and 22:00"),
    (RandomRule(1, window("17:00", "22:00"), days=WEEKDAYS),
     "at a random moment between 17:00 and 22:00 on weekdays"),
    (RandomRule(2, Window(time(0), time(0)), timedelta(hours=2)),
     "2 times a day, at least 2h apart"),
    (EveryRule(timedelta(minutes=90), window("09:00", "21:00")),
     "every 1h30m between 09:00 and 21:00"),
    (EveryRule(timedelta(hours=2)), "every 2h all day"),
    (EveryRule(timedelta(hours=1), window("21:00", "00:00"), frozenset({MON, WED, THU, FRI})),
     "every 1h between 21:00 and midnight on Mon, Wed-Fri"),
    (cron("0 19 * * sun", {0}, {19}, weekdays={SUN}), "cron 0 19 * * sun (Sundays at 19:00)"),
    (cron("30 7 * * *", {30}, {7}), "cron 30 7 * * * (every day at 07:30)"),
    (cron("0 9 1 * mon", {0}, {9}, dom={1}, weekdays={MON}), "cron 0 9 1 * mon"),
    (cron("*/5 * * * *", set(range(0, 60, 5)), set(range(24))), "cron */5 * * * *"),
    (OnceRule(datetime(2026, 12, 12, 18, 0)), "once on Sat 12 Dec 2026 at 18:00"),
])
def test_rules_are_described_in_plain_words(rule: Rule, words: str) -> None:
    assert describe_rule(practice("p", rule)) == words


@pytest.mark.parametrize(("days", "words"), [
    (ALL_DAYS, "every day"), (WEEKDAYS, "weekdays"), (frozenset({SAT, SUN}), "weekends"),
    (frozenset({MON, WED, THU, FRI}), "Mon, Wed-Fri"), (frozenset({MON, TUE}), "Mon, Tue"),
    (frozenset({TUE}), "Tuesdays"), (frozenset(), "no day"),
])
def test_days_are_described_in_plain_words(days: frozenset[int], words: str) -> None:
    assert describe_days(days) == words


# --- the zone (I/O edge) ----------------------------------------------------------------


@pytest.fixture
def tzlocal_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """system_zone() refreshes tzlocal's process-wide cache; put it back afterwards so a
    zone set by one test does not leak into the next test of this worker."""
    import tzlocal.unix

    for name in ("_cache_tz", "_cache_tz_name"):
        monkeypatch.setattr(tzlocal.unix, name, getattr(tzlocal.unix, name))


def test_the_system_zone_follows_tz_even_after_it_changes(
        monkeypatch: pytest.MonkeyPatch, tzlocal_cache: None) -> None:
    import tzlocal

    monkeypatch.setenv("TZ", "Australia/Sydney")
    assert zones.system_zone() == ZoneInfo("Australia/Sydney")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    # Library fact (tzlocal 5.4): get_localzone_name() caches the first answer for the
    # life of the process, so a daemon would keep a zone the user has left ...
    assert tzlocal.get_localzone_name() == "Australia/Sydney"
    # ... system_zone() reloads, so it does not.
    assert zones.system_zone() == ZoneInfo("Asia/Tokyo")


def test_the_system_zone_falls_back_to_etc_timezone_then_utc(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tzlocal_cache: None) -> None:
    import tzlocal

    def broken() -> str:
        raise LookupError("no zone here")

    monkeypatch.setattr(tzlocal, "get_localzone_name", broken)
    etc = tmp_path / "timezone"
    etc.write_text("America/New_York\n")
    monkeypatch.setattr(zones, "ETC_TIMEZONE", etc)
    assert zones.system_zone() == ZoneInfo("America/New_York")
    etc.write_text("Not/AZone\n")
    assert zones.system_zone() == ZoneInfo("UTC")
    etc.unlink()
    assert zones.system_zone() == ZoneInfo("UTC")


def test_the_schedule_zone_is_the_settings_zone_or_the_systems(
        monkeypatch: pytest.MonkeyPatch, tzlocal_cache: None) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    assert zones.schedule_zone(Settings(timezone="Europe/Berlin")) == BERLIN
    assert zones.schedule_zone(Settings()) == ZoneInfo("America/New_York")


def test_an_unknown_schedule_zone_is_a_kind_error() -> None:
    with pytest.raises(zones.UnknownTimeZone) as err:
        zones.schedule_zone(Settings(timezone="Europe/Berln"))
    assert str(err.value) == (
        '[settings] timezone: "Europe/Berln" is not a time zone this machine knows; use a '
        'name like "Europe/Berlin" (list them with `timedatectl list-timezones`) or remove '
        "the line to use the system's zone"
    )


# --- the seed (I/O edge) ----------------------------------------------------------------


def test_the_seed_is_created_private_and_then_kept(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deeper" / "seed"
    first = seed_mod.load_seed(path)
    assert len(first) == 32 and int(first, 16) >= 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert seed_mod.load_seed(path) == first
    assert os.listdir(path.parent) == ["seed"]  # no temp files left behind
    assert seed_mod.load_seed(tmp_path / "other") != first


@pytest.mark.parametrize("content", [b"", b"\n", b"not hex at all\n", b"\xff\xfe\x00"])
def test_a_corrupt_seed_is_moved_aside_never_deleted(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "seed"
    path.write_bytes(content)
    new = seed_mod.load_seed(path)
    assert len(new) == 32
    assert (tmp_path / "seed.corrupt").read_bytes() == content
    path.write_bytes(b"still broken")
    seed_mod.load_seed(path)
    assert (tmp_path / "seed.corrupt").read_bytes() == content
    assert (tmp_path / "seed.corrupt.1").read_bytes() == b"still broken"


def test_an_unreadable_seed_is_a_kind_error(tmp_path: Path) -> None:
    path = tmp_path / "seed"
    path.mkdir()
    with pytest.raises(seed_mod.SeedError) as err:
        seed_mod.load_seed(path)
    assert str(err.value) == (
        f"cannot read the random seed {path}: Is a directory; check its permissions"
    )
    assert path.is_dir()  # left as it was
