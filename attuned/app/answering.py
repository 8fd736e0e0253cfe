"""Answers: done, snooze, skip, and the dismissal of a bubble closed without one.

From the CLI without a daemon (`answer`, on the store alone), and in the daemon from
the control socket (`act`) or a bubble's button (`answer_from_bubble`). A bubble's answer
is recorded inside its signal's callback: servers send ActionInvoked and at once
NotificationClosed(2), often in one read (xfce4-notifyd, notification-daemon, MATE), and
the close that follows must find the nudge answered. An answer the history cannot take
now is kept and written once it can."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from attuned.app.context import Core
from attuned.core import keys, names
from attuned.core.model import Action, NudgeState, Schedule
from attuned.errors import AttunedError
from attuned.state.store import ID_ALPHABET, NudgeNotFound, NudgeRecord, Store, StoreUnavailable

log = logging.getLogger("attuned")

# However long a snooze is asked for: a week at most.
LONGEST_SNOOZE = timedelta(days=7)

ACTION_KEYS = {
    "done": Action.DONE,
    "skip": Action.SKIP,
    "snooze": Action.SNOOZE,
    "snooze-long": Action.SNOOZE,
}


class NoNudgeToAnswer(AttunedError):
    pass


@dataclass(frozen=True)
class AnswerResult:
    nudge_id: str
    practice_id: str
    title: str
    state: str
    snoozed_until: datetime | None = None

    def describe(self) -> str:
        if self.state == NudgeState.SNOOZED and self.snoozed_until is not None:
            return (f'Snoozed "{self.title}" ({self.nudge_id}); it comes back at '
                    f"{self.snoozed_until:%H:%M}.")
        words = {"done": "Marked done", "skipped": "Skipped", "dismissed": "Dismissed"}
        return f'{words.get(self.state, self.state)}: "{self.title}" ({self.nudge_id}).'

    def to_json(self) -> dict[str, Any]:
        return {"nudge": self.nudge_id, "practice": self.practice_id, "title": self.title,
                "state": self.state,
                "snoozed_until": self.snoozed_until.isoformat() if self.snoozed_until else None,
                "text": self.describe()}


def resolve_target(store: Store, target: str | None, schedule: Schedule | None) -> NudgeRecord:
    """A nudge id (or unique prefix), a practice id, or None for the newest open nudge."""
    if target is None:
        rec = store.newest_open()
        if rec is None:
            raise NoNudgeToAnswer("there is no open nudge to answer; `attuned history` shows "
                                  "recent ones")
        return rec
    if schedule is not None and schedule.get(target) is not None:
        rec = store.newest_open(target)
        if rec is None:
            raise NoNudgeToAnswer(f'practice "{target}" has no open nudge to answer')
        return rec
    try:
        return store.get(target)
    except NudgeNotFound:
        # Perhaps a practice no longer in the schedule that still has an open nudge.
        rec = store.newest_open(target)
        if rec is not None:
            return rec
        known = store.practice_ids() | {p.id for p in schedule.practices} if schedule \
            else store.practice_ids()
        if target in known:
            raise NoNudgeToAnswer(f'practice "{target}" has no open nudge to answer') from None
        # What looks like no nudge id, or is near a practice's, was meant as a practice.
        if not _looks_like_nudge_id(target) or names.closest(target, known) is not None:
            raise names.unknown_practice(target, known) from None
        raise


def _looks_like_nudge_id(text: str) -> bool:
    # Every nudge id holds a digit, so that it never reads as a practice's name.
    return all(c in ID_ALPHABET for c in text.lower()) and any(c.isdigit() for c in text)


def answer(store: Store, target: str | None, action: Action, *, at: datetime, source: str,
           schedule: Schedule | None = None, note: str | None = None, how: str | None = None,
           snooze_until: datetime | None = None) -> tuple[NudgeRecord, AnswerResult]:
    rec = resolve_target(store, target, schedule)
    return answer_nudge(store, rec.id, action, at=at, source=source, note=note, how=how,
                        snooze_until=snooze_until)


def answer_nudge(store: Store, nudge_id: str, action: Action, *, at: datetime, source: str,
                 note: str | None = None, how: str | None = None,
                 snooze_until: datetime | None = None) -> tuple[NudgeRecord, AnswerResult]:
    """Record the answer to one nudge already resolved by id."""
    new = store.answer(nudge_id, action, at=at, source=source, note=note, how=how,
                       snooze_until=snooze_until)
    return new, AnswerResult(new.id, new.practice_id, new.title, str(new.state),
                             new.snoozed_until)


# ---------------------------------------------------------------------- in the daemon


def snooze_until(core: Core, rec: NudgeRecord, action: Action, at: datetime,
                 length: timedelta | None) -> datetime | None:
    if action != Action.SNOOZE:
        return None
    p = core.practice(rec.practice_id)
    return at + (length or (p.snooze if p else core.schedule.settings.snooze))


def record_answer(core: Core, rec: NudgeRecord, action: Action, *, source: str,
                  note: str | None = None, how: str | None = None,
                  snooze_for: timedelta | None = None) -> tuple[NudgeRecord, AnswerResult]:
    """Answer the open nudge `rec` and plan what follows. Synchronous."""
    now = core.now()
    until = snooze_until(core, rec, action, now, snooze_for)
    new, result = answer_nudge(core.store, rec.id, action, at=now, source=source,
                               note=note, how=how, snooze_until=until)
    if until is not None:
        core.planner.set(keys.snooze(new.id), until, core.grace(new.practice_id))
    # remove() ignores a key with no entry.
    core.planner.remove(keys.repeat(new.id))
    core.planner.remove(keys.expiry(new.id))
    if core.phone is not None:  # answered: the phone's buttons answer nothing now
        core.phone.forget(new.id)
    if action == Action.DISMISS:
        log.info("dismissed %s (%s) without an answer", new.id, new.practice_id)
    else:
        log.info("%s %s (%s) from the %s", result.state, new.id, new.practice_id, source)
    return new, result


def answer_from_bubble(core: Core, rec: NudgeRecord, action: Action, *,
                       note: str | None = None, snooze_for: timedelta | None = None) -> None:
    """Record the answer now (synchronously: the signal that follows must see it);
    withdraw the bubble in a task."""
    at = core.now()
    try:
        if core.has_kept_writes:  # after the writes kept before it: never an answer first
            _answer_later(core, rec, action, snooze_for, at, None, note)
        else:
            record_answer(core, rec, action, source="button", note=note,
                          snooze_for=snooze_for)
    except StoreUnavailable as e:
        _answer_later(core, rec, action, snooze_for, at, e, note)
    except AttunedError as e:
        log.info("%s", e)
        return
    except Exception as e:  # the store failed: say so on one line, keep running
        hint = "" if action == Action.DISMISS else (
            f"; answer it with `attuned {action.value} {rec.id}`")
        log.error("could not record %s for %s (%s): %s%s", action.value, rec.id,
                  rec.practice_id, e, hint)
        return
    if rec.notification_id and action != Action.DISMISS:
        core.spawn(core.close_bubble(rec.notification_id))


def _answer_later(core: Core, rec: NudgeRecord, action: Action, length: timedelta | None,
                  at: datetime, error: StoreUnavailable | None,
                  note: str | None = None) -> None:
    """A button's answer, given at `at`, for the history to take when it can (or now,
    if it can); its repeats stop at once."""
    until = snooze_until(core, rec, action, at, length)
    nudge_id = rec.id

    def write() -> NudgeRecord:
        return core.store.answer(nudge_id, action, at=at, source="button", note=note,
                                 snooze_until=until)

    def written(new: NudgeRecord) -> None:
        if until is not None:
            core.planner.set(keys.snooze(new.id), until, core.grace(new.practice_id))
        log.info("%s %s (%s) from the button", new.state, new.id, new.practice_id)

    core.planner.remove(keys.repeat(nudge_id))
    core.planner.remove(keys.expiry(nudge_id))
    what = (f'{action.value} from the button at {at.astimezone(core.zone):%H:%M:%S} '
            f'for nudge {nudge_id} ("{rec.title}")')
    keep_for = core.keep_for(rec.practice_id)
    if error is not None:
        core.backlog.keep(what, write, error, keep_for=keep_for, then=written)
    else:
        core.backlog.write(what, write, keep_for=keep_for, then=written)


async def act(core: Core, target: str | None, action: Action, *, source: str,
              note: str | None = None, how: str | None = None,
              snooze_for: timedelta | None = None) -> AnswerResult:
    """An answer from the CLI through the control socket."""
    rec = resolve_target(core.store, target, core.schedule)
    _, result = record_answer(core, rec, action, source=source, note=note, how=how,
                              snooze_for=snooze_for)
    if rec.notification_id:
        # Answered from the CLI, or from a menu that leaves the bubble up (dunst).
        await core.close_bubble(rec.notification_id)
    if result.snoozed_until is not None:
        # The reply says "comes back at HH:MM": the person's clock, not UTC.
        result = replace(result, snoozed_until=result.snoozed_until.astimezone(core.zone))
    return result
