"""Reading the file again after a save, as the daemon does: practices that moved keep all
but their line, a broken save is reported with its lines, the next good one is read, and
1,000 practices are read quickly."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from attuned.config import read
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


def test_moved_practices_keep_everything_but_their_lines() -> None:
    first = read.parse_text(SETTINGS + block(1) + block(2))
    moved = read.parse_text(SETTINGS + "# new\n\n" + block(1) + block(2))
    assert [p.line for p in first.practices] == [5, 12]
    assert [p.line for p in moved.practices] == [7, 14]
    assert moved.practices[0] == replace(first.practices[0], line=7)
    assert moved.practices[1] == replace(first.practices[1], line=14)


def test_a_broken_save_is_reported_with_its_lines_and_the_next_good_one_reads() -> None:
    read.parse_text(SETTINGS + block(1) + block(2), "s.toml")
    broken = SETTINGS + block(1) + block(2).replace('id = "p2"', 'id = "p1"')
    with pytest.raises(ScheduleError) as info:
        read.parse_text(broken, "s.toml")
    assert str(info.value) == ('s.toml:13: practice "p1": id: "p1" is used twice, on lines 6 '
                               "and 13; each practice needs its own id")
    fixed = read.parse_text(SETTINGS + block(1) + block(3), "s.toml")
    assert [p.id for p in fixed.practices] == ["p1", "p3"]


def test_1000_practices_are_read_quickly() -> None:
    text = SETTINGS + "".join(block(i) for i in range(1000))
    start = time.process_time()  # CPU time: other work on the machine counts less
    sched = read.parse_text(text)
    took = time.process_time() - start
    assert len(sched.practices) == 1000
    # bench/read_bench.py measures about 0.1 s; generous for a slow machine, still far
    # below what a read that went quadratic or scanned the file per practice would take.
    assert took < 0.6
