"""Which time zone the schedule lives in. A tiny I/O edge: reads the system's setting."""

from __future__ import annotations

import warnings
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attuned.core.model import Settings
from attuned.errors import AttunedError

# Debian's record of the zone; a module constant so tests can point it elsewhere.
ETC_TIMEZONE = Path("/etc/timezone")


class UnknownTimeZone(AttunedError):
    """The schedule names a time zone this machine does not know."""


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _etc_timezone() -> str | None:
    try:
        return ETC_TIMEZONE.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def system_zone() -> ZoneInfo:
    """The machine's zone now: tzlocal (TZ, /etc/localtime, ...), else /etc/timezone, else
    UTC. Never raises: a daemon without a known zone still runs, in UTC."""
    name: str | None
    try:
        import tzlocal

        # tzlocal caches the name for the life of the process; a long-running daemon
        # must see `timedatectl set-timezone`, so reload (a few small file reads).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its offset check warns; we only want the name
            tzlocal.reload_localzone()
        name = tzlocal.get_localzone_name()
    except Exception:  # tzlocal raises several kinds on odd systems; any means "unknown"
        name = None
    return _zone(name) or _zone(_etc_timezone()) or ZoneInfo("UTC")


def schedule_zone(settings: Settings) -> ZoneInfo:
    """The zone of [settings] timezone, else the system's zone."""
    if settings.timezone is None:
        return system_zone()
    zone = _zone(settings.timezone)
    if zone is None:
        raise UnknownTimeZone(
            f'[settings] timezone: "{settings.timezone}" is not a time zone this machine '
            'knows; use a name like "Europe/Berlin" (list them with '
            "`timedatectl list-timezones`) or remove the line to use the system's zone"
        )
    return zone
