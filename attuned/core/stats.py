"""How each practice is going: counts, done-rate, streaks and a sparkline. Pure.

Rules (written for the person reading `attuned stats`):
- Every event counts for the calendar day, in the schedule's zone, of the nudge it
  belongs to: the planned instant of the first nudge of its snooze chain. A 23:50 nudge
  answered at 00:10, or snoozed past midnight, still counts for the day it was meant for.
- Days are calendar dates, never 24-hour steps, so DST weeks count 7 days.
- nudges: scheduled nudges (a snooze's return is the same nudge, not a new one).
  snoozed: times snooze was pressed. missed and expired are kept apart: missed was never
  shown (asleep, daemon down past grace), expired was shown and got no answer.
- held: nudges held back at their moment (quiet hours, together mode, paused
  notifications) and not shown (still waiting, or dropped). They are neither done nor
  missed: not in `nudges`, the rate, the sparkline or the streaks. A held nudge that
  was shown later is an ordinary nudge, on the day it was planned for.
- done_rate: done / nudges; None when there were no nudges.
- A streak is a run of days with at least one done. Days on which the practice had no
  nudge at all neither break nor extend it (a weekdays-only practice keeps its streak
  over the weekend). Today never breaks the current streak: it is not over yet.
- Counts and the sparkline cover the last `days` days up to `today`; streaks use every
  event passed in, so pass the whole history for honest streaks.
- Sparkline, oldest day first: "·" no nudge that day; "▁" nudged, nothing done;
  "▂".."█" the day's done share (all done: "█").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from attuned.core.history import EventKind, HistoryEvent

NO_NUDGE = "·"
# Held back at their moment: not a nudge (neither done nor missed) unless shown later.
_HELD_BACK = (EventKind.HELD, EventKind.DROPPED)
BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class DayCount:
    day: date
    nudges: int
    done: int


@dataclass(frozen=True)
class PracticeStats:
    practice_id: str
    nudges: int
    done: int
    snoozed: int
    skipped: int
    dismissed: int
    missed: int
    expired: int
    done_rate: float | None  # 0.0..1.0; None without nudges
    current_streak: int  # days
    best_streak: int  # days, over all events given
    daily: tuple[DayCount, ...]  # the period, oldest first
    sparkline: str  # one character per day of the period
    held: int = 0  # held back and not shown (waiting or dropped): not in `nudges`

    @property
    def done_percent(self) -> str:
        return "–" if self.done_rate is None else f"{round(self.done_rate * 100)}%"


def bar(nudges: int, done: int) -> str:
    """One sparkline character for a day."""
    if nudges == 0:
        return NO_NUDGE
    if done == 0:
        return BARS[0]
    share = min(done, nudges) / nudges
    return BARS[max(1, round(share * (len(BARS) - 1)))]


def _streaks(nudged: set[date], done_days: set[date], today: date) -> tuple[int, int]:
    """(current, best) over the days that had a nudge, in order."""
    days = sorted(nudged | done_days)
    best = run = 0
    for day in days:
        if day in done_days:
            run += 1
            best = max(best, run)
        elif day < today:
            run = 0
    current = 0
    for day in reversed(days):
        if day > today:
            continue
        if day in done_days:
            current += 1
        elif day < today:
            break
    return current, best


def compute(events: Iterable[HistoryEvent], *, today: date, zone: ZoneInfo, days: int,
            practice_ids: Sequence[str] = ()) -> list[PracticeStats]:
    """Stats per practice for the `days` days ending with `today` (inclusive).

    `practice_ids` are listed first, in that order, even without events (zero rows);
    other practices found in the events follow, sorted.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    first = today - timedelta(days=days - 1)
    period = [first + timedelta(days=i) for i in range(days)]
    chains: dict[str, dict[str, date]] = {}  # practice -> origin nudge -> its day
    held_back: dict[str, dict[str, date]] = {}  # the same, for held and dropped events
    done_by_day: dict[str, dict[date, int]] = {}
    counts: dict[str, dict[EventKind, int]] = {}
    for ev in events:
        day = ev.origin_due.astimezone(zone).date()
        counts.setdefault(ev.practice_id, {})
        if ev.kind in _HELD_BACK:
            held_back.setdefault(ev.practice_id, {})[ev.origin_id] = day
            continue
        chains.setdefault(ev.practice_id, {})[ev.origin_id] = day
        if ev.kind is EventKind.DONE:
            per = done_by_day.setdefault(ev.practice_id, {})
            per[day] = per.get(day, 0) + 1
        if first <= day <= today:
            c = counts[ev.practice_id]
            c[ev.kind] = c.get(ev.kind, 0) + 1

    order = list(dict.fromkeys(practice_ids))
    order += sorted(p for p in counts if p not in order)
    out: list[PracticeStats] = []
    for pid in order:
        chain_days = chains.get(pid, {})
        nudges_by_day: dict[date, int] = {}
        for day in chain_days.values():
            nudges_by_day[day] = nudges_by_day.get(day, 0) + 1
        done_days = done_by_day.get(pid, {})
        c = counts.get(pid, {})
        daily = tuple(DayCount(d, nudges_by_day.get(d, 0), done_days.get(d, 0)) for d in period)
        nudges = sum(d.nudges for d in daily)
        done = c.get(EventKind.DONE, 0)
        current, best = _streaks(set(nudges_by_day), set(done_days), today)
        held = sum(1 for origin, day in held_back.get(pid, {}).items()
                   if origin not in chain_days and first <= day <= today)
        out.append(PracticeStats(
            practice_id=pid, nudges=nudges, done=done,
            snoozed=c.get(EventKind.SNOOZED, 0), skipped=c.get(EventKind.SKIPPED, 0),
            dismissed=c.get(EventKind.DISMISSED, 0), missed=c.get(EventKind.MISSED, 0),
            expired=c.get(EventKind.EXPIRED, 0),
            done_rate=(done / nudges) if nudges else None,
            current_streak=current, best_streak=best, daily=daily,
            sparkline="".join(bar(d.nudges, d.done) for d in daily), held=held))
    return out
