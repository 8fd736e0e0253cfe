"""The starter schedule people get from `attuned init`: valid, complete, and current."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from attuned.config import read, validate
from attuned.core.model import AtRule, CronRule, EveryRule, OnceRule, RandomRule

ROOT = Path(__file__).resolve().parent.parent
WRITTEN_ON = date(2026, 11, 25)


def test_the_example_passes_the_daemons_reader() -> None:
    sched = read.example_schedule()
    assert sched.source == "<built-in example>"
    assert len(sched.practices) == 8  # the eight practices of the design notes


def test_the_root_file_is_the_packaged_one() -> None:
    root = ROOT / "config.example.toml"
    assert root.is_symlink()
    assert root.read_text() == read.example_text()
    assert root.resolve() == (ROOT / "attuned" / "config.example.toml").resolve()


def test_it_shows_every_rule_and_some_are_paused() -> None:
    practices = read.example_schedule().practices
    kinds = {type(p.rule) for p in practices}
    assert kinds == {AtRule, EveryRule, RandomRule, CronRule, OnceRule}
    enabled = [p.id for p in practices if p.enabled]
    paused = [p.id for p in practices if not p.enabled]
    assert enabled and paused
    # Something enabled nudges every day, so a new user sees `attuned next` come alive.
    assert any(isinstance(p.rule, RandomRule) and len(p.rule.days) == 7
               for p in practices if p.enabled)


def test_its_dates_are_ahead() -> None:
    for p in read.example_schedule().practices:
        for day in (p.start, p.until):
            assert day is None or day > WRITTEN_ON, p.id
        if isinstance(p.rule, OnceRule):
            assert p.rule.moment.date() > WRITTEN_ON, p.id


def test_init_writes_its_dates_from_the_day_it_runs() -> None:
    text = read.starter_text(date(2027, 6, 10))
    assert "from = 2027-06-10" in text and "until = 2027-06-16" in text
    assert "once = 2027-06-14T10:00:00" in text
    assert "2026-" not in text
    sched = read.parse_text(text, "<starter>")
    starts = [p.start for p in sched.practices if p.start is not None]
    assert min(starts) == date(2027, 6, 10)


def test_the_starter_and_the_library_use_one_id_per_practice() -> None:
    from attuned.config import library

    by_title = {t.title: t.name for t in library.load(ROOT / "no-such-dir").templates}
    by_message = {m: t.name for t in library.load(ROOT / "no-such-dir").templates
                  for m in t.messages}
    for p in read.example_schedule().practices:
        assert by_title.get(p.title, p.id) == p.id, p.id
        for m in p.messages:
            assert by_message.get(m, p.id) == p.id, (p.id, m)
    # Each of the library's practices is in the starter file under its own id.
    assert {p.id for p in read.example_schedule().practices} >= set(by_title.values())


def test_every_key_is_explained_in_its_comments() -> None:
    comments = "\n".join(line for line in read.example_text().splitlines()
                         if line.lstrip().startswith("#") or "#" in line)
    for key in (*validate.PRACTICE_KEYS, *validate.SETTINGS_KEYS):
        if key in ("id", "title", "message", "enabled"):
            continue  # shown in use in every practice
        assert re.search(rf"\b{key}\b", comments), key


def test_it_stays_kind() -> None:
    text = read.example_text().lower()
    for word in ("fail", "must", "should", "never forget", "don't forget"):
        assert word not in text.replace("not a failure", ""), word


def test_the_built_in_example_runs_with_its_dates_from_today(tmp_path: Path) -> None:
    # No schedule file yet: `list` and `next` show the example as `attuned init` would
    # write it today, not the days it was written on (long past for a later install).
    from attuned.config.read import EXAMPLE_DAY, load_or_example

    later = EXAMPLE_DAY + timedelta(days=400)
    sched, example = load_or_example(tmp_path / "none.toml", later)
    assert example
    shipped = read.example_schedule()
    moved = {p.id: p for p in sched.practices}
    dated = [p for p in shipped.practices if p.start is not None]
    assert dated  # the example has a period to move
    for p in dated:
        assert moved[p.id].start == p.start + timedelta(days=400)
