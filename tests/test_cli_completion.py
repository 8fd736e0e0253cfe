"""Shell completion as the shell runs it: a fresh `attuned` with _ATTUNED_COMPLETE and the
words so far in its environment (click's protocol), at every Tab.

It offers the schedule's practice ids, the library's names and the open nudges' ids, and
it must never write (not the history, not a file beside it), never wait on a lock, never
print an error into the command line, and stay quick (no daemon modules imported).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dblock import WriteLock
from test_cli_imports import FORBIDDEN, imported

from attuned.core.model import Action
from attuned.state.store import Store

ATTUNED = Path(sys.executable).with_name("attuned")  # the console script, as installed

SCHEDULE = """\
[[practice]]
id = "tea"
title = "Tea"
message = "Make two cups."
at = "16:00"

[[practice]]
id = "breakfast"
title = "Breakfast presence"
message = "Paper down."
at = "07:30"
days = "mnday"                  # a mistake: the ids are offered all the same

[[practice]]
id = "bedtime"
title = "Bedtime"
message = "Ask how the day was."
at = "22:00"
"""

T0 = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)


def complete(line: str, shell: str = "zsh", env: dict[str, str] | None = None
             ) -> tuple[list[tuple[str, str]], subprocess.CompletedProcess[str]]:
    """What the shell is offered for the last word of `line` (empty after a space), as
    (value, description) pairs."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    proc = subprocess.run(
        [str(ATTUNED)], capture_output=True, text=True, timeout=30,
        env={**os.environ, **(env or {}), "_ATTUNED_COMPLETE": f"{shell}_complete",
             "COMP_WORDS": line, "COMP_CWORD": str(cword)})
    out = proc.stdout.splitlines()
    # zsh: three lines per item, its type, its value and its description ("_" for none).
    items = [(out[i + 1], "" if out[i + 2] == "_" else out[i + 2])
             for i in range(0, len(out), 3) if out[i] == "plain"]
    return items, proc


def values(line: str, **kw: object) -> list[str]:
    items, proc = complete(line, **kw)  # type: ignore[arg-type]
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    return [v for v, _ in items]


@pytest.fixture
def schedule(isolated_dirs: Path) -> Path:
    path = isolated_dirs / "config" / "attuned" / "config.toml"
    path.parent.mkdir()
    path.write_text(SCHEDULE)
    return path


@pytest.fixture
def history(isolated_dirs: Path) -> dict[str, str]:
    """A history with nudges: open (tea, then bedtime, newest), snoozed, and answered; closed,
    as the CLI leaves it. Returns their ids by what became of them."""
    db = isolated_dirs / "state" / "attuned" / "history.db"
    ids = {}
    with Store.open(db) as store:
        for n, (practice, title) in enumerate([("tea", "Tea"), ("breakfast", "Breakfast"),
                                               ("bedtime", "Bedtime"), ("tea", "Tea")]):
            at = T0 + timedelta(hours=n)
            ids[str(n)] = store.record_shown(practice, at, at, title, "Words.").id
        store.answer(ids["1"], Action.SNOOZE, T0 + timedelta(hours=5), "cli",
                     snooze_until=T0 + timedelta(hours=6))
        store.answer(ids["3"], Action.DONE, T0 + timedelta(hours=5), "cli")
    assert not Path(f"{db}-wal").exists()
    return {"tea": ids["0"], "snoozed": ids["1"], "bedtime": ids["2"], "done": ids["3"]}


