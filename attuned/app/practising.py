"""The daemon core's side of practising (issue 6), kept out of service.py: the question
at a period's end, discreet nudges, nudges held back by together mode, quiet hours or
do-not-disturb (kept in the history database: attuned.state.holding), and inline replies.

Scheduler job keys added here: "e:<practice>" a period's reflection question,
"h:<practice>" a held nudge's release, "d:digest" the evening digest.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from attuned.app import review
from attuned.core import timing, together
from attuned.core.model import Action, Held, HoldMode, HoldReason, Practice
from attuned.errors import AttunedError
from attuned.notify.base import EXPIRES_NEVER, Notification
from attuned.state.store import VERDICTS, NudgeAlreadyRecorded, NudgeRecord

if TYPE_CHECKING:
    from attuned.app.service import Service

log = logging.getLogger("attuned")

DISCREET_TITLE = "A moment for you"
DISCREET_GLYPH = "◦"


# --------------------------------------------------------------------------- reflection


def plan_reflections(svc: Service, *, startup: bool,
                     fired: dict[str, datetime] | None = None) -> int:
    """One "e:" job per practice whose period's question is still ahead (or, at start-up,
    came due within its grace) and not yet asked. Returns how many jobs changed.
    `fired`: `store.last_fired_all()` if the caller has it (plan_all), else read here."""
    now = svc.now()
    changed = 0
    wanted: set[str] = set()
    asked = fired
    for p in svc.schedule.practices:
        at = review.reflection_time(p, svc.zone, svc.seed)
        if at is None:
            continue
        if at <= (now - p.grace if startup else now):
            continue
        if asked is None:
            asked = svc.store.last_fired_all()  # one query, not one per practice
        if asked.get(review.reflect_id(p.id)) == at:
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
    # As a nudge: waits for its answer, and a press before the id is known still counts.
    await svc.deliver(Notification(title=title, body=body, actions=review.REFLECTION_ACTIONS,
                                   timeout_ms=EXPIRES_NEVER, resident=True), rec)
    log.info("asked how %s went (%s)", p.id, rec.id)
    return rec


def on_action(svc: Service, rec: NudgeRecord, key: str) -> bool:
    """Handle a button of a reflection question; False if it is not one of those.
    Recorded at once, as every answer from a bubble (see Service.on_action)."""
    pid = review.reflected_practice(rec.practice_id)
    if pid is None or key not in VERDICTS:
        return False
    try:
        review.record(svc.store, pid, key, "", at=svc.now(), source="button")
    except AttunedError as e:
        log.info("%s", e)
        return True
    except Exception as e:  # the store failed: say so on one line, keep running
        log.error("could not record the reflection on %s (%s): %s; keep it with "
                  "`attuned reflect %s --%s`", pid, key, e, pid, key)
        return True
    log.info("reflection on %s: %s", pid, key)
    if rec.notification_id:  # a server that keeps it after a press (resident)
        svc._spawn(svc._close_bubble(rec.notification_id))
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
    "together" (see attuned.core.together)."""

    from attuned.daemon.control import text_param as opt

    if method == "reflect":
        return await reflect(svc, opt(params, "practice"), opt(params, "verdict") or "",
                             opt(params, "text") or "")
    return await together_switch(svc, opt(params, "switch") or "", opt(params, "until"))


# --------------------------------------------------------------------------- holding
#
# A nudge is blocked when, at the moment it is due, together mode is off (for a
# when = "together" practice), its quiet hours hold the moment, or the desktop's
# notifications are paused (do-not-disturb, where the server says so: dunst). Per
# practice it is then dropped (nothing recorded, as if it were never due), deferred
# (shown once the block ends: "h:<practice>", one per practice, the newest), or
# gathered into the digest ("d:digest", one notification at settings.digest_at listing
# every gathered practice). Held nudges live in the history database (Store.hold), so
# they survive restarts; jobs are re-planned from it by plan_held.

# Held nudges are already late by design: however late their release comes (a suspend),
# it still comes.
_HELD_GRACE = timedelta(days=365)
DIGEST_KEY = "d:digest"
DIGEST_TITLE = "Nudges that waited for you"
_NOTES = {"quiet": "(held through quiet hours)",
          "dnd": "(held while notifications were paused)", "together": ""}


def quiet_filter(p: Practice) -> bool:
    """Should the timing core leave out this practice's nudges inside its quiet hours?
    Yes (as `attuned next` does) unless they are deferred or gathered there."""
    return p.blocked == "drop" or p.quiet_hours is None


def _mode(p: Practice, block: str) -> str:
    """drop | defer | digest for a nudge of `p` blocked by `block`."""
    if block == "together":
        # Its `outside`, else its `blocked` ("digest" defers: together time may come soon).
        return p.outside or ("drop" if p.blocked == "drop" else "defer")
    return p.blocked


async def desktop_paused(svc: Service) -> bool:
    """Are the desktop's notifications paused? False when the server cannot say."""
    notifier = getattr(svc.notifier, "primary", None) or svc.notifier
    probe = getattr(notifier, "do_not_disturb", None)
    if probe is None:
        return False
    try:
        return bool(await probe())
    except Exception as e:  # cannot tell: show it (never lose a nudge to a failed probe)
        log.debug("could not ask whether notifications are paused: %s", e)
        return False


