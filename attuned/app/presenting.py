"""What a nudge says and offers: its words (the same variant, the same {feeling} and
{need}, however often they are asked), its buttons, and, for a discreet practice, a
neutral face instead of its words."""

from __future__ import annotations

from datetime import datetime

from attuned.app import review
from attuned.app.context import Core
from attuned.core import timing
from attuned.core.durations import format_duration
from attuned.core.model import Practice
from attuned.state.store import NudgeRecord

DISCREET_TITLE = "A moment for you"
DISCREET_GLYPH = "◦"


def nudge_message(core: Core, p: Practice, due: datetime) -> str:
    """The words of `p`'s nudge due at `due`."""
    message = timing.pick_message(p, due, core.seed)
    if "{" in message:  # {feeling} / {need}; attuned.config.feelings only when used
        from attuned.config.feelings import fill

        message = fill(message, p.id, due, core.seed)
    return message


def actions(core: Core, practice_id: str) -> tuple[tuple[str, str], ...]:
    """Done, Snooze (the practice's own length where it has one), Snooze longer, Skip,
    as (action key, button label)."""
    s = core.schedule.settings
    p = core.practice(practice_id)
    snooze = p.snooze if p is not None else s.snooze
    return (("done", "Done"), ("snooze", f"Snooze {format_duration(snooze)}"),
            ("snooze-long", f"Snooze {format_duration(s.snooze_long)}"), ("skip", "Skip"))


def present(core: Core, rec: NudgeRecord, title: str, body: str) -> tuple[str, str]:
    """The words to show: the real ones, or for a discreet practice a neutral title and a
    glyph (the full text is one command away: attuned show ID)."""
    pid = review.reflected_practice(rec.practice_id) or rec.practice_id
    p = core.practice(pid)
    discreet = p.discreet if p is not None else core.schedule.settings.discreet
    if not discreet:
        return title, body
    return DISCREET_TITLE, f"{DISCREET_GLYPH}  {rec.id}"
