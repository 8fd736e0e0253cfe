"""Small things `check` and `list` say about odd but possible schedules: a directory
given as the file, a byte order mark, no practices, `every` without `between`, a `once`
beyond the four years attuned plans."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from attuned.cli import schedule
from attuned.cli.root import cli

BODY = '[[practice]]\nid = "p"\ntitle = "T"\nmessage = "M"\n'


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedule, "_now", lambda: datetime(2026, 12, 1, 12, tzinfo=UTC))


@pytest.mark.parametrize("args", [["check", "{d}"], ["--config", "{d}", "check"],
                                  ["--config", "{d}", "list"]])
def test_a_directory_as_the_schedule_is_exit_1_with_the_reason(tmp_path: Path,
                                                                args: list[str]) -> None:
    r = run(*[a.format(d=tmp_path) for a in args])
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == (f"attuned: {tmp_path} is a directory, not a schedule file; point "
                        "--config at a file\n")


def test_a_byte_order_mark_is_accepted_and_hides_no_later_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BODY.encode() + b'at = "07:30"\n')
    assert run("check", str(path)).stdout == f"{path}: ok, 1 practice (1 enabled)\n"
    path.write_bytes(b"\xef\xbb\xbf" + BODY.encode() + b'at = "07:30"\ngrace = "soon"\n')
    r = run("check", str(path))
    assert r.exit_code == 1
    assert r.stderr == (f'{path}:6: practice "p": grace: "soon" is not a duration; write it '
                        'like "10m", "1h30m" or "2h"\n')


def test_check_says_an_empty_schedule_has_no_practices(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# nothing yet\n")
    r = run("check", str(path))
    assert (r.exit_code, r.stdout) == (0, f"{path}: ok, but it has no practices, so nothing "
                                          "will nudge you; add one with `attuned add`\n")


def test_list_says_every_without_between_is_all_day(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[settings]\ntimezone = "UTC"\nquiet_hours = "none"\n'
                    + BODY + 'every = "3h"\n')
    assert run("--config", str(path), "list").stdout == (
        "Times in UTC.\np  T\n   every 3h all day\n   next: Tue 01 Dec 2026 15:00\n")


def test_list_says_when_a_once_far_ahead_comes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[settings]\ntimezone = "UTC"\n' + BODY + "once = 9000-01-01T10:00:00\n")
    assert run("--config", str(path), "list").stdout == (
        "Times in UTC.\np  T\n   once on Wed 1 Jan 9000 at 10:00\n"
        "   next: none ahead: its moment, Wed 01 Jan 9000 10:00, is more than four years "
        "ahead, beyond what attuned plans; give it a nearer one\n")
