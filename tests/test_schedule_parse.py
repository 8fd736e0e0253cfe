"""Reading the schedule file: every rule form into the model, every mistake into a
precise message with its line, all of a file's mistakes at once."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attuned.config import read
from attuned.core.days import format_days, parse_days
from attuned.core.model import AtRule, CronRule, EveryRule, OnceRule, RandomRule, Settings, Window
from attuned.errors import AttunedError, ConfigNotFound, ScheduleError

WEEKDAYS = frozenset(range(5))


def practice(body: str, pid: str = "p") -> str:
    return f'[[practice]]\nid = "{pid}"\ntitle = "T"\nmessage = "M"\n{body}\n'


def problems(text: str) -> list[str]:
    with pytest.raises(ScheduleError) as info:
        read.parse_text(text)
    return [str(p) for p in info.value.problems]


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------- rule forms


def test_at_rule_with_days_and_period() -> None:
    sched = read.parse_text(practice(
        'at = ["12:30", "07:30"]\ndays = "mon-fri"\nfrom = 2026-12-01\nuntil = 2026-12-07'
    ))
    p = sched.practices[0]
    assert p.rule == AtRule((time(7, 30), time(12, 30)), WEEKDAYS)
    assert (p.start, p.until) == (date(2026, 12, 1), date(2026, 12, 7))
    assert p.line == 1 and p.enabled and p.messages == ("M",) and p.title == "T"


def test_at_accepts_a_single_string() -> None:
    assert read.parse_text(practice('at = "07:30"')).practices[0].rule == AtRule((time(7, 30),))


def test_every_rule_defaults_to_the_whole_day() -> None:
    rule = read.parse_text(practice('every = "90m"')).practices[0].rule
    assert rule == EveryRule(timedelta(minutes=90), Window(time(0), time(0)))
    rule = read.parse_text(practice('every = "2h"\nbetween = "09:00-21:00"\ndays = '
                                        '"weekends"')).practices[0].rule
    assert rule == EveryRule(timedelta(hours=2), Window(time(9), time(21)), frozenset({5, 6}))


def test_random_rule() -> None:
    rule = read.parse_text(practice('random = 3\nbetween = "17:00-22:00"')).practices[0].rule
    assert rule == RandomRule(3, Window(time(17), time(22)), timedelta(minutes=30))
    rule = read.parse_text(
        practice('random = 2\nbetween = "22:00-02:00"\nmin_gap = "1h"')).practices[0].rule
    assert rule == RandomRule(2, Window(time(22), time(2)), timedelta(hours=1))


def test_cron_rule() -> None:
    rule = read.parse_text(practice('cron = "0 19 * * sun"')).practices[0].rule
    assert isinstance(rule, CronRule)
    assert rule.weekdays == {6} and rule.hours == {19} and rule.expr == "0 19 * * sun"


@pytest.mark.parametrize("value", ["2026-12-12T18:00:00", '"2026-12-12 18:00"',
                                   '"2026-12-12T18:00"', '"2026-12-12 18:00:00"'])
def test_once_rule_as_toml_datetime_or_text(value: str) -> None:
    rule = read.parse_text(practice(f"once = {value}")).practices[0].rule
    assert rule == OnceRule(datetime(2026, 12, 12, 18, 0))


@pytest.mark.parametrize(
    ("days", "expected"),
    [('"daily"', range(7)), ('"weekdays"', range(5)), ('"weekends"', {5, 6}),
     ('"mon-fri"', range(5)), ('"mon,wed"', {0, 2}), ('["mon", "wed-fri"]', {0, 2, 3, 4}),
     ('"Monday"', {0}), ('"MON, Thursday"', {0, 3}), ('"fri-mon"', {4, 5, 6, 0}),
     ('"sat-sun"', {5, 6}), ('"tues"', {1})],
)
def test_day_forms(days: str, expected: object) -> None:
    rule = read.parse_text(practice(f'at = "08:00"\ndays = {days}')).practices[0].rule
    assert isinstance(rule, AtRule) and rule.days == frozenset(expected)  # type: ignore[arg-type]


def test_message_variants_and_enabled() -> None:
    text = ('[[practice]]\nid = "look-up"\ntitle = "Look up"\nmessage = ["a", "b"]\n'
            'at = "07:00"\nenabled = false\n')
    p = read.parse_text(text).practices[0]
    assert p.messages == ("a", "b") and not p.enabled and p.id == "look-up"


def test_empty_file_is_an_empty_schedule() -> None:
    assert read.parse_text("") == read.parse_text("# nothing yet\n")
    empty = read.parse_text("")
    assert empty.practices == () and empty.settings == Settings()


# --------------------------------------------------------------------------- settings


def test_settings_are_the_effective_values_of_each_practice() -> None:
    text = ('[settings]\ntimezone = "Europe/Berlin"\nquiet_hours = "22:30-07:00"\n'
            'grace = "20m"\nsnooze = "5m"\nsnooze_long = "2h"\n\n'
            + practice('at = "08:00"', "inherits")
            + practice('at = "06:00"\nquiet_hours = "none"\ngrace = "1h"\nsnooze = "30m"', "own")
            + practice('at = "06:30"\nquiet_hours = false', "off")
            + practice('at = "09:00"\nquiet_hours = "12:00-13:00"\nanswer_within = "2h"\n'
                       'repeat = "10m"\nrepeat_max = 2', "lunch"))
    sched = read.parse_text(text)
    s = sched.settings
    assert s == Settings("Europe/Berlin", Window(time(22, 30), time(7)), timedelta(minutes=20),
                         timedelta(minutes=5), timedelta(hours=2))
    inherits, own, off, lunch = sched.practices
    assert inherits.quiet_hours == s.quiet_hours and inherits.grace == timedelta(minutes=20)
    assert inherits.snooze == timedelta(minutes=5) and inherits.repeat is None
    assert own.quiet_hours is None and own.grace == timedelta(hours=1)
    assert own.snooze == timedelta(minutes=30)
    assert off.quiet_hours is None
    assert lunch.quiet_hours == Window(time(12), time(13))
    assert lunch.answer_within == timedelta(hours=2)
    assert (lunch.repeat, lunch.repeat_max) == (timedelta(minutes=10), 2)


def test_defaults_without_settings() -> None:
    p = read.parse_text(practice('at = "08:00"')).practices[0]
    assert p.quiet_hours is None and p.grace == timedelta(minutes=15)
    assert p.snooze == timedelta(minutes=10) and p.answer_within is None and p.repeat_max == 0


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('at = "07:30"\ntiitle = "x"',
         'config.toml:6: practice "p": tiitle: unknown key; did you mean "title"?'),
        ('at = "07:30"\nstart = 2026-12-01',
         'config.toml:6: practice "p": start: unknown key; did you mean "from"?'),
        ('at = "07:30"\nflavour = "x"',
         'config.toml:6: practice "p": flavour: unknown key; the keys there are: id, title, '
         "message, enabled, at, every, random, cron, once, between, min_gap, days, from, "
         "until, quiet_hours, grace, snooze, answer_within, repeat, repeat_max, when, "
         "outside, discreet, blocked, phone"),
        ('at = "07:30"\nsnooze_long = "1h"',
         'config.toml:6: practice "p": snooze_long: belongs in [settings], not in a practice; '
         "move it there"),
        ("at = 7", 'config.toml:5: practice "p": at: expected "HH:MM" or a list of them, got 7'),
        ('at = ["07:30", 8]',
         'config.toml:5: practice "p": at: expected "HH:MM" or a list of them, got ["07:30", 8]'),
        ("at = 07:30:00",
         'config.toml:5: practice "p": at: expected "HH:MM" or a list of them, got 07:30:00; '
         'write times in quotes, like "07:30"'),
        ("at = []", 'config.toml:5: practice "p": at: is an empty list; give at least one time, '
                    'like at = ["07:30"]'),
        ('at = "25:00"', 'config.toml:5: practice "p": at: "25:00" is not a time of day; '
                         "hours go 00-23 and minutes 00-59"),
        ('at = "7.30"', 'config.toml:5: practice "p": at: "7.30" is not a time of day; '
                        'write it as HH:MM, like "07:30"'),
        ('at = "07:30"\ndays = "mnday"',
         'config.toml:6: practice "p": days: "mnday" is not a day; did you mean "mon"?'),
        ('at = "07:30"\ndays = ["mon", "wendsday"]',
         'config.toml:6: practice "p": days: "wendsday" is not a day; did you mean "wed"?'),
        ('at = "07:30"\ndays = "wekdays"',
         'config.toml:6: practice "p": days: "wekdays" is not a day; did you mean "weekdays"?'),
        ('at = "07:30"\ndays = "wekends"',
         'config.toml:6: practice "p": days: "wekends" is not a day; did you mean "weekends"?'),
        ('at = "07:30"\ndays = "dayly"',
         'config.toml:6: practice "p": days: "dayly" is not a day; did you mean "daily"?'),
        ('at = "07:30"\ndays = "soon"',
         'config.toml:6: practice "p": days: "soon" is not a day; write mon, tue, wed, thu, '
         'fri, sat or sun, a range like "mon-fri", or "daily", "weekdays", "weekends"'),
        ('at = "07:30"\ndays = 5',
         'config.toml:6: practice "p": days: expected days like "mon-fri", or a list like '
         '["mon", "wed-fri"], got 5'),
        ('every = "90"', 'config.toml:5: practice "p": every: "90" is not a duration; write it '
                         'like "10m", "1h30m" or "2h"'),
        ("every = 90", 'config.toml:5: practice "p": every: expected a duration like "90m" in '
                       "quotes, got 90"),
        ('every = "30s"', 'config.toml:5: practice "p": every: "30s" is too often; nudges come '
                          "at most once a minute"),
        ('every = "2d"', 'config.toml:5: practice "p": every: "2d" is longer than a day; for '
                         'nudges every few days use "cron" or "at" with "days"'),
        ('every = "1h"\nbetween = "10:00-10:00"',
         'config.toml:6: practice "p": between: "10:00-10:00" is an empty window: it starts '
         "and ends at the same time"),
        ('every = "1h"\nbetween = "10:00"',
         'config.toml:6: practice "p": between: "10:00" is not a time window; write it as '
         '"HH:MM-HH:MM", like "17:00-22:00"'),
        ('random = 5\nbetween = "17:00-19:00"',
         'config.toml:5: practice "p": random: 5 times at least 30m apart do not fit in '
         "17:00-19:00; at most 4 fit, or make min_gap shorter"),
        ('random = 2\nbetween = "17:00-18:00"\nmin_gap = "1h"',
         'config.toml:5: practice "p": random: 2 times at least 1h apart do not fit in '
         "17:00-18:00; at most 1 fits, or make min_gap shorter"),
        ("random = 3", 'config.toml:5: practice "p": between: "random" needs a window to choose '
                       'times in, like between = "17:00-22:00"'),
        ('random = 0\nbetween = "17:00-22:00"',
         'config.toml:5: practice "p": random: expected how many times a day, a whole number '
         "like 3, got 0"),
        ('random = "3"\nbetween = "17:00-22:00"',
         'config.toml:5: practice "p": random: expected how many times a day, a whole number '
         'like 3, got "3"'),
        ('cron = "0 25 * * *"',
         'config.toml:5: practice "p": cron: "0 25 * * *": hour 25 is out of range 0-23'),
        ('cron = "0 19 * * sun"\ndays = "mon"',
         'config.toml:6: practice "p": days: is not used with "cron"; put the days in the cron '
         "expression's last field"),
        ('at = "07:00"\nbetween = "07:00-09:00"',
         'config.toml:6: practice "p": between: is not used with "at"; it goes with "every" '
         'or "random"'),
        ('every = "1h"\nmin_gap = "1h"',
         'config.toml:6: practice "p": min_gap: is not used with "every"; it goes with "random"'),
        ('once = "next friday"',
         'config.toml:5: practice "p": once: "next friday" is not a date and time; write it '
         'like 2026-12-12T18:00:00 or "2026-12-12 18:00"'),
        ("once = 2026-12-12",
         'config.toml:5: practice "p": once: expected a date and time, like 2026-12-12T18:00:00 '
         'or "2026-12-12 18:00", got 2026-12-12'),
        ("once = 2026-12-12T18:00:00+01:00",
         'config.toml:5: practice "p": once: 2026-12-12T18:00:00+01:00 has a time zone offset; '
         "write the local time without one, like 2026-12-12T18:00:00 (the schedule's "
         "timezone applies)"),
        ('at = "07:30"\nfrom = 2026-12-07\nuntil = 2026-12-01',
         'config.toml:7: practice "p": until: 2026-12-01 is before from (2026-12-07); the '
         "period would have no days"),
        ('at = "07:30"\nfrom = "soon"',
         'config.toml:6: practice "p": from: expected a date like 2026-12-01, got "soon"'),
        ('at = "07:30"\nrepeat_max = 2',
         'config.toml:6: practice "p": repeat_max: needs "repeat", how long to wait before '
         'asking again, like repeat = "10m"'),
        ('at = "07:30"\nrepeat = "5m"\nrepeat_max = -1',
         'config.toml:7: practice "p": repeat_max: expected a whole number, 0 or more, got -1'),
        ('at = "07:30"\nenabled = "yes"',
         'config.toml:6: practice "p": enabled: expected true or false, got "yes"'),
        ('at = "07:30"\nquiet_hours = true',
         'config.toml:6: practice "p": quiet_hours: expected a time window like "22:30-07:00", '
         'or "none", got true'),
        ('at = "07:30"\ngrace = "soon"',
         'config.toml:6: practice "p": grace: "soon" is not a duration; write it like "10m", '
         '"1h30m" or "2h"'),
        ("", 'config.toml:1: practice "p": no rule saying when to nudge; give exactly one of '
             "at, every, random, cron, once"),
        ('at = "07:30"\nevery = "1h"',
         'config.toml:6: practice "p": has both "at" and "every"; give exactly one of at, '
         "every, random, cron, once"),
        ('at = "07:30"\ncron = "0 8 * * *"\nonce = 2026-12-12T18:00:00',
         'config.toml:6: practice "p": has "at", "cron" and "once"; give exactly one of at, '
         "every, random, cron, once"),
    ],
)
def test_each_mistake_gets_its_exact_message(body: str, message: str) -> None:
    assert one_problem(practice(body)) == message


def test_a_misspelt_key_is_not_also_reported_missing() -> None:
    text = '[[practice]]\nid = "p"\ntitel = "T"\nmessage = "M"\natt = "07:30"\n'
    assert problems(text) == [
        'config.toml:3: practice "p": titel: unknown key; did you mean "title"?',
        'config.toml:5: practice "p": att: unknown key; did you mean "at"?',
    ]


def test_missing_id_title_and_message() -> None:
    assert problems('\n[[practice]]\nat = "07:30"\n') == [
        'config.toml:2: id: missing; every practice needs a short unique id, like '
        'id = "breakfast"',
        'config.toml:2: title: missing; give the practice a short title, like '
        'title = "Breakfast presence"',
        'config.toml:2: message: missing; write what the nudge should say, like '
        'message = "Paper down. How is your partner this morning?"',
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('id = "Bad Id"', 'practice "Bad Id": id: "Bad Id" is not a usable id; use lowercase '
                          'letters, digits and hyphens, like "bad-id"'),
        ("id = 7", 'id: expected a short name like "breakfast" in quotes, got 7'),
        ('title = ""', 'practice "p": title: is empty; give the practice a short title, like '
                       '"Breakfast presence"'),
        ("message = []", 'practice "p": message: is an empty list; give at least one text for '
                         "the nudge"),
        ('message = ["ok", 3]', 'practice "p": message: expected text in quotes, or a list of '
                                "texts (one is chosen per nudge), got 3"),
        ('message = "  "', 'practice "p": message: is empty; write what the nudge should say'),
    ],
)
def test_bad_id_title_message(line: str, message: str) -> None:
    fields = {"id": 'id = "p"', "title": 'title = "T"', "message": 'message = "M"'}
    key = line.split(" ", 1)[0]
    fields[key] = line
    text = "[[practice]]\n" + "\n".join(fields.values()) + '\nat = "07:30"\n'
    line_no = 2 + list(fields).index(key)
    assert one_problem(text) == f"config.toml:{line_no}: {message}"


def test_duplicate_ids_name_both_lines() -> None:
    text = practice('at = "07:30"', "breakfast") + "\n" + practice('at = "08:30"', "breakfast")
    assert one_problem(text) == (
        'config.toml:8: practice "breakfast": id: "breakfast" is used twice, on lines 2 and 8; '
        "each practice needs its own id")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('timezone = "Europe/Berln"',
         'timezone: "Europe/Berln" is not a time zone; did you mean "Europe/Berlin"?'),
        ('timezone = "europe/berlin"',
         'timezone: "europe/berlin" is not a time zone; did you mean "Europe/Berlin"?'),
        ('timezone = "Mars/Olympus"',
         'timezone: "Mars/Olympus" is not a time zone; use a name like "Europe/Berlin", or '
         "leave timezone out to use the system's zone"),
        ('timezon = "UTC"', 'timezon: unknown key in [settings]; did you mean "timezone"?'),
        ('quiet_hours = "22:00-22:00"',
         'quiet_hours: "22:00-22:00" is an empty window: it starts and ends at the same time'),
        ('snooze = "0m"', 'snooze: "0m" is not a duration longer than zero'),
        ("grace = 15", 'grace: expected a duration like "10m" or "1h30m" in quotes, got 15'),
    ],
)
def test_settings_mistakes(line: str, message: str) -> None:
    assert one_problem(f"# my schedule\n[settings]\n{line}\n") == f"config.toml:3: {message}"


def test_settings_none_switches_quiet_hours_off() -> None:
    assert read.parse_text('[settings]\nquiet_hours = "none"\n').settings.quiet_hours is None


def test_unknown_top_level_table_suggests_the_right_one() -> None:
    text = '[settings]\n\n[[practices]]\nid = "p"\n'
    assert one_problem(text) == (
        'config.toml:3: practices: unknown key at the top of the file; did you mean "practice"?')


def test_several_mistakes_are_reported_together_top_to_bottom() -> None:
    text = (
        '[settings]\ntimezone = "Europe/Berln"\n\n'       # 1-3
        '[[practice]]\nid = "breakfast"\ntiitle = "B"\n'   # 4-6
        'message = "m"\nat = "7:3"\ndays = "mnday"\n\n'   # 7-10
        '[[practice]]\nid = "breakfast"\ntitle = "B"\n'    # 11-13
        'message = "m"\nrandom = 3\nbetween = "21:00-22:00"\nmin_gap = "1h"\n'  # 14-17
    )
    with pytest.raises(ScheduleError) as info:
        read.parse_text(text, source="/home/me/.config/attuned/config.toml")
    f = "/home/me/.config/attuned/config.toml"
    assert str(info.value) == "\n".join([
        f'{f}:2: timezone: "Europe/Berln" is not a time zone; did you mean "Europe/Berlin"?',
        f'{f}:6: practice "breakfast": tiitle: unknown key; did you mean "title"?',
        f'{f}:8: practice "breakfast": at: "7:3" is not a time of day; write it as HH:MM, '
        'like "07:30"',
        f'{f}:9: practice "breakfast": days: "mnday" is not a day; did you mean "mon"?',
        f'{f}:12: practice "breakfast": id: "breakfast" is used twice, on lines 5 and 12; '
        "each practice needs its own id",
        f'{f}:15: practice "breakfast": random: 3 times at least 1h apart do not fit in '
        "21:00-22:00; at most 1 fits, or make min_gap shorter",
        "6 problems found.",
    ])


def test_lines_skip_multiline_strings_and_arrays() -> None:
    text = ('[[practice]]\nid = "p"\ntitle = "T"\nmessage = """\n[[practice]]\nat = 1\n"""\n'
            'at = [\n  "07:30",\n  "08:00",\n]\ndays = "mnday"\n')
    assert one_problem(text) == (
        'config.toml:12: practice "p": days: "mnday" is not a day; did you mean "mon"?')


# --------------------------------------------------------------------------- TOML syntax


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[practice]]\nid = "p"\nat = 09:30\n',
         'config.toml:3: TOML syntax error at column 7: a time of day goes in quotes, like '
         '"09:30"; fix the line and save again'),
        ('at = [07:30, 12:00]\n',
         'config.toml:1: TOML syntax error at column 8: a time of day goes in quotes, like '
         '"09:30"; fix the line and save again'),
        ("once = 2026-12-12T18:00\n",
         "config.toml:1: TOML syntax error at column 18: a date and time needs seconds, like "
         '2026-12-12T18:00:00, or quotes, like "2026-12-12 18:00"; fix the line and save again'),
        ('title = "unfinished\n',
         "config.toml:1: TOML syntax error at column 20: illegal character '\\n'; fix the "
         "line and save again"),
        ('[settings]\ngrace = "1m"\ngrace = "2m"\n',
         "config.toml:3: TOML syntax error at column 13: this key is already set earlier in "
         "the same table; keep only one; fix the line and save again"),
        ('[settings]\ngrace = "1m"\n[settings]\n',
         "config.toml:3: TOML syntax error at column 10: this table is declared twice; keep "
         "one and move the other's keys into it; fix the line and save again"),
        ("at = [1,\n",
         "config.toml:1: TOML syntax error at the end of the file: invalid value; fix the "
         "line and save again"),
    ],
)
def test_toml_syntax_errors(text: str, message: str) -> None:
    assert one_problem(text) == message


def test_toml_11_bare_time_is_rejected_though_tomlkit_reads_it() -> None:
    # Pinned library fact: tomlkit (TOML 1.1) reads `09:30` as a time, tomllib (TOML 1.0,
    # the daemon's reader) refuses it. The file is judged by tomllib.
    import tomlkit

    assert tomlkit.parse("at = 09:30\n")["at"] == time(9, 30)
    with pytest.raises(ScheduleError, match='a time of day goes in quotes, like "09:30"'):
        read.parse_text(practice("at = 09:30"))


# --------------------------------------------------------------------------- load


def test_load_sets_the_source_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(practice('at = "07:30"'))
    assert read.load(path).source == str(path)
    path.write_text(practice("at = 7"))
    with pytest.raises(ScheduleError) as info:
        read.load(path)
    assert str(info.value) == (
        f'{path}:5: practice "p": at: expected "HH:MM" or a list of them, got 7')


def test_missing_file_suggests_init(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "config.toml"
    with pytest.raises(ConfigNotFound) as info:
        read.load(path)
    assert str(info.value) == f"no schedule file at {path}; create one with: attuned init"


def test_a_directory_is_not_a_schedule(tmp_path: Path) -> None:
    with pytest.raises(AttunedError) as info:
        read.load(tmp_path)
    assert str(info.value) == (
        f"{tmp_path} is a directory, not a schedule file; point --config at a file")


def test_unreadable_file(tmp_path: Path) -> None:
    # (Permission bits cannot be tested reliably: the suite may run as root.)
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "config.toml"
    with pytest.raises(read.ConfigUnreadable) as info:
        read.load(path)
    assert str(info.value) == f"cannot read {path}: Not a directory"


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[settings]\ngrace = "15m"\n# caf\xe9\n')
    with pytest.raises(ScheduleError) as info:
        read.load(path)
    assert str(info.value) == f"{path}:3: this line is not UTF-8 text; save the file as UTF-8"


def test_the_time_hint_is_only_for_bare_times() -> None:
    text = 'title = "Meet at 07:30\n'
    assert one_problem(text) == ("config.toml:1: TOML syntax error at column 23: illegal "
                                 "character '\\n'; fix the line and save again")


def test_absurd_numbers_are_mistakes_not_crashes() -> None:
    assert one_problem(practice('at = "07:30"\ngrace = "99999999999d"')) == (
        'config.toml:6: practice "p": grace: "99999999999d" is longer than attuned takes; '
        'a duration is at most 366d (a year)')
    assert one_problem(practice(f'random = {2**63 - 1}\nbetween = "08:00-09:00"')) == (
        f'config.toml:5: practice "p": random: {2**63 - 1} times at least 30m apart do not '
        "fit in 08:00-09:00; at most 2 fit, or make min_gap shorter")


def test_quoted_table_names_still_give_lines() -> None:
    text = '# hi\n["settings"]\ngrace = "x"\n'
    assert one_problem(text) == (
        'config.toml:3: grace: "x" is not a duration; write it like "10m", "1h30m" or "2h"')


@given(st.sets(st.integers(0, 6), min_size=1))
def test_format_days_writes_what_parse_days_reads(days: set[int]) -> None:
    text = format_days(frozenset(days))
    assert parse_days(text) == frozenset(days)
    if days == set(range(5)):
        assert text == "weekdays"


def test_format_days_examples() -> None:
    assert format_days(frozenset({0, 2, 3, 4})) == "mon,wed-fri"
    assert format_days(frozenset({0, 4, 5, 6})) == "mon,fri-sun"
    assert format_days(frozenset({0, 1})) == "mon,tue"
