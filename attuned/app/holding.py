"""Nudges held back from the screen.

A nudge is blocked when, at the moment it is due, together mode is off (for a
when = "together" practice), its quiet hours hold the moment, or the desktop's
notifications are paused (do-not-disturb, as the notifier can tell). Per practice it is
then dropped (not shown), deferred (shown once the block ends; one per practice, the
newest), or gathered into the digest (one notification at settings.digest_at listing
every gathered practice). Either way the history records it with why: held, then shown
as the same nudge, or dropped (at its moment, replaced by a newer held one, or its
practice gone); a restart does not count it missed. Held nudges live in the history
database (Store.hold), so they survive restarts; their timers are planned again from it
by `plan_held`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from attuned.app import delivery, presenting, recording
from attuned.app.context import Core
from attuned.core import keys, timing, together
from attuned.core.history import EventReason
from attuned.core.keys import JobKey, JobKind
from attuned.core.model import (
    AwayMode,
    Blocked,
    Held,
    HoldMode,
    HoldReason,
    Practice,
    TogetherState,
    When,
)
from attuned.core.presence import Presence, PresenceState
from attuned.notify.base import Notification
from attuned.state.store import NudgeAlreadyRecorded, NudgeRecord

log = logging.getLogger("attuned")

# Held nudges are already late by design: however late their release comes (a suspend),
# it still comes.
_HELD_GRACE = timedelta(days=365)
DIGEST_TITLE = "Nudges that waited for you"
_NOTES = {HoldReason.QUIET: "(held through quiet hours)",
          HoldReason.DND: "(held while notifications were paused)", HoldReason.TOGETHER: "",
          HoldReason.AWAY: "(held while you were away)"}
_WHY = {HoldReason.TOGETHER: "not together time", HoldReason.QUIET: "quiet hours",
        HoldReason.DND: "notifications are paused", HoldReason.AWAY: "nobody at the screen"}
_IDLE_LOOK = timedelta(seconds=5)
_AWAY_MISSED = "nobody came back to the screen within its grace"


@dataclass(frozen=True)
class TogetherResult:
    """Together mode after a switch, and the held nudges that came with it."""

    state: TogetherState
    text: str
    released: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {**self.state.to_json(), "text": self.text, "released": list(self.released)}


def quiet_filter(p: Practice) -> bool:
    """Should the timing core leave out this practice's nudges inside its quiet hours?
    Yes (as `attuned next` does) unless they are deferred or gathered there."""
    return p.blocked == Blocked.DROP or p.quiet_hours is None


def _mode(p: Practice, block: HoldReason) -> Blocked:
    """What becomes of a nudge of `p` blocked by `block`."""
    if block == HoldReason.AWAY:
        return Blocked.DEFER  # away = "hold": until the person is back, whatever `blocked`
    if block == HoldReason.TOGETHER:
        # Its `outside`, else its `blocked` (a digest defers: together time may come soon).
        if p.outside is not None:
            return p.outside
        return Blocked.DROP if p.blocked == Blocked.DROP else Blocked.DEFER
    return p.blocked


async def paused_or_unknown(core: Core) -> bool | None:
    """Are the desktop's notifications paused? None when the notifier cannot say."""
    try:
        return await core.notifier.do_not_disturb()
    except Exception as e:  # cannot tell
        log.debug("could not ask whether notifications are paused: %s", e)
        return None


async def desktop_paused(core: Core) -> bool:
    """Are the desktop's notifications paused? False when the notifier cannot say: a
    nudge is shown then (never lost to a failed probe)."""
    return bool(await paused_or_unknown(core))


async def blocked_by(core: Core, p: Practice) -> HoldReason | None:
    """What blocks a nudge of `p` now, or None."""
    now = core.now()
    if p.when == When.TOGETHER and not core.store.together().active(now):
        return HoldReason.TOGETHER
    if timing.in_quiet_hours(p.quiet_hours, now.astimezone(core.zone)):
        return HoldReason.QUIET
    if await desktop_paused(core):
        return HoldReason.DND
    if (core.schedule.settings.away_mode == AwayMode.HOLD and core.is_away is not None
            and core.is_away() is True):
        return HoldReason.AWAY
    return None


