"""Editing the schedule file: a person's comments, blank lines and order survive every
edit; an edit that would break the file, or that races another writer, changes nothing;
writes are atomic and keep the file's permissions."""

from __future__ import annotations

import os
import stat
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attuned import fsutil
from attuned.config import edit, read
from attuned.errors import EditConflict, PracticeNotFound, ScheduleError

COMMENTED = """\
# My attunement schedule.   Written by hand; keep my notes!

[settings]
quiet_hours = "22:30-07:00"   # sleep
# grace = "30m"   (maybe later)

# --- mornings ---

# Breakfast: the paper can wait.
[[practice]]
id = "breakfast"      # short
title = "Breakfast presence"
message = [
    "Paper down.",    # first variant
    "Look up.",
]
at = "07:30"
# weekdays only, weekends we sleep in
days = "weekdays"

# Evenings
[[practice]]
id = "look-up"
title = "Look up"
message = "Meet their eyes."
random = 3
between = "17:00-22:00"
enabled = false   # not yet
# end of look-up

[[practice]]
id = "sunday"
title = "Requests"
message = "List a few requests."
cron = "0 19 * * sun"

# trailing thoughts
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    # A directory of its own: tmp_path also holds the fixture's fake home.
    path = tmp_path / "cfg" / "config.toml"
    path.parent.mkdir()
    path.write_text(COMMENTED)
    path.chmod(0o640)
    return path


# --------------------------------------------------------------------------- enable/disable


def test_disable_inserts_one_line_after_the_id(config: Path) -> None:
    sched = edit.set_enabled(config, "breakfast", False)
    assert sched.get("breakfast") is not None and not sched.get("breakfast").enabled  # type: ignore[union-attr]
    assert config.read_text() == COMMENTED.replace(
        'id = "breakfast"      # short\n', 'id = "breakfast"      # short\nenabled = false\n')


def test_enable_rewrites_only_the_value_and_keeps_its_comment(config: Path) -> None:
    sched = edit.set_enabled(config, "look-up", True)
    assert sched.get("look-up").enabled  # type: ignore[union-attr]
    assert config.read_text() == COMMENTED.replace(
        "enabled = false   # not yet", "enabled = true   # not yet")
    edit.set_enabled(config, "look-up", False)
    assert config.read_text() == COMMENTED


def test_enabling_an_enabled_practice_writes_nothing(config: Path) -> None:
    before = config.stat()
    edit.set_enabled(config, "sunday", True)
    assert config.read_text() == COMMENTED and config.stat().st_ino == before.st_ino


def test_unknown_practice_names_the_ones_there(config: Path) -> None:
    with pytest.raises(PracticeNotFound) as info:
        edit.set_enabled(config, "lookup", True)
    assert str(info.value) == 'no practice "lookup"; did you mean "look-up"?'
    with pytest.raises(PracticeNotFound) as info:
        edit.remove_practice(config, "zzz")
    assert str(info.value) == 'no practice "zzz"; the practices are: breakfast, look-up, sunday'
    assert config.read_text() == COMMENTED


# --------------------------------------------------------------------------- remove


def test_remove_takes_the_table_and_its_attached_comment_only(config: Path) -> None:
    edit.remove_practice(config, "breakfast")
    lines = COMMENTED.split("\n")
    # Lines 9-19 ("# Breakfast: ..." down to `days`) and the blank line after them.
    assert config.read_text() == "\n".join(lines[:8] + lines[20:])
    text = config.read_text()
    assert "# --- mornings ---\n\n# Evenings\n[[practice]]" in text


def test_remove_keeps_comments_after_the_table(config: Path) -> None:
    sched = edit.remove_practice(config, "look-up")
    assert [p.id for p in sched.practices] == ["breakfast", "sunday"]
    text = config.read_text()
    assert text == COMMENTED.replace(
        '# Evenings\n[[practice]]\nid = "look-up"\ntitle = "Look up"\nmessage = "Meet their '
        'eyes."\nrandom = 3\nbetween = "17:00-22:00"\nenabled = false   # not yet\n', "")


def test_remove_the_last_practice(config: Path) -> None:
    edit.remove_practice(config, "sunday")
    assert config.read_text() == COMMENTED.replace(
        '[[practice]]\nid = "sunday"\ntitle = "Requests"\nmessage = "List a few requests."\n'
        'cron = "0 19 * * sun"\n\n', "")


def test_remove_all_then_add_back(config: Path) -> None:
    for pid in ("breakfast", "look-up", "sunday"):
        edit.remove_practice(config, pid)
    assert read.load(config).practices == ()
    assert "# My attunement schedule." in config.read_text()
    assert "# trailing thoughts" in config.read_text()


# --------------------------------------------------------------------------- add


def test_add_appends_a_typed_table_and_keeps_everything_else(config: Path) -> None:
    sched = edit.add_practice(config, {
        "until": "2026-12-07", "id": "date-night", "title": "Plan a date",
        "message": "Where would they enjoy being together?",
        "once": "2026-12-12 18:00", "from": date(2026, 12, 1),
    })
    p = sched.get("date-night")
    assert p is not None and p.start == date(2026, 12, 1) and p.until == date(2026, 12, 7)
    assert config.read_text() == COMMENTED + (
        "\n[[practice]]\n"
        'id = "date-night"\n'
        'title = "Plan a date"\n'
        'message = "Where would they enjoy being together?"\n'
        "once = 2026-12-12T18:00:00\n"
        "from = 2026-12-01\n"
        "until = 2026-12-07\n"
    )


def test_add_with_variants_and_lists(config: Path) -> None:
    edit.add_practice(config, {
        "id": "offer", "title": "Offer first", "message": ["One", 'Two "quoted"'],
        "at": ["08:00", "18:00"], "days": "sat,sun", "enabled": False,
    })
    assert config.read_text().endswith(
        '[[practice]]\nid = "offer"\ntitle = "Offer first"\nmessage = [\n    "One",\n'
        '    "Two \\"quoted\\"",\n]\nenabled = false\nat = ["08:00", "18:00"]\n'
        'days = "sat,sun"\n')
    p = read.load(config).get("offer")
    assert p is not None and p.messages == ("One", 'Two "quoted"') and not p.enabled


def test_add_to_a_file_without_a_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[settings]\ngrace = "20m"')
    edit.add_practice(path, {"id": "a", "title": "A", "message": "m", "every": "2h"})
    assert path.read_text() == ('[settings]\ngrace = "20m"\n\n[[practice]]\nid = "a"\n'
                                'title = "A"\nmessage = "m"\nevery = "2h"\n')


def test_add_refuses_a_duplicate_id(config: Path) -> None:
    with pytest.raises(ScheduleError) as info:
        edit.add_practice(config, {"id": "look-up", "title": "X", "message": "m",
                                       "at": "09:00"})
    assert str(info.value) == (
        f'{config}:23: practice "look-up": id: a practice with this id is already in the file; '
        "choose another id, or remove the old one first with: attuned remove look-up")
    assert config.read_text() == COMMENTED


def test_an_invalid_add_leaves_the_file_byte_for_byte(config: Path) -> None:
    before = config.read_bytes()
    with pytest.raises(ScheduleError) as info:
        edit.add_practice(config, {"id": "bad", "title": "B", "message": "m",
                                       "random": 9, "between": "21:00-22:00"})
    assert str(info.value) == (
        f'{config}:43: practice "bad": random: 9 times at least 30m apart do not fit in '
        "21:00-22:00; at most 2 fit, or make min_gap shorter")
    assert config.read_bytes() == before
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]


def test_crlf_files_stay_crlf(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    original = practice_text("a").replace("\n", "\r\n")
    path.write_bytes(original.encode())
    edit.set_enabled(path, "a", False)
    edit.add_practice(path, {"id": "b", "title": "B", "message": "m", "at": "09:00"})
    data = path.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert data.startswith(b'[[practice]]\r\nid = "a"\r\nenabled = false\r\n')
    assert [p.id for p in read.load(path).practices] == ["a", "b"]


def practice_text(pid: str) -> str:
    return f'[[practice]]\nid = "{pid}"\ntitle = "T"\nmessage = "M"\nat = "07:00"\n'


# --------------------------------------------------------------------------- edit_text()


def test_a_text_edit_is_written_and_everything_else_kept(config: Path) -> None:
    sched = edit.edit_text(config, lambda text: text.replace('"22:30-07:00"   # sleep',
                                                             '"23:00-06:30"   # sleep'))
    assert sched.settings.quiet_hours is not None
    assert str(sched.settings.quiet_hours) == "23:00-06:30"
    assert config.read_text() == COMMENTED.replace('"22:30-07:00"   # sleep',
                                                   '"23:00-06:30"   # sleep')


def test_an_invalid_edit_is_refused_and_the_file_is_untouched(config: Path) -> None:
    before = config.read_bytes()
    with pytest.raises(ScheduleError) as info:
        edit.edit_text(config, lambda text: text.replace('"22:30-07:00"', '"late"'))
    assert str(info.value) == (f'{config}:4: quiet_hours: "late" is not a time window; write '
                               'it as "HH:MM-HH:MM", like "17:00-22:00"')
    assert config.read_bytes() == before


def test_a_value_tomlkit_writes_bare_is_refused(config: Path) -> None:
    # tomlkit (which renders an added practice's values) writes a datetime.time as a bare
    # `07:30:00`, which tomllib reads as a time, not "HH:MM": validation with the daemon's
    # reader catches it before anything is written.
    before = config.read_bytes()
    with pytest.raises(ScheduleError, match="write times in quotes"):
        edit.add_practice(config, {"id": "tea", "title": "Tea", "message": "m",
                                   "at": time(7, 30)})
    assert config.read_bytes() == before


def test_a_save_by_another_program_meanwhile_is_kept_and_the_edit_redone_on_it(
    config: Path,
) -> None:
    theirs = COMMENTED.replace("# trailing thoughts", "# their edit, saved meanwhile")
    calls = []

    def change(text: str) -> str:
        calls.append(1)
        if len(calls) == 1:
            config.write_text(theirs)  # an editor (no lock) saves between our read and write
        return text.replace('# grace = "30m"   (maybe later)', 'grace = "30m"')

    edit.edit_text(config, change)
    assert len(calls) == 2
    text = config.read_text()
    assert "# their edit, saved meanwhile" in text
    assert read.load(config).settings.grace == timedelta(minutes=30)


def test_an_edit_racing_a_program_that_keeps_saving_is_refused(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = read.parse_text
    saves = []

    def parse_then_race(text: str, source: str = "config.toml") -> object:
        result = real(text, source)
        saves.append(COMMENTED + f"# theirs, save {len(saves) + 1}\n")
        config.write_text(saves[-1])  # lands after validation, before writing, every time
        return result

    monkeypatch.setattr(edit, "parse_text", parse_then_race)
    with pytest.raises(EditConflict) as info:
        edit.set_enabled(config, "breakfast", False)
    assert str(info.value) == (f"{config} changed on disk while attuned was editing it; "
                               "nothing was written. Run the command again.")
    assert len(saves) == 5
    assert config.read_text() == saves[-1]


def test_edits_keep_permissions_and_symlinks(tmp_path: Path, config: Path) -> None:
    link = tmp_path / "link.toml"
    link.symlink_to(config)
    edit.set_enabled(link, "breakfast", False)
    assert link.is_symlink() and os.readlink(link) == str(config)
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert not read.load(config).get("breakfast").enabled  # type: ignore[union-attr]


def test_editing_a_missing_file_says_how_to_start(tmp_path: Path) -> None:
    from attuned.errors import ConfigNotFound

    with pytest.raises(ConfigNotFound):
        edit.set_enabled(tmp_path / "config.toml", "a", True)


# --------------------------------------------------------------------------- write_new


def test_write_new_refuses_to_overwrite(config: Path) -> None:
    with pytest.raises(edit.ConfigExists) as info:
        edit.write_new(config, read.example_text(), force=False)
    assert str(info.value) == (
        f"{config} already exists, so attuned left it alone; to start over from the "
        "example, run: attuned init --force (your old file is kept as a backup)")
    assert config.read_text() == COMMENTED


def test_write_new_with_force_keeps_a_backup(config: Path) -> None:
    when = datetime(2026, 11, 25, 20, 15, 3)
    moved = edit.write_new(config, read.example_text(), force=True, now=when)
    assert moved == config.with_name("config.toml.bak-20261125-201503")
    assert moved.read_text() == COMMENTED
    assert config.read_text() == read.example_text()
    again = edit.write_new(config, "", force=True, now=when)
    assert again == config.with_name("config.toml.bak-20261125-201503-2")
    assert again.read_text() == read.example_text()


def test_write_new_creates_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "attuned" / "config.toml"
    assert edit.write_new(path, read.example_text(), force=False) is None
    assert read.load(path).practices == read.example_schedule().practices


# --------------------------------------------------------------------------- atomic_write


def test_atomic_write_keeps_mode_or_uses_the_given_one(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    path.chmod(0o600)
    fsutil.atomic_write(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    fsutil.atomic_write(path, b"newer", mode=0o644)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_atomic_write_new_file_honours_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        fsutil.atomic_write(tmp_path / "new", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o600


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_atomic_write_failure_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "d" / "config.toml"
    path.parent.mkdir()
    path.write_bytes(b"precious\x00bytes")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if failing == "write":
        monkeypatch.setattr(fsutil.os, "fdopen", lambda fd, mode: _FailingFile(fd))
    else:
        monkeypatch.setattr(fsutil.os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        fsutil.atomic_write(path, b"half")
    monkeypatch.undo()
    assert path.read_bytes() == b"precious\x00bytes"
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]


class _FailingFile:
    """Fake file object: writes fail as on a full disk."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def fileno(self) -> int:
        return self.fd

    def write(self, data: bytes) -> int:
        raise OSError(28, "No space left on device")