async def blocked_by(svc: Service, p: Practice) -> HoldReason | None:
    """What blocks a nudge of `p` now, or None."""
    now = svc.now()
    if p.when == "together" and not svc.store.together().active(now):
        return HoldReason.TOGETHER
    if timing.in_quiet_hours(p.quiet_hours, now.astimezone(svc.zone)):
        return HoldReason.QUIET
    if await desktop_paused(svc):
        return HoldReason.DND
    return None


async def held_back(svc: Service, p: Practice, due: datetime) -> bool:
    """Is this nudge held back from the screen (dropped, deferred or gathered)?"""
    block = await blocked_by(svc, p)
    if block is None:
        return False
    _hold(svc, p, due, block, _mode(p, block))
    return True


def _hold(svc: Service, p: Practice, due: datetime, block: str, mode: str) -> None:
    when = due.astimezone(svc.zone).strftime("%a %H:%M")
    # Through the backlog: a history that refuses writes for now gets them later.
    keep_for = svc._keep_for(p.id)
    svc.backlog.write(f"the mark of {p.id}'s nudge due {when} as held back",
                      functools.partial(svc.store.mark_blocked, p.id, due), keep_for=keep_for)
    why = {"together": "not together time", "quiet": "quiet hours",
           "dnd": "notifications are paused"}[block]
    if mode == "drop":
        log.info("dropped %s (due %s): %s", p.id, when, why)
        return
    svc.backlog.write(f"the held nudge of {p.id} due {when}",
                      functools.partial(svc.store.hold,
                                        Held(p.id, due, HoldReason(block), HoldMode(mode))),
                      keep_for=keep_for)
    if mode == "digest":
        svc.planner.set(DIGEST_KEY, digest_time(svc, due), _HELD_GRACE)
        log.info("gathered %s (due %s) into the digest: %s", p.id, when, why)
        return
    at = _release_time(svc, p, block)
    if at is not None:
        svc.planner.set(f"h:{p.id}", at, _HELD_GRACE)
    log.info("held %s (due %s) until %s", p.id, when,
             {"together": "together time starts", "dnd": "notifications are resumed"}.get(
                 block, f"quiet hours end at {at:%H:%M}" if at else "quiet hours end"))


def _release_time(svc: Service, p: Practice, block: str) -> datetime | None:
    """When a deferred nudge should be looked at again; None: on an event (together on,
    notifications resumed)."""
    if block == "quiet" and p.quiet_hours is not None:
        return timing.quiet_end(p.quiet_hours, svc.now(), svc.zone)
    return None


def digest_time(svc: Service, after: datetime) -> datetime:
    """The digest's moment for nudges held since `after`: the next settings.digest_at
    after it, or, when digest_at falls inside the quiet hours of [settings], the next end
    of those quiet hours."""
    s = svc.schedule.settings
    wall = s.digest_at
    q = s.quiet_hours
    if q is not None and q.start != q.end and q.contains(wall):
        wall = q.end  # a digest never wakes anyone: it comes as the quiet hours end
    return timing.next_wall(wall, after, svc.zone)


def plan_held(svc: Service, *, startup: bool) -> int:
    """Jobs for the held nudges (after a restart, a reload or a clock jump): each
    deferred nudge's release and the digest. Returns how many jobs changed."""
    now = svc.now()
    items = svc.store.held()
    wanted: dict[str, tuple[datetime, timedelta]] = {}
    gathered = [h.due for h in items if h.mode == "digest"]
    if gathered:
        wanted[DIGEST_KEY] = (digest_time(svc, min(gathered)), _HELD_GRACE)
    state = svc.store.together()
    for h in items:
        p = svc.schedule.get(h.practice_id)
        if h.mode != "defer" or p is None:
            continue
        at: datetime | None = now
        if h.reason == "together" and not state.active(now):
            continue  # together time has not started: `attuned together on` releases it
        if h.reason == "quiet" and p.quiet_hours is not None:
            at = timing.quiet_end(p.quiet_hours, now, svc.zone)
        if at is not None:
            # "dnd": looked at now; if still paused it is held again until resumed.
            wanted[f"h:{p.id}"] = (at, _HELD_GRACE)
    changed = 0
    current = svc.planner.due_times()
    for key, (at, grace) in wanted.items():
        if key.startswith("h:") and key in current:
            continue  # already planned (e.g. quiet hours' end): keep it
        if svc.planner.set(key, at, grace):
            changed += 1
    for key in svc.planner.keys():  # noqa: SIM118 (a method, not a dict)
        if key.startswith(("h:", "d:")) and key not in wanted:
            svc.planner.remove(key)
            changed += 1
    return changed


def handled_marks(svc: Service) -> dict[str, datetime]:
    """Per practice, the newest planned nudge that was held or dropped: a restart
    counts nudges after it (not it) as missed while down."""
    marks = svc.store.blocked_marks()
    for h in svc.store.held():
        if h.practice_id not in marks or marks[h.practice_id] < h.due:
            marks[h.practice_id] = h.due
    return marks


