"""The question at the end of a practice's period: planned once per period, asked once
(recorded under its own practice id, so never twice across restarts), answered from its
bubble's buttons or with `attuned reflect`. The reading side (when, what it says, what
the history makes of it) is attuned.app.review."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from attuned.app import delivery, presenting, review
from attuned.app.context import Core
from attuned.core import keys
from attuned.core.keys import JobKind
from attuned.errors import AttunedError
from attuned.notify.base import EXPIRES_NEVER, Notification
from attuned.state.store import VERDICTS, NudgeAlreadyRecorded, NudgeRecord

log = logging.getLogger("attuned")


@dataclass(frozen=True)
class ReflectResult:
    practice_id: str
    verdict: str
    text: str
    answered: str | None  # the question's nudge answered by it, if one was open

    def to_json(self) -> dict[str, object]:
        return {"practice": self.practice_id, "verdict": self.verdict, "text": self.text,
                "answered": self.answered}


def plan_reflections(core: Core, *, startup: bool,
                     fired: dict[str, datetime] | None = None) -> int:
    """One timer per practice whose period's question is still ahead (or, at start-up,
    came due within its grace) and not yet asked. Returns how many changed.
    `fired`: `store.last_fired_all()` if the caller has it, else read here."""
    now = core.now()
    changed = 0
    wanted = set()
    asked = fired
    for p in core.schedule.practices:
        at = review.reflection_time(p, core.zone, core.seed)
        if at is None:
            continue
        if at <= (now - p.grace if startup else now):
            continue
        if asked is None:
            asked = core.store.last_fired_all()  # one query, not one per practice
        if asked.get(review.reflect_id(p.id)) == at:
            continue  # already asked
        key = keys.reflection(p.id)
        wanted.add(key)
        if core.planner.set(key, at, p.grace):
            changed += 1
    for key in core.planner.keys():  # noqa: SIM118 (a method, not a dict)
        if key.kind == JobKind.REFLECTION and key not in wanted:
            core.planner.remove(key)
            changed += 1
    return changed


async def ask(core: Core, practice_id: str, due: datetime) -> NudgeRecord | None:
    p = core.practice(practice_id)
    if p is None or review.reflection_time(p, core.zone, core.seed) != due:
        return None  # removed or its period changed since this was planned
    title, body = review.reflection_message(p)
    try:
        # Recorded first, under its own practice id: asked exactly once, across restarts.
        rec = core.store.record_shown(review.reflect_id(p.id), due, core.now(), title, body)
    except NudgeAlreadyRecorded:
        return None
    title, body = presenting.present(core, rec, title, body)
    # As a nudge: waits for its answer, and a press before the id is known still counts.
    await delivery.deliver(core, Notification(title=title, body=body,
                                              actions=review.REFLECTION_ACTIONS,
                                              timeout_ms=EXPIRES_NEVER, resident=True), rec)
    log.info("asked how %s went (%s)", p.id, rec.id)
    return rec


def on_button(core: Core, rec: NudgeRecord, key: str) -> bool:
    """Handle a button of a reflection question; False if it is not one of those.
    Recorded at once, as every answer from a bubble."""
    pid = review.reflected_practice(rec.practice_id)
    if pid is None or key not in VERDICTS:
        return False
    try:
        review.record(core.store, pid, key, "", at=core.now(), source="button")
    except AttunedError as e:
        log.info("%s", e)
        return True
    except Exception as e:  # the store failed: say so on one line, keep running
        log.error("could not record the reflection on %s (%s): %s; keep it with "
                  "`attuned reflect %s --%s`", pid, key, e, pid, key)
        return True
    log.info("reflection on %s: %s", pid, key)
    if rec.notification_id:  # a server that keeps it after a press (resident)
        core.spawn(core.close_bubble(rec.notification_id))
    return True


async def reflect(core: Core, practice_id: str | None, verdict: str,
                  text: str) -> ReflectResult:
    """A reflection from the CLI: keep it and close the question's bubble."""
    pid = practice_id or review.default_practice(core.store)
    open_ = [r for r in core.store.open_nudges(review.reflect_id(pid)) if r.notification_id]
    refl, answered = review.record(core.store, pid, verdict, text, at=core.now(),
                                   source="cli")
    for r in open_:
        await core.close_bubble(r.notification_id or 0)
    return ReflectResult(pid, refl.verdict, refl.text, answered)
