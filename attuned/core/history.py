"""The history's records as the store returns them: nudges, events, reflections. Frozen
data and the words that explain a record to a person; no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, tzinfo

from attuned.core.model import NudgeState

# An event's kind is the state it leaves its nudge in: one vocabulary (the model's), so
# the two cannot drift apart.
EventKind = NudgeState


class EventReason(enum.StrEnum):
    """Why a nudge was held back or dropped: the reason of a held or dropped event.
    The first four are the blocks (attuned.core.model.HoldReason, the same values)."""

    TOGETHER = "together"  # a when = "together" practice outside together time
    QUIET = "quiet"  # the practice's quiet hours
    DND = "dnd"  # the desktop's notifications were paused
    AWAY = "away"  # nobody was at the screen ([settings] away = "hold")
    REPLACED = "replaced"  # a newer nudge of its practice was held in its place
    GONE = "gone"  # its practice was removed or disabled while it waited


_REASON_WORDS = {
    EventReason.TOGETHER: "not together time",
    EventReason.QUIET: "quiet hours",
    EventReason.DND: "notifications were paused",
    EventReason.AWAY: "nobody was at the screen",
    EventReason.REPLACED: "replaced by a newer held nudge",
    EventReason.GONE: "its practice was removed or disabled",
}


def reason_words(reason: EventReason, other: str | None = None) -> str:
    """A held or dropped event's reason for a person; `other`: for a replaced one, the
    nudge that took its place."""
    if reason is EventReason.REPLACED and other:
        return f"replaced by the newer held nudge {other}"
    return _REASON_WORDS[reason]


@dataclass(frozen=True)
class NudgeRecord:
    """One nudge as the history holds it. Times are aware (UTC)."""

    id: str
    practice_id: str
    title: str
    message: str
    due: datetime  # the planned instant (for a snooze return: when the snooze ended)
    shown_at: datetime | None  # None: never shown (missed)
    state: NudgeState
    snoozed_until: datetime | None
    notification_id: int | None  # the server's id; meaningful only in this daemon run
    repeat_count: int
    next_repeat_at: datetime | None
    snoozed_from: str | None  # the nudge this one brings back after a snooze
    returned_at: datetime | None  # set when this snoozed nudge's return was claimed
    returned_as: str | None  # the nudge it came back as
    answered_at: datetime | None  # time of the answer, miss or expiry
    source: str | None  # "button" | "cli" | "phone" for answers, "daemon" for miss/expiry
    note: str | None
    how: str | None  # None | "noticed" | "partly" | "missed"
    origin_id: str  # first nudge of a snooze chain (itself if not a return)
    origin_due: datetime  # that first nudge's due: the day it counts for

    @property
    def is_open(self) -> bool:
        """Still waiting: shown and unanswered, or snoozed and not yet returned."""
        if self.state is NudgeState.SHOWN:
            return True
        return self.state is NudgeState.SNOOZED and self.returned_at is None

    @property
    def snooze_pending(self) -> bool:
        return self.state is NudgeState.SNOOZED and self.returned_at is None


@dataclass(frozen=True)
class HistoryEvent:
    """One line of the history log: something that happened to a nudge."""

    seq: int
    at: datetime
    kind: EventKind
    nudge_id: str
    practice_id: str
    source: str | None  # "button" | "cli" | "phone" | "daemon"
    note: str | None
    how: str | None
    snoozed_until: datetime | None  # for kind snoozed
    snoozed_from: str | None  # for kind shown/missed of a snooze return
    due: datetime  # the nudge's planned instant
    origin_id: str  # the snooze chain's first nudge
    origin_due: datetime  # the day the event counts for in stats
    title: str
    # For kind held or dropped: why (a replaced one's note names the nudge in its place).
    reason: EventReason | None = None
    # For kind shown: False while its notification is being sent (nobody saw it yet).
    sent: bool = True

    @property
    def words(self) -> str:
        """The kind for a person: "sending" for a shown nudge not sent yet."""
        return "sending" if self.kind is EventKind.SHOWN and not self.sent else str(self.kind)


@dataclass(frozen=True)
class Reflection:
    id: int
    practice_id: str
    at: datetime
    verdict: str  # "landed" | "partly" | "not-yet"
    text: str


def unrecorded_shown(nudge_id: str, practice_id: str, due: datetime, shown_at: datetime,
                     title: str, message: str, *, snoozed_from: str | None = None,
                     next_repeat_at: datetime | None = None) -> NudgeRecord:
    """The record `record_shown` would return, for a nudge shown before the database
    could take it (the daemon records it under `nudge_id` once it can)."""
    return NudgeRecord(
        id=nudge_id, practice_id=practice_id, title=title, message=message, due=due,
        shown_at=shown_at, state=NudgeState.SHOWN, snoozed_until=None, notification_id=None,
        repeat_count=0, next_repeat_at=next_repeat_at, snoozed_from=snoozed_from,
        returned_at=None, returned_as=None, answered_at=None, source=None, note=None,
        how=None, origin_id=nudge_id, origin_due=due)


def moment(dt: datetime, zone: tzinfo | None, ref: datetime | None) -> str:
    """'07:34', or '2026-03-29 07:34' when it is not the same day as `ref`."""
    local = dt.astimezone(zone)
    if ref is not None and ref.astimezone(zone).date() == local.date():
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def not_open_message(rec: NudgeRecord, zone: tzinfo | None = None,
                     ref: datetime | None = None) -> str:
    """Why `rec` cannot be answered, for a person."""
    at = "" if rec.answered_at is None else " at " + moment(rec.answered_at, zone, ref)
    if rec.state is NudgeState.SNOOZED:
        back = "" if rec.returned_at is None else moment(rec.returned_at, zone, ref)
        if rec.returned_as:
            return (f'nudge "{rec.id}" was snoozed and came back as "{rec.returned_as}"'
                    f" at {back}; answer that one")
        return f'nudge "{rec.id}" was snoozed and its return is already on its way ({back})'
    if rec.state is NudgeState.MISSED:
        return f'nudge "{rec.id}" is closed: it was missed{at}'
    if rec.state is NudgeState.EXPIRED:
        return f'nudge "{rec.id}" is closed: it expired{at} without an answer'
    if rec.state is NudgeState.HELD:
        return (f'nudge "{rec.id}" has not been shown yet: it is held back, and comes '
                "when what holds it ends (`attuned status` lists it)")
    if rec.state is NudgeState.DROPPED:
        return f'nudge "{rec.id}" was never shown: it was dropped{at}'
    return f'nudge "{rec.id}" was already answered: {rec.state.value}{at}'