def files_under(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def stats(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file's size and modification time; of the -shm (SQLite's shared memory, where
    every reader marks what it reads) only that it is there."""
    return {p.name: (0, 0) if p.name.endswith("-shm") else (p.stat().st_size,
                                                            p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir())}


# ---- what is offered -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["disable", "enable", "remove", "reflect",
                                     "history --practice"])
def test_commands_that_take_a_practice_offer_the_schedules_ids(schedule: Path,
                                                               command: str) -> None:
    assert values(f"attuned {command} ") == ["tea", "breakfast", "bedtime"]
    assert values(f"attuned {command} b") == ["breakfast", "bedtime"]


def test_only_the_ids_that_start_with_the_word_are_offered(schedule: Path) -> None:
    assert values("attuned disable br") == ["breakfast"]
    assert values("attuned disable x") == []


def test_each_id_comes_with_its_title_for_shells_that_show_one(schedule: Path) -> None:
    items, _ = complete("attuned disable ")
    assert items == [("tea", "Tea"), ("breakfast", "Breakfast presence"),
                     ("bedtime", "Bedtime")]


def test_bash_gets_the_same_ids(schedule: Path) -> None:
    proc = subprocess.run([str(ATTUNED)], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "_ATTUNED_COMPLETE": "bash_complete",
                               "COMP_WORDS": "attuned enable t", "COMP_CWORD": "2"})
    assert (proc.stdout, proc.stderr) == ("plain,tea\n", "")


def test_the_schedule_named_by_config_or_its_variable_is_the_one_read(
        schedule: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text('[[practice]]\nid = "walk"\ntitle = "Walk"\nmessage = "Go."\n'
                     'at = "18:00"\n')
    assert values(f"attuned --config {other} disable ") == ["walk"]
    assert values(f"attuned --config={other} disable ") == ["walk"]
    assert values("attuned disable ", env={"ATTUNED_CONFIG": str(other)}) == ["walk"]


def test_without_a_schedule_file_the_built_in_examples_ids_are_offered(
        isolated_dirs: Path) -> None:
    # What `attuned list` shows and the daemon runs until there is a file.
    offered = values("attuned history --practice ")
    assert offered[:3] == ["breakfast", "look-up", "full-attention"]
    assert not (isolated_dirs / "config" / "attuned").exists()


def test_try_and_practices_show_offer_the_library_with_the_persons_own(
        isolated_dirs: Path) -> None:
    mine = isolated_dirs / "config" / "attuned" / "practices"
    mine.mkdir(parents=True)
    (mine / "evening-walk.toml").write_text('title = "Evening walk"\n')
    (mine / "notes.txt").write_text("not a template")
    for command in ("try", "practices show"):
        offered = values(f"attuned {command} ")
        assert {"breakfast", "look-up", "plan-a-date", "evening-walk"} <= set(offered)
        assert "notes" not in offered and "notes.txt" not in offered
        assert values(f"attuned {command} ev") == ["evening-walk"]
    items, _ = complete("attuned try evening")
    assert items == [("evening-walk", "Evening walk")]


@pytest.mark.parametrize("command", ["done", "snooze", "skip"])
def test_answers_offer_the_open_nudges_newest_first_then_the_practices(
        schedule: Path, history: dict[str, str], command: str) -> None:
    items, _ = complete(f"attuned {command} ")
    assert items[:3] == [(history["bedtime"], "bedtime: Bedtime"),
                         (history["snoozed"], "breakfast: Breakfast"),
                         (history["tea"], "tea: Tea")]
    assert [v for v, _ in items[3:]] == ["tea", "breakfast", "bedtime"]
    assert history["done"] not in [v for v, _ in items]  # answered: not open
    assert values(f"attuned {command} {history['tea'][:2]}")[0] == history["tea"]
    assert values(f"attuned {command} --note hi ") == [v for v, _ in items]


def test_show_offers_only_the_open_nudges(schedule: Path, history: dict[str, str]) -> None:
    assert values("attuned show ") == [history["bedtime"], history["snoozed"], history["tea"]]


def test_help_offers_the_commands_of_the_group_named_so_far(isolated_dirs: Path) -> None:
    assert values("attuned help ser") == ["service"]
    assert values("attuned help service ") == ["install", "logs", "status", "uninstall"]
    assert values("attuned help practices ") == ["show"]
    assert values("attuned help init ") == []
    assert values("attuned completion ") == ["bash", "zsh", "fish"]


# ---- reads only, never waits, never complains ------------------------------------------


def test_a_sqlite_read_only_open_of_a_closed_wal_database_leaves_files_behind(
        tmp_path: Path) -> None:
    # The fact attuned.state.peek works around: "mode=ro" on a WAL database with no
    # -wal/-shm (no one has it open) creates both, and they stay after the close.
    folder = tmp_path / "db"
    folder.mkdir()
    db = folder / "h.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    assert sorted(p.name for p in folder.iterdir()) == ["h.db"]
    ro = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    ro.execute("SELECT * FROM t").fetchall()
    ro.close()
    assert sorted(p.name for p in folder.iterdir()) == ["h.db", "h.db-shm", "h.db-wal"]


def test_completing_writes_nothing(isolated_dirs: Path, schedule: Path,
                                   history: dict[str, str]) -> None:
    before = files_under(isolated_dirs)
    for line in ("attuned done ", "attuned show ", "attuned disable ", "attuned try ",
                 "attuned help service "):
        assert values(line) != []
    assert files_under(isolated_dirs) == before


def test_without_a_history_nothing_is_created(isolated_dirs: Path, schedule: Path) -> None:
    assert values("attuned done ") == ["tea", "breakfast", "bedtime"]
    assert values("attuned show ") == []
    assert not (isolated_dirs / "state" / "attuned").exists()


def test_beside_a_running_writer_the_newest_nudge_is_offered_and_nothing_waits(
        isolated_dirs: Path, schedule: Path, history: dict[str, str]) -> None:
    # The daemon keeps the history open; its newest nudge may be only in the WAL so far,
    # and another writer may hold the write lock.
    db = isolated_dirs / "state" / "attuned" / "history.db"
    with Store.open(db) as daemon:
        new = daemon.record_shown("tea", T0 + timedelta(hours=9), T0 + timedelta(hours=9),
                                  "Tea", "Words.").id
        # Only stat, never open: closing any descriptor of the database's files drops this
        # process's SQLite locks (they are POSIX locks), and the next connection elsewhere
        # then takes the -shm for unused and resets it under this one: a Bus error here.
        before = stats(db.parent)
        with WriteLock(db):
            started = time.monotonic()
            assert values("attuned show ")[0] == new
            assert time.monotonic() - started < 5  # the store's own wait is 10 s
        assert stats(db.parent) == before


def test_a_history_locked_exclusively_gives_no_ids_at_once_and_no_error(
        isolated_dirs: Path, schedule: Path, history: dict[str, str]) -> None:
    db = isolated_dirs / "state" / "attuned" / "history.db"
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        assert values("attuned done ") == ["tea", "breakfast", "bedtime"]
        assert time.monotonic() - started < 5
    finally:
        holder.close()


def test_damaged_files_give_nothing_of_theirs_and_print_nothing(
        isolated_dirs: Path, schedule: Path) -> None:
    state = isolated_dirs / "state" / "attuned"
    state.mkdir(parents=True)
    (state / "history.db").write_bytes(b"not a database, whatever it is" * 100)
    assert values("attuned done ") == ["tea", "breakfast", "bedtime"]
    schedule.write_text('[[practice]]\nid = "tea"\ntitle = "unclosed\n')
    assert values("attuned disable ") == []  # values() asserts: no stderr, exit 0
    assert values("attuned done ") == []
    assert (state / "history.db").read_bytes().startswith(b"not a database")


# ---- quick -----------------------------------------------------------------------------


WRAPPER = """
import json, sys
out = sys.argv[1]
from attuned.cli.root import cli
try:
    cli.main(args=[], prog_name="attuned")
except SystemExit:
    pass
with open(out, "w") as f:
    json.dump(sorted(sys.modules), f)
"""


@pytest.mark.parametrize(("line", "first"), [("attuned done ", "the newest open nudge"),
                                             ("attuned try ", "breakfast"),
                                             ("attuned disable ", "tea")])
def test_completing_imports_nothing_of_the_daemon(tmp_path: Path, schedule: Path,
                                                  history: dict[str, str], line: str,
                                                  first: str) -> None:
    out = tmp_path / "modules.json"
    words = line.split()
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out)], capture_output=True, text=True, timeout=30,
        env={**os.environ, "_ATTUNED_COMPLETE": "bash_complete", "COMP_WORDS": line,
             "COMP_CWORD": str(len(words))})
    assert proc.stderr == ""
    expected = history["bedtime"] if first == "the newest open nudge" else first
    assert proc.stdout.splitlines()[0] == f"plain,{expected}"  # it did complete
    modules = json.loads(out.read_text())
    assert [name for name in FORBIDDEN if imported(modules, name)] == []
    assert not imported(modules, "attuned.state.store")  # the store migrates; peek reads


# ---- the scripts -----------------------------------------------------------------------


def test_the_printed_script_is_clicks_and_completes_in_a_real_bash(schedule: Path) -> None:
    script = subprocess.run([str(ATTUNED), "completion", "bash"], capture_output=True,
                            text=True, timeout=30, check=True).stdout
    source = subprocess.run([str(ATTUNED)], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "_ATTUNED_COMPLETE": "bash_source"}).stdout
    # Click's own (the same text; whether it ends in a blank line depends on the release).
    assert script.rstrip("\n") == source.rstrip("\n")
    # As bash-completion would run it: the function the script registers, for "attuned".
    proc = subprocess.run(
        ["bash", "--norc", "-c", script + "\ncomplete -p attuned\n"
         'COMP_WORDS=(attuned disable b); COMP_CWORD=2; _attuned_completion attuned\n'
         'printf "<%s>\\n" "${COMPREPLY[@]}"'],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "PATH": f"{ATTUNED.parent}{os.pathsep}{os.environ['PATH']}"})
    assert proc.stderr == ""
    assert proc.stdout == ("complete -o nosort -F _attuned_completion attuned\n"
                           "<breakfast>\n<bedtime>\n")


@pytest.mark.parametrize(("shell", "shows"), [
    ("zsh", "compdef _attuned_completion attuned"),
    ("fish", "complete --no-files --command attuned --arguments"),
])
def test_zsh_and_fish_get_their_scripts(isolated_dirs: Path, shell: str, shows: str) -> None:
    script = subprocess.run([str(ATTUNED), "completion", shell], capture_output=True,
                            text=True, timeout=30, check=True).stdout
    assert shows in script
    assert f"_ATTUNED_COMPLETE={shell}_complete" in script


def test_an_unknown_shell_is_refused_naming_the_ones_there_are(isolated_dirs: Path) -> None:
    proc = subprocess.run([str(ATTUNED), "completion", "tcsh"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        "Error: Invalid value for '{bash|zsh|fish}': 'tcsh' is not one of 'bash', 'zsh', "
        "'fish'.")
