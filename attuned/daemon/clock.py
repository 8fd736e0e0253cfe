"""The wall clock the daemon and CLI read.

Real time, plus an offset that stays 0 in normal use. Tests cannot suspend the machine,
so a FAKE suspend moves this offset forward (the wall clock jumps while the monotonic
clock does not, which is what a process sees after a real suspend). The offset can only
be changed in a daemon started with ATTUNED_FAKE_CLOCK=1.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, tzinfo

_offset = timedelta(0)


def fake_clock_allowed() -> bool:
    return os.environ.get("ATTUNED_FAKE_CLOCK") == "1"


def now(tz: tzinfo | None = UTC) -> datetime:
    return datetime.now(tz) + _offset


def advance(seconds: float) -> None:
    """FAKE: move the wall clock forward (tests only)."""
    global _offset
    if not fake_clock_allowed():
        raise RuntimeError("the clock can only be moved in a daemon started for tests")
    _offset += timedelta(seconds=seconds)


def offset_seconds() -> float:
    return _offset.total_seconds()


class OffsetDatetime(datetime):
    """A `datetime` whose now() follows this module's clock; patched into APScheduler
    only when the fake clock is allowed, so its waits agree with ours."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> OffsetDatetime:
        real = datetime.now(tz) + _offset
        return cls.fromtimestamp(real.timestamp(), tz)
