"""Writing what happens to the history, and what happens when the history refuses:
busy beyond its timeout, the disk full, the file system read-only. A nudge is still shown
then, under an id chosen at once, and written (with its bubble's id) once the history
takes it; a missed record or a bubble's id waits the same way (attuned.app.backlog).
Until its record is written, the signals of its bubble wait (`Core.signals`)."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from attuned.app.context import Core
from attuned.state.store import (
    NudgeAlreadyRecorded,
    NudgeRecord,
    StoreUnavailable,
    unrecorded_shown,
)

log = logging.getLogger("attuned")


def _show_held(core: Core, held_id: str, now: datetime, message: str,
               next_repeat_at: datetime | None) -> NudgeRecord:
    rec = core.store.show_held(held_id, now, message, next_repeat_at=next_repeat_at)
    if rec is None:
        raise NudgeAlreadyRecorded(f"the held nudge {held_id} is no longer held; "
                                   "it is not shown again")
    return rec


def record_shown(core: Core, practice_id: str, due: datetime, now: datetime, title: str,
                 message: str, *, keep_for: timedelta | None = None,
                 snoozed_from: str | None = None, next_repeat_at: datetime | None = None,
                 held_id: str | None = None,
                 then: Callable[[NudgeRecord], object] | None = None) -> NudgeRecord:
    """`store.record_shown`, or, while the history refuses writes, a record to show the
    nudge by: its id chosen now, written with its notification id once the history takes
    it (then `then` runs with the written record). `held_id`: the nudge was held as this
    one in the history, which is shown now (`store.show_held`: the same nudge, under its
    id)."""
    keep_for = keep_for or core.keep_for(practice_id)
    backlog = core.backlog
    error = None
    if not backlog.pending:
        try:
            if held_id is not None:
                rec = _show_held(core, held_id, now, message, next_repeat_at)
            else:
                rec = core.store.record_shown(practice_id, due, now, title, message,
                                              snoozed_from=snoozed_from,
                                              next_repeat_at=next_repeat_at)
        except StoreUnavailable as e:
            error = e
        else:
            backlog.worked()
            if then is not None:
                then(rec)
            return rec
    rid = held_id or core.store.new_id(avoid=core.unrecorded)
    core.unrecorded[rid] = None
    core.signals.in_flight += 1  # its bubble's buttons are kept until it is recorded

    def write() -> NudgeRecord:
        if held_id is not None:
            shown = _show_held(core, held_id, now, message, next_repeat_at)
            core.store.record_sent(shown.id, now, core.unrecorded.get(rid))
            return shown
        # Sent as well as shown: the run writing it is the one that sent it (one that
        # stopped before left no record of it at all).
        return core.store.record_shown(
            practice_id, due, now, title, message,
            notification_id=core.unrecorded.get(rid), snoozed_from=snoozed_from,
            next_repeat_at=next_repeat_at, nudge_id=rid, sent=True)

    def settle() -> int | None:
        core.signals.in_flight -= 1
        return core.unrecorded.pop(rid, None)

    def written(rec: NudgeRecord) -> None:
        nid = settle()
        if then is not None:
            then(rec)
        core.signals.replay(nid)  # buttons pressed meanwhile answer it now

    def failed() -> None:
        settle()
        core.signals.replay(None)

    local = due.astimezone(core.zone)
    what = f'the nudge "{title}: {message}" ({rid}, due {local:%a %H:%M})'
    if error is not None:
        backlog.keep(what, write, error, keep_for=keep_for, then=written, failed=failed)
        return unrecorded_shown(rid, practice_id, due, now, title, message,
                                snoozed_from=snoozed_from, next_repeat_at=next_repeat_at)
    try:
        made = backlog.write(what, write, keep_for=keep_for, then=written, failed=failed)
    except BaseException:
        failed()
        raise
    return made or unrecorded_shown(rid, practice_id, due, now, title, message,
                                    snoozed_from=snoozed_from, next_repeat_at=next_repeat_at)


def record_missed(core: Core, practice_id: str, due: datetime, reason: str,
                  title: str) -> None:
    """One missed record (kept for later if the history refuses it for now)."""
    with contextlib.suppress(NudgeAlreadyRecorded):
        core.backlog.write(
            f'the missed nudge "{title}" of {practice_id} ({reason})',
            functools.partial(core.store.record_missed, practice_id, due, at=core.now(),
                              reason=reason, title=title),
            keep_for=core.keep_for(practice_id))


def remember_sent(core: Core, rec: NudgeRecord, nid: int | None) -> None:
    """`rec` was sent (accepted by the server, under `nid`, or delivered by a fallback,
    None): it counts as shown from now. Kept with its record if that is still to be
    written, else now or once the history takes it (its signals wait until then)."""
    if rec.id in core.unrecorded:
        core.unrecorded[rec.id] = nid
        return
    kept = False
    core.signals.in_flight += 1

    def done(_: object = None) -> None:
        core.signals.in_flight -= 1
        if kept:
            core.signals.replay(nid)

    what = (f"the notification id of nudge {rec.id}" if nid is not None
            else f"the sending of nudge {rec.id}")
    try:
        core.backlog.write(what, lambda: core.store.record_sent(rec.id, core.now(), nid),
                           keep_for=core.keep_for(rec.practice_id), then=done, failed=done)
    except BaseException:
        core.signals.in_flight -= 1
        raise
    kept = True


def is_unrecorded(core: Core, nudge_id: str) -> bool:
    return nudge_id in core.unrecorded
