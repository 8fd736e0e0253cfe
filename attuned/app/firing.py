"""When a practice nudges: planning each practice's next nudge (at start-up, after a
reload, a resume, a clock jump), and what happens when one comes due: shown (recorded
first: after a crash it is open, never shown twice; it counts as shown once sent, and
one a crash left unsent is sent by the next run, or recorded as not delivered), held
back, or, when it comes too late, one missed record; snoozes coming back, repeats,
expiries.

Never a burst: however late a nudge comes (a resume, a slow start), only the latest due
nudge of a practice is shown; the ones before it go into one missed record, and the next
one planned is the first after now.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from attuned.app import delivery, holding, presenting, recording, reflecting, review
from attuned.app.context import Core
from attuned.core import keys, timing
from attuned.core.keys import JobKind
from attuned.core.model import NudgeState, Practice
from attuned.state.store import NudgeAlreadyRecorded, NudgeNotOpen, NudgeRecord

log = logging.getLogger("attuned")

_INSTANT = timedelta(microseconds=1)  # "after t" for ranges that start at t
# An expiry is bookkeeping, not a nudge: however late (after a suspend), it still applies.
_EXPIRY_GRACE = timedelta(days=365)
NOT_SENT = "not delivered (attuned stopped before it was sent)"


# ---------------------------------------------------------------------- planning


def plan_all(core: Core, *, startup: bool, only: Collection[str] | None = None) -> int:
    """(Re)plan every practice's next nudge. Returns how many timers changed.

    At start-up the latest nudge of a practice that came due while the daemon was down
    is still delivered if inside its grace; older ones of the same practice are recorded
    as one missed nudge (none when it has no history yet). `only`: re-plan just these
    practice ids (a reload's changed and removed ones); the others stay as they are.
    """
    now = core.now()
    changed = 0
    wanted = set()
    planned = core.planner.due_times()
    marks = holding.handled_marks(core)  # held or dropped: not missed while down
    fired = core.store.last_fired_all()  # one query, not one per practice
    for p in core.schedule.practices:
        if not p.enabled or (only is not None and p.id not in only):
            continue
        key = keys.nudge(p.id)
        current = planned.get(key)
        if current is not None and current <= now and now - current <= p.grace:
            # Already due, inside its grace (a resume, a clock jump): the scheduler
            # delivers it late on its next look.
            wanted.add(key)
            continue
        last = fired.get(p.id)
        mark = marks.get(p.id)
        if mark is not None and (last is None or mark > last):
            last = mark
        after = now - p.grace if startup else now
        if last is not None and last > after:
            after = last
        nxt = timing.next_occurrence(p, after, core.zone, core.seed,
                                     quiet=holding.quiet_filter(p))
        missed_until = now - p.grace
        if nxt is not None and nxt <= now:
            # Several may have come due inside the grace (down for a while, an
            # every-minute practice): only the latest comes, the ones before it go
            # into the missed record with the rest.
            nxt = came_due(core, p, nxt - _INSTANT, now)[0][-1]
            missed_until = nxt
        if current is not None and current <= now:
            # Came due beyond its grace while the machine slept: one missed record
            # (with any later ones), never silently planned past.
            record_missed_while_down(core, p, current - _INSTANT, missed_until,
                                     "the computer was asleep")
        elif startup and last is not None:
            record_missed_while_down(core, p, last, missed_until)
        if nxt is None:
            continue
        wanted.add(key)
        if core.planner.set(key, nxt, p.grace):
            changed += 1
    for key in core.planner.keys():  # noqa: SIM118 (a method, not a dict)
        if (key.kind == JobKind.NUDGE and key not in wanted
                and (only is None or key.ident in only)):
            core.planner.remove(key)
            changed += 1
    return (changed + reflecting.plan_reflections(core, startup=startup, fired=fired)
            + holding.plan_held(core))


def record_missed_while_down(core: Core, p: Practice, last: datetime, until: datetime,
                             why: str = "the daemon was not running") -> None:
    if until <= last:
        return
    missed = [t for t in timing.occurrences(p, last + _INSTANT, until, core.zone, core.seed)
              if not holding.blocked_while_down(core, p, t)]
    if missed:
        # Several missed nudges of one practice collapse into one record.
        recording.record_missed(core, p.id, missed[-1], f"{why} ({len(missed)} due)",
                                p.title)
        log.info("missed %s at %s: %s", p.id,
                 missed[-1].astimezone(core.zone).strftime("%a %H:%M"), why)


def came_due(core: Core, p: Practice, after: datetime, now: datetime
             ) -> tuple[list[datetime], datetime | None]:
    """`p`'s nudges after `after` that came due by `now`, oldest first, and its first
    one after `now` (None: no more)."""
    came: list[datetime] = []
    for t in timing.iter_after(p, after, core.zone, core.seed,
                               quiet=holding.quiet_filter(p)):
        if t > now:
            return came, t
        came.append(t)
    return came, None


def restore_pending(core: Core) -> None:
    """Snoozes and repeats live in the database; bring them back after any restart."""
    for rec in core.store.pending_snoozes():
        assert rec.snoozed_until is not None
        core.planner.set(keys.snooze(rec.id), rec.snoozed_until, core.grace(rec.practice_id))
    for rec in core.store.open_nudges():
        p = core.practice(rec.practice_id)
        if rec.state == NudgeState.SHOWN and p is not None and p.answer_within is not None:
            core.planner.set(keys.expiry(rec.id), rec.due + p.answer_within, _EXPIRY_GRACE)
    for rec in core.store.pending_repeats():
        if rec.next_repeat_at is not None:
            core.planner.set(keys.repeat(rec.id), rec.next_repeat_at,
                             core.grace(rec.practice_id))


async def deliver_unsent(core: Core) -> None:
    """The nudges an earlier run recorded but stopped before it sent (killed while the
    server was slow to answer): each sent now if still inside its practice's grace,
    else recorded as not delivered. Never one nobody saw left as shown."""
    now = core.now()
    for rec in core.store.unsent():
        p = core.practice(rec.practice_id)
        if p is None or now - rec.due > core.grace(rec.practice_id):
            if core.backlog.write(f"the undelivered nudge {rec.id}", functools.partial(
                    core.store.record_not_delivered, rec.id, now, NOT_SENT),
                    keep_for=core.keep_for(rec.practice_id)):
                log.info("not delivered %s (%s): attuned stopped before it was sent",
                         rec.id, rec.practice_id)
            continue
        title, body = ((f"{rec.title} (snoozed)", f"Back from a snooze. {rec.message}")
                       if rec.snoozed_from else (rec.title, rec.message))
        try:
            await delivery.send_nudge(core, title, body, rec)
        except Exception as e:  # still being sent: the next start tries again
            log.warning("could not deliver %s (%s) again: %s", rec.id, rec.practice_id, e)
        else:
            log.info("delivered %s (%s): attuned stopped before it was sent",
                     rec.id, rec.practice_id)


async def take_over_bubbles(core: Core) -> None:
    """The bubbles of an earlier run, still up on the same server (their ids kept): each
    sent again in place (its id as replaces_id), so that its buttons come to us. The test
    server sends a bubble's ActionInvoked only to the connection that sent its Notify,
    as the spec's servers may: the earlier run's is gone."""
    for rec in core.store.open_nudges():
        if (rec.state != NudgeState.SHOWN or not rec.notification_id
                or review.reflected_practice(rec.practice_id) is not None):
            continue
        title, body = ((f"{rec.title} (snoozed)", f"Back from a snooze. {rec.message}")
                       if rec.snoozed_from else (rec.title, rec.message))
        try:
            await delivery.send_nudge(core, title, body, rec, replaces=rec.notification_id)
        except Exception as e:  # its buttons stay mute; the CLI still answers it
            log.info("could not take over the bubble of %s: %s", rec.id, e)
        else:
            log.info("took over the bubble of %s (%s)", rec.id, rec.practice_id)


def set_next(core: Core, p: Practice, nxt: datetime | None) -> None:
    """Plan `p`'s next nudge at `nxt` (None: it has no more)."""
    if nxt is not None:
        core.planner.set(keys.nudge(p.id), nxt, p.grace)
    else:
        core.planner.remove(keys.nudge(p.id))


# ---------------------------------------------------------------------- too late


def missed(core: Core, key: keys.JobKey, due: datetime) -> None:
    """A timer came later than its grace (after a long sleep)."""
    now = core.now()
    ident = key.ident
    if key.kind == JobKind.NUDGE:
        p = core.practice(ident)
        reason = "later than its grace"
        latest = nxt = None
        if p is not None:
            # Later ones that came due meanwhile (a long sleep) share this one record,
            # except the latest, if it is still inside its grace: that one comes. The
            # next planned is never one already past.
            came, nxt = came_due(core, p, due, now)
            if came and now - came[-1] <= p.grace:
                latest = came.pop()
            if came:
                due, reason = came[-1], f"{reason} ({len(came) + 1} due)"
        recording.record_missed(core, ident, due, reason, p.title if p else "")
        log.info("missed %s due %s: more than its grace late", ident,
                 due.astimezone(core.zone).strftime("%a %H:%M"))
        if p is not None and p.enabled:
            set_next(core, p, latest or nxt)
    elif key.kind == JobKind.SNOOZE:
        old = core.store.get(ident)
        if old.snooze_pending:
            try:
                core.store.record_missed(old.practice_id, due, now,
                                         "the snooze ended more than its grace ago",
                                         old.title, old.message, snoozed_from=old.id)
            except NudgeNotOpen:
                return
            log.info("missed the snoozed nudge %s (%s): more than its grace late", ident,
                     old.practice_id)
    elif key.kind == JobKind.REPEAT:
        log.info("skipped a repeat of %s: more than its grace late", ident)
    elif key.kind == JobKind.EXPIRY:
        core.spawn(expire(core, ident))
    else:  # a question, a release, the digest: late is still worth it
        core.spawn(fire(core, key, due))


# ---------------------------------------------------------------------- due


async def fire(core: Core, key: keys.JobKey, due: datetime) -> None:
    """What a timer that came due does; a failure is logged, never raised."""
    try:
        if key.kind == JobKind.NUDGE:
            await nudge(core, key.ident, due)
        elif key.kind == JobKind.SNOOZE:
            await bring_back(core, key.ident, due)
        elif key.kind == JobKind.REPEAT:
            await repeat(core, key.ident)
        elif key.kind == JobKind.EXPIRY:
            await expire(core, key.ident)
        elif key.kind == JobKind.REFLECTION:
            await reflecting.ask(core, key.ident, due)
        elif key.kind == JobKind.RELEASE:
            await holding.release(core, key.ident)
        elif key.kind == JobKind.DIGEST:
            await holding.fire_digest(core)
    except Exception:
        log.exception("could not deliver %s", key)


async def nudge(core: Core, practice_id: str, due: datetime) -> NudgeRecord | None:
    p = core.practice(practice_id)
    if p is None or not p.enabled:
        return None
    # Late (a resume, a clock jump, a slow start), later ones may have come due too:
    # only the latest comes, the ones before it are one missed record, and the next
    # planned is the first after now, never one already past (a burst).
    came, nxt = came_due(core, p, due, core.now())
    skipped = [due, *came[:-1]] if came else []
    due = came[-1] if came else due
    # The next one first: whatever becomes of this one, the practice goes on.
    set_next(core, p, nxt)
    if await holding.held_back(core, p, due):
        return None
    if skipped:
        record_missed_while_down(core, p, skipped[0] - _INSTANT, due,
                                 "late, a later one came in its place")
    now = core.now()
    keep_for = core.keep_for(practice_id)
    # A nudge is open until answered or until the practice's next nudge: then it expires,
    # and its bubble (which asked to stay up) is taken down, or its buttons would answer
    # nothing, and some servers would hide the new one behind it (notification-daemon
    # shows one at a time; lxqt-notificationd does not show a repeat of one on screen).
    if p.answer_within is None:
        for old in core.store.open_nudges(practice_id):
            if old.state == NudgeState.SHOWN:
                core.backlog.write(f"the expiry of nudge {old.id}",
                                   functools.partial(core.store.expire, old.id, at=now),
                                   keep_for=keep_for)
                if old.notification_id:
                    await core.close_bubble(old.notification_id)
    message = presenting.nudge_message(core, p, due)
    repeat_at = now + p.repeat if p.repeat is not None and p.repeat_max > 0 else None

    def plan_after(rec: NudgeRecord) -> None:
        if repeat_at is not None:
            core.planner.set(keys.repeat(rec.id), repeat_at, p.grace)
        if p.answer_within is not None:
            core.planner.set(keys.expiry(rec.id), due + p.answer_within, _EXPIRY_GRACE)

    try:
        # Recorded before it is sent: after a crash it is open, never shown twice; it
        # is "sending" until the server accepts it (deliver_unsent after a crash).
        rec = recording.record_shown(core, practice_id, due, now, p.title, message,
                                     keep_for=keep_for, next_repeat_at=repeat_at,
                                     then=plan_after)
    except NudgeAlreadyRecorded:
        log.info("%s due %s was already delivered; not again", practice_id, due)
        return None
    await delivery.send_nudge(core, p.title, message, rec)
    late = (now - due).total_seconds()
    log.info("nudged %s (%s)%s%s", practice_id, rec.id,
             f", {late:.0f} s late" if late >= 1 else "",
             "; not in the history yet" if recording.is_unrecorded(core, rec.id) else "")
    return rec


async def expire(core: Core, nudge_id: str) -> None:
    """No answer within the practice's `answer_within`: the nudge is closed as expired."""
    rec = core.store.get(nudge_id)
    if rec.state != NudgeState.SHOWN:
        return
    # Kept if the history refuses it for now (None): expired all the same.
    if core.backlog.write(f"the expiry of nudge {nudge_id}",
                          functools.partial(core.store.expire, nudge_id, at=core.now()),
                          keep_for=core.keep_for(rec.practice_id)) is False:
        return  # answered meanwhile
    core.planner.remove(keys.repeat(nudge_id))
    if rec.notification_id:
        await core.close_bubble(rec.notification_id)
    log.info("expired %s (%s): no answer in time", nudge_id, rec.practice_id)


async def bring_back(core: Core, nudge_id: str, due: datetime) -> NudgeRecord | None:
    """A snooze ended: the nudge comes back (as a new nudge linked to the snoozed one)."""
    old = core.store.get(nudge_id)
    if not old.snooze_pending:  # answered meanwhile, or already brought back
        return None
    try:
        # Claims the snooze and records its return in one transaction: exactly once.
        rec = recording.record_shown(core, old.practice_id, due, core.now(), old.title,
                                     old.message, snoozed_from=old.id)
    except NudgeNotOpen:
        return None
    await delivery.send_nudge(core, f"{old.title} (snoozed)",
                              f"Back from a snooze. {old.message}", rec)
    log.info("brought back snoozed %s as %s", nudge_id, rec.id)
    return rec


async def repeat(core: Core, nudge_id: str) -> None:
    """An unanswered nudge, nudged again in its own bubble."""
    rec = core.store.get(nudge_id)
    p = core.practice(rec.practice_id)
    if rec.state != NudgeState.SHOWN or p is None or p.repeat is None:
        return
    count = rec.repeat_count + 1
    next_at = core.now() + p.repeat if count < p.repeat_max else None
    try:
        # Before showing: never twice. If the history refuses it for now, the repeat
        # still comes, and is counted once it can be written.
        core.backlog.write(f"repeat {count} of nudge {nudge_id}",
                           lambda: core.store.bump_repeat(nudge_id, next_at),
                           keep_for=core.keep_for(p.id))
    except NudgeNotOpen:
        return
    if next_at is not None:
        core.planner.set(keys.repeat(nudge_id), next_at, p.grace)
    # Replace the earlier bubble in place rather than stacking a new one.
    await delivery.send_nudge(core, p.title, rec.message, rec,
                              replaces=rec.notification_id or 0)
    log.info("repeated %s (%d of %d)", nudge_id, count, p.repeat_max)