def test_a_failed_write_during_an_edit_is_a_kind_error(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "replace", boom)
    with pytest.raises(edit.ConfigWriteError) as info:
        edit.set_enabled(config, "breakfast", False)
    assert str(info.value) == (f"could not write {config}: No space left on device; the "
                               "file was left as it was")
    monkeypatch.undo()
    assert config.read_text() == COMMENTED
    assert [p.name for p in config.parent.iterdir()] == ["config.toml"]


def test_backup_keeps_a_private_files_mode(config: Path) -> None:
    config.chmod(0o600)
    moved = edit.write_new(config, read.example_text(), force=True)
    assert moved is not None and stat.S_IMODE(moved.stat().st_mode) == 0o600


def test_remove_the_first_and_only_practice(tmp_path: Path) -> None:
    path = tmp_path / "only.toml"
    path.write_text(practice_text("a") + "\n# after\n")
    edit.remove_practice(path, "a")
    assert path.read_text() == "# after\n"


# --------------------------------------------------------------------------- properties

_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                 max_size=30).filter(str.strip)
# Braces in a message are placeholders, and an unknown one is refused by design.
_messages = _texts.filter(lambda s: "{" not in s and "}" not in s)
_clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
_rules = st.one_of(
    st.fixed_dictionaries({"at": st.lists(_clock, min_size=1, max_size=3, unique=True)}),
    st.fixed_dictionaries({"every": st.sampled_from(["15m", "1h", "1h30m", "2h"]),
                           "between": st.sampled_from(["09:00-21:00", "22:00-02:00"])}),
    st.fixed_dictionaries({"random": st.integers(1, 4), "between": st.just("08:00-20:00")}),
    st.fixed_dictionaries({"cron": st.sampled_from(["0 19 * * sun", "*/30 9-17 * * 1-5"])}),
    st.fixed_dictionaries({"once": st.datetimes(datetime(2026, 1, 1), datetime(2030, 1, 1))
                           .map(lambda d: d.replace(microsecond=0))}),
)


# (A file ending in blank lines is left out: adding after them and removing again
# keeps one blank line fewer, which nobody notices and nothing can tell apart.)
@settings(max_examples=25, deadline=None)
@given(title=_texts, messages=st.lists(_messages, min_size=1, max_size=3), rule=_rules,
       enabled=st.booleans(),
       base=st.sampled_from([COMMENTED, "", "# just a note", '[settings]\ngrace = "1h"\n']))
def test_add_then_remove_gives_back_the_same_bytes(
    title: str, messages: list[str], rule: dict[str, object], enabled: bool, base: str
) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "config.toml"
        path.write_text(base)
        fields: dict[str, object] = {"id": "new-one", "title": title, "enabled": enabled,
                                     "message": messages if len(messages) > 1 else messages[0],
                                     **rule}
        p = edit.add_practice(path, fields).get("new-one")
        assert p is not None
        assert (p.title, p.messages, p.enabled) == (title, tuple(messages), enabled)
        edit.set_enabled(path, "new-one", not enabled)
        assert read.load(path).get("new-one").enabled is (not enabled)  # type: ignore[union-attr]
        edit.remove_practice(path, "new-one")
        expected = base if base.endswith("\n") or not base else base + "\n"
        assert path.read_text() == expected