async def held_back(core: Core, p: Practice, due: datetime) -> bool:
    """Is this nudge held back from the screen (dropped, deferred or gathered)?"""
    block = await blocked_by(core, p)
    if block is None:
        return False
    _hold(core, p, due, block, _mode(p, block))
    return True


def _hold(core: Core, p: Practice, due: datetime, block: HoldReason, mode: Blocked) -> None:
    """Drop the nudge or hold it, in the history with why (and its blocked mark, so a
    restart does not count it missed); a held one is planned to be looked at again."""
    when = due.astimezone(core.zone).strftime("%a %H:%M")
    # Through the backlog: a history that refuses writes for now gets them later.
    keep_for = core.keep_for(p.id)
    message, now = presenting.nudge_message(core, p, due), core.now()
    why = _WHY[block]
    if mode == Blocked.DROP:
        core.backlog.write(f"the dropped nudge of {p.id} due {when} ({why})",
                           functools.partial(core.store.drop, p.id, due,
                                             EventReason(block.value), title=p.title,
                                             message=message, at=now),
                           keep_for=keep_for)
        log.info("dropped %s (due %s): %s", p.id, when, why)
        return
    core.backlog.write(f"the held nudge of {p.id} due {when} ({why})",
                       functools.partial(core.store.hold,
                                         Held(p.id, due, block, HoldMode(mode.value)),
                                         title=p.title, message=message, at=now),
                       keep_for=keep_for)
    if mode == Blocked.DIGEST:
        core.planner.set(keys.DIGEST, digest_time(core, due), _HELD_GRACE)
        log.info("gathered %s (due %s) into the digest: %s", p.id, when, why)
        return
    at = _release_time(core, p, due, block)
    if at is not None:
        core.planner.set(keys.release(p.id), at, _HELD_GRACE)
    log.info("held %s (due %s) until %s", p.id, when,
             {HoldReason.TOGETHER: "together time starts",
              HoldReason.DND: "notifications are resumed",
              HoldReason.AWAY: "someone is at the screen (within its grace)"}.get(
                 block, f"quiet hours end at {at:%H:%M}" if at else "quiet hours end"))


def _give_up(core: Core, h: Held) -> None:
    """A held nudge whose practice was removed or disabled while it waited: dropped,
    and the history says so."""
    when = h.due.astimezone(core.zone).strftime("%a %H:%M")
    core.backlog.write(f"the dropped nudge of {h.practice_id} due {when} (its practice "
                       "is gone)",
                       functools.partial(core.store.drop, h.practice_id, h.due,
                                         EventReason.GONE, at=core.now()),
                       keep_for=core.keep_for(h.practice_id))
    log.info("dropped the held nudge of %s (due %s): its practice was removed or disabled",
             h.practice_id, when)


def _release_time(core: Core, p: Practice, due: datetime, block: HoldReason
                  ) -> datetime | None:
    """When a deferred nudge should be looked at again; None: on an event (together on,
    notifications resumed). One held while away is looked at on the person's return, or
    at the end of its grace (missed then)."""
    if block == HoldReason.AWAY:
        end = due + p.grace
        where = core.presence.current() if core.presence is not None else None
        if where is not None and where.state is PresenceState.IDLE:
            # X11's idle time ends with no signal: looked at again every few seconds
            # while a nudge waits for it (within its grace only), not a poll while idle.
            return min(core.now() + _IDLE_LOOK, end)
        return end
    if block == HoldReason.QUIET and p.quiet_hours is not None:
        return timing.quiet_end(p.quiet_hours, core.now(), core.zone)
    return None


def digest_time(core: Core, after: datetime) -> datetime:
    """The digest's moment for nudges held since `after`: the next settings.digest_at
    after it, or, when digest_at falls inside the quiet hours of [settings], the next end
    of those quiet hours."""
    s = core.schedule.settings
    wall = s.digest_at
    q = s.quiet_hours
    if q is not None and q.start != q.end and q.contains(wall):
        wall = q.end  # a digest never wakes anyone: it comes as the quiet hours end
    return timing.next_wall(wall, after, core.zone)


