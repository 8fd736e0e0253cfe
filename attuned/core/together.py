"""Together mode's switch: `attuned together on | off | until 22:00`, as words turned into
a TogetherState (attuned.core.model). Pure: `now` and the zone are passed in; the state
is kept by the store (attuned.state.store)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from attuned.core.model import TogetherState
from attuned.core.moments import parse_moment
from attuned.errors import AttunedError


class TogetherError(AttunedError):
    pass


def switch(word: str, until_text: str | None, now: datetime, zone: ZoneInfo) -> TogetherState:
    """"on", "off", or "until" a moment ahead (a clock time is the next time it is that
    o'clock)."""
    if word == "on":
        return TogetherState(True, None)
    if word == "off":
        return TogetherState(False, None)
    if word == "until":
        if not until_text:
            raise TogetherError('say until when, like: attuned together until 22:00')
        # The moments of every option ("22:00": the next time it is that o'clock, "+2h",
        # "2026-12-01 22:00"), ahead of now.
        try:
            end = parse_moment(until_text, now=now, zone=zone)
        except ValueError as e:
            raise TogetherError(str(e)) from None
        if end <= now:
            raise TogetherError(f'"{until_text}" is already past; say a moment ahead, like: '
                                "attuned together until +2h")
        return TogetherState(True, end)
    raise TogetherError(f'"{word}" is not a together switch; say on, off, or until HH:MM')
