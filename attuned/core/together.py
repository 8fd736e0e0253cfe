"""Together mode's switch: `attuned together on | off | until 22:00`, as words turned into
a TogetherState (attuned.core.model). Pure: `now` and the zone are passed in; the state
is kept by the store (attuned.state.store)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from attuned.core.durations import parse_clock
from attuned.core.model import TogetherState
from attuned.errors import AttunedError


class TogetherError(AttunedError):
    pass


def switch(word: str, until_text: str | None, now: datetime, zone: ZoneInfo) -> TogetherState:
    """"on", "off", or "until" with a clock time (the next time it is that o'clock)."""
    if word == "on":
        return TogetherState(True, None)
    if word == "off":
        return TogetherState(False, None)
    if word == "until":
        if not until_text:
            raise TogetherError('say until when, like: attuned together until 22:00')
        try:
            t = parse_clock(until_text)
        except ValueError as e:
            raise TogetherError(str(e)) from None
        local = now.astimezone(zone)
        end = local.replace(hour=t.hour, minute=t.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return TogetherState(True, end)
    raise TogetherError(f'"{word}" is not a together switch; say on, off, or until HH:MM')