def plan_held(core: Core) -> int:
    """Timers for the held nudges (after a restart, a reload or a clock jump): each
    deferred nudge's release and the digest. Returns how many changed."""
    now = core.now()
    items = core.store.held()
    wanted: dict[JobKey, tuple[datetime, timedelta]] = {}
    gathered = [h.due for h in items if h.mode == HoldMode.DIGEST]
    if gathered:
        wanted[keys.DIGEST] = (digest_time(core, min(gathered)), _HELD_GRACE)
    state = core.store.together()
    for h in items:
        p = core.practice(h.practice_id)
        if h.mode != HoldMode.DEFER or p is None:
            continue
        at: datetime | None = now
        if h.reason == HoldReason.TOGETHER and not state.active(now):
            continue  # together time has not started: `attuned together on` releases it
        if h.reason == HoldReason.QUIET and p.quiet_hours is not None:
            at = timing.quiet_end(p.quiet_hours, now, core.zone)
        if (h.reason == HoldReason.AWAY and core.is_away is not None and core.is_away()
                and core.schedule.settings.away_mode == AwayMode.HOLD):
            at = max(now, h.due + p.grace)  # still away: looked at as its grace ends
        if at is not None:
            # Do-not-disturb: looked at now; if still paused it is held again until resumed.
            wanted[keys.release(p.id)] = (at, _HELD_GRACE)
    changed = 0
    current = core.planner.due_times()
    for key, (at, grace) in wanted.items():
        if key.kind == JobKind.RELEASE and key in current and current[key] <= at:
            continue  # already planned (e.g. quiet hours' end): keep it, unless it is later
        if core.planner.set(key, at, grace):
            changed += 1
    for key in core.planner.keys():  # noqa: SIM118 (a method, not a dict)
        if key.kind in (JobKind.RELEASE, JobKind.DIGEST) and key not in wanted:
            core.planner.remove(key)
            changed += 1
    return changed


def handled_marks(core: Core) -> dict[str, datetime]:
    """Per practice, the newest planned nudge that was held or dropped: a restart
    counts nudges after it (not it) as missed while down."""
    marks = core.store.blocked_marks()
    for h in core.store.held():
        if h.practice_id not in marks or marks[h.practice_id] < h.due:
            marks[h.practice_id] = h.due
    return marks


def blocked_while_down(core: Core, p: Practice, at: datetime) -> bool:
    """Would a nudge of `p` at `at` have been blocked by together mode (as far as the
    saved state tells)? Such a nudge is not counted as missed while the daemon was down."""
    return p.when == When.TOGETHER and not core.store.together().active(at)


async def release(core: Core, practice_id: str) -> NudgeRecord | None:
    """Show a practice's deferred nudge if nothing blocks it any more; else hold it
    again (a nudge once held is never dropped by a later block)."""
    p = core.practice(practice_id)
    waiting = core.store.held(practice_id)
    if (waiting and waiting[-1].reason == HoldReason.AWAY and p is not None and p.enabled
            and waiting[-1].mode == HoldMode.DEFER and core.now() < waiting[-1].due + p.grace
            and await blocked_by(core, p) == HoldReason.AWAY):
        # Still away, inside its grace: looked at again later, the history untouched.
        at = _release_time(core, p, waiting[-1].due, HoldReason.AWAY)
        if at is not None:
            core.planner.set(keys.release(p.id), at, _HELD_GRACE)
        return None
    items = core.store.take_held(practice_id, HoldMode.DEFER)
    if not items:
        return None
    h = items[-1]
    if p is None or not p.enabled:
        _give_up(core, h)
        return None
    if h.reason == HoldReason.AWAY and core.now() >= h.due + p.grace and h.nudge_id:
        _miss(core, h)
        return None
    block = await blocked_by(core, p)
    if block is not None:
        mode = (Blocked.DIGEST if block not in (HoldReason.TOGETHER, HoldReason.AWAY)
                and p.blocked == Blocked.DIGEST else Blocked.DEFER)
        _hold(core, p, h.due, block, mode)
        return None
    return await show_held(core, p, h.due, _NOTES.get(h.reason, ""), held_id=h.nudge_id)


