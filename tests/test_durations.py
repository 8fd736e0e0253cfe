from datetime import time, timedelta

import pytest

from attuned.core.durations import format_duration, parse_clock, parse_duration, parse_window
from attuned.core.model import Window


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10m", timedelta(minutes=10)), ("1h30m", timedelta(minutes=90)), ("2h", timedelta(hours=2)),
     ("45s", timedelta(seconds=45)), ("1d", timedelta(days=1)), ("1w", timedelta(weeks=1))],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "10", "m", "10x", "0m", "1h 3", "-5m"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_clock() -> None:
    assert parse_clock("07:30") == time(7, 30)
    with pytest.raises(ValueError, match=r'"25:00" is not a time of day; hours go 00-23'):
        parse_clock("25:00")
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("7.30")


def test_windows() -> None:
    night = parse_window("22:30-07:00")
    assert night.crosses_midnight and night.length == timedelta(hours=8, minutes=30)
    assert night.contains(time(23)) and night.contains(time(6, 59)) and not night.contains(time(7))
    evening = parse_window("17:00-22:00")
    assert evening.contains(time(17)) and not evening.contains(time(22))
    assert parse_window("09:00-24:00") == Window(time(9), time(0))
    assert parse_window("00:00-24:00").length == timedelta(hours=24)
    with pytest.raises(ValueError, match="empty window"):
        parse_window("10:00-10:00")
