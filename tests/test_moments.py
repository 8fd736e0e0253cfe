from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from attuned.core.moments import parse_moment

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
