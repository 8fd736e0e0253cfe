"""The presence model: which states are away, the words `status` and `doctor` print, and
the fixed source the daemon falls back to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from attuned.core.presence import (
    AT_SCREEN,
    NO_DESKTOP,
    FixedPresence,
    Presence,
    PresenceSource,
    PresenceState,
    describe,
)

NOW = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "away"),
    [
        (PresenceState.AT_SCREEN, False),
        (PresenceState.LOCKED, True),
        (PresenceState.IDLE, True),
        (PresenceState.NO_DESKTOP, True),
    ],
)
def test_away_is_every_state_but_at_the_screen(state: PresenceState, away: bool) -> None:
    assert Presence(state, NOW).away is away


@pytest.mark.parametrize(
    ("presence", "words"),
    [
        (AT_SCREEN, "at the screen"),
        (Presence(PresenceState.AT_SCREEN, NOW - timedelta(hours=1)), "at the screen"),
        (NO_DESKTOP, "no desktop"),
        (Presence(PresenceState.LOCKED, datetime(2026, 12, 1, 14, 2, 59, tzinfo=UTC)),
         "locked since 14:02"),
        (Presence(PresenceState.LOCKED, datetime(2026, 11, 30, 23, 5, tzinfo=UTC)),
         "locked since Mon 30 Nov 23:05"),
        (Presence(PresenceState.LOCKED), "locked"),
        (Presence(PresenceState.IDLE, NOW - timedelta(minutes=12, seconds=40)), "idle 12 min"),
        (Presence(PresenceState.IDLE, NOW - timedelta(seconds=20)), "idle 0 min"),
        (Presence(PresenceState.IDLE, NOW - timedelta(hours=2)), "idle 2 h"),
        (Presence(PresenceState.IDLE, NOW - timedelta(hours=1, minutes=5)), "idle 1 h 5 min"),
        (Presence(PresenceState.IDLE, NOW + timedelta(minutes=3)), "idle 0 min"),
        (Presence(PresenceState.IDLE), "idle"),
    ],
)
def test_words(presence: Presence, words: str) -> None:
    assert describe(presence, NOW) == words


def test_clock_times_are_in_the_zone_of_now() -> None:
    berlin_now = NOW.astimezone(timezone(timedelta(hours=1)))
    locked = Presence(PresenceState.LOCKED, datetime(2026, 12, 1, 13, 2, tzinfo=UTC))
    assert describe(locked, berlin_now) == "locked since 14:02"


def test_presence_is_frozen() -> None:
    with pytest.raises(AttributeError):
        AT_SCREEN.state = PresenceState.IDLE  # type: ignore[misc]


def test_fixed_source_tells_subscribers_of_changes_only_until_unsubscribed() -> None:
    source = FixedPresence()
    as_protocol: PresenceSource = source
    seen: list[Presence] = []
    stop = as_protocol.subscribe(seen.append)
    assert as_protocol.current() == AT_SCREEN
    locked = Presence(PresenceState.LOCKED, NOW)
    source.set(locked)
    source.set(locked)  # the same belief again is no change
    assert seen == [locked]
    stop()
    stop()  # twice is harmless
    source.set(AT_SCREEN)
    assert seen == [locked]
    assert source.current() == AT_SCREEN
