"""What the CLI shows when something is wrong: an AttunedError is one line (and a non-zero
exit, never a traceback); anything else is a bug in attuned and surfaces as one, instead of
being dressed up as the person's mistake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from attuned.cli.root import cli
from attuned.core import cron, days, durations, moments
from attuned.errors import AttunedError, BadValue

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "config.example.toml").read_text()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "schedule" / "config.toml"  # its own folder: drafts are looked for there
    path.parent.mkdir()
    path.write_text(EXAMPLE)
    return path


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(cli, args)


def assert_one_line(r: Result, code: int, text: str) -> None:
    """Exactly `text` on stderr, nothing on stdout, exit `code`, no exception escaping."""
    assert isinstance(r.exception, SystemExit), r.exception
    assert (r.exit_code, r.stderr, r.stdout) == (code, text + "\n", "")


# --------------------------------------------------------------------------- the boundary


@pytest.mark.parametrize("parse", [
    lambda: durations.parse_duration("soon"),
    lambda: durations.parse_clock("7.30"),
    lambda: durations.parse_window("17:00"),
    lambda: days.parse_days("funday"),
    lambda: cron.parse("0 19 * *"),
    lambda: moments.parse_moment("someday", now=datetime(2026, 12, 1, tzinfo=UTC),
                                 zone=ZoneInfo("UTC")),
], ids=["duration", "clock", "window", "days", "cron", "moment"])
def test_the_parsers_of_what_people_type_raise_bad_value(parse: Callable[[], object]) -> None:
    # An AttunedError, so the CLI shows it as the person's mistake; a ValueError still, so
    # the schedule's validator, which catches ValueError around each value, is unchanged.
    with pytest.raises(BadValue) as info:
        parse()
    assert isinstance(info.value, AttunedError) and isinstance(info.value, ValueError)
    assert info.value.exit_code == 2


def test_a_value_error_that_is_no_attuned_error_is_a_bug_not_a_user_error(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from attuned.core import timing

    def broken(*args: object, **kwargs: object) -> None:  # FAKE: a bug deep in the library
        raise ValueError("a bug in attuned")

    monkeypatch.setattr(timing, "next_n", broken)
    r = invoke(["--config", str(config), "next"])
    # Not "attuned: a bug in attuned" and exit 2, as if the person had typed it wrong.
    assert isinstance(r.exception, ValueError) and str(r.exception) == "a bug in attuned"
    assert "attuned: a bug in attuned" not in r.output


# --------------------------------------------------------------------------- the editor


@pytest.mark.parametrize(("env", "text"), [
    ({"EDITOR": 'vi "', "VISUAL": ""},
     "attuned: $EDITOR is 'vi \"': No closing quotation; set EDITOR to a command like \"vim\""),
    ({"VISUAL": "code \\", "EDITOR": "vim"},
     "attuned: $VISUAL is 'code \\\\': No escaped character; set VISUAL to a command like "
     '"vim"'),
    ({"VISUAL": "  ", "EDITOR": ""},
     "attuned: $VISUAL is '  ', which names no command; set VISUAL to a command like \"vim\""),
], ids=["unclosed-quote", "trailing-backslash", "blank"])
def test_an_editor_variable_that_names_no_command_is_one_line(
        config: Path, env: dict[str, str], text: str) -> None:
    before = config.read_bytes()
    r = invoke(["--config", str(config), "edit"], env)
    assert_one_line(r, 1, text)
    assert config.read_bytes() == before
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]  # no draft
