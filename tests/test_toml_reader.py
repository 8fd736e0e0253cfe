"""Library fact: the schedule is read with tomli < 2.4, which is the standard tomllib's
own code (TOML 1.0) compiled with mypyc, for speed (bench/daemon_bench.py). It must judge
every file exactly as tomllib does, messages included, so error text never depends on
which of the two read it. (tomli 2.4 moved to TOML 1.1, which reads `at = 07:30` bare.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli

ROOT = Path(__file__).resolve().parent.parent

DOCUMENTS = [
    (ROOT / "config.example.toml").read_text(),
    'at = 09:30\n',                      # a time without seconds: TOML 1.1 only
    'a = {b = 1,\n c = 2}\n',            # a newline inside an inline table: 1.1 only
    'a = {b = 1,}\n',                    # a trailing comma in an inline table: 1.1 only
    'a = "\\e"\n',                       # the \\e escape: 1.1 only
    'a = 1979-05-27T07:32\n',            # a date-time without seconds: 1.1 only
    '[[practice]]\nid = "x"\nid = "y"\n',  # a duplicate key
    'title = "unterminated\n',
    'days = ["mon", "tue"\n',
    'once = 2026-02-30T07:30:00\n',      # no such day
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_tomli_judges_like_tomllib(text: str) -> None:
    try:
        expected: object = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        expected = ("error", str(e))
    try:
        got: object = tomli.loads(text)
    except tomli.TOMLDecodeError as e:
        got = ("error", str(e))
    assert got == expected
