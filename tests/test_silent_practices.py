"""Practices that can never nudge are said, with why: by `check` and `list` as a warning,
and `add` refuses a moment or a period already past."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from attuned.cli import schedule as cli_schedule
from attuned.cli.root import cli
from attuned.config.read import parse_text
from attuned.core.silence import why_silent

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday
UTC_ZONE = ZoneInfo("UTC")
HEAD = '[settings]\ntimezone = "UTC"\nquiet_hours = "22:00-07:00"\n'


def practice(body: str) -> str:
    return f'{HEAD}\n[[practice]]\nid = "x"\ntitle = "X"\nmessage = "m"\n{body}\n'


@pytest.mark.parametrize(("body", "why"), [
    ("once = 2020-01-01T10:00:00",
     "its moment, Wed 01 Jan 2020 10:00, is past; give it one ahead with once = ..., or "
     "remove it"),
    ('at = "08:00"\nfrom = 2026-11-01\nuntil = 2026-11-07',
     "its period ended on Sat 07 Nov 2026; `attuned try x` starts a new one, or set a later "
     "until"),
    ('at = "23:00"',
     'all its nudges fall inside its quiet hours (22:00-07:00); choose another time, or let '
     'it through with quiet_hours = "none"'),
    ('at = "08:00"\ndays = "sat"\nfrom = 2026-12-01\nuntil = 2026-12-04',
     "no day of its period (Tue 01 Dec 2026 to Fri 04 Dec 2026) is one of its days"),
    ('at = "08:00"\nenabled = false', "it is paused; `attuned enable x` switches it on"),
    ('at = "08:00"', None),
    ('at = "23:00"\nblocked = "defer"', None),  # it waits for the quiet hours to end
    ("once = 2026-12-01T13:00:00", None),
])
def test_why_a_practice_never_nudges(body: str, why: str | None) -> None:
    p = parse_text(practice(body)).practices[0]
    assert why_silent(p, NOW, UTC_ZONE, "seed") == why


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ATTUNED_CONFIG", str(path))
    monkeypatch.setattr(cli_schedule, "_now", lambda: NOW)
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_check_and_list_say_why(config: Path) -> None:
    config.write_text(practice('at = "23:00"') + '\n[[practice]]\nid = "y"\ntitle = "Y"\n'
                      'message = "m"\nat = "08:00"\nenabled = false\n')
    r = run("check")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        f"{config}: ok, 2 practices (1 enabled)",
        f'{config}:5: warning: practice "x" will never nudge: all its nudges fall inside its '
        'quiet hours (22:00-07:00); choose another time, or let it through with quiet_hours '
        '= "none"',
        "paused, so they do not nudge: y (`attuned enable ID` switches one on)",
    ]
    r = run("list")
    assert r.exit_code == 0, r.output
    assert ("   next: none ahead: all its nudges fall inside its quiet hours (22:00-07:00); "
            'choose another time, or let it through with quiet_hours = "none"') in r.stdout


def test_add_refuses_a_moment_in_the_past(config: Path) -> None:
    config.write_text(HEAD)
    r = run("add", "x", "--title", "X", "--message", "m", "--once", "2020-01-01T10:00")
    assert (r.exit_code, r.stderr) == (
        1, "attuned: --once: Wed 01 Jan 2020 10:00 is in the past, so it would never nudge; "
           'give a moment ahead, like --once "2026-12-02 12:00"\n')
    r = run("add", "x", "--title", "X", "--message", "m", "--at", "08:00",
            "--until", "2026-11-30")
    assert (r.exit_code, r.stderr) == (
        1, "attuned: --until: Mon 30 Nov 2026 is in the past, so it would never nudge; give "
           "a day from today (2026-12-01) on\n")
    assert config.read_text() == HEAD
    r = run("add", "x", "--title", "X", "--message", "m", "--once", "2026-12-01 13:00")
    assert r.exit_code == 0, r.output
