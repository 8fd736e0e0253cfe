"""Periods and reflection: when a practice's period ends attuned asks once how it went,
and `attuned review` reads the history back with a suggestion for each practice.

When the question comes (`reflection_time`): at 19:00 on the period's last day (its
`until`), or 15 minutes after the period's last nudge when that is later. It is recorded
in the history as a nudge of practice "reflect:<id>" due at that instant, so it is asked
exactly once, across restarts.

The suggestion rules, in order; the first that fits is given with its reason:
  1. no nudges in the days reviewed         -> wait: nothing to judge yet
  2. done-rate >= 70%, latest reflection "not-yet"
                                            -> extend: it is done, but has not landed yet
  3. done-rate >= 70%, and the period is over or the latest reflection says it landed
                                            -> next: try the next practice in the library
  4. done-rate >= 70%                       -> keep: it is going well
  5. done-rate 30-69%                       -> extend the period by a week
  6. done-rate under 30%                    -> make it smaller or move it to another time
Pure, with `today` passed in; the I/O helpers at the end take the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from attuned.core import timing
from attuned.core.model import Action, NudgeState, Practice
from attuned.core.stats import PracticeStats, compute
from attuned.errors import AttunedError
from attuned.state.store import VERDICTS, EventKind, HistoryEvent, Reflection, Store

REFLECT_PREFIX = "reflect:"
REFLECT_AT = time(19, 0)
AFTER_LAST = timedelta(minutes=15)
KEEP_AT = 0.7
EXTEND_AT = 0.3
REFLECTION_ACTIONS: tuple[tuple[str, str], ...] = (
    ("landed", "It landed"), ("partly", "Partly"), ("not-yet", "Not yet"))


def reflect_id(practice_id: str) -> str:
    return REFLECT_PREFIX + practice_id


def reflected_practice(nudge_practice_id: str) -> str | None:
    """"reflect:breakfast" -> "breakfast"; None for an ordinary practice."""
    if nudge_practice_id.startswith(REFLECT_PREFIX):
        return nudge_practice_id[len(REFLECT_PREFIX):]
    return None


def reflection_time(p: Practice, zone: ZoneInfo, seed: str) -> datetime | None:
    """When to ask how `p`'s period went; None without an end date or when paused."""
    if p.until is None or not p.enabled:
        return None
    at = timing.resolve_wall(p.until, REFLECT_AT, zone)
    day_start = timing.resolve_wall(p.until, time(0), zone)
    # Two days: a window crossing midnight puts the last day's nudges after midnight.
    nudges = timing.occurrences(p, day_start, day_start + timedelta(days=2), zone, seed)
    if nudges and nudges[-1] + AFTER_LAST > at:
        at = (nudges[-1] + AFTER_LAST).astimezone(zone)
    return at


def reflection_message(p: Practice) -> tuple[str, str]:
    """(title, body) of the question."""
    return (f"How did it go? {p.title}",
            f'Your time with "{p.title}" ends today. Did it land, partly, or not yet? '
            f"Anything you noticed is welcome: attuned reflect {p.id} --text \"...\"")


# --------------------------------------------------------------------------- review


@dataclass(frozen=True)
class Suggestion:
    action: str  # "wait" | "extend" | "next" | "keep" | "smaller"
    text: str
    rule: str  # which rule fired, in words


@dataclass(frozen=True)
class PracticeReview:
    practice_id: str
    title: str
    stats: PracticeStats
    hows: tuple[tuple[str, int], ...]  # ("noticed", 2), ("partly", 1), ("missed", 0)
    notes: tuple[str, ...]
    reflections: tuple[Reflection, ...]
    until: date | None
    suggestion: Suggestion