def blocked_while_down(svc: Service, p: Practice, at: datetime) -> bool:
    """Would a nudge of `p` at `at` have been blocked by together mode (as far as the
    saved state tells)? Such a nudge is not counted as missed while the daemon was down."""
    return p.when == "together" and not svc.store.together().active(at)


async def fire_key(svc: Service, kind: str, ident: str, due: datetime) -> None:
    """The jobs of held nudges: "h:<practice>" a release, "d:digest" the digest."""
    if kind == "h":
        await release(svc, ident)
    elif kind == "d":
        await fire_digest(svc)


async def release(svc: Service, practice_id: str) -> NudgeRecord | None:
    """Show a practice's deferred nudge if nothing blocks it any more; else hold it
    again (a nudge once held is never dropped by a later block)."""
    items = svc.store.take_held(practice_id, HoldMode.DEFER)
    if not items:
        return None
    h = items[-1]
    p = svc.schedule.get(practice_id)
    if p is None or not p.enabled:
        return None
    block = await blocked_by(svc, p)
    if block is not None:
        mode = "digest" if block != "together" and p.blocked == "digest" else "defer"
        _hold(svc, p, h.due, block, mode)
        return None
    return await fire_held(svc, p.id, h.due, _NOTES.get(h.reason, ""))


async def fire_digest(svc: Service) -> list[NudgeRecord]:
    """One notification listing every gathered nudge; each is recorded as shown (and so
    answerable: attuned done|skip ID)."""
    items = svc.store.take_held(mode=HoldMode.DIGEST)  # oldest due first
    now = svc.now()
    recs: list[NudgeRecord] = []
    lines: list[str] = []
    for h in items:
        p = svc.schedule.get(h.practice_id)
        if p is None or not p.enabled:
            continue
        message = svc.nudge_message(p, h.due)
        try:
            # Recorded first; if the history refuses it for now, shown and kept for it.
            rec = svc._record_shown(p.id, h.due, now, p.title, message)
        except NudgeAlreadyRecorded:
            continue
        recs.append(rec)
        when = h.due.astimezone(svc.zone).strftime("%H:%M")
        if p.discreet:
            lines.append(f"{when}  {DISCREET_GLYPH}  {rec.id}")
        else:
            lines.append(f"{when}  {p.title}: {message}  ({rec.id})")
    if not recs:
        return []
    lines.append("Answer each with: attuned done|skip ID")
    await svc.notifier.send(Notification(title=DIGEST_TITLE, body="\n".join(lines)))
    log.info("digest of %d held nudges: %s", len(recs), ", ".join(r.id for r in recs))
    return recs


def on_dnd_change(svc: Service, paused: bool) -> None:
    """The desktop's notifications were paused or resumed: on resume, what waited for
    it is looked at now."""
    log.info("notifications %s on the desktop", "paused" if paused else "resumed")
    if paused:
        return
    for h in svc.store.held():
        if h.reason == "dnd" and h.mode == "defer":
            svc.planner.set(f"h:{h.practice_id}", svc.now(), _HELD_GRACE)


async def fire_held(svc: Service, practice_id: str, due: datetime,
                    note: str) -> NudgeRecord | None:
    """Show a nudge that was held back, as planned for `due` (recorded once)."""
    p = svc.schedule.get(practice_id)
    if p is None or not p.enabled:
        return None
    message = svc.nudge_message(p, due)
    try:
        # Recorded first; if the history refuses it for now, shown and kept for it.
        rec = svc._record_shown(p.id, due, svc.now(), p.title, message)
    except NudgeAlreadyRecorded:
        return None
    await svc._send(p.title, f"{note} {message}" if note else message, rec)
    log.info("released held %s (%s)", p.id, rec.id)
    return rec


async def together_switch(svc: Service, word: str, until: str | None) -> dict[str, object]:
    """The control method "together": switch, save, and release what waited for it."""
    state = together.switch(word, until, svc.now(), svc.zone)
    svc.store.set_together(state)
    released: list[str] = []
    if state.active(svc.now()):
        for h in svc.store.held():
            if h.reason == "together" and h.mode == "defer":
                rec = await release(svc, h.practice_id)
                if rec is not None:
                    released.append(rec.id)
    return {**state.to_json(), "text": state.describe(svc.now(), svc.zone),
            "released": released}


# --------------------------------------------------------------------------- inline reply


def on_reply(svc: Service, notification_id: int, text: str) -> None:
    """A reply typed into the notification (servers with "inline-reply"), in its turn
    among the other signals about it (Service.on_reply)."""
    svc.on_reply(notification_id, text)


def on_reply_to(svc: Service, rec: NudgeRecord, text: str) -> None:
    """The reply to `rec`: the nudge is done, with the text as its note (recorded at once,
    so the close that may follow finds it answered)."""
    note = " ".join(text.split())  # one line, as `attuned done --note` keeps it
    svc.answer_from_bubble(rec, Action.DONE, note=note or None)
