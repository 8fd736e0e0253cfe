from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from attuned.core.moments import clock_words, parse_moment, parse_since, parse_until

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # 21:00 in Berlin


@pytest.mark.parametrize(("text", "expected"), [
    ("now", datetime(2026, 11, 25, 21, 0, tzinfo=BERLIN)),
    ("today", datetime(2026, 11, 25, 0, 0, tzinfo=BERLIN)),
    ("tomorrow", datetime(2026, 11, 26, 0, 0, tzinfo=BERLIN)),
    ("2026-03-29", datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)),
    ("2026-03-29 01:00", datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN)),
    ("2026-03-29T01:00:30", datetime(2026, 3, 29, 1, 0, 30, tzinfo=BERLIN)),
    ("22:00", datetime(2026, 11, 25, 22, 0, tzinfo=BERLIN)),  # still ahead today
    ("20:00", datetime(2026, 11, 26, 20, 0, tzinfo=BERLIN)),  # passed: tomorrow
    ("+2h", datetime(2026, 11, 25, 23, 0, tzinfo=BERLIN)),
])
def test_moments_people_type(text: str, expected: datetime) -> None:
    assert parse_moment(text, now=NOW, zone=BERLIN) == expected


@pytest.mark.parametrize("text", ["someday", "2026-02-30", "25:00", "2026-03-29 01:00:61"])
def test_bad_moments_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match=f'"{text}"'):
        parse_moment(text, now=NOW, zone=BERLIN)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-03", datetime(2026, 12, 4, 0, 0, tzinfo=BERLIN)),  # the whole day
    ("today", datetime(2026, 11, 26, 0, 0, tzinfo=BERLIN)),
    ("tomorrow", datetime(2026, 11, 27, 0, 0, tzinfo=BERLIN)),
    ("2026-12-03 10:00", datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN)),  # a moment: itself
    ("+2h", datetime(2026, 11, 25, 23, 0, tzinfo=BERLIN)),
])
def test_the_end_of_a_range_includes_a_day_given_alone(text: str, expected: datetime) -> None:
    assert parse_until(text, now=NOW, zone=BERLIN) == expected


def test_a_time_in_the_spring_gap_is_the_first_moment_after_it() -> None:
    # 02:30 does not exist in Berlin on 28 March 2027: the schedule's rule, 03:00 CEST.
    got = parse_moment("2027-03-28 02:30", now=NOW, zone=BERLIN)
    assert got.isoformat() == "2027-03-28T03:00:00+02:00"
    # A doubled time (the autumn night) is the first of the two.
    got = parse_moment("2027-10-31 02:30", now=NOW, zone=BERLIN)
    assert got.isoformat() == "2027-10-31T02:30:00+02:00"


@pytest.mark.parametrize(("text", "expected"), [
    ("today", datetime(2026, 11, 25, 0, 0, tzinfo=BERLIN)),
    ("yesterday", datetime(2026, 11, 24, 0, 0, tzinfo=BERLIN)),
    ("7d", datetime(2026, 11, 18, 21, 0, tzinfo=BERLIN)),
    ("-2d", datetime(2026, 11, 23, 21, 0, tzinfo=BERLIN)),
    ("-90m", datetime(2026, 11, 25, 19, 30, tzinfo=BERLIN)),
    ("2026-11-20", datetime(2026, 11, 20, 0, 0, tzinfo=BERLIN)),
    ("2026-11-20 07:00", datetime(2026, 11, 20, 7, 0, tzinfo=BERLIN)),
    ("07:00", datetime(2026, 11, 25, 7, 0, tzinfo=BERLIN)),  # already past today
    ("22:00", datetime(2026, 11, 24, 22, 0, tzinfo=BERLIN)),  # still ahead: yesterday's
])
def test_moments_looking_back(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW, zone=BERLIN) == expected


@pytest.mark.parametrize("text", ["+2h", "tomorrow", "someday", "7x"])
def test_a_moment_looking_back_lists_the_past_forms(text: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_since(text, now=NOW, zone=BERLIN)
    assert str(e.value) == (f'"{text}" is not a moment; write "today", "yesterday", "7d" or '
                            '"-2h" (that long ago), "2026-12-01", "2026-12-01 07:00" or '
                            '"07:00"')


def test_clock_words_keep_the_seconds_an_event_has() -> None:
    assert clock_words(datetime(2026, 12, 1, 17, 7, 30)) == "17:07:30"
    assert clock_words(datetime(2026, 12, 1, 17, 7)) == "17:07"


def test_plus_and_minus_are_elapsed_time_across_a_dst_change() -> None:
    at_0130 = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # 01:30 CET, the spring night
    assert parse_moment("+2h", now=at_0130, zone=BERLIN).isoformat() == \
        "2027-03-28T04:30:00+02:00"
    at_0430 = datetime(2027, 3, 28, 2, 30, tzinfo=UTC)  # 04:30 CEST
    assert parse_since("-2h", now=at_0430, zone=BERLIN).isoformat() == \
        "2027-03-28T01:30:00+01:00"
