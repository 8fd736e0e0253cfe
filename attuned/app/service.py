"""The core: what happens when a nudge is due, answered, snoozed or missed.

Both front-ends call this: the daemon's control socket (through `Service`) and the CLI
when no daemon runs (through the module functions that only need the store). It returns
result objects and never prints.

Job keys in the scheduler: "p:<practice>" the practice's next nudge, "s:<nudge>" a
snoozed nudge coming back, "r:<nudge>" a repeat of an unanswered nudge, "x:<nudge>" the
expiry of an unanswered nudge (answer_within).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import logging
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from attuned.core import timing
from attuned.core.clock import Clock
from attuned.core.durations import format_duration
from attuned.core.model import Action, NudgeState, Practice, Schedule
from attuned.errors import AttunedError, PracticeNotFound
from attuned.notify.base import CLOSED_DISMISSED, EXPIRES_NEVER, Notification, Notifier
from attuned.state.store import (
    HistoryEvent,
    NudgeAlreadyRecorded,
    NudgeNotFound,
    NudgeNotOpen,
    NudgeRecord,
    Store,
    StoreUnavailable,
    unrecorded_shown,
)
from attuned.tasks import TaskSet

if TYPE_CHECKING:

    from attuned.app.backlog import WriteBacklog
    from attuned.core.stats import PracticeStats

log = logging.getLogger("attuned")

ACTION_KEYS = {
    "done": Action.DONE,
    "skip": Action.SKIP,
    "snooze": Action.SNOOZE,
    "snooze-long": Action.SNOOZE,
}


class Planner(Protocol):
    """What the core needs of the scheduler (attuned.daemon.scheduler.NudgeScheduler)."""

    def set(self, key: str, run_at: datetime, grace: timedelta) -> bool: ...
    def remove(self, key: str) -> None: ...
    def keys(self) -> builtins.set[str]: ...
    def batch(self) -> contextlib.AbstractContextManager[None]: ...
    def due_times(self) -> dict[str, datetime]: ...


_INSTANT = timedelta(microseconds=1)  # "after t" for ranges that start at t
# An expiry is bookkeeping, not a nudge: however late (after a suspend), it still applies.
_EXPIRY_GRACE = timedelta(days=365)
# A write the history refuses (busy, disk full, read-only) is tried again for the
# practice's grace, and for at least this long, before the log says it was not recorded.
KEEP_TRYING = timedelta(minutes=5)
CANNOT_WRITE_TITLE = "attuned cannot write its history"


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


def changed_practices(old: Schedule, new: Schedule) -> set[str] | None:
    """Ids of the practices a reload from `old` to `new` changed, added or removed; None
    when the settings changed (re-plan everything). A practice that only moved in the
    file (its `line`) is unchanged. 10,000 practices: re-planning all took ~1 s a save."""
    if old.settings != new.settings:
        return None
    before = {p.id: p for p in old.practices}
    ids: set[str] = set()
    for p in new.practices:
        q = before.pop(p.id, None)
        if q is None or (p != q and replace(q, line=p.line) != p):
            ids.add(p.id)
    ids.update(before)  # removed
    return ids


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
        if rec is None:
            raise
        return rec


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


@dataclass
class ScheduleState:
    schedule: Schedule
    loaded_at: datetime
    error: str | None = None  # the text of the last rejected edit, until fixed
    using_example: bool = False


@dataclass
class Service:
    """The daemon's core. Single-threaded: everything runs on the event loop."""

    store: Store
    notifier: Notifier
    planner: Planner
    state: ScheduleState
    zone: ZoneInfo
    seed: str
    clock: Clock  # the daemon's one clock: its wall time, and timers for kept writes
    # What a signal or a due nudge started: drained before the store closes.
    tasks: TaskSet = field(default_factory=lambda: TaskSet("core"))
    _in_flight: int = 0  # notifications sent whose id is not known yet
    # Signals about a notification whose id is not known yet, in the order they came.
    _early: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    _backlog: WriteBacklog | None = None  # made on first use (attuned.backlog)
    # Nudges shown before the history could record them: id -> notification id.
    _unrecorded: dict[str, int | None] = field(default_factory=dict)

    # ------------------------------------------------------------------ schedule

    @property
    def schedule(self) -> Schedule:
        return self.state.schedule

    def now(self) -> datetime:
        return self.clock.now()

    def plan_all(self, *, startup: bool, only: Collection[str] | None = None) -> int:
        """(Re)plan every practice's next nudge. Returns how many jobs changed.

        At start-up the latest nudge of a practice that came due while the daemon was
        down is still delivered if inside its grace; older ones of the same practice are
        recorded as one missed nudge (none when it has no history yet).
        `only`: re-plan just these practice ids (a reload's changed and removed ones, from
        `changed_practices`); the others' planned nudges stay as they are.
        """
        from attuned.app import practising  # issue 6: held nudges, a period's question

        now = self.now()
        changed = 0
        wanted: set[str] = set()
        planned = self.planner.due_times()
        marks = practising.handled_marks(self)  # held or dropped: not missed while down
        fired = self.store.last_fired_all()  # one query, not one per practice
        for p in self.schedule.practices:
            if not p.enabled or (only is not None and p.id not in only):
                continue
            key = f"p:{p.id}"
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
            nxt = timing.next_occurrence(p, after, self.zone, self.seed,
                                         quiet=practising.quiet_filter(p))
            missed_until = now - p.grace
            if nxt is not None and nxt <= now:
                # Several may have come due inside the grace (down for a while, an
                # every-minute practice): only the latest comes, the ones before it go
                # into the missed record with the rest.
                nxt = self._came_due(p, nxt - _INSTANT, now)[0][-1]
                missed_until = nxt
            if current is not None and current <= now:
                # Came due beyond its grace while the machine slept: one missed record
                # (with any later ones), never silently planned past.
                self._record_missed_while_down(p, current - _INSTANT, missed_until,
                                               "the computer was asleep")
            elif startup and last is not None:
                self._record_missed_while_down(p, last, missed_until)
            if nxt is None:
                continue
            wanted.add(key)
            if self.planner.set(key, nxt, p.grace):
                changed += 1
        for key in self.planner.keys():  # noqa: SIM118 (a method, not a dict)
            if key.startswith("p:") and key not in wanted and (only is None or key[2:] in only):
                self.planner.remove(key)
                changed += 1
        return (changed + practising.plan_reflections(self, startup=startup, fired=fired)
                + practising.plan_held(self, startup=startup))

    def _record_missed_while_down(self, p: Practice, last: datetime, until: datetime,
                                  why: str = "the daemon was not running") -> None:
        if until <= last:
            return
        from attuned.app import practising

        missed = [t for t in timing.occurrences(p, last + _INSTANT, until, self.zone,
                                                self.seed)
                  if not practising.blocked_while_down(self, p, t)]  # issue 6: not missed
        if missed:
            # Several missed nudges of one practice collapse into one record.
            self._record_missed(p.id, missed[-1], f"{why} ({len(missed)} due)", p.title)
            log.info("missed %s at %s: %s", p.id,
                     missed[-1].astimezone(self.zone).strftime("%a %H:%M"), why)

    def _record_missed(self, practice_id: str, due: datetime, reason: str,
                       title: str) -> None:
        """One missed record (kept for later if the history refuses it for now)."""
        with contextlib.suppress(NudgeAlreadyRecorded):
            self.backlog.write(
                f'the missed nudge "{title}" of {practice_id} ({reason})',
                functools.partial(self.store.record_missed, practice_id, due, at=self.now(),
                                  reason=reason, title=title),
                keep_for=self._keep_for(practice_id))

    def _came_due(self, p: Practice, after: datetime, now: datetime
                  ) -> tuple[list[datetime], datetime | None]:
        """`p`'s nudges after `after` that came due by `now`, oldest first, and its first
        one after `now` (None: no more)."""
        from attuned.app import practising

        came: list[datetime] = []
        for t in timing.iter_after(p, after, self.zone, self.seed,
                                   quiet=practising.quiet_filter(p)):
            if t > now:
                return came, t
            came.append(t)
        return came, None

    def restore_pending(self) -> None:
        """Snoozes and repeats live in the database; bring them back after any restart."""
        for rec in self.store.pending_snoozes():
            assert rec.snoozed_until is not None
            self.planner.set(f"s:{rec.id}", rec.snoozed_until, self._grace(rec.practice_id))
        for rec in self.store.open_nudges():
            p = self.schedule.get(rec.practice_id)
            if rec.state == NudgeState.SHOWN and p is not None and p.answer_within is not None:
                self.planner.set(f"x:{rec.id}", rec.due + p.answer_within, _EXPIRY_GRACE)
        for rec in self.store.pending_repeats():
            if rec.next_repeat_at is not None:
                self.planner.set(f"r:{rec.id}", rec.next_repeat_at,
                                 self._grace(rec.practice_id))

    def _grace(self, practice_id: str) -> timedelta:
        p = self.schedule.get(practice_id)
        return p.grace if p else self.schedule.settings.grace

    def _keep_for(self, practice_id: str) -> timedelta:
        """How long a write the history refuses is tried again (see attuned.backlog)."""
        return max(self._grace(practice_id), KEEP_TRYING)

    # ------------------------------------------------------------------ firing

    def on_due(self, key: str, due: datetime) -> None:
        self._spawn(self.fire_key(key, due))

    def on_missed(self, key: str, due: datetime) -> None:
        kind, _, ident = key.partition(":")
        now = self.now()
        if kind == "p":
            p = self.schedule.get(ident)
            reason = "later than its grace"
            latest = nxt = None
            if p is not None:
                # Later ones that came due meanwhile (a long sleep) share this one
                # record, except the latest, if it is still inside its grace: that one
                # comes. The next planned is never one already past.
                came, nxt = self._came_due(p, due, now)
                if came and now - came[-1] <= p.grace:
                    latest = came.pop()
                if came:
                    due, reason = came[-1], f"{reason} ({len(came) + 1} due)"
            self._record_missed(ident, due, reason, p.title if p else "")
            log.info("missed %s due %s: more than its grace late", ident,
                     due.astimezone(self.zone).strftime("%a %H:%M"))
            if p is not None and p.enabled:
                self._set_next(p, latest or nxt)
        elif kind == "s":
            old = self.store.get(ident)
            if old.snooze_pending:
                try:
                    self.store.record_missed(old.practice_id, due, now,
                                             "the snooze ended more than its grace ago",
                                             old.title, old.message, snoozed_from=old.id)
                except NudgeNotOpen:
                    return
                log.info("missed the snoozed nudge %s (%s): more than its grace late", ident,
                         old.practice_id)
        elif kind == "r":
            log.info("skipped a repeat of %s: more than its grace late", ident)
        elif kind == "x":
            self._spawn(self.expire(ident))

    async def fire_key(self, key: str, due: datetime) -> None:
        kind, _, ident = key.partition(":")
        try:
            if kind == "p":
                await self.fire(ident, due)
            elif kind == "s":
                await self.fire_snooze(ident, due)
            elif kind == "r":
                await self.fire_repeat(ident, due)
            elif kind == "x":
                await self.expire(ident)
            elif kind == "e":  # issue 6: the question at a period's end
                from attuned.app import practising

                await practising.fire_reflection(self, ident, due)
            elif kind in ("h", "d"):  # issue 6: a held nudge's release, the digest
                from attuned.app import practising

                await practising.fire_key(self, kind, ident, due)
        except Exception:
            log.exception("could not deliver %s", key)

    async def fire(self, practice_id: str, due: datetime) -> NudgeRecord | None:
        p = self.schedule.get(practice_id)
        if p is None or not p.enabled:
            return None
        from attuned.app import practising

        # Late (a resume, a clock jump, a slow start), later ones may have come due too:
        # only the latest comes, the ones before it are one missed record, and the next
        # planned is the first after now, never one already past (a burst).
        came, nxt = self._came_due(p, due, self.now())
        skipped = [due, *came[:-1]] if came else []
        due = came[-1] if came else due
        # The next one first: whatever becomes of this one, the practice goes on.
        self._set_next(p, nxt)
        if await practising.held_back(self, p, due):  # issue 6: together, quiet, DND
            return None
        if skipped:
            self._record_missed_while_down(p, skipped[0] - _INSTANT, due,
                                           "late, a later one came in its place")
        now = self.now()
        keep_for = self._keep_for(practice_id)
        # A nudge is open until answered or until the practice's next nudge.
        if p.answer_within is None:
            for old in self.store.open_nudges(practice_id):
                if old.state == NudgeState.SHOWN:
                    self.backlog.write(f"the expiry of nudge {old.id}",
                                       functools.partial(self.store.expire, old.id, at=now),
                                       keep_for=keep_for)
        message = self.nudge_message(p, due)
        repeat_at = now + p.repeat if p.repeat is not None and p.repeat_max > 0 else None

        def plan_after(rec: NudgeRecord) -> None:
            if repeat_at is not None:
                self.planner.set(f"r:{rec.id}", repeat_at, p.grace)
            if p.answer_within is not None:
                self.planner.set(f"x:{rec.id}", due + p.answer_within, _EXPIRY_GRACE)

        try:
            # Recorded before it is shown: after a crash it is open, never shown twice.
            rec = self._record_shown(practice_id, due, now, p.title, message,
                                     keep_for=keep_for, next_repeat_at=repeat_at,
                                     then=plan_after)
        except NudgeAlreadyRecorded:
            log.info("%s due %s was already delivered; not again", practice_id, due)
            return None
        await self._send(p.title, message, rec)
        late = (now - due).total_seconds()
        log.info("nudged %s (%s)%s%s", practice_id, rec.id,
                 f", {late:.0f} s late" if late >= 1 else "",
                 "; not in the history yet" if rec.id in self._unrecorded else "")
        return rec

    @property
    def backlog(self) -> WriteBacklog:
        """Writes the history refused for now, tried again (attuned.backlog)."""
        if self._backlog is None:
            from attuned.app.backlog import WriteBacklog

            self._backlog = WriteBacklog(self.store, self.clock, tell=self._tell_unwritable)
        return self._backlog

    def flush_kept(self) -> None:
        """At exit: writes the history refused get one last try; the log names the rest."""
        if self._backlog is not None:
            self._backlog.close()

    def _tell_unwritable(self, text: str) -> None:
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not in the daemon's loop: the log has said it
            return

        async def tell() -> None:
            try:
                await self.notifier.send(Notification(title=CANNOT_WRITE_TITLE, body=text))
            except Exception as e:  # the log has said it already
                log.debug("could not show %r: %s", CANNOT_WRITE_TITLE, e)

        self._spawn(tell())

    def _record_shown(self, practice_id: str, due: datetime, now: datetime, title: str,
                      message: str, *, keep_for: timedelta | None = None,
                      snoozed_from: str | None = None,
                      next_repeat_at: datetime | None = None,
                      then: Callable[[NudgeRecord], object] | None = None) -> NudgeRecord:
        """`store.record_shown`, or, while the history refuses writes, a record to show
        the nudge by: its id chosen now, written with its notification id once the
        history takes it (then `then` runs with the written record). Until then the
        signals of its bubble wait, as for a bubble whose id is not known yet."""
        keep_for = keep_for or self._keep_for(practice_id)
        backlog = self.backlog
        error = None
        if not backlog.pending:
            try:
                rec = self.store.record_shown(practice_id, due, now, title, message,
                                              snoozed_from=snoozed_from,
                                              next_repeat_at=next_repeat_at)
            except StoreUnavailable as e:
                error = e
            else:
                backlog.worked()
                if then is not None:
                    then(rec)
                return rec
        rid = self.store.new_id(avoid=self._unrecorded)
        self._unrecorded[rid] = None
        self._in_flight += 1  # its bubble's buttons are kept until it is recorded

        def write() -> NudgeRecord:
            return self.store.record_shown(
                practice_id, due, now, title, message,
                notification_id=self._unrecorded.get(rid), snoozed_from=snoozed_from,
                next_repeat_at=next_repeat_at, nudge_id=rid)

        def settle() -> int | None:
            self._in_flight -= 1
            return self._unrecorded.pop(rid, None)

        def written(rec: NudgeRecord) -> None:
            nid = settle()
            if then is not None:
                then(rec)
            self._replay_early(nid)  # buttons pressed meanwhile answer it now

        def failed() -> None:
            settle()
            self._replay_early(None)

        local = due.astimezone(self.zone)
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
                                        snoozed_from=snoozed_from,
                                        next_repeat_at=next_repeat_at)

    def _remember_id(self, rec: NudgeRecord, nid: int) -> None:
        """Keep the server's id of `rec`'s bubble: with its record if that is still to
        be written, else now or once the history takes it (its signals wait until then)."""
        if rec.id in self._unrecorded:
            self._unrecorded[rec.id] = nid
            return
        kept = False
        self._in_flight += 1

        def done(_: object = None) -> None:
            self._in_flight -= 1
            if kept:
                self._replay_early(nid)

        try:
            self.backlog.write(f"the notification id of nudge {rec.id}",
                               lambda: self.store.set_notification_id(rec.id, nid),
                               keep_for=self._keep_for(rec.practice_id),
                               then=done, failed=done)
        except BaseException:
            self._in_flight -= 1
            raise
        kept = True

    async def expire(self, nudge_id: str) -> None:
        """No answer within the practice's `answer_within`: the nudge is closed as expired."""
        rec = self.store.get(nudge_id)
        if rec.state != NudgeState.SHOWN:
            return
        # Kept if the history refuses it for now (None): expired all the same.
        if self.backlog.write(f"the expiry of nudge {nudge_id}",
                              functools.partial(self.store.expire, nudge_id, at=self.now()),
                              keep_for=self._keep_for(rec.practice_id)) is False:
            return  # answered meanwhile
        self.planner.remove(f"r:{nudge_id}")
        if rec.notification_id:
            with contextlib.suppress(Exception):
                await self.notifier.close_notification(rec.notification_id)
        log.info("expired %s (%s): no answer in time", nudge_id, rec.practice_id)

    def nudge_message(self, p: Practice, due: datetime) -> str:
        """The words of `p`'s nudge due at `due`: the same variant and the same
        {feeling} / {need} words however often it is asked."""
        message = timing.pick_message(p, due, self.seed)
        if "{" in message:  # {feeling} / {need}; attuned.config.feelings only when used
            from attuned.config.feelings import fill

            message = fill(message, p.id, due, self.seed)
        return message

    def _set_next(self, p: Practice, nxt: datetime | None) -> None:
        """Plan `p`'s next nudge at `nxt` (None: it has no more)."""
        if nxt is not None:
            self.planner.set(f"p:{p.id}", nxt, p.grace)
        else:
            self.planner.remove(f"p:{p.id}")

    async def fire_snooze(self, nudge_id: str, due: datetime) -> NudgeRecord | None:
        old = self.store.get(nudge_id)
        if not old.snooze_pending:  # answered meanwhile, or already brought back
            return None
        now = self.now()
        try:
            # Claims the snooze and records its return in one transaction: exactly once.
            rec = self._record_shown(old.practice_id, due, now, old.title, old.message,
                                     snoozed_from=old.id)
        except NudgeNotOpen:
            return None
        title = f"{old.title} (snoozed)"
        await self._send(title, f"Back from a snooze. {old.message}", rec)
        log.info("brought back snoozed %s as %s", nudge_id, rec.id)
        return rec

    async def fire_repeat(self, nudge_id: str, due: datetime) -> None:
        rec = self.store.get(nudge_id)
        p = self.schedule.get(rec.practice_id)
        if rec.state != NudgeState.SHOWN or p is None or p.repeat is None:
            return
        count = rec.repeat_count + 1
        next_at = self.now() + p.repeat if count < p.repeat_max else None
        try:
            # Before showing: never twice. If the history refuses it for now, the repeat
            # still comes, and is counted once it can be written.
            self.backlog.write(f"repeat {count} of nudge {nudge_id}",
                               lambda: self.store.bump_repeat(nudge_id, next_at),
                               keep_for=self._keep_for(p.id))
        except NudgeNotOpen:
            return
        if next_at is not None:
            self.planner.set(f"r:{nudge_id}", next_at, p.grace)
        # Replace the earlier bubble in place rather than stacking a new one.
        await self._send(p.title, rec.message, rec, replaces=rec.notification_id or 0)
        log.info("repeated %s (%d of %d)", nudge_id, count, p.repeat_max)

    def _actions(self) -> tuple[tuple[str, str], ...]:
        s = self.schedule.settings
        return (("done", "Done"), ("snooze", f"Snooze {format_duration(s.snooze)}"),
                ("snooze-long", f"Snooze {format_duration(s.snooze_long)}"), ("skip", "Skip"))

    async def _send(self, title: str, body: str, rec: NudgeRecord, *,
                    replaces: int = 0) -> int | None:
        """Show `rec` and record the server's id for it (callers need not)."""
        p = self.schedule.get(rec.practice_id)
        actions = self._actions()
        if p is not None and p.snooze != self.schedule.settings.snooze:
            actions = (actions[0], ("snooze", f"Snooze {format_duration(p.snooze)}"),
                       *actions[2:])
        from attuned.app import practising

        title, body = practising.present(self, rec, title, body)  # issue 6: discreet
        # A nudge waits for its answer: never expire (servers that honour it keep it up;
        # xfce4-notifyd and MATE expire it anyway), and stay after a button where the
        # server would remove it (we withdraw it ourselves once the answer is recorded).
        n = Notification(title=title, body=body, actions=actions, replaces_id=replaces,
                         timeout_ms=EXPIRES_NEVER, resident=True)
        return await self.deliver(n, rec)

    async def deliver(self, n: Notification, rec: NudgeRecord) -> int | None:
        """Show `n` for `rec` and record the server's id for it; signals about it that
        came before the id was known are handled then, in the order they came."""
        self._in_flight += 1
        try:
            delivery = await self.notifier.send(n)
        finally:
            self._in_flight -= 1
        nid = delivery.notification_id
        if nid is not None:
            self._remember_id(rec, nid)
        self._replay_early(nid)
        return nid

    def _replay_early(self, nid: int | None) -> None:
        """Signals about a bubble can arrive before the reply that tells us its id (D-Bus
        dispatches signals at once; the awaiting code resumes a loop turn later). Those
        kept meanwhile are handled now that the id is known, in the order they came."""
        early = self._early.pop(nid, []) if nid is not None else []
        if self._in_flight == 0:
            self._early.clear()
        for kind, arg in early:
            self._on_signal(nid or 0, kind, arg, replaying=True)

    def _keep_early(self, notification_id: int, kind: str, arg: str) -> bool:
        if self._in_flight == 0 or len(self._early) > 64:
            return False
        self._early.setdefault(notification_id, []).append((kind, arg))
        return True

    # ------------------------------------------------------------------ answers
    #
    # Servers send ActionInvoked and at once NotificationClosed(2), often in one read
    # (xfce4-notifyd, notification-daemon, MATE). Each signal is handled to the end
    # inside its callback, the answer recorded in the store there and then, so the close
    # that follows finds the nudge answered; only withdrawing the bubble is awaited.

    def on_action(self, notification_id: int, key: str) -> None:
        self._on_signal(notification_id, "action", key)

    def on_closed(self, notification_id: int, reason: int) -> None:
        if reason != CLOSED_DISMISSED:  # 1 expired, 3 closed by us: not the person's answer
            return
        self._on_signal(notification_id, "closed", "")

    def on_reply(self, notification_id: int, text: str) -> None:
        """A reply typed into the notification (servers with "inline-reply")."""
        self._on_signal(notification_id, "reply", text)

    def _on_signal(self, notification_id: int, kind: str, arg: str, *,
                   replaying: bool = False) -> None:
        rec = self.store.find_by_notification(notification_id)
        if rec is None:
            # Not known yet (kept until it is), or no longer open: a close after an
            # answer is not a second event.
            if replaying or not self._keep_early(notification_id, kind, arg):
                log.debug("%s on unknown notification %d", kind, notification_id)
            return
        from attuned.app import practising

        if kind == "closed":
            if rec.state == NudgeState.SHOWN:
                self.answer_from_bubble(rec, Action.DISMISS)
        elif kind == "reply":
            practising.on_reply_to(self, rec, arg)  # issue 6: the nudge is done
        elif practising.on_action(self, rec, arg):  # issue 6: a reflection's answer
            return
        elif arg in ACTION_KEYS:
            length = self.schedule.settings.snooze_long if arg == "snooze-long" else None
            self.answer_from_bubble(rec, ACTION_KEYS[arg], snooze_for=length)
        else:
            log.debug("ignoring action %r on %s", arg, rec.id)

    def answer_from_bubble(self, rec: NudgeRecord, action: Action, *,
                           note: str | None = None,
                           snooze_for: timedelta | None = None) -> None:
        """Record the answer now (synchronously: the signal that follows must see it);
        withdraw the bubble in a task. An answer the history cannot take now is kept and
        written once it can (after any writes kept before it)."""
        at = self.now()
        try:
            if self._backlog is not None and self._backlog.pending:
                self._answer_later(rec, action, snooze_for, at, None, note)
            else:
                self._record_answer(rec, action, source="button", note=note,
                                    snooze_for=snooze_for)
        except StoreUnavailable as e:
            self._answer_later(rec, action, snooze_for, at, e, note)
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
            self._spawn(self._close_bubble(rec.notification_id))

    def _record_answer(self, rec: NudgeRecord, action: Action, *, source: str,
                       note: str | None = None, how: str | None = None,
                       snooze_for: timedelta | None = None) -> tuple[NudgeRecord,
                                                                      AnswerResult]:
        """Answer the open nudge `rec` and plan what follows. Synchronous."""
        now = self.now()
        until = self._snooze_until(rec, action, now, snooze_for)
        new, result = answer_nudge(self.store, rec.id, action, at=now, source=source,
                                   note=note, how=how, snooze_until=until)
        if until is not None:
            self.planner.set(f"s:{new.id}", until, self._grace(new.practice_id))
        # remove() ignores a key with no job; keys() would copy every planned key.
        self.planner.remove(f"r:{new.id}")
        self.planner.remove(f"x:{new.id}")
        if action == Action.DISMISS:
            log.info("dismissed %s (%s) without an answer", new.id, new.practice_id)
        else:
            log.info("%s %s (%s) from the %s", result.state, new.id, new.practice_id,
                     source)
        return new, result

    def _answer_later(self, rec: NudgeRecord, action: Action, length: timedelta | None,
                      at: datetime, error: StoreUnavailable | None,
                      note: str | None = None) -> None:
        """A button's answer, given at `at`, for the history to take when it can (or now,
        if it can); its repeats stop at once."""
        until = self._snooze_until(rec, action, at, length)
        nudge_id = rec.id

        def write() -> NudgeRecord:
            return self.store.answer(nudge_id, action, at=at, source="button", note=note,
                                     snooze_until=until)

        def written(new: NudgeRecord) -> None:
            if until is not None:
                self.planner.set(f"s:{new.id}", until, self._grace(new.practice_id))
            log.info("%s %s (%s) from the button", new.state, new.id, new.practice_id)

        self.planner.remove(f"r:{nudge_id}")
        self.planner.remove(f"x:{nudge_id}")
        what = (f'{action.value} from the button at {at.astimezone(self.zone):%H:%M:%S} '
                f'for nudge {nudge_id} ("{rec.title}")')
        keep_for = self._keep_for(rec.practice_id)
        if error is not None:
            self.backlog.keep(what, write, error, keep_for=keep_for, then=written)
        else:
            self.backlog.write(what, write, keep_for=keep_for, then=written)

    def _snooze_until(self, rec: NudgeRecord, action: Action, at: datetime,
                      length: timedelta | None) -> datetime | None:
        if action != Action.SNOOZE:
            return None
        p = self.schedule.get(rec.practice_id)
        return at + (length or (p.snooze if p else self.schedule.settings.snooze))

    async def _close_bubble(self, notification_id: int) -> None:
        try:
            await self.notifier.close_notification(notification_id)
        except Exception as e:  # the answer is recorded; a stale bubble is harmless
            log.debug("could not close notification %s: %s", notification_id, e)

    async def act(self, target: str | None, action: Action, *, source: str,
                  note: str | None = None, how: str | None = None,
                  snooze_for: timedelta | None = None) -> AnswerResult:
        rec = resolve_target(self.store, target, self.schedule)
        _, result = self._record_answer(rec, action, source=source, note=note, how=how,
                                        snooze_for=snooze_for)
        if rec.notification_id:
            # Answered from the CLI, or from a menu that leaves the bubble up (dunst).
            await self._close_bubble(rec.notification_id)
        if result.snoozed_until is not None:
            # The reply says "comes back at HH:MM": the person's clock, not UTC.
            result = replace(result, snoozed_until=result.snoozed_until.astimezone(self.zone))
        return result

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        now = self.now()
        due = self.planner.due_times()
        upcoming = sorted((t, k[2:]) for k, t in due.items() if k.startswith("p:"))
        snoozed = [
            {"nudge": r.id, "practice": r.practice_id, "title": r.title,
             "until": r.snoozed_until.isoformat() if r.snoozed_until else None}
            for r in self.store.pending_snoozes()
        ]
        open_ = [
            {"nudge": r.id, "practice": r.practice_id, "title": r.title,
             "shown_at": r.shown_at.isoformat() if r.shown_at else None}
            for r in self.store.open_nudges() if r.state == NudgeState.SHOWN
        ]
        return {
            "running": True,
            "now": now.isoformat(),
            "schedule": self.schedule.source,
            "using_example": self.state.using_example,
            "last_reload": self.state.loaded_at.isoformat(),
            "schedule_error": self.state.error,
            "practices": len(self.schedule.practices),
            "open": open_,
            "snoozed": snoozed,
            "next": [{"at": t.astimezone(self.zone).isoformat(), "practice": pid,
                      "title": (self.schedule.get(pid) or _unknown(pid)).title}
                     for t, pid in upcoming[:3]],
        }

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.tasks.spawn(coro)

    async def finish(self, timeout: float) -> None:
        """At exit: let what is under way end (up to `timeout` s), then give the writes
        the history refused one last try. Before the store closes."""
        await self.tasks.drain(timeout)
        self.flush_kept()


def _unknown(pid: str) -> Practice:
    raise PracticeNotFound(f'practice "{pid}" is not in the schedule')


# ---------------------------------------------------------------------- reading


def history(store: Store, *, practice_id: str | None = None,
            since: datetime | None = None) -> list[HistoryEvent]:
    """What happened to nudges, oldest first."""
    return store.history(practice_id, since)


def stats(store: Store, *, today: date, zone: ZoneInfo, days: int,
          practice_ids: Sequence[str] = ()) -> list[PracticeStats]:
    """Per-practice counts, done-rate and streaks over the last `days` days (streaks use
    the whole history, so they are not cut off by the period)."""
    from attuned.core import stats as stats_mod

    return stats_mod.compute(store.history(), today=today, zone=zone, days=days,
                             practice_ids=tuple(practice_ids))
