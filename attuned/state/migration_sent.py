"""Migration "sent, not only recorded" (number 6 in attuned.state.migrations).

A nudge is recorded (state `shown`, open) before its notification is sent, so that a
crash never shows it twice; `nudges.sent_at` says when the notification server accepted
it (or the log / plyer fallback delivered it). Until then it is being sent: a run that
stopped in between left it unseen, and the next run delivers it again or records it as
not delivered (attuned.app.firing.deliver_unsent).

Only a column added to `nudges`: independent of migration 5 (which rebuilds `held` and
`events` from their own schema), whichever of the two a database gets first. The nudges
already there were sent as far as anyone knows (their bubbles were the only record).

Kept in its own module so that it can be renumbered in one line.
"""

from __future__ import annotations

from typing import Final

STATEMENTS: Final[tuple[str, ...]] = (
    "ALTER TABLE nudges ADD COLUMN sent_at TEXT",
    "UPDATE nudges SET sent_at = shown_at WHERE shown_at IS NOT NULL",
)
