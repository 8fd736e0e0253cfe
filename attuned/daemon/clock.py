"""The system's clocks: `SystemClock`, the daemon's one clock (the `Clock` of
attuned.core.clock), on the running event loop's timers; `now()` for the CLI, which is
not a daemon; the fingerprint of the local zone setting."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from attuned.core.clock import Reading, Timer

LOCALTIME = "/etc/localtime"
TIMEZONE_FILE = "/etc/timezone"


def now() -> datetime:
    """The wall clock, aware, in UTC (for the CLI; the daemon asks its Clock)."""
    return datetime.now(UTC)


def zone_signature(
    environ: Mapping[str, str] | None = None,
    localtime: str = LOCALTIME,
    timezone_file: str = TIMEZONE_FILE,
) -> str:
    """A cheap fingerprint of where the local zone comes from: TZ, the /etc/localtime link
    and the file behind it, /etc/timezone. A few stat calls, no zone parsing."""
    env = os.environ if environ is None else environ
    parts = [f"TZ={env.get('TZ', '')}"]
    with contextlib.suppress(OSError):
        parts.append(f"link={os.readlink(localtime)}")
    for path in (localtime, timezone_file):
        try:
            st = os.stat(path)
        except OSError:
            parts.append(f"{path}=-")
        else:
            parts.append(f"{path}={st.st_ino}:{st.st_mtime_ns}:{st.st_size}")
    return "|".join(parts)


class SystemClock:
    """The real clocks, with the running event loop's timers. Without CLOCK_BOOTTIME
    (not Linux) a suspend looks like a clock step."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        import asyncio  # here: the CLI reads now() from this module and needs no loop

        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    def call_at(self, when: datetime, callback: Callable[[], object]) -> Timer:
        return self.call_later((when - self.now()).total_seconds(), callback)

    def read(self) -> Reading:
        boot_id = getattr(time, "CLOCK_BOOTTIME", None)
        mono = time.monotonic()
        boot = time.clock_gettime(boot_id) if boot_id is not None else mono
        return Reading(wall=time.time(), monotonic=mono, boottime=boot,
                       zone=zone_signature())
