"""The schedule commands as a person uses them: through the CLI, on files with comments."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from attuned.cli import schedule as cli_module
from attuned.cli.root import cli

COMMENTED = """\
# My attunement practices. Edited by hand; keep my notes!

[settings]
timezone = "Europe/Berlin"   # where we live
quiet_hours = "22:30-07:00"

# Mornings are the hard part.
[[practice]]
id = "breakfast"
title = "Breakfast presence"
message = "Paper down. How is your partner this morning?"
at = "07:30"        # before the kids wake
days = "weekdays"

# Evenings.
[[practice]]
id = "look-up"
title = "Look up"
message = ["Set it down, look up, meet their eyes.", "Ask how they are."]
random = 2
between = "17:00-22:00"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED)
    path.chmod(0o600)
    return path


def run(config: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=input,
                              catch_exceptions=False)


def comments(text: str) -> list[str]:
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Pin the CLI's clock: Wed 25 Nov 2026 12:00 UTC (13:00 in Berlin)."""
    moment = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(cli_module, "_now", lambda: moment)
    return moment


def test_init_writes_the_example_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    r = run(path, "init")
    assert r.exit_code == 0, r.output
    assert f"Wrote a starter schedule to {path}" in r.output
    assert run(path, "check").exit_code == 0
    path.write_text(path.read_text() + "\n# mine\n")
    r = run(path, "init")
    assert r.exit_code == 1
    assert "--force" in r.output
    assert path.read_text().endswith("# mine\n")
    r = run(path, "init", "--force")
    assert r.exit_code == 0
    backups = list(path.parent.glob("config.toml.bak-*"))
    assert len(backups) == 1 and backups[0].read_text().endswith("# mine\n")
    assert f"Kept your old schedule as {backups[0]}" in r.output


def test_init_writes_dates_from_the_day_it_runs(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_module, "_now", lambda: datetime(2028, 3, 2, 9, 0, tzinfo=UTC))
    path = tmp_path / "config.toml"
    assert run(path, "init").exit_code == 0
    text = path.read_text()
    assert "once = 2028-03-06T10:00:00" in text
    assert "from = 2028-03-02              # a one-week practice\nuntil = 2028-03-08" in text


def test_check_reports_every_problem_with_line_practice_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED.replace('days = "weekdays"', 'days = "mnday"')
                    .replace("random = 2", "random = 2\ntiitle = 'x'"))
    r = run(path, "check")
    assert r.exit_code == 1
    assert r.output.splitlines() == [
        f'{path}:13: practice "breakfast": days: "mnday" is not a day; did you mean "mon"?',
        f'{path}:21: practice "look-up": tiitle: unknown key; did you mean "title"?',
        "2 problems found.",
    ]
    assert "Traceback" not in r.output


def test_check_of_a_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[settings]\ntimezone = "UTC"\n\n[[practice]]\nid = "x\n')
    r = run(path, "check")
    assert r.exit_code == 1
    assert r.output.startswith(f"{path}:5: TOML syntax error")
    assert "Traceback" not in r.output


def test_add_remove_enable_disable_keep_every_comment(config: Path) -> None:
    before = comments(config.read_text())
    r = run(config, "add", "tea", "--title", "Tea", "--message", "Two cups; ask about the day.",
            "--at", "16:00", "--days", "weekdays")
    assert r.exit_code == 0, r.output
    assert "Added tea: weekdays at 16:00" in r.output
    assert run(config, "disable", "breakfast").exit_code == 0
    assert run(config, "enable", "breakfast").exit_code == 0
    assert run(config, "disable", "look-up").exit_code == 0
    assert run(config, "remove", "tea").exit_code == 0
    text = config.read_text()
    assert comments(text) == before
    assert "enabled = false" in text.split('id = "look-up"')[1]
    assert 'id = "tea"' not in text
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    # Disabling and enabling again changes one line of the breakfast table, nothing else.
    assert text.split("# Evenings.")[0] == COMMENTED.split("# Evenings.")[0].replace(
        'id = "breakfast"\n', 'id = "breakfast"\nenabled = true\n')


