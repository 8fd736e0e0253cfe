"""The daemon core's side of practising (issue 6), kept out of service.py: the question
at a period's end, discreet nudges, and (see held.py) nudges held back by together mode,
quiet hours or do-not-disturb.

Scheduler job keys added here: "e:<practice>" a period's reflection question,
"h:<practice>" a held nudge's release, "d:digest" the evening digest.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from attuned import review
from attuned.errors import AttunedError
from attuned.model import Practice
from attuned.notify.base import Notification
from attuned.store import VERDICTS, NudgeAlreadyRecorded, NudgeRecord

if TYPE_CHECKING:
    from attuned.service import Service

log = logging.getLogger("attuned")

DISCREET_TITLE = "A moment for you"
DISCREET_GLYPH = "◦"


# --------------------------------------------------------------------------- reflection


def plan_reflections(svc: Service, *, startup: bool) -> int:
    """One "e:" job per practice whose period's question is still ahead (or, at start-up,
    came due within its grace) and not yet asked. Returns how many jobs changed."""
    now = svc.now()
    changed = 0
    wanted: set[str] = set()
    for p in svc.schedule.practices:
        at = review.reflection_time(p, svc.zone, svc.seed)
        if at is None:
            continue
        if at <= (now - p.grace if startup else now):
            continue
        if svc.store.last_fired(review.reflect_id(p.id)) == at:
            continue  # already asked
        key = f"e:{p.id}"
        wanted.add(key)
        if svc.planner.set(key, at, p.grace):
            changed += 1
    for key in svc.planner.keys():  # noqa: SIM118 (a method, not a dict)
        if key.startswith("e:") and key not in wanted:
            svc.planner.remove(key)
            changed += 1
    return changed


async def fire_reflection(svc: Service, practice_id: str, due: datetime) -> NudgeRecord | None:
    p = svc.schedule.get(practice_id)
    if p is None or review.reflection_time(p, svc.zone, svc.seed) != due:
        return None  # removed or its period changed since this was planned
    title, body = review.reflection_message(p)
    try:
        # Recorded first, under its own practice id: asked exactly once, across restarts.
        rec = svc.store.record_shown(review.reflect_id(p.id), due, svc.now(), title, body)
    except NudgeAlreadyRecorded:
        return None
    title, body = present(svc, rec, title, body)
    d = await svc.notifier.send(Notification(title=title, body=body,
                                             actions=review.REFLECTION_ACTIONS))
    if d.notification_id is not None:
        svc.store.set_notification_id(rec.id, d.notification_id)
    log.info("asked how %s went (%s)", p.id, rec.id)
    return rec


def on_action(svc: Service, rec: NudgeRecord, key: str) -> bool:
    """Handle a button of a reflection question; False if it is not one of those."""
    pid = review.reflected_practice(rec.practice_id)
    if pid is None or key not in VERDICTS:
        return False
    try:
        review.record(svc.store, pid, key, "", at=svc.now(), source="button")
    except AttunedError as e:
        log.info("%s", e)
        return True
    log.info("reflection on %s: %s", pid, key)
    return True


async def reflect(svc: Service, practice_id: str | None, verdict: str,
                  text: str) -> dict[str, object]:
    """The control method "reflect": keep it and close the question's bubble."""
    pid = practice_id or review.default_practice(svc.store)
    open_ = [r for r in svc.store.open_nudges(review.reflect_id(pid)) if r.notification_id]
    refl, answered = review.record(svc.store, pid, verdict, text, at=svc.now(), source="cli")
    for r in open_:
        try:
            await svc.notifier.close_notification(r.notification_id or 0)
        except Exception as e:  # the reflection is kept; a stale bubble is harmless
            log.debug("could not close notification %s: %s", r.notification_id, e)
    return {"practice": pid, "verdict": refl.verdict, "text": refl.text,
            "answered": answered}


# --------------------------------------------------------------------------- discreet


def present(svc: Service, rec: NudgeRecord, title: str, body: str) -> tuple[str, str]:
    """The words to show: the real ones, or for a discreet practice a neutral title and a
    glyph (the full text is one command away: attuned show ID)."""
    pid = review.reflected_practice(rec.practice_id) or rec.practice_id
    p = svc.schedule.get(pid)
    discreet = p.discreet if p is not None else svc.schedule.settings.discreet
    if not discreet:
        return title, body
    return DISCREET_TITLE, f"{DISCREET_GLYPH}  {rec.id}"


# --------------------------------------------------------------------------- control


async def control(svc: Service, method: str, params: dict[str, object]) -> dict[str, object]:
    """Control-socket methods of issue 6: "reflect" {practice?, verdict, text?} and
    "together" (see together.py)."""

    def opt(key: str) -> str | None:
        v = params.get(key)
        return v if isinstance(v, str) and v else None

    if method == "reflect":
        return await reflect(svc, opt("practice"), opt("verdict") or "", opt("text") or "")
    return await together_switch(svc, opt("switch") or "", opt("until"))


# --------------------------------------------------------------------------- holding


def held_back(svc: Service, p: Practice, due: datetime) -> bool:
    """Is this nudge held back from the screen? A together practice while apart is
    dropped or kept for later (its `outside`, else its `blocked`: "digest" defers here)."""
    from attuned import together

    if p.when != "together" or together.load().active(svc.now()):
        return False
    mode = p.outside or ("drop" if p.blocked == "drop" else "defer")
    if mode == "defer":
        together.hold(together.Held(p.id, due, "together", "defer"))
        log.info("held %s (due %s) until together time starts", p.id,
                 due.astimezone(svc.zone).strftime("%a %H:%M"))
    else:
        log.info("dropped %s (due %s): not together time", p.id,
                 due.astimezone(svc.zone).strftime("%a %H:%M"))
    return True


async def fire_held(svc: Service, practice_id: str, due: datetime,
                    note: str) -> NudgeRecord | None:
    """Show a nudge that was held back, as planned for `due` (recorded once)."""
    from attuned import timing
    from attuned.feelings import fill

    p = svc.schedule.get(practice_id)
    if p is None or not p.enabled:
        return None
    message = fill(timing.pick_message(p, due, svc.seed), p.id, due, svc.seed)
    try:
        rec = svc.store.record_shown(p.id, due, svc.now(), p.title, message)
    except NudgeAlreadyRecorded:
        return None
    nid = await svc._send(p.title, f"{note} {message}" if note else message, rec)
    if nid is not None:
        svc.store.set_notification_id(rec.id, nid)
    log.info("released held %s (%s)", p.id, rec.id)
    return rec


async def together_switch(svc: Service, word: str, until: str | None) -> dict[str, object]:
    """The control method "together": switch, save, and release what waited for it."""
    from attuned import together

    state = together.switch(word, until, svc.now(), svc.zone)
    together.save(state)
    released: list[str] = []
    if state.active(svc.now()):
        for h in together.take(lambda h: h.reason == "together"):
            rec = await fire_held(svc, h.practice_id, h.due, "")
            if rec is not None:
                released.append(rec.id)
    return {**state.to_json(), "text": state.describe(svc.now(), svc.zone),
            "released": released}
