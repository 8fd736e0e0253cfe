"""Periods and reflection: when the question comes, that it comes exactly once, the review's
arithmetic and suggestions on a pinned history, and nuanced answers.

Service-level tests use a real SQLite store and the named fakes of service_fakes.py (also used by
test_discreet, test_together and test_held): FakePlanner records the jobs the core asks
for, FakeNotifier records what would be shown. The real bus is covered by the daemon tests.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from service_fakes import make, practice, settle

from attuned.app import review
from attuned.cli import practising as cli_practice
from attuned.cli.root import cli
from attuned.core.model import Action, NudgeState, RandomRule
from attuned.core.model import Window as W
from attuned.state.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
UTCZ = ZoneInfo("UTC")


# --------------------------------------------------------------------------- when


def test_the_question_comes_at_19_on_the_last_day() -> None:
    p = practice(start=date(2026, 12, 1), until=date(2026, 12, 7))
    assert review.reflection_time(p, BERLIN, "s") == datetime(2026, 12, 7, 19, 0, tzinfo=BERLIN)


def test_or_a_quarter_hour_after_the_last_nudge_when_that_is_later() -> None:
    p = practice(rule=RandomRule(2, W(time(22, 0), time(1, 0))), until=date(2026, 12, 7))
    at = review.reflection_time(p, BERLIN, "s")
    assert at is not None and at.date() in (date(2026, 12, 7), date(2026, 12, 8))
    from attuned.core import timing

    last = timing.occurrences(p, datetime(2026, 12, 7, tzinfo=BERLIN),
                              datetime(2026, 12, 9, tzinfo=BERLIN), BERLIN, "s")[-1]
    assert at == last + timedelta(minutes=15)


def test_no_question_without_an_end_or_when_paused() -> None:
    assert review.reflection_time(practice(), BERLIN, "s") is None
    assert review.reflection_time(practice(until=date(2026, 12, 7), enabled=False),
                                  BERLIN, "s") is None


# --------------------------------------------------------------------------- exactly once


END = date(2026, 12, 7)
ASK = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)


def test_a_periods_end_brings_exactly_one_question(store: Store) -> None:
    p = practice(start=date(2026, 12, 1), until=END)
    svc, planner, notifier, clock = make(store, p, at=datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    svc.plan_all(startup=True)
    assert planner.jobs["e:breakfast"] == (ASK, p.grace)
    clock.at = ASK
    rec = asyncio.run(svc.fire_key("e:breakfast", ASK))
    assert rec is None  # fire_key returns nothing; look at what was shown
    (n,) = notifier.sent
    assert n.title == "How did it go? Breakfast presence"
    assert n.body.startswith('Your time with "Breakfast presence" ends today.')
    assert [k for k, _ in n.actions] == ["landed", "partly", "not-yet"]
    # Fired again (a duplicate timer) or re-planned after a restart: never asked twice.
    asyncio.run(svc.fire_key("e:breakfast", ASK))
    clock.at = ASK + timedelta(minutes=5)
    svc.plan_all(startup=True)
    assert "e:breakfast" not in planner.jobs
    assert len(notifier.sent) == 1
    asked = store.history(practice_id="reflect:breakfast")
    assert [e.kind.value for e in asked] == ["shown"]


def test_the_answer_button_keeps_the_reflection(store: Store) -> None:
    p = practice(until=END)
    svc, _, _, clock = make(store, p, at=ASK)

    async def go() -> None:
        await svc.fire_key("e:breakfast", ASK)
        clock.at = ASK + timedelta(minutes=2)
        svc.on_action(1, "partly")
        await settle(svc)

    asyncio.run(go())
    (refl,) = store.reflections("breakfast")
    assert (refl.verdict, refl.text) == ("partly", "")
    (q,) = store.history(practice_id="reflect:breakfast")[1:]
    assert (q.kind.value, q.source, q.note) == ("done", "button", "partly")


def test_a_question_missed_while_the_daemon_was_down_is_not_asked_late(store: Store) -> None:
    p = practice(until=END)
    svc, planner, _, _ = make(store, p, at=ASK + timedelta(hours=2))
    svc.plan_all(startup=True)
    assert "e:breakfast" not in planner.jobs


def test_reflect_from_the_daemon_closes_the_open_question(store: Store) -> None:
    p = practice(until=END)
    svc, _, notifier, _ = make(store, p, at=ASK)

    async def go() -> dict[str, object]:
        await svc.fire_key("e:breakfast", ASK)
        return (await svc.reflect(None, "landed", "mornings feel closer")).to_json()

    res = asyncio.run(go())
    assert res["practice"] == "breakfast" and res["answered"] is not None
    assert notifier.closed == [1]
    (refl,) = store.reflections("breakfast")
    assert (refl.verdict, refl.text) == ("landed", "mornings feel closer")


# --------------------------------------------------------------------------- review


TODAY = date(2026, 12, 7)


def _day(d: int, h: int = 7, m: int = 30) -> datetime:
    return datetime(2026, 12, d, h, m, tzinfo=UTC)


def pinned(store: Store) -> None:
    """A week, Tue 1 to Mon 7 Dec 2026, by hand.
    breakfast (weekdays 07:30): 5 nudges; done 4 (noticed 2, partly 1, plain 1), skipped 1
      -> 80%, period over, reflection "landed"                        -> rule 3 (next)
    look-up: 4 nudges; done 2, missed 1, expired 1                   -> 50%: rule 5 (extend)
    evening: 4 nudges; done 0, missed 3, skipped 1                   -> 0%: rule 6 (smaller)
    meditation: 2 nudges; done 2, reflection "not-yet"              -> rule 2 (extend)
    """
    answers = [(1, "noticed", None), (2, "partly", "she was tired; I made tea"),
               (3, "noticed", None), (4, None, None)]
    for d, how, note in answers:
        r = store.record_shown("breakfast", _day(d), _day(d), "Breakfast presence", "m")
        store.answer(r.id, Action.DONE, at=_day(d, 7, 40), source="cli", how=how, note=note)
    r = store.record_shown("breakfast", _day(7), _day(7), "Breakfast presence", "m")
    store.answer(r.id, Action.SKIP, at=_day(7, 7, 35), source="button")
    for d in (1, 2):
        r = store.record_shown("look-up", _day(d, 18), _day(d, 18), "Look up", "m")
        store.answer(r.id, Action.DONE, at=_day(d, 18, 5), source="button")
    store.record_missed("look-up", _day(3, 18), _day(3, 18, 20), "asleep", "Look up")
    r = store.record_shown("look-up", _day(4, 18), _day(4, 18), "Look up", "m")
    store.expire(r.id, _day(5, 18))
    for d in (2, 3, 4):
        store.record_missed("evening", _day(d, 20), _day(d, 20, 20), "asleep", "Evening")
    r = store.record_shown("evening", _day(5, 20), _day(5, 20), "Evening", "m")
    store.answer(r.id, Action.SKIP, at=_day(5, 20, 1), source="cli")
    for d in (5, 6):
        r = store.record_shown("meditation", _day(d, 6), _day(d, 6), "Partner in mind", "m")
        store.answer(r.id, Action.DONE, at=_day(d, 6, 20), source="cli")
    store.add_reflection("breakfast", _day(7, 19, 5), "landed", "mornings feel closer")
    store.add_reflection("meditation", _day(7, 6, 30), "not-yet")
    # Last week: outside the review's seven days.
    r = store.record_shown("breakfast", _day(23, 7) - timedelta(days=30), _day(23, 7)
                           - timedelta(days=30), "Breakfast presence", "m")


SCHEDULE = (
    practice(start=date(2026, 12, 1), until=TODAY),
    practice(id="look-up", title="Look up", until=date(2026, 12, 10)),
    practice(id="evening", title="Evening"),
    practice(id="meditation", title="Partner in mind", until=date(2026, 12, 10)),
)
ORDER = ("look-up", "breakfast", "full-attention", "partner-in-mind")


def test_review_arithmetic_and_suggestions_on_a_pinned_week(store: Store) -> None:
    pinned(store)
    rows = review.review(store.history(), store.reflections(), SCHEDULE, today=TODAY,
                         zone=UTCZ, library_order=ORDER)
    by = {r.practice_id: r for r in rows}
    assert [r.practice_id for r in rows] == ["breakfast", "look-up", "evening", "meditation"]
    b = by["breakfast"]
    assert (b.stats.nudges, b.stats.done, b.stats.skipped, b.stats.done_rate) == (5, 4, 1, 0.8)
    assert b.hows == (("noticed", 2), ("partly", 1), ("missed", 0))
    assert b.notes == ("she was tired; I made tea",)
    assert [(x.verdict, x.text) for x in b.reflections] == [("landed", "mornings feel closer")]
    assert b.suggestion == review.Suggestion(
        "next", "Try the next one: attuned try full-attention. Keep this one too if you like.",
        "rule 3: done-rate 80% is 70% or more and the period is over")
    lu = by["look-up"]
    assert (lu.stats.nudges, lu.stats.done, lu.stats.missed, lu.stats.expired) == (4, 2, 1, 1)
    assert lu.suggestion == review.Suggestion(
        "extend", "Give it another week. Set until = 2026-12-17 (attuned edit).",
        "rule 5: done-rate 50% is between 30% and 70%")
    ev = by["evening"]
    assert ev.suggestion.action == "smaller"
    assert ev.suggestion.rule == "rule 6: done-rate 0% is under 30%"
    assert ev.suggestion.text.endswith(
        "Most nudges went unanswered: perhaps they come when you are away.")
    med = by["meditation"]
    assert med.suggestion.action == "extend"
    assert med.suggestion.rule == ("rule 2: done-rate 100% is 70% or more, and your reflection "
                                   "says not yet")


@pytest.mark.parametrize(("rate_done", "latest", "until", "action", "rule"), [
    (7, None, date(2026, 12, 20), "keep", "rule 4"),
    (7, "landed", date(2026, 12, 20), "next", "rule 3"),
    (3, None, None, "extend", "rule 5"),
    (2, None, None, "smaller", "rule 6"),
])
def test_the_rules_at_their_edges(rate_done: int, latest: str | None, until: date | None,
                                  action: str, rule: str) -> None:
    from attuned.core.stats import PracticeStats

    st = PracticeStats("p", 10, rate_done, 0, 10 - rate_done, 0, 0, 0, rate_done / 10, 0, 0,
                       (), "")
    s = review.suggest(st, latest, until, TODAY, "offer-first")
    assert (s.action, s.rule.split(":")[0]) == (action, rule)


def test_a_practice_without_nudges_yet_waits() -> None:
    rows = review.review([], [], (practice(start=TODAY),), today=TODAY, zone=UTCZ)
    (r,) = rows
    assert r.suggestion.rule == "rule 1: no nudges in these days"


def test_review_cli_reads_the_week(store: Store, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pinned(store)
    store.close()
    db = tmp_path / "history.db"
    monkeypatch.setenv("ATTUNED_STATE_DIR", str(tmp_path))
    assert db.exists()
    cfg = tmp_path / "config.toml"
    cfg.write_text('[settings]\ntimezone = "UTC"\n[[practice]]\nid = "breakfast"\n'
                   'title = "Breakfast presence"\nmessage = "m"\nat = "07:30"\n'
                   'days = "weekdays"\nfrom = 2026-12-01\nuntil = 2026-12-07\n')
    monkeypatch.setenv("ATTUNED_CONFIG", str(cfg))
    monkeypatch.setattr(cli_practice, "_now", lambda: datetime(2026, 12, 7, 21, tzinfo=UTC))
    r = CliRunner().invoke(cli, ["review"], catch_exceptions=False)
    assert r.exit_code == 0
    out = r.output.split("\n\n")
    assert out[0] == "Tue 01 Dec to Mon 07 Dec 2026"
    assert out[1] == (
        "breakfast  Breakfast presence  (period ends Mon 07 Dec)\n"
        "  5 nudges: 4 done, 1 skipped; done-rate 80%  ████··▁\n"
        "  how it went: 2 noticed, 1 partly\n"
        '  note: "she was tired; I made tea"\n'
        '  reflection (Mon 07 Dec): landed, "mornings feel closer"\n'
        "  -> Try the next one: attuned try full-attention. Keep this one too if you like.\n"
        "     (rule 3: done-rate 80% is 70% or more and the period is over)")


# --------------------------------------------------------------------------- CLI answers


def test_reflect_and_nuanced_done_without_the_daemon(store: Store, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    rec = store.record_shown("breakfast", _day(1), _day(1), "Breakfast presence", "m")
    store.close()
    monkeypatch.setenv("ATTUNED_STATE_DIR", str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(cli, ["done", rec.id, "--partly", "--note", "tea"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["reflect"])
    assert r.exit_code == 2 and "say how it went: --landed, --partly or --not-yet" in r.output
    r = runner.invoke(cli, ["reflect", "--landed"])
    assert r.exit_code == 1
    assert r.stderr == ("attuned: no reflection question is open; say which practice, like: "
                        "attuned reflect breakfast --landed\n")
    r = runner.invoke(cli, ["reflect", "breakfast", "--not-yet", "--text", "hard week"])
    assert r.exit_code == 0
    assert r.output.splitlines()[0] == 'Kept your reflection on breakfast: not yet. "hard week"'
    with Store.open(tmp_path / "history.db") as s:
        got = s.get(rec.id)
        assert (got.state, got.how, got.note) == (NudgeState.DONE, "partly", "tea")
        assert [(x.verdict, x.text) for x in s.reflections()] == [("not-yet", "hard week")]