def test_add_every_rule_form_through_the_cli(config: Path) -> None:
    forms = [
        ("a1", ["--at", "07:30,12:00", "--days", "mon-fri"]),
        ("e1", ["--every", "90m", "--between", "09:00-21:00"]),
        ("r1", ["--random", "3", "--between", "17:00-22:00", "--min-gap", "45m"]),
        ("c1", ["--cron", "0 19 * * sun"]),
        ("o1", ["--once", "2026-12-12 18:00"]),
        ("p1", ["--at", "08:00", "--from", "2026-12-01", "--until", "2026-12-07"]),
    ]
    for pid, args in forms:
        r = run(config, "add", pid, "--title", pid, "--message", "m", *args)
        assert r.exit_code == 0, (pid, r.output)
    r = run(config, "list", "--json")
    rules = {row["id"]: row for row in json.loads(r.output)}
    assert rules["a1"]["rule"] == "weekdays at 07:30 and 12:00"
    assert rules["e1"]["rule"] == "every 1h30m between 09:00 and 21:00"
    assert rules["r1"]["rule"].startswith("3 times between 17:00 and 22:00")
    assert rules["c1"]["rule"] == "cron 0 19 * * sun (Sundays at 19:00)"
    assert rules["o1"]["rule"] == "once on Sat 12 Dec 2026 at 18:00"
    assert (rules["p1"]["from"], rules["p1"]["until"]) == ("2026-12-01", "2026-12-07")


def test_an_invalid_add_is_refused_and_the_file_is_unchanged(config: Path) -> None:
    before = config.read_bytes()
    r = run(config, "add", "bad", "--title", "x", "--message", "y", "--at", "25:00")
    assert r.exit_code == 2
    assert r.output.strip() == ('attuned: add bad: --at: "25:00" is not a time of '
                                "day; hours go 00-23 and minutes 00-59")
    assert config.read_bytes() == before
    r = run(config, "add", "breakfast", "--title", "x", "--message", "y", "--at", "08:00")
    assert r.exit_code == 1 and "breakfast" in r.output
    assert config.read_bytes() == before


def test_unknown_practice_names_the_ones_that_exist(config: Path) -> None:
    r = run(config, "disable", "breakfst")
    assert r.exit_code == 1
    assert "breakfast" in r.output and "Traceback" not in r.output


def test_a_change_made_meanwhile_is_built_on(config: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from attuned.config import edit, read

    real_parse = read.parse_text
    theirs = COMMENTED + "\n# saved in vim meanwhile\n"

    def parse_while_someone_saves(text: str, source: str = "config.toml") -> object:
        if theirs not in config.read_text():
            config.write_text(theirs)  # vim saves between our read and our write, once
        return real_parse(text, source)

    monkeypatch.setattr(edit, "parse_text", parse_while_someone_saves)
    r = run(config, "disable", "breakfast")
    assert r.exit_code == 0, r.output
    text = config.read_text()
    assert text.endswith("\n# saved in vim meanwhile\n")
    assert not real_parse(text).get("breakfast").enabled  # type: ignore[union-attr]


def test_a_change_that_keeps_coming_is_refused(config: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from attuned.config import edit, read

    real_parse = read.parse_text
    saves = []

    def parse_while_someone_saves(text: str, source: str = "config.toml") -> object:
        saves.append(COMMENTED + f"\n# saved in vim meanwhile, {len(saves) + 1}\n")
        config.write_text(saves[-1])  # someone saves between our read and our write
        return real_parse(text, source)

    monkeypatch.setattr(edit, "parse_text", parse_while_someone_saves)
    r = run(config, "disable", "breakfast")
    assert r.exit_code == 1
    assert r.output.strip() == (f"attuned: {config} changed on disk while attuned was editing "
                                "it; nothing was written. Run the command again.")
    assert config.read_text() == saves[-1]


def test_list_and_next_json_parse_and_agree(config: Path, frozen_now: datetime) -> None:
    r = run(config, "list", "--json")
    assert r.exit_code == 0
    rows = json.loads(r.output)
    assert [row["id"] for row in rows] == ["breakfast", "look-up"]
    assert rows[0]["next"] == "2026-11-26T07:30:00+01:00"
    r = run(config, "next", "--count", "5", "--json")
    nudges = json.loads(r.output)
    assert len(nudges) == 5
    ats = [n["at"] for n in nudges]
    assert ats == sorted(ats)
    breakfast = [n["at"] for n in nudges if n["practice"] == "breakfast"]
    assert breakfast[0] == "2026-11-26T07:30:00+01:00"


def test_next_over_the_spring_dst_night(tmp_path: Path, frozen_now: datetime) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[settings]\ntimezone = "Europe/Berlin"\n\n[[practice]]\nid = "night"\n'
                    'title = "Night"\nmessage = "m"\nat = "02:30"\n')
    r = run(path, "next", "--from", "2026-03-28", "--until", "2026-03-30", "--json")
    assert [n["at"] for n in json.loads(r.output)] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist that night: the first moment after
        "2026-03-30T02:30:00+02:00",
    ]
    r = run(path, "next", "--from", "2026-03-29", "--count", "1")
    assert "03:00 CEST" in r.output


