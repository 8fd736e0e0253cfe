"""The practising commands as a person uses them: practices, try, feelings, needs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from attuned.cli import practising as cli_practice
from attuned.cli.root import cli
from attuned.config import edit, read

COMMENTED = """\
# My practices. Keep my notes!

[settings]
timezone = "Europe/Berlin"   # where we live

# Mornings are the hard part.
[[practice]]
id = "look-up"
title = "Look up"
message = "Set it down, look up."
at = "18:00"        # after work
"""

# 23:30 UTC on 30 Nov is already 1 Dec in Berlin: "today" is the schedule zone's date.
PINNED = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ATTUNED_CONFIG", str(path))
    monkeypatch.setattr(cli_practice, "_now", lambda: PINNED)
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_practices_lists_the_library_kindly() -> None:
    r = run("practices")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[:3] == [
        "look-up             Look up",
        "                    3 times between 17:00 and 22:00, at least 45m apart, for a week",
        "                    Small turnings toward each other, many times a day, are much of "
        "what closeness is made of.",
    ]
    assert lines[-1] == ("More about one: attuned practices show NAME. "
                         "Try one: attuned try NAME --for 1w")


def test_practices_json() -> None:
    r = run("practices", "--json")
    data = json.loads(r.output)
    assert [d["name"] for d in data][:2] == ["look-up", "breakfast"]
    b = data[1]
    assert b["schedule"] == {"at": "07:30", "days": "weekdays"}
    assert b["period"] == "1w" and b["suggested"] == "weekdays at 07:30, for a week"


def test_practices_show() -> None:
    r = run("practices", "show", "feelings-and-needs")
    assert r.exit_code == 0
    assert r.output.splitlines()[0] == "Feelings and needs"
    assert "Suggested: Tue, Fri at 19:00, for 2 weeks" in r.output
    assert "({feeling} and {need} are filled in" in r.output
    assert r.output.splitlines()[-1] == "Try it: attuned try feelings-and-needs --for 2w"


def test_a_users_bad_template_is_reported_and_the_rest_listed(config: Path) -> None:
    mine = Path.home() / "config" / "attuned" / "practices"
    mine.mkdir(parents=True)
    (mine / "oops.toml").write_text('title = "Oops"\nwhy = "x."\nmessage = "m"\nat = 7\n')
    r = CliRunner().invoke(cli, ["practices"])
    assert r.exit_code == 0
    assert "breakfast" in r.stdout
    assert r.stderr == (f'attuned: {mine / "oops.toml"}:4: at: expected "HH:MM" or a list of '
                        "them, got 7 (left out of the list)\n")


def test_try_adds_a_period_starting_today_and_keeps_comments(config: Path) -> None:
    config.write_text(COMMENTED)
    r = run("try", "breakfast", "--for", "1w")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == (
        'Trying "Breakfast presence" as breakfast: weekdays at 07:30, Tue 01 Dec to '
        "Mon 07 Dec 2026.")
    text = config.read_text()
    assert text.startswith(COMMENTED)  # every comment and byte before it kept
    assert text[len(COMMENTED):] == (
        "\n[[practice]]\n"
        'id = "breakfast"\n'
        'title = "Breakfast presence"\n'
        "message = [\n"
        '    "Paper down. How is your partner this morning: body, mood, energy?",\n'
        '    "Before the news: look at your partner. What might this morning be like for '
        'them?",\n'
        '    "At breakfast, notice one thing about how your partner is today. Just notice.",\n'
        "]\n"
        'at = "07:30"\n'
        'days = "weekdays"\n'
        "from = 2026-12-01\n"
        "until = 2026-12-07\n")
    assert run("check").exit_code == 0


def test_try_with_own_times_and_another_id(config: Path) -> None:
    config.write_text(COMMENTED)
    r = run("try", "look-up", "--as", "look-up-2", "--for", "3d", "--random", "2",
            "--between", "18:00-21:00")
    assert r.exit_code == 0, r.output
    p = read.load(config).get("look-up-2")
    assert p is not None
    assert (p.start, p.until) == (datetime(2026, 12, 1).date(), datetime(2026, 12, 3).date())
    assert r.output.splitlines()[0] == (
        'Trying "Look up" as look-up-2: 2 times between 18:00 and 21:00, '
        "Tue 01 Dec to Thu 03 Dec 2026.")


def test_try_of_a_practice_you_have_starts_a_new_period_on_it(config: Path) -> None:
    config.write_text(COMMENTED.replace('at = "18:00"        # after work',
                                        'at = "18:00"        # after work\nenabled = false'))
    r = CliRunner().invoke(cli, ["try", "look-up"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == (
        "look-up is already in your schedule: a new period on it (switched on again), "
        "every day at 18:00, Tue 01 Dec to Mon 07 Dec 2026.")
    # Its own times and comments are kept; only the period and the switch changed.
    assert config.read_text() == COMMENTED.replace(
        'at = "18:00"        # after work',
        'at = "18:00"        # after work\nenabled = true\nfrom = 2026-12-01\n'
        "until = 2026-12-07")
    assert [p.id for p in read.load(config).practices] == ["look-up"]


def test_try_again_with_options_changes_its_times_and_period(config: Path) -> None:
    config.write_text(COMMENTED)
    assert run("try", "look-up", "--for", "1w").exit_code == 0
    r = run("try", "look-up", "--for", "3d", "--random", "2", "--between", "18:00-21:00")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == (
        "look-up is already in your schedule: a new period on it, 2 times between 18:00 "
        "and 21:00, Tue 01 Dec to Thu 03 Dec 2026.")
    text = config.read_text()
    assert text.startswith(COMMENTED.split('at = "18:00"')[0])
    assert text.endswith('message = "Set it down, look up."\nfrom = 2026-12-01\n'
                         "until = 2026-12-03\nrandom = 2\nbetween = \"18:00-21:00\"\n")
    p = read.load(config).get("look-up")
    assert p is not None and p.until == datetime(2026, 12, 3).date()


def test_try_of_a_once_practice_takes_the_suggested_times(config: Path) -> None:
    config.write_text('[[practice]]\nid = "plan-a-date"\ntitle = "Plan a date"\n'
                      'message = "Plan one."\nonce = 2026-11-05T10:00:00\n')
    r = run("try", "plan-a-date")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == (
        "plan-a-date is already in your schedule: a new period on it, Saturdays at 10:00, "
        "Mon 30 Nov to Sun 13 Dec 2026.")
    assert "once" not in config.read_text()


def test_try_on_a_new_machine_starts_the_schedule(config: Path) -> None:
    r = run("try", "plan-a-date")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == f"Started your schedule at {config}"
    p = read.load(config).get("plan-a-date")
    assert p is not None and p.until is not None and p.start is not None
    assert (p.until - p.start).days == 13  # its suggested two weeks


def test_try_on_a_new_machine_while_another_command_starts_the_schedule(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = edit.write_new

    def another_try_first(path: Path, text: str, **kw: Any) -> Path | None:
        real(path, COMMENTED, force=False)  # the other one, a moment earlier
        return real(path, text, **kw)

    monkeypatch.setattr(edit, "write_new", another_try_first)
    r = run("try", "plan-a-date")
    assert r.exit_code == 0, r.output
    assert not r.output.startswith("Started")
    assert [p.id for p in read.load(config).practices] == ["look-up", "plan-a-date"]


def test_try_refuses_hours_and_unknown_names(config: Path) -> None:
    r = CliRunner().invoke(cli, ["try", "breakfast", "--for", "2h"])
    assert r.exit_code == 1
    assert r.stderr == ('attuned: a practice period is whole days, like "3d" or "1w", not '
                        '"2h"; for a practice of an hour or two, use `attuned add ID --once '
                        "...`\n")
    r = CliRunner().invoke(cli, ["try", "brekfast"])
    assert r.exit_code == 1
    assert r.stderr == 'attuned: no practice "brekfast" in the library; did you mean "breakfast"?\n'
    assert not config.exists()


def test_feelings_and_needs_print_their_lists() -> None:
    r = run("feelings")
    assert r.output.splitlines()[0].startswith("Feelings: words for what might be alive")
    assert "When something is hard:" in r.output and "worn out" in r.output
    r = run("needs")
    assert r.output.splitlines()[0].startswith("Needs:")
    assert "being heard" in r.output
