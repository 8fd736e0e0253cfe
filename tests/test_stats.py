"""Stats and streak arithmetic on hand-pinned histories (Europe/Berlin, DST weeks too)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from attuned.core.model import Action
from attuned.core.stats import bar, compute
from attuned.state.store import EventKind, HistoryEvent, Store

BERLIN = ZoneInfo("Europe/Berlin")
_seq = itertools.count(1)


def local(y: int, mo: int, d: int, h: int, mi: int, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN, fold=fold)


def nudge(practice: str, due: datetime, *outcomes: tuple[EventKind, datetime],
          origin: tuple[str, datetime] | None = None) -> list[HistoryEvent]:
    """The events of one nudge: shown at `due`, then `outcomes` (kind, at)."""
    nid = f"n{next(_seq)}"
    origin_id, origin_due = origin or (nid, due)
    evs = []
    for kind, at in ((EventKind.SHOWN, due), *outcomes):
        evs.append(HistoryEvent(
            seq=next(_seq), at=at.astimezone(UTC), kind=kind, nudge_id=nid,
            practice_id=practice, source="cli", note=None, how=None, snoozed_until=None,
            snoozed_from=None if origin is None else origin_id, due=due.astimezone(UTC),
            origin_id=origin_id, origin_due=origin_due.astimezone(UTC), title=practice))
    return evs


def done(at: datetime) -> tuple[EventKind, datetime]:
    return (EventKind.DONE, at)


def test_a_plain_week_counts_every_outcome() -> None:
    evs: list[HistoryEvent] = []
    day = [local(2026, 3, d, 7, 30) for d in range(2, 9)]  # Mon 2 .. Sun 8 March
    evs += nudge("breakfast", day[0], done(day[0] + timedelta(minutes=3)))
    evs += nudge("breakfast", day[1], done(day[1] + timedelta(minutes=3)))
    first = nudge("breakfast", day[2], (EventKind.SNOOZED, day[2]))
    evs += first
    evs += nudge("breakfast", day[2] + timedelta(minutes=10),
                 done(day[2] + timedelta(minutes=12)), origin=(first[0].nudge_id, day[2]))
    evs += nudge("breakfast", day[3], (EventKind.SKIPPED, day[3]))
    evs += [e for e in nudge("breakfast", day[4], (EventKind.MISSED, day[4]))
            if e.kind is EventKind.MISSED]  # never shown
    evs += nudge("breakfast", day[5], (EventKind.EXPIRED, day[5] + timedelta(hours=2)))
    evs += nudge("breakfast", day[6], (EventKind.DISMISSED, day[6]))
    [s] = compute(evs, today=date(2026, 3, 8), zone=BERLIN, days=7)
    assert (s.practice_id, s.nudges, s.done, s.snoozed, s.skipped, s.missed, s.expired,
            s.dismissed) == ("breakfast", 7, 3, 1, 1, 1, 1, 1)
    assert s.done_rate == pytest.approx(3 / 7)
    assert s.done_percent == "43%"
    assert s.sparkline == "███▁▁▁▁"
    # Sunday (today) is not over, but Saturday had a nudge and no done: streak broken.
    assert (s.current_streak, s.best_streak) == (0, 3)


def test_spring_dst_week_keeps_calendar_days_for_nudges_just_after_midnight() -> None:
    # Europe/Berlin skips 02:00-03:00 on Sunday 29 March 2026. Nudges at 00:15 local
    # are 23:15 or 22:15 UTC the day before; 24-hour steps from the week's start would
    # put two of them on one day and leave another empty.
    evs: list[HistoryEvent] = []
    for d in range(26, 32):
        due = local(2026, 3, d, 0, 15)
        outcome = (EventKind.SKIPPED, due) if d == 30 else done(due + timedelta(minutes=5))
        evs += nudge("eyes", due, outcome)
    due = local(2026, 4, 1, 0, 15)
    evs += nudge("eyes", due, done(due + timedelta(minutes=5)))
    [s] = compute(evs, today=date(2026, 4, 1), zone=BERLIN, days=7)
    assert [d.day for d in s.daily] == [date(2026, 3, d) for d in range(26, 32)] + [
        date(2026, 4, 1)]
    assert [(d.nudges, d.done) for d in s.daily] == [(1, 1)] * 4 + [(1, 0)] + [(1, 1)] * 2
    assert s.sparkline == "████▁██"
    assert (s.nudges, s.done, s.skipped) == (7, 6, 1)
    assert (s.current_streak, s.best_streak) == (2, 4)


def test_autumn_dst_week_with_the_doubled_hour_and_answers_after_midnight() -> None:
    # 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens twice that night.
    evs: list[HistoryEvent] = []
    for d in range(22, 29):
        due = local(2026, 10, d, 23, 45)
        evs += nudge("talk", due, done(due + timedelta(minutes=20)))  # answered 00:05
    for fold in (0, 1):
        due = local(2026, 10, 25, 2, 30, fold=fold)
        evs += nudge("talk", due, done(due + timedelta(minutes=1)))
    assert local(2026, 10, 25, 2, 30, 1) - local(2026, 10, 25, 2, 30, 0) == timedelta(0)
    [s] = compute(evs, today=date(2026, 10, 28), zone=BERLIN, days=7)
    assert [d.day for d in s.daily] == [date(2026, 10, d) for d in range(22, 29)]
    assert [(d.nudges, d.done) for d in s.daily] == [(1, 1)] * 3 + [(3, 3)] + [(1, 1)] * 3
    assert s.sparkline == "███████"
    assert (s.nudges, s.done, s.done_rate) == (9, 9, 1.0)
    assert (s.current_streak, s.best_streak) == (7, 7)


def test_a_snooze_past_midnight_counts_for_the_day_it_was_meant_for() -> None:
    due = local(2026, 3, 2, 23, 50)
    first = nudge("bedtime", due, (EventKind.SNOOZED, due + timedelta(minutes=1)))
    back = nudge("bedtime", local(2026, 3, 3, 0, 10), done(local(2026, 3, 3, 0, 12)),
                 origin=(first[0].nudge_id, due))
    [s] = compute(first + back, today=date(2026, 3, 3), zone=BERLIN, days=2)
    assert [(d.day, d.nudges, d.done) for d in s.daily] == [
        (date(2026, 3, 2), 1, 1), (date(2026, 3, 3), 0, 0)]
    assert (s.nudges, s.done, s.snoozed) == (1, 1, 1)
    assert s.sparkline == "█·"
    assert (s.current_streak, s.best_streak) == (1, 1)


def test_days_without_a_nudge_do_not_break_a_streak_and_today_is_not_over() -> None:
    evs: list[HistoryEvent] = []
    for d in (2, 3, 4, 5, 6, 9):  # Mon-Fri, then Monday; no nudges at the weekend
        due = local(2026, 3, d, 18, 0)
        evs += nudge("walk", due, done(due))
    evs += nudge("walk", local(2026, 3, 10, 18, 0))  # today: shown, not yet answered
    [s] = compute(evs, today=date(2026, 3, 10), zone=BERLIN, days=7)
    assert s.sparkline == "███··█▁"  # Wed 4 .. Tue 10 March
    assert (s.current_streak, s.best_streak) == (6, 6)
    assert s.done_rate == pytest.approx(4 / 5)
    # The same history seen a day later: Tuesday passed without a done.
    [later] = compute(evs, today=date(2026, 3, 11), zone=BERLIN, days=7)
    assert (later.current_streak, later.best_streak) == (0, 6)


def test_events_before_the_period_count_for_streaks_only() -> None:
    evs: list[HistoryEvent] = []
    for d in range(1, 31):  # all of March done
        due = local(2026, 3, d, 9, 0)
        evs += nudge("meditate", due, done(due))
    [week] = compute(evs, today=date(2026, 3, 30), zone=BERLIN, days=7)
    assert (week.nudges, week.done, week.current_streak, week.best_streak) == (7, 7, 30, 30)
    [month] = compute(evs, today=date(2026, 3, 30), zone=BERLIN, days=30)
    assert len(month.sparkline) == 30 and month.sparkline == "█" * 30


def test_listed_practices_come_first_even_without_events() -> None:
    evs = nudge("zeta", local(2026, 3, 2, 9, 0)) + nudge("alpha", local(2026, 3, 2, 9, 0))
    rows = compute(evs, today=date(2026, 3, 2), zone=BERLIN, days=7,
                   practice_ids=["quiet", "zeta"])
    assert [r.practice_id for r in rows] == ["quiet", "zeta", "alpha"]
    quiet = rows[0]
    assert (quiet.nudges, quiet.done_rate, quiet.done_percent, quiet.sparkline) == (
        0, None, "–", "·······")
    assert rows[1].sparkline == "······▁"


def test_bar_characters() -> None:
    assert [bar(0, 0), bar(3, 0), bar(3, 3), bar(2, 1), bar(7, 1), bar(4, 3)] == [
        "·", "▁", "█", "▅", "▂", "▆"]


def test_days_must_be_positive() -> None:
    with pytest.raises(ValueError, match="days must be at least 1"):
        compute([], today=date(2026, 3, 2), zone=BERLIN, days=0)


def test_stats_from_a_real_store(tmp_path: Path) -> None:
    with Store.open(tmp_path / "history.db") as store:
        due = local(2026, 3, 28, 23, 55)  # the night before the spring change
        a = store.record_shown("eyes", due, due, "Eyes", "Look up.")
        store.answer(a.id, Action.SNOOZE, due, "button", snooze_until=due + timedelta(minutes=10))
        b = store.record_shown("eyes", due + timedelta(minutes=10), due + timedelta(minutes=10),
                               "Eyes", "Look up.", snoozed_from=a.id)
        store.answer(b.id, Action.DONE, due + timedelta(minutes=11), "cli", how="partly")
        due2 = local(2026, 3, 29, 9, 0)
        store.record_missed("eyes", due2, due2 + timedelta(hours=1), "asleep")
        events = store.history()
    [s] = compute(events, today=date(2026, 3, 29), zone=BERLIN, days=2)
    assert [(d.day, d.nudges, d.done) for d in s.daily] == [
        (date(2026, 3, 28), 1, 1), (date(2026, 3, 29), 1, 0)]
    assert (s.nudges, s.done, s.snoozed, s.missed, s.current_streak) == (2, 1, 1, 1, 1)
    assert s.sparkline == "█▁"