def suggest(st: PracticeStats, latest: str | None, until: date | None, today: date,
            next_name: str | None) -> Suggestion:
    rate = st.done_rate
    if rate is None or st.nudges == 0:
        return Suggestion("wait", "Nothing to judge yet; give it a few days.",
                          "rule 1: no nudges in these days")
    pct = f"{round(rate * 100)}%"
    over = until is not None and until <= today
    if rate >= KEEP_AT:
        if latest == "not-yet":
            return Suggestion(
                "extend", "Keep it a little longer: you are doing it, and it has not "
                "landed yet. " + _extend_how(until),
                f"rule 2: done-rate {pct} is 70% or more, and your reflection says not yet")
        if over or latest == "landed":
            why = "the period is over" if over else "your reflection says it landed"
            if next_name is None:
                return Suggestion("keep", "Keep it as long as it helps.",
                                  f"rule 3: done-rate {pct} is 70% or more and {why}")
            return Suggestion(
                "next", f"Try the next one: attuned try {next_name}. Keep this one too if "
                "you like.", f"rule 3: done-rate {pct} is 70% or more and {why}")
        return Suggestion("keep", "Keep going; it is working.",
                          f"rule 4: done-rate {pct} is 70% or more")
    if rate >= EXTEND_AT:
        return Suggestion("extend", "Give it another week. " + _extend_how(until),
                          f"rule 5: done-rate {pct} is between 30% and 70%")
    unanswered = st.missed + st.expired + st.dismissed
    hint = (" Most nudges went unanswered: perhaps they come when you are away."
            if unanswered * 2 > st.nudges else "")
    return Suggestion(
        "smaller", "Make it smaller (fewer nudges, an easier step), or move it to a time "
        f"that suits your day better.{hint}",
        f"rule 6: done-rate {pct} is under 30%")


def _extend_how(until: date | None) -> str:
    if until is None:
        return "It has no end date, so it simply carries on."
    return f"Set until = {until + timedelta(days=7)} (attuned edit)."


def review(events: Sequence[HistoryEvent], reflections: Sequence[Reflection],
           practices: Sequence[Practice], *, today: date, zone: ZoneInfo, days: int = 7,
           library_order: Sequence[str] = ()) -> list[PracticeReview]:
    """One review per practice with nudges in the `days` days up to `today`, and per
    practice in the schedule whose period touches them."""
    first = today - timedelta(days=days - 1)
    by_id = {p.id: p for p in practices}
    active = [p.id for p in practices if p.enabled and (p.start is None or p.start <= today)
              and (p.until is None or p.until >= first)]
    plain = [e for e in events if reflected_practice(e.practice_id) is None]
    rows = compute(plain, today=today, zone=zone, days=days, practice_ids=active)
    tried = set(by_id)
    out: list[PracticeReview] = []
    for st in rows:
        if st.nudges == 0 and st.practice_id not in active:
            continue
        pid = st.practice_id
        mine = [e for e in plain if e.practice_id == pid
                and first <= e.origin_due.astimezone(zone).date() <= today]
        hows = tuple((h, sum(1 for e in mine if e.kind is EventKind.DONE and e.how == h))
                     for h in ("noticed", "partly", "missed"))
        notes = tuple(e.note for e in mine if e.note and e.source in ("cli", "button"))
        refl = tuple(r for r in reflections if r.practice_id == pid
                     and r.at.astimezone(zone).date() >= first)
        p = by_id.get(pid)
        latest = refl[-1].verdict if refl else None
        nxt = _next_in_library(pid, library_order, tried)
        title = p.title if p else (mine[-1].title if mine else pid)
        out.append(PracticeReview(pid, title, st, hows, notes, refl,
                                  p.until if p else None,
                                  suggest(st, latest, p.until if p else None, today, nxt)))
    return out


def _next_in_library(pid: str, order: Sequence[str], tried: set[str]) -> str | None:
    if not order:
        return None
    base = pid if pid in order else next((n for n in order if pid.startswith(n + "-")), None)
    start = order.index(base) + 1 if base is not None else 0
    for name in [*order[start:], *order[:start]]:
        if name not in tried and name != base:
            return name
    return None


# --------------------------------------------------------------------------- reflecting


class NothingToReflectOn(AttunedError):
    pass


def default_practice(store: Store) -> str:
    """The practice whose reflection question is open, newest first."""
    for rec in reversed(store.open_nudges()):
        pid = reflected_practice(rec.practice_id)
        if pid is not None:
            return pid
    raise NothingToReflectOn("no reflection question is open; say which practice, like: "
                             "attuned reflect breakfast --landed")


def record(store: Store, practice_id: str, verdict: str, text: str, *, at: datetime,
           source: str) -> tuple[Reflection, str | None]:
    """Keep a reflection, and answer the open question about it if there is one.
    Returns the reflection and the answered question's nudge id."""
    if verdict not in VERDICTS:
        raise NothingToReflectOn(f'"{verdict}" is not how it went; say one of: '
                                 f"{', '.join(VERDICTS)}")
    refl = store.add_reflection(practice_id, at, verdict, text)
    answered = None
    for rec in store.open_nudges(reflect_id(practice_id)):
        if rec.state == NudgeState.SHOWN:
            store.answer(rec.id, Action.DONE, at=at, source=source,
                         note=f"{verdict}: {text}" if text else verdict)
            answered = rec.id
    return refl, answered
