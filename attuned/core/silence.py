"""Why a practice will never nudge: paused, its moment past, its period over, every nudge
inside its quiet hours, or no day of its period one of its days. Said by `check` and
`list` (a practice that stays silent for a reason nobody is told looks like a broken
tool). Pure: `now` is passed in."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from attuned.core import timing
from attuned.core.model import Blocked, OnceRule, Practice

# Far enough to see a whole practice period of quiet-hour nudges, near enough to be quick.
_QUIET_LOOK = timedelta(days=28)


def why_silent(p: Practice, now: datetime, zone: ZoneInfo, seed: str) -> str | None:
    """Why `p` will never nudge again from `now`, in words; None when it will (or may)."""
    if not p.enabled:
        return f"it is paused; `attuned enable {p.id}` switches it on"
    today = now.astimezone(zone).date()
    if isinstance(p.rule, OnceRule):
        moment = timing.resolve_wall(p.rule.moment.date(), p.rule.moment.time(), zone)
        if moment <= now:
            return (f"its moment, {moment:%a %d %b %Y %H:%M}, is past; give it one ahead "
                    "with once = ..., or remove it")
        if moment > now + timing.HORIZON:
            return (f"its moment, {moment:%a %d %b %Y %H:%M}, is more than four years "
                    "ahead, beyond what attuned plans; give it a nearer one")
    if p.until is not None and p.until < today:
        return (f"its period ended on {p.until:%a %d %b %Y}; `attuned try {p.id}` starts a "
                "new one, or set a later until")
    if timing.next_occurrence(p, now, zone, seed) is not None:
        return None
    if p.blocked is Blocked.DROP and timing.next_occurrence(
            p, now, zone, seed, quiet=False) is not None:
        return (f"all its nudges fall inside its quiet hours ({p.quiet_hours}); choose "
                'another time, or let it through with quiet_hours = "none"')
    if p.start is not None or p.until is not None:
        first = max(today, p.start) if p.start else today
        span = f"{first:%a %d %b %Y} to {p.until:%a %d %b %Y}" if p.until else \
            f"from {first:%a %d %b %Y}"
        return f"no day of its period ({span}) is one of its days"
    return None


def moment_is_past(moment: datetime, now: datetime, zone: ZoneInfo) -> bool:
    """Whether a naive wall `moment` in `zone` is at or before `now`."""
    return timing.resolve_wall(moment.date(), moment.time(), zone) <= now
