"""Library fact: the schedule is read with the standard library's tomllib, which is TOML
1.0. Forms only TOML 1.1 accepts (tomlkit and tomli >= 2.4 read `at = 07:30` bare) are
refused, with the line, the column and, where one is known, how to write it instead."""

from __future__ import annotations

import pytest

from attuned.config import read
from attuned.errors import ScheduleError

FIX = "; fix the line and save again"

TOML_11_ONLY = [
    # a time without seconds
    ("at = 09:30\n",
     's.toml:1: TOML syntax error at column 7: a time of day goes in quotes, like "09:30"'),
    # a newline inside an inline table
    ("a = {b = 1,\n c = 2}\n",
     "s.toml:1: TOML syntax error at column 12: invalid initial character for a key part"),
    # a trailing comma in an inline table
    ("a = {b = 1,}\n",
     "s.toml:1: TOML syntax error at column 12: invalid initial character for a key part"),
    # the \e escape
    ('a = "\\e"\n', "s.toml:1: TOML syntax error at column 8: unescaped '\\' in a string"),
    # a date-time without seconds
    ("a = 1979-05-27T07:32\n",
     "s.toml:1: TOML syntax error at column 15: a date and time needs seconds, like "
     '2026-12-12T18:00:00, or quotes, like "2026-12-12 18:00"'),
]


@pytest.mark.parametrize(("text", "message"), TOML_11_ONLY)
def test_forms_only_toml_1_1_accepts_are_refused(text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        read.parse_text(text, "s.toml")
    assert str(info.value) == message + FIX
