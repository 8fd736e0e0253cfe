"""The bounds of what a schedule and the command line take: every duration and count has
a limit that `check` (the same validation the daemon uses) enforces, so nothing it passes
overflows the daemon's date arithmetic; characters that look like digits or spaces but are
not ASCII are refused by name instead of being read silently."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from daemon_harness import Daemons, settings

from attuned.cli.root import cli
from attuned.config import read
from attuned.errors import ScheduleError


def practice(body: str) -> str:
    return f'[[practice]]\nid = "p"\ntitle = "T"\nmessage = "M"\n{body}\n'


def one_problem(text: str) -> str:
    with pytest.raises(ScheduleError) as info:
        read.parse_text(text)
    found = [str(p) for p in info.value.problems]
    assert len(found) == 1, found
    return found[0]


YEAR = 'is longer than attuned takes; a duration is at most 366d (a year)'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('at = "07:30"\ngrace = "999999999d"',
         f'config.toml:6: practice "p": grace: "999999999d" {YEAR}'),
        ('at = "07:30"\nsnooze = "367d"',
         f'config.toml:6: practice "p": snooze: "367d" {YEAR}'),
        ('at = "07:30"\nsnooze = "53w"',
         f'config.toml:6: practice "p": snooze: "53w" {YEAR}'),
        ('at = "07:30"\nanswer_within = "100000000000000000000s"',
         f'config.toml:6: practice "p": answer_within: "100000000000000000000s" {YEAR}'),
        ('at = "07:30"\nrepeat = "9999999h"\nrepeat_max = 2',
         f'config.toml:6: practice "p": repeat: "9999999h" {YEAR}'),
        ('at = "07:30"\nrepeat = "10m"\nrepeat_max = 100000000000000000000',
         'config.toml:7: practice "p": repeat_max: 100000000000000000000 is more reminders '
         'than attuned sends; at most 100'),
        ('random = 2\nbetween = "17:00-22:00"\nmin_gap = "400d"',
         f'config.toml:7: practice "p": min_gap: "400d" {YEAR}'),
        ('cron = "*/100000000000000000000 * * * *"',
         'config.toml:5: practice "p": cron: "*/100000000000000000000 * * * *": minute step '
         '100000000000000000000 is longer than the field; at most 60'),
        ('cron = "0 0 */32 * *"',
         'config.toml:5: practice "p": cron: "0 0 */32 * *": day-of-month step 32 is longer '
         'than the field; at most 31'),
        ('cron = "٠ 19 * * *"',
         'config.toml:5: practice "p": cron: "٠ 19 * * *": minute "٠" is not a number'),
        ('once = 9900-01-01T18:00:00',
         'config.toml:5: practice "p": once: 9900-01-01T18:00:00 is after the last day '
         'attuned plans for, 9899-12-31'),
        ('once = 0001-01-01T00:00:00',
         'config.toml:5: practice "p": once: 0001-01-01T00:00:00 is before the first day '
         'attuned plans for, 1900-01-01'),
        ('at = "٠٧:٣٠"',
         'config.toml:5: practice "p": at: "٠٧:٣٠" has an arabic-indic digit zero (U+0660); '
         'write it with plain digits and spaces, like "07:30"'),
        ('at = "０７:３０"',
         'config.toml:5: practice "p": at: "０７:３０" has a fullwidth digit zero (U+FF10); '
         'write it with plain digits and spaces, like "07:30"'),
        ('every = "1h"\nbetween = "17:00\u00a0-22:00"',
         'config.toml:6: practice "p": between: "17:00\u00a0-22:00" has a no-break space '
         '(U+00A0); write it with plain digits and spaces, like "17:00-22:00"'),
        ('every = "１h"',
         'config.toml:5: practice "p": every: "１h" has a fullwidth digit one (U+FF11); '
         'write it with plain digits and spaces, like "1h30m"'),
        ('once = "２026-12-12 18:00"',
         'config.toml:5: practice "p": once: "２026-12-12 18:00" is not a date and time; '
         'write it like 2026-12-12T18:00:00 or "2026-12-12 18:00"'),
    ],
)
def test_each_bound_has_its_exact_message(body: str, message: str) -> None:
    assert one_problem(practice(body)) == message


def test_the_settings_durations_are_bounded_too() -> None:
    text = '[settings]\ngrace = "999999999d"\nsnooze_long = "1000d"\n' + practice('at = "07:30"')
    with pytest.raises(ScheduleError) as info:
        read.parse_text(text)
    assert [str(p) for p in info.value.problems] == [
        f'config.toml:2: grace: "999999999d" {YEAR}',
        f'config.toml:3: snooze_long: "1000d" {YEAR}',
    ]


def test_check_refuses_what_the_daemon_could_not_run(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(practice('at = "07:30"\ngrace = "999999999d"'))
    r = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert r.exit_code == 1
    assert r.stderr.strip().endswith(f'grace: "999999999d" {YEAR}'), r.stderr


def test_a_snooze_far_too_long_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(practice('at = "07:30"'))
    r = CliRunner(env={"ATTUNED_STATE_DIR": str(tmp_path / "state"),
                       "ATTUNED_RUNTIME_DIR": str(tmp_path / "run")}).invoke(
        cli, ["--config", str(path), "snooze", "--for=999999999d"])
    assert (r.exit_code, r.stdout) == (2, "")  # a bad value typed is a usage error
    assert r.stderr == f'attuned: "999999999d" {YEAR}\n'


def test_the_longest_bounds_at_the_end_of_time_run_in_the_daemon(daemons: Daemons) -> None:
    # The most check passes, at the last minute a `once` may name: the daemon plans it,
    # says when, and keeps answering (no OverflowError at start).
    text = (settings(grace="366d", snooze="366d", snooze_long="366d")
            + practice('once = 9899-12-31T23:59:00\nanswer_within = "366d"\n'
                       'repeat = "366d"\nrepeat_max = 100'))
    d = daemons(config_text=text, fake_clock=datetime(9899, 12, 31, 23, 58, tzinfo=UTC)).start()
    assert d.call("status")
    d.advance(90)
    d.wait_for_log(r"nudged p", timeout=10)
    for _ in range(3):  # snoozed for the longest the socket takes, and back
        assert d.call("snooze", {"for": "1w"})
        d.advance(7 * 86400 + 60)
    assert d.running() and d.call("status")
    assert "Traceback" not in d.log_text()


@pytest.mark.parametrize(("args", "value"), [
    (["next", "--until", "9999-12-31"], "9999-12-31"),
    (["next", "--from", "0001-01-01", "-n", "3"], "0001-01-01"),
    (["history", "--since", "0001-01-01"], "0001-01-01"),
])
def test_a_typed_day_at_the_ends_of_the_calendar_is_one_line(
        tmp_path: Path, args: list[str], value: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(practice('at = "07:30"'))
    r = CliRunner(env={"ATTUNED_STATE_DIR": str(tmp_path / "state")}).invoke(
        cli, ["--config", str(path), *args])
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == f'attuned: "{value}" is outside the years attuned counts in, 1900 to 9899\n'


@pytest.mark.parametrize(("body", "message"), [
    ('every = "1h"\nbetween = "22:00-02:00"\nuntil = 9999-12-31',
     'config.toml:7: practice "p": until: 9999-12-31 is outside the years attuned plans '
     'for, 1900 to 9899'),
    ('at = "07:30"\nfrom = "0001-01-01"',
     'config.toml:6: practice "p": from: "0001-01-01" is outside the years attuned plans '
     'for, 1900 to 9899'),
])
def test_a_period_at_the_ends_of_the_calendar_is_refused(body: str, message: str) -> None:
    assert one_problem(practice(body)) == message
