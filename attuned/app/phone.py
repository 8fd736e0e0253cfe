"""The phone: which nudges go there (`phone` = away, always or never, the practice's
own over [phone]'s), and its answers, taken as the desktop's are (source "phone"): the
nudge's desktop bubble is withdrawn, and one answered elsewhere is not answered again."""

from __future__ import annotations

import logging

from attuned.app.answering import ACTION_KEYS, record_answer
from attuned.app.context import Core
from attuned.core.model import NudgeState, PhoneWhen
from attuned.errors import AttunedError, NotifyError
from attuned.notify.base import Notification
from attuned.state.store import NudgeNotFound

log = logging.getLogger("attuned")


def wanted(core: Core, practice_id: str) -> bool:
    """Does this practice's nudge go to the phone now?"""
    if core.phone is None:
        return False
    p = core.practice(practice_id)
    when = (p.phone if p is not None and p.phone is not None
            else core.schedule.settings.phone.when)
    if when == PhoneWhen.ALWAYS:
        return True
    if when == PhoneWhen.NEVER:
        return False
    return core.is_away is not None and core.is_away() is True


async def publish(core: Core, n: Notification) -> None:
    """Send `n` to the phone; a failure is the channel's to log and tell (once)."""
    if core.phone is None:
        return
    try:
        await core.phone.send(n)
    except NotifyError as e:
        log.debug("the phone did not take %s: %s", n.nudge_id, e)


def answer_from_phone(core: Core, nudge_id: str, key: str) -> None:
    """An answer pressed on the phone, its token already checked by the channel."""
    action = ACTION_KEYS.get(key)
    if action is None:
        log.warning("ignored the phone's answer %r for %s: not an answer", key, nudge_id)
        return
    try:
        rec = core.store.get(nudge_id)
    except NudgeNotFound:
        log.warning("ignored the phone's %s for %s: no such nudge", key, nudge_id)
        return
    if rec.state != NudgeState.SHOWN:
        log.info("ignored the phone's %s for %s (%s): it is %s already", key, rec.id,
                 rec.practice_id, rec.state)
        return
    try:
        record_answer(core, rec, action, source="phone")
    except AttunedError as e:
        log.error("could not record the phone's %s for %s: %s; answer it with "
                  "`attuned %s %s`", key, rec.id, e, action.value, rec.id)
        return
    if rec.notification_id:
        core.spawn(core.close_bubble(rec.notification_id))