async def fire_digest(core: Core) -> list[NudgeRecord]:
    """One notification listing every gathered nudge; each is recorded as shown (and so
    answerable: attuned done|skip ID)."""
    items = core.store.take_held(mode=HoldMode.DIGEST)  # oldest due first
    now = core.now()
    recs: list[NudgeRecord] = []
    lines: list[str] = []
    for h in items:
        p = core.practice(h.practice_id)
        if p is None or not p.enabled:
            _give_up(core, h)
            continue
        message = presenting.nudge_message(core, p, h.due)
        try:
            # Recorded first; if the history refuses it for now, shown and kept for it.
            rec = recording.record_shown(core, p.id, h.due, now, p.title, message,
                                         held_id=h.nudge_id)
        except NudgeAlreadyRecorded:
            continue
        recs.append(rec)
        when = h.due.astimezone(core.zone).strftime("%H:%M")
        if p.discreet:
            lines.append(f"{when}  {presenting.DISCREET_GLYPH}  {rec.id}")
        else:
            lines.append(f"{when}  {p.title}: {message}  ({rec.id})")
    if not recs:
        return []
    lines.append("Answer each with: attuned done|skip ID")
    await core.notifier.send(Notification(title=DIGEST_TITLE, body="\n".join(lines)))
    log.info("digest of %d held nudges: %s", len(recs), ", ".join(r.id for r in recs))
    return recs


def _miss(core: Core, h: Held) -> None:
    """A nudge held while away whose grace ended before anyone came back: missed."""
    assert h.nudge_id is not None
    when = h.due.astimezone(core.zone).strftime("%a %H:%M")
    core.backlog.write(f"the missed nudge of {h.practice_id} due {when}",
                       functools.partial(core.store.miss_held, h.nudge_id, core.now(),
                                         _AWAY_MISSED),
                       keep_for=core.keep_for(h.practice_id))
    log.info("missed %s (due %s): %s", h.practice_id, when, _AWAY_MISSED)


def on_presence_change(core: Core, presence: Presence) -> None:
    """The person's presence changed: on their return, what waited for them is looked
    at now (shown, or missed if its grace ended)."""
    if presence.away:
        return
    for h in core.store.held():
        if h.reason == HoldReason.AWAY and h.mode == HoldMode.DEFER:
            core.planner.set(keys.release(h.practice_id), core.now(), _HELD_GRACE)


def on_dnd_change(core: Core, paused: bool) -> None:
    """The desktop's notifications were paused or resumed: on resume, what waited for
    it is looked at now."""
    log.info("notifications %s on the desktop", "paused" if paused else "resumed")
    if paused:
        return
    for h in core.store.held():
        if h.reason == HoldReason.DND and h.mode == HoldMode.DEFER:
            core.planner.set(keys.release(h.practice_id), core.now(), _HELD_GRACE)


async def show_held(core: Core, p: Practice, due: datetime, note: str, *,
                    held_id: str | None = None) -> NudgeRecord | None:
    """Show a nudge that was held back, as planned for `due` (recorded once: as the
    history's held nudge `held_id` when it has one)."""
    message = presenting.nudge_message(core, p, due)
    try:
        # Recorded first; if the history refuses it for now, shown and kept for it.
        rec = recording.record_shown(core, p.id, due, core.now(), p.title, message,
                                     held_id=held_id)
    except NudgeAlreadyRecorded:
        return None
    await delivery.send_nudge(core, p.title, f"{note} {message}" if note else message, rec)
    log.info("released held %s (%s)", p.id, rec.id)
    return rec


async def switch_together(core: Core, word: str, until: str | None) -> TogetherResult:
    """Switch together mode, keep it, and release what waited for it."""
    state = together.switch(word, until, core.now(), core.zone)
    core.store.set_together(state)
    released: list[str] = []
    if state.active(core.now()):
        for h in core.store.held():
            if h.reason == HoldReason.TOGETHER and h.mode == HoldMode.DEFER:
                rec = await release(core, h.practice_id)
                if rec is not None:
                    released.append(rec.id)
    return TogetherResult(state, state.describe(core.now(), core.zone), tuple(released))
