"""The old state files (held.json, blocked.json, together.json, kept next to the history
before migration 2) imported once at `Store.open`: every valid entry kept, a damaged file
moved aside (never deleted) and said in `Store.notes`, a clean one renamed `.imported`.
Real SQLite, real files; the daemon's and the CLI's telling of the notes at the end."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from buses import DBusDaemon
from click.testing import CliRunner
from daemon_harness import Daemons, settings
from notification_server import NotificationServer

from attuned import paths
from attuned.cli.root import cli
from attuned.core.model import Held, HoldMode, HoldReason, TogetherState
from attuned.state.store import Store

PINNED = datetime(2026, 12, 1, 19, 0, 5)  # local time for the damaged file's name
STAMP = "20261201-190005"
T23 = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
T19 = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)


def entry(practice: str, due: str, reason: str = "quiet", mode: str = "defer") -> dict[str, str]:
    return {"practice": practice, "due": due, "reason": reason, "mode": mode}


def write(path: Path, data: object) -> bytes:
    raw = json.dumps(data).encode()
    path.write_bytes(raw)
    return raw


def open_at(db: Path) -> Store:
    return Store.open(db, clock=lambda: PINNED)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


def test_a_damaged_entry_among_three_keeps_the_other_two_and_moves_the_file_aside(
        db: Path) -> None:
    raw = write(db.parent / "held.json", [
        entry("breakfast", "2026-12-01T23:00:00+00:00"),
        entry("look-up", "tomorrow"),
        entry("eyes", "2026-12-01T19:00:00+00:00", "together", "digest"),
    ])
    with open_at(db) as store:
        assert store.held() == [
            Held("eyes", T19, HoldReason.TOGETHER, HoldMode.DIGEST),
            Held("breakfast", T23, HoldReason.QUIET, HoldMode.DEFER)]
        aside = db.parent / f"held.json.damaged-{STAMP}"
        assert store.notes == [
            f'{db.parent / "held.json"} had 1 damaged entry of 3 (entry 2: "due" is not a '
            f'date: "tomorrow"); the 2 good ones were kept; the file was moved aside to '
            f"{aside} (nothing was deleted)"]
    assert aside.read_bytes() == raw  # the very bytes, never rewritten
    assert not (db.parent / "held.json").exists()


@pytest.mark.parametrize(("bad", "why"), [
    ({"due": "2026-12-01T23:00:00+00:00", "reason": "quiet", "mode": "defer"},
     '"practice" is missing'),
    (entry("p", "2026-12-01T23:00:00"), '"due" has no time zone: "2026-12-01T23:00:00"'),
    ({**entry("p", "2026-12-01T23:00:00+00:00"), "due": 17}, '"due" is not a date: 17'),
    (entry("p", "2026-12-01T23:00:00+00:00", reason="sleepy"),
     '"reason" is not together, quiet or dnd: "sleepy"'),
    (entry("p", "2026-12-01T23:00:00+00:00", mode="drop"),
     '"mode" is not defer or digest: "drop"'),
    (["p", "2026-12-01T23:00:00+00:00"],
     'it is not a table of practice, due, reason and mode: ["p", "2026-12-01T23:00:00+00:00"]'),
])
def test_each_kind_of_damaged_entry_is_named(db: Path, bad: object, why: str) -> None:
    write(db.parent / "held.json", [bad, entry("breakfast", "2026-12-01T23:00:00+00:00")])
    with open_at(db) as store:
        assert [h.practice_id for h in store.held()] == ["breakfast"]
        (note,) = store.notes
    assert f"had 1 damaged entry of 2 (entry 1: {why}); the good one was kept;" in note


def test_a_held_file_that_is_not_json_keeps_nothing_but_is_kept_aside(db: Path) -> None:
    (db.parent / "held.json").write_bytes(b'[{"practice": "breakfast", "du')
    with open_at(db) as store:
        assert store.held() == []
        assert store.notes == [
            f"{db.parent / 'held.json'} could not be read (it is not JSON: Unterminated "
            "string starting at: line 1 column 28 (char 27)), so none of its held nudges "
            f"was kept; the file was moved aside to {db.parent / f'held.json.damaged-{STAMP}'}"
            " (nothing was deleted)"]
    assert (db.parent / f"held.json.damaged-{STAMP}").read_bytes() == \
        b'[{"practice": "breakfast", "du'


def test_a_clean_file_is_imported_once_and_renamed(db: Path) -> None:
    raw = write(db.parent / "held.json", [entry("breakfast", "2026-12-01T23:00:00+00:00")])
    with open_at(db) as store:
        assert store.notes == []
        assert [h.practice_id for h in store.held()] == ["breakfast"]
        assert store.take_held() != []  # released meanwhile
    assert (db.parent / "held.json.imported").read_bytes() == raw
    assert not (db.parent / "held.json").exists()
    with open_at(db) as store:  # a second open imports nothing: the release stands
        assert store.held() == [] and store.notes == []


def test_a_file_left_behind_after_its_import_is_not_imported_again(db: Path) -> None:
    # As after a crash between the import's commit and the rename, or a rename refused.
    raw = write(db.parent / "held.json", [entry("breakfast", "2026-12-01T23:00:00+00:00")])
    with open_at(db) as store:
        store.take_held()
    (db.parent / "held.json.imported").rename(db.parent / "held.json")
    with open_at(db) as store:
        assert store.held() == [] and store.notes == []
    assert (db.parent / "held.json").read_bytes() == raw  # left be, not deleted


def test_a_damaged_together_file_means_off_and_says_so(db: Path) -> None:
    (db.parent / "together.json").write_bytes(b"{not json")
    with open_at(db) as store:
        assert store.together() == TogetherState()
        aside = db.parent / f"together.json.damaged-{STAMP}"
        assert store.notes == [
            f"{db.parent / 'together.json'} could not be read (it is not JSON: Expecting "
            "property name enclosed in double quotes: line 1 column 2 (char 1)), so together "
            "mode "
            f"is off (`attuned together on` switches it on); the file was moved aside to "
            f"{aside} (nothing was deleted)"]
    assert aside.read_bytes() == b"{not json"


@pytest.mark.parametrize(("data", "why"), [
    ({"on": "yes", "until": None}, '"on" is not true or false: "yes"'),
    ({"until": None}, '"on" is not true or false: null'),
    ({"on": True, "until": "22:00"}, '"until" is not a date: "22:00"'),
    ([True], "it is not a table of on and until"),
])
def test_a_together_file_with_a_wrong_value_means_off(db: Path, data: object, why: str) -> None:
    write(db.parent / "together.json", data)
    with open_at(db) as store:
        assert store.together() == TogetherState()
        (note,) = store.notes
    assert note.startswith(f"{db.parent / 'together.json'} could not be read ({why}), so "
                           "together mode is off")


def test_together_mode_on_until_a_time_is_imported(db: Path) -> None:
    write(db.parent / "together.json", {"on": True, "until": "2026-12-01T22:00:00+01:00"})
    with open_at(db) as store:
        assert store.notes == []
        assert store.together() == TogetherState(True, datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
    assert (db.parent / "together.json.imported").exists()


def test_blocked_marks_are_imported_and_a_bad_one_is_named(db: Path) -> None:
    write(db.parent / "blocked.json", {"breakfast": "2026-12-01T23:00:00+00:00",
                                       "eyes": "2026-12-01T19:00:00+00:00", "look-up": None})
    with open_at(db) as store:
        assert store.blocked_marks() == {"breakfast": T23, "eyes": T19}
        assert store.notes == [
            f"{db.parent / 'blocked.json'} had 1 damaged entry of 3 (\"look-up\" is not a "
            "date: null); the 2 good ones were kept; the file was moved aside to "
            f"{db.parent / f'blocked.json.damaged-{STAMP}'} (nothing was deleted)"]


def test_all_three_at_once_and_an_older_name_aside_is_not_overwritten(db: Path) -> None:
    write(db.parent / "held.json", [entry("breakfast", "2026-12-01T23:00:00+00:00")])
    write(db.parent / "blocked.json", {"breakfast": "2026-12-01T23:00:00+00:00"})
    write(db.parent / "together.json", {"on": True, "until": None})
    (db.parent / "held.json.imported").write_bytes(b"someone's own file")
    with open_at(db) as store:
        assert store.notes == []
        assert len(store.held()) == 1 and store.together().on
        assert store.blocked_marks() == {"breakfast": T23}
    assert (db.parent / "held.json.imported").read_bytes() == b"someone's own file"
    assert json.loads((db.parent / "held.json.imported-2").read_bytes())[0]["practice"] == \
        "breakfast"


def test_openers_at_once_import_once(db: Path) -> None:
    # Under the open lock: one opener imports and says so; the others find nothing to do.
    write(db.parent / "held.json", [entry("breakfast", "2026-12-01T23:00:00+00:00"),
                                    entry("look-up", "soon")])
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: open_at(db), range(4)))
    try:
        # One import, one note: each opener sees it, as none has told it yet.
        assert len({tuple(s.notes) for s in stores}) == 1 and len(stores[0].notes) == 1
        assert [h.practice_id for h in stores[0].held()] == ["breakfast"]
        assert [p.name for p in db.parent.glob("held.json*")] == [f"held.json.damaged-{STAMP}"]
    finally:
        for s in stores:
            s.close()


# --------------------------------------------------------------------------- told once


def test_a_note_is_kept_until_a_front_end_has_told_it(db: Path) -> None:
    (db.parent / "together.json").write_bytes(b"{not json")
    with open_at(db) as store:  # an opener that does not tell (e.g. `attuned history`)
        (note,) = store.notes
    with open_at(db) as store:
        assert store.notes == [note]
        store.notes_told()
        assert store.notes == [note]  # this open's list stays as it was
    with open_at(db) as store:
        assert store.notes == []


def test_the_cli_says_what_the_import_found_on_stderr() -> None:
    state = paths.state_dir()
    state.mkdir(parents=True, exist_ok=True)
    (state / "together.json").write_bytes(b"{not json")
    r = CliRunner().invoke(cli, ["together"])
    assert r.exit_code == 0, r.output
    assert r.stdout == "Together mode is off.\n"
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"attuned: {state / 'together.json'} could not be read (it is not "
                           "JSON: ")
    r = CliRunner().invoke(cli, ["together"])  # once
    assert r.stderr == ""


def test_the_daemon_tells_what_the_import_found_once(
        daemons: Daemons, session_bus: DBusDaemon,
        notification_server: NotificationServer) -> None:
    d = daemons(bus=session_bus.address, config_text=settings())
    d.state_dir.mkdir(parents=True, exist_ok=True)
    write(d.state_dir / "held.json", [entry("breakfast", "2026-12-01T23:00:00+00:00"),
                                      entry("look-up", "tomorrow")])
    d.start()
    [shown] = notification_server.wait_for_notify(1, 10)
    assert shown["summary"] == "attuned could not read all it had kept"
    assert shown["body"].startswith(f"{d.state_dir / 'held.json'} had 1 damaged entry of 2 "
                                    '(entry 2: "due" is not a date: "tomorrow"); the good one '
                                    "was kept; the file was moved aside to ")
    d.wait_for_log(r"WARNING attuned: attuned could not read all it had kept: .*held\.json "
                   r"had 1 damaged entry of 2", 5)
    assert d.stop() == 0
    d.start()
    assert d.stop() == 0
    assert len(notification_server.notifies) == 1  # told once, not at every start
    assert len(d.log_matches(r"damaged entry")) == 1
