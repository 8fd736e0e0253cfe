"""Reading the file again after a save, as the daemon does (ReloadCache: only the
practices whose text changed are validated again): always exactly what a whole read
gives, problems included; practices that moved keep all but their line; quick."""

from __future__ import annotations

import random
import re
import time
from dataclasses import replace

import pytest

from attuned.config import read
from attuned.config.reload_cache import ReloadCache
from attuned.core.model import Schedule
from attuned.errors import ScheduleError

SETTINGS = '[settings]\ntimezone = "UTC"\ngrace = "15m"\n\n'


def block(i: int) -> str:
    rules = [
        f'at = ["{i % 24:02d}:{i % 60:02d}"]\ndays = "mon-fri"',
        'every = "90m"\nbetween = "08:00-20:00"',
        'random = 2\nbetween = "17:00-22:00"\nmin_gap = "1h"',
        f'cron = "{i % 60} 19 * * sun"',
        "once = 2031-01-02T03:04:05",
    ]
    return (f'[[practice]]\nid = "p{i}"\ntitle = "Practice {i}"\n'
            f'message = ["One {i}.", "Two {i}."]\n{rules[i % len(rules)]}\n\n')


# Edits a person might make, good and bad, and shapes the cache must hand over to the
# whole read: a header inside a multi-line string, a quoted header, a sub-table, a
# second [settings].
EDITS = [
    lambda b, r: b.replace('title = "', 'title = "Changed '),
    lambda b, r: b.replace("[[practice]]\n", "[[practice]]\nenabled = false\n"),
    lambda b, r: b.replace("[[practice]]\n", "# a comment\n[[practice]]  # here\n"),
    lambda b, r: "",  # removed
    lambda b, r: b + block(r.randrange(1000, 2000)),  # one added
    lambda b, r: b.replace("\n", "\r\n"),
    # Good, but a shape the cache leaves to the whole read:
    lambda b, r: re.sub(r"message = \[.*\]", 'message = """\n[[practice]]\nOne."""', b),
    lambda b, r: b.replace("[[practice]]\n", '[[ "practice" ]]\n'),
    lambda b, r: b.replace('title = "', 'titel = "'),  # a misspelt key
    lambda b, r: b.replace("id = ", "id = = "),  # a syntax error
    lambda b, r: b.replace('id = "p', 'id = "p1'),  # perhaps a duplicate id
    lambda b, r: b + 'message2 = """\n[[practice]]\nid = "x"\n"""\n',
    lambda b, r: b.replace('title = "', 'message = """\n[[practice]]\n"""\ntitle = "'),
    lambda b, r: b + "[practice.extra]\nx = 1\n",
    lambda b, r: b + '[settings]\ngrace = "5m"\n',
    lambda b, r: b + "[[practice.more]]\nx = 1\n",
]
GOOD_EDITS = EDITS[:6]
SETTINGS_EDITS = [
    lambda s: s,
    lambda s: s.replace('grace = "15m"', 'grace = "20m"'),
    lambda s: s.replace('"UTC"', '"Europe/Berlin"'),
    lambda s: s + 'quiet_hours = "22:00-07:00"\n',
    lambda s: s + 'snooze = "ten"\n',
    lambda s: s + "[[practice]]\n",  # an empty practice in the preamble's place
    lambda s: s + "practice = []\n",
]


def whole(text: str) -> Schedule | str:
    try:
        return read.parse_text(text, "s.toml")
    except ScheduleError as e:
        return str(e)


def cached(text: str, cache: ReloadCache) -> Schedule | str:
    try:
        return cache.parse_text(text, "s.toml")
    except ScheduleError as e:
        return str(e)


def test_random_edits_read_exactly_as_the_whole_file_does() -> None:
    r = random.Random(3)
    blocks = [block(i) for i in range(60)]
    cache = ReloadCache()
    settings = SETTINGS
    previous = Schedule()
    outcomes, reused = set(), 0
    for _ in range(300):
        if r.random() < 0.1:
            settings = r.choice(SETTINGS_EDITS)(SETTINGS)
        for _ in range(r.randint(1, 3)):  # these stay, as in a file edited over time
            i = r.randrange(len(blocks))
            blocks[i] = r.choice(GOOD_EDITS)(blocks[i], r)
        if r.random() < 0.2:
            r.shuffle(blocks)
        now = list(blocks)
        if r.random() < 0.5:  # this save only: perhaps a mistake, perhaps an odd shape
            i = r.randrange(len(now))
            now[i] = r.choice(EDITS)(now[i], r)
        text = settings + "".join(now)
        expected = whole(text)
        got = cached(text, cache)
        assert got == expected, text
        if isinstance(got, Schedule):
            kept = {id(p) for p in previous.practices}  # `previous` holds them: ids stay theirs
            reused += any(id(p) in kept for p in got.practices)
            previous = got
        assert cached(text, ReloadCache()) == expected
        outcomes.add(type(expected))
    assert outcomes == {Schedule, str}  # both good and bad files were compared
    assert reused > 10  # and the cache was used, not only the whole read


def test_moved_practices_keep_everything_but_their_lines_and_are_reused() -> None:
    cache = ReloadCache()
    first = cache.parse_text(SETTINGS + block(1) + block(2))
    moved = cache.parse_text(SETTINGS + "# new\n\n" + block(1) + block(2))
    assert [p.line for p in first.practices] == [5, 12]
    assert [p.line for p in moved.practices] == [7, 14]
    assert moved.practices[0] == replace(first.practices[0], line=7)
    assert moved.practices[1] == replace(first.practices[1], line=14)
    again = cache.parse_text(SETTINGS + "# new\n\n" + block(1) + block(2))
    assert again.practices[0] is moved.practices[0]


@pytest.mark.parametrize("text", ["", "# nothing yet\n", SETTINGS])
def test_a_file_without_practices_is_read_and_one_added_later_too(text: str) -> None:
    cache = ReloadCache()
    assert cache.parse_text(text) == read.parse_text(text)
    assert cache.parse_text(text + block(1)) == read.parse_text(text + block(1))


def test_a_broken_save_is_reported_with_its_lines_and_the_next_good_one_reads() -> None:
    cache = ReloadCache()
    cache.parse_text(SETTINGS + block(1) + block(2), "s.toml")
    broken = SETTINGS + block(1) + block(2).replace('id = "p2"', 'id = "p1"')
    with pytest.raises(ScheduleError) as info:
        cache.parse_text(broken, "s.toml")
    assert str(info.value) == ('s.toml:13: practice "p1": id: "p1" is used twice, on lines 6 '
                               "and 13; each practice needs its own id")
    fixed = cache.parse_text(SETTINGS + block(1) + block(3), "s.toml")
    assert [p.id for p in fixed.practices] == ["p1", "p3"]


def test_1000_practices_are_read_quickly_and_reread_after_a_save_more_quickly() -> None:
    text = SETTINGS + "".join(block(i) for i in range(1000))
    cache = ReloadCache()
    start = time.process_time()  # CPU time: other work on the machine counts less
    assert len(cache.parse_text(text).practices) == 1000
    first = time.process_time() - start
    edited = text.replace('title = "Practice 500"', 'title = "Practice five hundred"')
    start = time.process_time()
    sched = cache.parse_text(edited)
    again = time.process_time() - start
    assert sched.practices[500].title == "Practice five hundred"
    # bench/read_bench.py: about 0.1 s and 3 ms. Generous for a slow machine, still far
    # below a read that went quadratic, or a reload that read every practice again.
    assert first < 0.6
    assert again < 0.05
