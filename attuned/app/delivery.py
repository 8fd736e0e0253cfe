"""Putting a nudge in front of the person: its words and buttons made into a
notification, sent, and the server's id for its bubble kept; signals about the bubble
that came before that id was known are handled then, in the order they came."""

from __future__ import annotations

from attuned.app import phone, presenting, recording
from attuned.app.context import Core
from attuned.notify.base import EXPIRES_NEVER, Notification
from attuned.state.store import NudgeRecord


async def send_nudge(core: Core, title: str, body: str, rec: NudgeRecord, *,
                     replaces: int = 0) -> int | None:
    """Show `rec` with its buttons and record the server's id for it."""
    title, body = presenting.present(core, rec, title, body)
    # A nudge waits for its answer: never expire (every server measured keeps such a
    # bubble up), and stay after a button where the server would remove it (we withdraw
    # it ourselves once the answer is recorded; xfce4-notifyd and MATE take it down at
    # the press anyway).
    n = Notification(title=title, body=body, actions=presenting.actions(core, rec.practice_id),
                     replaces_id=replaces, timeout_ms=EXPIRES_NEVER, resident=True,
                     nudge_id=rec.id)
    if phone.wanted(core, rec.practice_id):
        # Beside the desktop, not before it: a slow server never delays the bubble.
        core.spawn(phone.publish(core, n))
    return await deliver(core, n, rec)


async def deliver(core: Core, n: Notification, rec: NudgeRecord) -> int | None:
    """Show `n` for `rec` and record that it was sent, with the server's id for it: a
    nudge counts as shown only once the server accepted it (or a fallback delivered it).
    A send that fails leaves it being sent (attuned.app.firing.deliver_unsent)."""
    core.signals.in_flight += 1
    try:
        delivery = await core.notifier.send(n)
    finally:
        core.signals.in_flight -= 1
    nid = delivery.notification_id
    recording.remember_sent(core, rec, nid)
    core.signals.replay(nid)
    return nid
