"""Mistakes a person makes on the command line, each answered with one line that names
the thing and the fix: an unknown practice id (one resolver, one wording, for every
command), flags that exclude each other, a day-only end of a range."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from attuned import paths
from attuned.cli import answers as cli_answers
from attuned.cli import history as cli_history
from attuned.cli import practising as cli_practice
from attuned.cli import schedule as cli_schedule
from attuned.cli.root import cli
from attuned.state.store import Store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[settings]\ntimezone = "UTC"\n\n[[practice]]\nid = "breakfast"\n'
                    'title = "Breakfast presence"\nmessage = "Paper down."\nat = "07:30"\n'
                    '\n[[practice]]\nid = "tea"\ntitle = "Tea"\nmessage = "Tea?"\n'
                    'at = "16:00"\n')
    monkeypatch.setenv("ATTUNED_CONFIG", str(path))
    for module in (cli_answers, cli_history, cli_practice, cli_schedule):
        monkeypatch.setattr(module, "_now", lambda: NOW)
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("args", [
    ["reflect", "brekfast", "--partly"],
    ["done", "brekfast"],
    ["skip", "brekfast"],
    ["history", "--practice", "brekfast"],
    ["disable", "brekfast"],
    ["enable", "brekfast"],
    ["remove", "brekfast"],
])
def test_an_unknown_practice_gets_one_answer_everywhere(config: Path, args: list[str]) -> None:
    r = run(*args)
    assert (r.exit_code, r.stderr) == (
        1, 'attuned: no practice "brekfast"; did you mean "breakfast"?\n')


def test_an_unknown_practice_far_from_any_lists_them(config: Path) -> None:
    r = run("reflect", "nosuch", "--partly")
    assert (r.exit_code, r.stderr) == (
        1, 'attuned: no practice "nosuch"; the practices are: breakfast, tea\n')
    with Store.open(paths.history_db()) as s:
        assert s.reflections() == []


def test_a_practice_known_only_to_the_history_counts(config: Path) -> None:
    with Store.open(paths.history_db()) as s:
        s.record_shown("walk", NOW, NOW, "Walk", "Walk?")
    r = run("history", "--practice", "walk")
    assert r.exit_code == 0, r.output
    assert "walk" in r.stdout


def test_a_nudge_id_that_is_not_there_is_said_as_a_nudge(config: Path) -> None:
    r = run("done", "k3f2")
    assert (r.exit_code, r.stderr) == (
        1, 'attuned: no nudge has an id starting with "k3f2" (`attuned history` lists them)\n')


@pytest.mark.parametrize(("args", "said"), [
    (["reflect", "breakfast", "--landed", "--not-yet"],
     "choose one of --landed, --partly or --not-yet (you gave --landed and --not-yet)"),
    (["done", "--noticed", "--partly"],
     "choose one of --noticed, --partly or --missed-it (you gave --noticed and --partly)"),
    (["stats", "--week", "--month"], "choose one of --week or --month (you gave --week and "
                                     "--month)"),
    (["review", "--week", "--month"], "choose one of --week or --month (you gave --week and "
                                      "--month)"),
    (["history", "--json", "--csv"], "choose one of --json or --csv (you gave --json and "
                                     "--csv)"),
    (["next", "--count", "3", "--until", "tomorrow"],
     "choose one of --count or --until (you gave --count and --until)"),
    (["try", "breakfast", "--at", "07:00", "--random", "2"],
     "choose one of --at or --random (you gave --at and --random)"),
])
def test_flags_that_exclude_each_other(config: Path, args: list[str], said: str) -> None:
    r = run(*args)
    assert (r.exit_code, r.stderr) == (1, f"attuned: {said}\n")
    with Store.open(paths.history_db()) as s:
        assert s.reflections() == [] and s.history() == []


def test_next_until_a_day_includes_that_day(config: Path) -> None:
    r = run("next", "--until", "2026-12-03")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-2:] == ["  07:30 UTC    breakfast          Breakfast presence",
                                          "  16:00 UTC    tea                Tea"]
    assert "Thu 03 Dec 2026" in r.stdout and "Fri 04 Dec" not in r.stdout


def test_count_help_says_what_until_does() -> None:
    helps = {p.name: getattr(p, "help", None) for p in cli_schedule.next_.params}
    assert helps["count"] == ("How many nudges to show (default 10; --until shows all up to "
                              "it instead).")
