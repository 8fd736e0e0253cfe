"""The practice library, the feelings and needs lists, placeholders, and the new keys."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from attuned.config import edit, feelings, library, read
from attuned.errors import ScheduleError

DESIGN_EIGHT = ("look-up", "breakfast", "full-attention", "partner-in-mind",
                "understand-first", "feelings-and-needs", "offer-first", "plan-a-date")


def test_the_library_holds_the_eight_practices_of_the_design_notes() -> None:
    lib = library.load()
    assert library.names(lib.templates) == list(DESIGN_EIGHT)
    assert lib.problems == ()
    for t in lib.templates:
        assert 2 <= len(t.messages) <= 3, t.name
        assert t.why.endswith("."), t.name
        assert t.period >= timedelta(days=1)


@pytest.mark.parametrize("name", DESIGN_EIGHT)
def test_every_template_passes_check_as_a_schedule_file(name: str, tmp_path: Path) -> None:
    t = library.load().get(name)
    path = tmp_path / "config.toml"
    path.write_text("# mine\n")
    sched = edit.add_practice(path, t.fields(name, date(2026, 12, 1)))
    again = read.load(path)  # the daemon's reader, as `attuned check` runs it
    assert again == sched
    p = again.get(name)
    assert p is not None and p.title == t.title and p.messages == t.messages
    assert p.start == date(2026, 12, 1)
    assert p.until == date(2026, 12, 1) + t.period - timedelta(days=1)


def test_templates_stay_kind() -> None:
    for t in library.load().templates:
        text = " ".join((t.title, t.why, *t.messages)).lower()
        for word in ("fail", "must", "should", "never forget", "don't forget"):
            assert word not in text, (t.name, word)


def test_a_users_template_joins_and_a_bad_one_is_located_without_hiding_others(
        tmp_path: Path) -> None:
    mine = tmp_path / "practices"
    mine.mkdir()
    (mine / "evening-walk.toml").write_text(
        'title = "Evening walk"\nwhy = "Walking side by side makes talking easy."\n'
        'message = ["Ask them for a short walk."]\nat = "19:30"\n')
    (mine / "broken.toml").write_text(
        'title = "Broken"\nwhy = "x."\nmessage = "hi"\nat = "25:00"\n')
    (mine / "bad-key.toml").write_text(
        'title = "Bad"\nwhy = "x."\nmessage = "hi"\nat = "07:00"\nuntil = 2026-12-01\n')
    lib = library.load(mine)
    assert library.names(lib.templates) == [*DESIGN_EIGHT, "evening-walk"]
    assert lib.get("evening-walk").origin == str(mine / "evening-walk.toml")
    assert [str(p) for p in lib.problems] == [
        f'{mine / "bad-key.toml"}:5: until: "attuned try" sets this itself; remove it from '
        "the template",
        f'{mine / "broken.toml"}:4: at: "25:00" is not a time of day; hours go 00-23 and '
        "minutes 00-59",
    ]


def test_a_template_without_why_or_with_an_hour_period_is_refused() -> None:
    with pytest.raises(ScheduleError) as e:
        library.parse_template("x", 'title = "X"\nmessage = "m"\nat = "07:00"\nfor = "2h"\n',
                               "/t/x.toml")
    assert str(e.value) == (
        '/t/x.toml: why: missing; say in a line why this practice helps, like why = "..."\n'
        '/t/x.toml:4: for: a practice period is whole days, like "3d" or "1w", not "2h"; '
        "for a practice of an hour or two, use `attuned add ID --once ...`\n"
        "2 problems found.")


def test_an_unknown_template_name_gets_a_suggestion() -> None:
    with pytest.raises(library.TemplateNotFound) as e:
        library.load().get("brekfast")
    assert str(e.value) == 'no practice "brekfast" in the library; did you mean "breakfast"?'
    with pytest.raises(library.TemplateNotFound) as e:
        library.load().get("zzz")
    assert str(e.value).startswith('no practice "zzz" in the library; `attuned practices` '
                                   "lists them: look-up, breakfast, ")


def test_fields_override_the_suggested_rule() -> None:
    t = library.load().get("look-up")
    f = t.fields("look-up", date(2026, 12, 1), timedelta(days=3), {"at": "18:00"})
    assert f["at"] == "18:00"
    assert "random" not in f and "between" not in f and "min_gap" not in f
    assert f["until"] == date(2026, 12, 3)


def test_next_in_the_library_skips_what_is_already_tried() -> None:
    lib = library.load()
    nxt = lib.after("look-up", skip=["breakfast"])
    assert nxt is not None and nxt.name == "full-attention"
    last = lib.after("plan-a-date")
    assert last is not None and last.name == "look-up"  # wraps around


# ----------------------------------------------------------------- feelings and needs


def test_the_lists_are_grouped_and_plentiful() -> None:
    f, n = feelings.word_list("feeling"), feelings.word_list("need")
    assert f.about.startswith("Feelings:") and n.about.startswith("Needs:")
    assert len(f.words) >= 30 and len(n.words) >= 25
    assert len(set(f.words)) == len(f.words)
    assert [h for h, _ in f.groups] == ["When things are going well", "When something is hard"]


def test_placeholders_are_filled_the_same_way_for_the_same_nudge() -> None:
    at = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    msg = "Might they feel {feeling}? Might they need {need}?"
    one = feelings.fill(msg, "p", at, "seed")
    assert one == feelings.fill(msg, "p", at, "seed")
    assert "{" not in one
    felt = one.split("feel ")[1].split("?")[0]
    assert felt in feelings.word_list("feeling").words
    later = {feelings.fill(msg, "p", at + timedelta(days=d), "seed") for d in range(20)}
    assert len(later) > 5  # different words on different days


def _practice_text(extra: str, message: str = "Hello") -> str:
    return (f'[[practice]]\nid = "p"\ntitle = "T"\nmessage = "{message}"\nat = "07:30"\n'
            f"{extra}\n")


def test_an_unknown_placeholder_is_refused_with_its_line() -> None:
    with pytest.raises(ScheduleError) as e:
        read.parse_text(_practice_text("", "Feel {feelin}?"))
    assert str(e.value) == (
        'config.toml:4: practice "p": message: "Feel {feelin}?" has an unknown placeholder '
        '"{feelin}"; the ones attuned fills in are {feeling} and {need}')


# ----------------------------------------------------------------- the new keys


def test_new_keys_parse_with_settings_as_defaults() -> None:
    text = ('[settings]\ndiscreet = true\nblocked = "digest"\ndigest_at = "20:30"\n'
            + _practice_text('when = "together"\noutside = "defer"'))
    sched = read.parse_text(text)
    p = sched.practices[0]
    assert (p.when, p.outside, p.discreet, p.blocked) == ("together", "defer", True, "digest")
    assert sched.settings.digest_at == time(20, 30)
    plain = read.parse_text(_practice_text("")).practices[0]
    assert (plain.when, plain.outside, plain.discreet, plain.blocked) == (
        "any", None, False, "drop")


@pytest.mark.parametrize(("extra", "message"), [
    ('when = "sometimes"',
     'config.toml:6: practice "p": when: expected one of "any", "together", got "sometimes"'),
    ('when = "togther"',
     'config.toml:6: practice "p": when: "togther" is not one of "any", "together"; did you '
     'mean "together"?'),
    ('blocked = "deffer"',
     'config.toml:6: practice "p": blocked: "deffer" is not one of "drop", "defer", "digest"; '
     'did you mean "defer"?'),
    ('outside = "defer"',
     'config.toml:6: practice "p": outside: goes with when = "together"; it says what happens '
     "to this practice's nudges while you are not together"),
    ('blocked = "later"',
     'config.toml:6: practice "p": blocked: expected one of "drop", "defer", "digest", '
     'got "later"'),
    ("discreet = 1", 'config.toml:6: practice "p": discreet: expected true or false, got 1'),
    ('digest_at = "21:00"',
     'config.toml:6: practice "p": digest_at: belongs in [settings], not in a practice; '
     "move it there"),
])
def test_new_keys_have_exact_errors(extra: str, message: str) -> None:
    with pytest.raises(ScheduleError) as e:
        read.parse_text(_practice_text(extra))
    assert str(e.value) == message


def test_a_bad_digest_time_in_settings() -> None:
    with pytest.raises(ScheduleError) as e:
        read.parse_text('[settings]\ndigest_at = "9pm"\n')
    assert str(e.value) == ('config.toml:2: digest_at: "9pm" is not a time of day; write it as '
                            'HH:MM, like "07:30"')