def test_a_typed_time_in_the_spring_gap_is_the_first_moment_after_it(
        tmp_path: Path, frozen_now: datetime) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[settings]\ntimezone = "Europe/Berlin"\n\n[[practice]]\nid = "tick"\n'
                    'title = "Tick"\nmessage = "m"\nevery = "30m"\n')
    r = run(path, "next", "--from", "2027-03-28 02:30", "--count", "1", "--json")
    assert [n["at"] for n in json.loads(r.output)] == ["2027-03-28T03:00:00+02:00"]


def test_next_without_a_file_shows_the_example(tmp_path: Path, frozen_now: datetime) -> None:
    r = run(tmp_path / "none.toml", "next", "--count", "3")
    assert r.exit_code == 0
    assert len([line for line in r.output.splitlines() if line.startswith("  ")]) == 3
    note = (f"(no schedule at {tmp_path / 'none.toml'}: showing the built-in example; "
            "`attuned init` makes it yours)\n\n")
    assert r.output.startswith(note)  # said the same way by next and list
    r = run(tmp_path / "none.toml", "list")
    assert r.output.startswith(note)


def test_bad_moment_is_a_one_line_error(config: Path) -> None:
    r = run(config, "next", "--from", "someday")
    assert r.exit_code == 2
    assert r.output.strip().startswith('attuned: "someday" is not a moment')


EDITOR = """#!{python}
import sys, pathlib
p = pathlib.Path(sys.argv[1])
count_file = pathlib.Path({count!r})
n = int(count_file.read_text()) if count_file.exists() else 0
count_file.write_text(str(n + 1))
edits = {edits!r}
p.write_text(edits[min(n, len(edits) - 1)])
"""


def _editor(tmp_path: Path, edits: list[str]) -> str:
    script = tmp_path / "fake-editor"  # FAKE: stands in for the person typing in vim
    script.write_text(EDITOR.format(python=sys.executable, count=str(tmp_path / "count"),
                                    edits=edits))
    script.chmod(0o755)
    return str(script)


def test_edit_saves_a_valid_draft(config: Path, tmp_path: Path) -> None:
    new = COMMENTED.replace('"07:30"', '"07:45"')
    env = {"EDITOR": _editor(tmp_path, [new]), "VISUAL": ""}
    r = CliRunner(env=env).invoke(cli, ["--config", str(config), "edit"])
    assert r.exit_code == 0, r.output
    assert "Saved" in r.output
    assert config.read_text() == new
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert not list(config.parent.glob(".config.edit-*"))


