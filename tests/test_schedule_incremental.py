"""Reading block by block, reusing the practices of the last read (ScheduleCache, for the
daemon's reloads): always exactly what reading the whole file gives, errors included."""

from __future__ import annotations

import random
import time
from dataclasses import replace

import pytest

from attuned.config import read
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


# Edits a person might make, good and bad, and shapes the block reader must hand over to
# the full read: a header inside a multi-line string, a sub-table, a second [settings].
EDITS = [
    lambda b, r: b.replace('title = "', 'title = "Changed '),
    lambda b, r: b.replace("[[practice]]\n", "[[practice]]\nenabled = false\n"),
    lambda b, r: b.replace("[[practice]]\n", "# a comment\n[[practice]]  # here\n"),
    lambda b, r: b.replace('title = "', 'titel = "'),  # a misspelt key
    lambda b, r: b.replace("id = ", "id = = "),  # a syntax error
    lambda b, r: b.replace('id = "p', 'id = "p1'),  # perhaps a duplicate id
    lambda b, r: b + 'message2 = """\n[[practice]]\nid = "x"\n"""\n',
    lambda b, r: b.replace('title = "', 'message = """\n[[practice]]\n"""\ntitle = "'),
    lambda b, r: b + "[practice.extra]\nx = 1\n",
    lambda b, r: b + '[settings]\ngrace = "5m"\n',
    lambda b, r: b + "[[practice.more]]\nx = 1\n",
    lambda b, r: "",  # removed
    lambda b, r: b + block(r.randrange(1000, 2000)),  # one added
    lambda b, r: b.replace("\n", "\r\n"),
]
GOOD_EDITS = [EDITS[i] for i in (0, 1, 2, 11, 12, 13)]
SETTINGS_EDITS = [
    lambda s: s,
    lambda s: s.replace('grace = "15m"', 'grace = "20m"'),
    lambda s: s.replace('"UTC"', '"Europe/Berlin"'),
    lambda s: s + 'quiet_hours = "22:00-07:00"\n',
    lambda s: s + 'snooze = "ten"\n',
    lambda s: s + "[[practice]]\n",  # an empty practice in the preamble's place
    lambda s: s + "practice = []\n",
]


def full(text: str) -> Schedule | str:
    try:
        return read._parse_full(text, "s.toml")
    except ScheduleError as e:
        return str(e)


def cached(text: str, cache: read.ScheduleCache) -> Schedule | str:
    try:
        return read.parse_text(text, "s.toml", cache=cache)
    except ScheduleError as e:
        return str(e)


def test_random_edits_read_exactly_as_the_whole_file_does() -> None:
    r = random.Random(3)
    blocks = [block(i) for i in range(60)]
    cache = read.ScheduleCache()
    settings = SETTINGS
    outcomes = set()
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
        expected, got = full(text), cached(text, cache)
        assert got == expected, text
        assert cached(text, read.ScheduleCache()) == expected
        outcomes.add(type(expected))
    assert outcomes == {Schedule, str}  # both good and bad files were compared


def test_moved_practices_keep_their_lines_and_cached_ones_are_reused() -> None:
    cache = read.ScheduleCache()
    text = SETTINGS + block(1) + block(2)
    first = read.parse_text(text, cache=cache)
    moved = read.parse_text(SETTINGS + "# new\n\n" + block(1) + block(2), cache=cache)
    assert [p.line for p in first.practices] == [5, 12]
    assert [p.line for p in moved.practices] == [7, 14]
    assert moved.practices[0] == replace(first.practices[0], line=7)
    again = read.parse_text(SETTINGS + "# new\n\n" + block(1) + block(2), cache=cache)
    assert again.practices[0] is moved.practices[0]


def test_a_broken_save_reports_the_full_reads_message_and_the_next_good_one_reads() -> None:
    cache = read.ScheduleCache()
    read.parse_text(SETTINGS + block(1) + block(2), cache=cache)
    broken = SETTINGS + block(1) + block(2).replace('id = "p2"', 'id = "p1"')
    with pytest.raises(ScheduleError) as info:
        read.parse_text(broken, "s.toml", cache=cache)
    assert '"p1" is used twice, on lines 6 and 13' in str(info.value)
    assert str(info.value) == full(broken)
    fixed = read.parse_text(SETTINGS + block(1) + block(3), cache=cache)
    assert [p.id for p in fixed.practices] == ["p1", "p3"]


def test_a_reload_of_10000_practices_with_one_changed_is_quick() -> None:
    text = SETTINGS + "".join(block(i) for i in range(10_000))
    cache = read.ScheduleCache()
    read.parse_text(text, cache=cache)
    edited = text.replace('title = "Practice 5000"', 'title = "Practice five thousand"')
    start = time.perf_counter()
    sched = read.parse_text(edited, cache=cache)
    took = time.perf_counter() - start
    assert sched.practices[5000].title == "Practice five thousand"
    # A full read takes ~1.5 s here; generous for a loaded machine, still far below that.
    assert took < 0.6
