"""The core API the daemon serves: `Service` puts the core's parts together (firing,
answering, holding, reflecting) over one `Core`, and is what the scheduler, the
notifier's signals and the control socket call. It returns result objects and never
prints. The CLI, when no daemon runs, uses attuned.app.answering and attuned.app.frontdoor
on the store alone; and the reading side (history, stats) is at the end of this module.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from attuned.app import answering, firing, holding, phone, reflecting
from attuned.app.answering import ACTION_KEYS, AnswerResult
from attuned.app.context import Core, ScheduleState
from attuned.core.keys import JobKey, JobKind
from attuned.core.model import Action, Held, HoldReason, NudgeState, Schedule, TogetherState
from attuned.core.presence import Presence, describe
from attuned.notify.base import CLOSED_DISMISSED
from attuned.state.store import HistoryEvent, NudgeRecord, Store

if TYPE_CHECKING:
    from attuned.core.stats import PracticeStats

log = logging.getLogger("attuned")

__all__ = ["AnswerResult", "ScheduleState", "Service", "StatusResult", "changed_practices",
           "history", "stats"]


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


@dataclass(frozen=True)
class StatusResult:
    """What the daemon is doing, for `attuned status`."""

    now: datetime
    schedule: str
    using_example: bool
    last_reload: datetime
    schedule_error: str | None
    practices: int
    open: tuple[NudgeRecord, ...]
    snoozed: tuple[NudgeRecord, ...]
    next: tuple[tuple[datetime, str, str], ...]  # (at, practice id, title), soonest first
    held: tuple[tuple[Held, str], ...] = ()  # each held nudge and its title, oldest first
    together: TogetherState = field(default_factory=TogetherState)
    paused: bool | None = None  # the desktop's do-not-disturb; None: it cannot be told
    presence: Presence | None = None  # where the person is; None: nothing watches
    presence_words: str = ""  # that, as `status` says it ("locked since 14:02")
    phone: str | None = None  # the phone's channels and whether they work; None: no phone

    @property
    def held_for_pause(self) -> int:
        """How many held nudges wait for notifications to be resumed."""
        return sum(1 for h, _ in self.held if h.reason == HoldReason.DND)

    def to_json(self) -> dict[str, Any]:
        return {
            "running": True,
            "now": self.now.isoformat(),
            "schedule": self.schedule,
            "using_example": self.using_example,
            "last_reload": self.last_reload.isoformat(),
            "schedule_error": self.schedule_error,
            "practices": self.practices,
            "open": [{"nudge": r.id, "practice": r.practice_id, "title": r.title,
                      "shown_at": r.shown_at.isoformat() if r.shown_at else None,
                      "snoozed_from": r.snoozed_from}
                     for r in self.open],
            "snoozed": [{"nudge": r.id, "practice": r.practice_id, "title": r.title,
                         "until": r.snoozed_until.isoformat() if r.snoozed_until else None}
                        for r in self.snoozed],
            "next": [{"at": at.isoformat(), "practice": pid, "title": title}
                     for at, pid, title in self.next],
            "held": [{"nudge": h.nudge_id, "practice": h.practice_id, "title": title,
                      "due": h.due.isoformat(), "reason": str(h.reason), "mode": str(h.mode)}
                     for h, title in self.held],
            "together": {**self.together.to_json(), "active": self.together.active(self.now)},
            "paused": self.paused,
            "presence": None if self.presence is None else {
                "state": self.presence.state.value, "away": self.presence.away,
                "since": self.presence.since.isoformat() if self.presence.since else None,
                "text": self.presence_words},
            "phone": self.phone,
        }


@dataclass
class Service(Core):
    """The daemon's core. Single-threaded: everything runs on the event loop."""

    def __post_init__(self) -> None:
        self.signals.dispatch = self._on_signal

    # ------------------------------------------------------------------ planning

    def plan_all(self, *, startup: bool, only: Collection[str] | None = None) -> int:
        """(Re)plan every practice; see attuned.app.firing.plan_all."""
        return firing.plan_all(self, startup=startup, only=only)

    def restore_pending(self) -> None:
        firing.restore_pending(self)

    async def take_over_bubbles(self) -> None:
        await firing.take_over_bubbles(self)

    async def deliver_unsent(self) -> None:
        await firing.deliver_unsent(self)

    # ------------------------------------------------------------------ timers

    def on_due(self, key: JobKey | str, due: datetime) -> None:
        """The scheduler's callback: `key`'s moment came (within its grace)."""
        self.spawn(firing.fire(self, _key(key), due))

    def on_missed(self, key: JobKey | str, due: datetime) -> None:
        """The scheduler's callback: `key`'s moment came later than its grace."""
        firing.missed(self, _key(key), due)

    async def fire_key(self, key: JobKey | str, due: datetime) -> None:
        await firing.fire(self, _key(key), due)

    async def fire(self, practice_id: str, due: datetime) -> NudgeRecord | None:
        return await firing.nudge(self, practice_id, due)

    async def fire_snooze(self, nudge_id: str, due: datetime) -> NudgeRecord | None:
        return await firing.bring_back(self, nudge_id, due)

    async def fire_repeat(self, nudge_id: str, due: datetime) -> None:
        await firing.repeat(self, nudge_id)

    async def expire(self, nudge_id: str) -> None:
        await firing.expire(self, nudge_id)

    # ------------------------------------------------------------------ the bubble
    #
    # Every signal about a bubble is handled to the end inside its callback, in the
    # order they came; those about a bubble whose id is not known yet wait for it.

    def on_action(self, notification_id: int, key: str) -> None:
        self._on_signal(notification_id, "action", key)

    def on_closed(self, notification_id: int, reason: int) -> None:
        if reason != CLOSED_DISMISSED:  # 1 expired, 3 closed by us: not the person's answer
            return
        self._on_signal(notification_id, "closed", "")

    def on_reply(self, notification_id: int, text: str) -> None:
        """A reply typed into the notification (servers with "inline-reply"): the nudge is
        done, with the text as its note."""
        self._on_signal(notification_id, "reply", text)

    def on_phone_answer(self, nudge_id: str, key: str) -> None:
        phone.answer_from_phone(self, nudge_id, key)

    def on_dnd_change(self, paused: bool) -> None:
        holding.on_dnd_change(self, paused)

    def on_presence_change(self, presence: Presence) -> None:
        holding.on_presence_change(self, presence)

    def _on_signal(self, notification_id: int, kind: str, arg: str) -> None:
        rec = self.store.find_by_notification(notification_id)
        if rec is None:
            # Not known yet (kept until it is), or no longer open: a close after an
            # answer is not a second event.
            if not self.signals.keep(notification_id, kind, arg):
                log.debug("%s on unknown notification %d", kind, notification_id)
            return
        if kind == "closed":
            if rec.state == NudgeState.SHOWN:
                answering.answer_from_bubble(self, rec, Action.DISMISS)
        elif kind == "reply":
            note = " ".join(arg.split())  # one line, as `attuned done --note` keeps it
            answering.answer_from_bubble(self, rec, Action.DONE, note=note or None)
        elif reflecting.on_button(self, rec, arg):
            return
        elif arg in ACTION_KEYS:
            length = self.schedule.settings.snooze_long if arg == "snooze-long" else None
            answering.answer_from_bubble(self, rec, ACTION_KEYS[arg], snooze_for=length)
        else:
            log.debug("ignoring action %r on %s", arg, rec.id)

    # ------------------------------------------------------------------ the control socket

    async def act(self, target: str | None, action: Action, *, source: str,
                  note: str | None = None, how: str | None = None,
                  snooze_for: timedelta | None = None) -> AnswerResult:
        return await answering.act(self, target, action, source=source, note=note, how=how,
                                   snooze_for=snooze_for)

    async def reflect(self, practice_id: str | None, verdict: str,
                      text: str) -> reflecting.ReflectResult:
        return await reflecting.reflect(self, practice_id, verdict, text)

    async def together(self, word: str, until: str | None) -> holding.TogetherResult:
        return await holding.switch_together(self, word, until)

    async def status(self) -> StatusResult:
        due = self.planner.due_times()
        upcoming = sorted((t, k.ident) for k, t in due.items() if k.kind == JobKind.NUDGE)
        where = self.presence.current() if self.presence is not None else None
        nxt = []
        for t, pid in upcoming[:3]:
            p = self.practice(pid)
            nxt.append((t.astimezone(self.zone), pid, p.title if p else pid))
        return StatusResult(
            now=self.now(), schedule=self.schedule.source,
            using_example=self.state.using_example, last_reload=self.state.loaded_at,
            schedule_error=self.state.error, practices=len(self.schedule.practices),
            open=tuple(r for r in self.store.open_nudges() if r.state == NudgeState.SHOWN),
            snoozed=tuple(self.store.pending_snoozes()), next=tuple(nxt),
            held=tuple((h, p.title if (p := self.practice(h.practice_id)) else h.practice_id)
                       for h in self.store.held()),
            together=self.store.together(), paused=await holding.paused_or_unknown(self),
            presence=where, presence_words=(
                "" if where is None else describe(where, self.now().astimezone(self.zone))),
            phone=self.phone.describe() if self.phone is not None else None)

    async def finish(self, timeout: float) -> None:
        """At exit: let what is under way end (up to `timeout` s), then give the writes
        the history refused one last try. Before the store closes."""
        await self.tasks.drain(timeout)
        self.flush_kept()


def _key(key: JobKey | str) -> JobKey:
    return key if isinstance(key, JobKey) else JobKey.parse(key)


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