def test_edit_with_an_error_keeps_the_file_and_the_draft(config: Path, tmp_path: Path) -> None:
    broken = COMMENTED.replace('"07:30"', '"7.30"')
    env = {"EDITOR": _editor(tmp_path, [broken]), "VISUAL": ""}
    before = config.read_bytes()
    # Not a terminal: no question; the draft is kept and the user told where.
    r = CliRunner(env=env).invoke(cli, ["--config", str(config), "edit"])
    assert r.exit_code == 1
    assert 'at: "7.30" is not a time of day' in r.output
    assert config.read_bytes() == before
    drafts = list(config.parent.glob("config.toml.draft-*"))
    assert len(drafts) == 1 and drafts[0].read_text() == broken
    assert str(drafts[0]) in r.output


def test_edit_reopens_on_error_until_fixed(config: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    broken = COMMENTED.replace('"07:30"', '"7.30"')
    fixed = COMMENTED.replace('"07:30"', '"07:40"')
    env = {"EDITOR": _editor(tmp_path, [broken, fixed]), "VISUAL": ""}
    monkeypatch.setattr(cli_module, "_interactive", lambda: True)
    r = CliRunner(env=env).invoke(cli, ["--config", str(config), "edit"], input="y\n")
    assert r.exit_code == 0, r.output
    assert "Reopen the editor" in r.output
    assert config.read_text() == fixed
    assert (tmp_path / "count").read_text() == "2"


def test_help_runs_as_a_real_program(tmp_path: Path) -> None:
    import subprocess

    env = {**os.environ, "ATTUNED_CONFIG": str(tmp_path / "c.toml")}
    out = subprocess.run([sys.executable, "-m", "attuned", "--help"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0
    assert "Example:" in out.stdout


def test_adding_a_time_inside_the_quiet_hours_says_it_will_not_be_shown(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 23:15 under the file's quiet hours 22:30-07:00: without a word, nothing would ever
    # appear and the person would not know why.
    # Tue 1 Dec 2026, 12:00 in Berlin.
    monkeypatch.setattr(cli_module, "_now", lambda: datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    r = CliRunner().invoke(cli, ["--config", str(config), "add", "night", "--title", "Night",
                                 "--message", "m", "--at", "23:15"])
    assert r.exit_code == 0, r.output
    assert r.stdout == f"Added night: every day at 23:15 ({config})\n"
    assert r.stderr == (
        "attuned: note: all 14 of its nudges in the next two weeks fall inside the quiet "
        "hours (22:30-07:00) and will not be shown; choose another time, or add it with "
        "--quiet-hours none\n")

    r = CliRunner().invoke(cli, ["--config", str(config), "add", "mixed", "--title", "Mixed",
                                 "--message", "m", "--at", "21:00,23:15", "--days", "weekends"])
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith("attuned: note: 4 of its 8 nudges in the next two weeks fall "
                               "inside the quiet hours (22:30-07:00)")

    r = CliRunner().invoke(cli, ["--config", str(config), "add", "late", "--title", "Late",
                                 "--message", "m", "--at", "23:15", "--quiet-hours", "none"])
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    assert 'quiet_hours = "none"' in config.read_text().split('id = "late"')[1]

    # Where quiet hours defer nudges instead of dropping them, the note says so.
    config.write_text(config.read_text().replace(
        'quiet_hours = "22:30-07:00"', 'quiet_hours = "22:30-07:00"\nblocked = "defer"'))
    r = CliRunner().invoke(cli, ["--config", str(config), "add", "owl", "--title", "Owl",
                                 "--message", "m", "--at", "23:45"])
    assert r.exit_code == 0, r.output
    assert r.stderr == (
        "attuned: note: all 14 of its nudges in the next two weeks fall inside the quiet "
        'hours (22:30-07:00) and wait until they end (blocked = "defer"); choose another '
        "time, or add it with --quiet-hours none\n")
    # One nudge is said in the singular.
    r = CliRunner().invoke(cli, ["--config", str(config), "add", "once", "--title", "Once",
                                 "--message", "m", "--once", "2026-12-03T23:30"])
    assert r.exit_code == 0, r.output
    assert r.stderr == (
        "attuned: note: its one nudge in the next two weeks falls inside the quiet hours "
        '(22:30-07:00) and waits until they end (blocked = "defer"); choose another time, '
        "or add it with --quiet-hours none\n")
    nxt = CliRunner().invoke(cli, ["--config", str(config), "next", "--from",
                                   "2026-12-01 12:00", "--until", "2026-12-02 00:00",
                                   "--json"]).output
    due = {row["practice"] for row in json.loads(nxt)}
    assert "late" in due and "night" not in due


SEEING_EDITOR = """#!{python}
import sys, pathlib
p = pathlib.Path(sys.argv[1])
count_file = pathlib.Path({count!r})
n = int(count_file.read_text()) if count_file.exists() else 0
count_file.write_text(str(n + 1))
pathlib.Path({seen!r} + str(n)).write_text(sys.argv[1] + "\\n" + p.read_text())
edits = {edits!r}
p.write_text(edits[min(n, len(edits) - 1)])
"""


def _seeing_editor(tmp_path: Path, edits: list[str]) -> str:
    """FAKE editor: like _editor, and notes which file it opened and what was in it."""
    script = tmp_path / "seeing-editor"
    script.write_text(SEEING_EDITOR.format(python=sys.executable, count=str(tmp_path / "count"),
                                           seen=str(tmp_path / "seen-"), edits=edits))
    script.chmod(0o755)
    return str(script)


def _edit_once(config: Path, editor: str) -> Result:
    return CliRunner(env={"EDITOR": editor, "VISUAL": ""}).invoke(
        cli, ["--config", str(config), "edit"])


def test_an_invalid_edit_names_the_draft_and_its_line(config: Path, tmp_path: Path) -> None:
    broken = COMMENTED.replace('"07:30"', '"7.30"')
    line = broken.splitlines().index(next(x for x in broken.splitlines() if '"7.30"' in x)) + 1
    r = _edit_once(config, _seeing_editor(tmp_path, [broken]))
    [draft] = config.parent.glob("config.toml.draft-*")
    assert r.stderr.splitlines()[0] == (
        f'{draft}:{line}: practice "breakfast": at: "7.30" is not a time of day; write it '
        'as HH:MM, like "07:30"')
    assert r.stdout.splitlines()[-1] == (
        f"Your edit was not saved: {config} is unchanged, and a running daemon keeps the last "
        f"good schedule. Your draft is kept in {draft}; run `attuned edit` again to reopen it.")


def test_edit_again_reopens_the_draft_and_saving_it_tidies_it(
    config: Path, tmp_path: Path
) -> None:
    broken = COMMENTED.replace('"07:30"', '"7.30"')
    fixed = COMMENTED.replace('"07:30"', '"07:45"')
    editor = _seeing_editor(tmp_path, [broken, fixed])
    assert _edit_once(config, editor).exit_code == 1
    [draft] = config.parent.glob("config.toml.draft-*")
    r = _edit_once(config, editor)
    assert r.exit_code == 0, r.output
    assert r.stderr == f"Reopening your unsaved draft {draft}.\n"
    assert (tmp_path / "seen-1").read_text() == f"{draft}\n{broken}"
    assert config.read_text() == fixed
    assert not list(config.parent.glob("config.toml.draft-*"))


def test_two_failed_edits_in_one_second_keep_two_drafts(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attuned.config import draft as editing

    class OneSecond(datetime):  # both drafts are kept in the same second
        @classmethod
        def now(cls, tz: object = None) -> OneSecond:  # type: ignore[override]
            return cls(2026, 12, 1, 23, 30, 0)

    monkeypatch.setattr(editing, "datetime", OneSecond)
    texts = ["first", "second"]
    for i, text in enumerate(texts):
        temp = tmp_path / f"temp-{i}"
        temp.write_text(text)
        editing._keep_draft(temp, config, b"base")
    drafts = sorted(config.parent.glob("config.toml.draft-*"))
    assert [d.read_text() for d in drafts] == texts
    assert drafts[1].name == drafts[0].name + "-2"


def test_a_draft_from_an_older_file_is_named_not_reopened(config: Path, tmp_path: Path) -> None:
    broken = COMMENTED.replace('"07:30"', '"7.30"')
    assert _edit_once(config, _seeing_editor(tmp_path, [broken])).exit_code == 1
    [draft] = config.parent.glob("config.toml.draft-*")
    assert run(config, "disable", "breakfast").exit_code == 0  # the file changes meanwhile
    (tmp_path / "count").unlink()
    r = _edit_once(config, _seeing_editor(tmp_path, [config.read_text()]))
    assert r.stderr == (
        f"attuned: note: {draft} is a draft kept from an earlier version of {config}; it is "
        "left as it is: bring over what you need from it by hand.\n")
    assert draft.read_text() == broken


def test_disable_or_enable_twice_says_it_was_already_so(config: Path) -> None:
    assert run(config, "disable", "breakfast").output == (
        "Paused breakfast. `attuned enable breakfast` switches it back on.\n")
    assert run(config, "disable", "breakfast").output == (
        "breakfast was already paused; `attuned enable breakfast` switches it back on.\n")
    assert run(config, "enable", "breakfast").output == "Enabled breakfast.\n"
    assert run(config, "enable", "breakfast").output == (
        "breakfast was already enabled; nothing changed.\n")


def test_add_sets_when_discreet_repeat_answer_within_and_blocked(config: Path) -> None:
    r = run(config, "add", "hug", "--title", "Hug", "--message", "A long hug.", "--at",
            "19:00", "--when", "together", "--discreet", "--repeat", "10m", "--repeat-max",
            "2", "--answer-within", "1h", "--blocked", "defer")
    assert r.exit_code == 0, r.output
    assert config.read_text().endswith(
        '[[practice]]\nid = "hug"\ntitle = "Hug"\nmessage = "A long hug."\nat = "19:00"\n'
        'answer_within = "1h"\nrepeat = "10m"\nrepeat_max = 2\nwhen = "together"\n'
        'discreet = true\nblocked = "defer"\n')
    r = run(config, "add", "hug2", "--title", "Hug", "--message", "x", "--at", "19:00",
            "--when", "togther")
    assert (r.exit_code, r.output) == (2, 'attuned: add hug2: --when: "togther" is not one '
                                          'of "any", "together"; did you mean "together"?\n')


def test_list_shows_the_zone_and_together_discreet_repeat(config: Path) -> None:
    assert run(config, "add", "hug", "--title", "Hug", "--message", "A long hug.", "--at",
               "19:00", "--when", "together", "--discreet", "--repeat", "10m", "--repeat-max",
               "2", "--answer-within", "1h").exit_code == 0
    out = run(config, "list").output
    assert out.startswith("Times in Europe/Berlin.\n")
    assert ("       only in together mode, discreet, asks again after 10m (at most 2 times), "
            "missed if not answered within 1h\n") in out


def test_check_takes_config_as_an_option_too(config: Path, tmp_path: Path) -> None:
    assert run(config, "check").output == run(tmp_path / "x.toml", "check", "--config",
                                              str(config)).output
    r = run(tmp_path / "x.toml", "check", "--config", str(tmp_path / "missing.toml"))
    assert (r.exit_code, r.output) == (
        1, f"attuned: no schedule file at {tmp_path / 'missing.toml'}; create one with: "
           "attuned init\n")
    r = run(config, "check", str(config), "--config", str(config))
    assert (r.exit_code, r.output) == (
        1, "attuned: give the schedule file once: as FILE or with --config, not both\n")
